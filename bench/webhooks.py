"""Channel load: simulated customers over SMS (signed Twilio webhooks) and web chat, against
`hibachi serve` on the embedded PostgreSQL, for a fixed time.

Each customer sends a message, waits for the answer, and sends the next (a closed loop).
SMS: acknowledge latency is the webhook's response time; reply latency runs until the reply
row exists (one poller looks every 20 ms, so SMS figures are rounded up to it). Web chat
answers in the request, so its reply latency is the request's.
The first `--warmup` seconds of load (processes starting, caches filling) are not counted.
Beside the latencies: CPU milliseconds per message of the API process, the worker processes,
PostgreSQL and this load generator (all share the machine's cores).
Prints a table, then the figures as one JSON line.

    .venv/bin/python bench/webhooks.py [--customers 100] [--seconds 60] [--workers 0]
                                       [--warmup 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import _path  # noqa: F401  (must come first: see bench/_path.py)
import asyncpg
import httpx
import psutil
from twilio.request_validator import RequestValidator

from knowledge.db import asyncpg_dsn
from knowledge.infra import embedded

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
QUESTIONS = [
    "how much do kids cost?",
    "is the deposit refundable?",
    "can you cook inside my garage?",
    "hi there!",
    "what upgrades do you have?",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


def cpu_seconds(server: subprocess.Popen[bytes], data_dir: Path) -> dict[str, float]:
    """CPU seconds so far: the API process, its worker processes, PostgreSQL, this bench."""
    groups = {"api": 0.0, "workers": 0.0, "postgres": 0.0, "bench": 0.0}
    api = psutil.Process(server.pid)
    members = [("api", api), ("bench", psutil.Process())]
    for child in api.children(recursive=False):
        with contextlib.suppress(psutil.Error):
            if "api.cli" in " ".join(child.cmdline()):
                members.append(("workers", child))
    for proc in psutil.process_iter(["cmdline"]):
        if str(data_dir) in " ".join(proc.info["cmdline"] or []):
            with contextlib.suppress(psutil.Error):
                members += [("postgres", p) for p in [proc, *proc.children()]]
    for group, proc in members:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            groups[group] += times.user + times.system
    return groups


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ReplyWatch:
    """One poller for every SMS customer's reply: a query every 20 ms for all waiting message
    ids at once (a poll per customer would load the database more than the service does)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.waiting: dict[str, asyncio.Future[None]] = {}

    async def reply(self, sid: str) -> None:
        future = asyncio.get_running_loop().create_future()
        self.waiting[sid] = future
        await future

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.waiting:
                answered = await self.pool.fetch(
                    "SELECT i.provider_message_id FROM messages i JOIN messages o "
                    "ON o.idempotency_key = 'reply:message:' "
                    "|| coalesce(i.meta->>'answered_with', i.id::text) "
                    "WHERE i.provider_message_id = ANY($1::text[])",
                    list(self.waiting),
                )
                for row in answered:
                    future = self.waiting.pop(row[0], None)
                    if future is not None and not future.done():
                        future.set_result(None)
            await asyncio.sleep(0.02)


async def sms_customer(
    n: int,
    base: str,
    watch: ReplyWatch,
    deadline: float,
    acks: list[tuple[float, float]],
    replies: list[tuple[float, float]],
) -> None:
    phone = f"+1916999{n:04d}"
    sent = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.perf_counter() < deadline:
            sid = f"SMB{n:04d}{sent:06d}"
            form = {
                "MessageSid": sid,
                "From": phone,
                "To": "+19167408768",
                "Body": QUESTIONS[sent % len(QUESTIONS)],
            }
            path = "/webhooks/twilio/messages"
            headers = {
                "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(base + path, form),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            started = time.perf_counter()
            response = await client.post(path, content=urlencode(form), headers=headers)
            acks.append((started, time.perf_counter() - started))
            assert response.status_code == 200, response.text
            try:
                await asyncio.wait_for(watch.reply(sid), deadline + 30 - time.perf_counter())
            except TimeoutError:
                break
            replies.append((started, time.perf_counter() - started))
            sent += 1


async def web_customer(base: str, deadline: float, replies: list[tuple[float, float]]) -> None:
    sent = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        token = (await client.post("/api/v1/chat/sessions")).json()["token"]
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await client.post(
                "/api/v1/chat/messages",
                json={"text": QUESTIONS[sent % len(QUESTIONS)]},
                headers={"X-Chat-Token": token},
            )
            assert response.status_code == 200, response.text
            replies.append((started, time.perf_counter() - started))
            sent += 1


async def main(
    customers: int, seconds: float, workers: int = 0, warmup: float = 5.0
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="hibachi-bench-webhooks-"))
    env = {
        **os.environ,
        "HIBACHI_DATA_DIR": str(data_dir),
        "TWILIO_AUTH_TOKEN": TOKEN,
        # One address, and customers writing faster than any person: the limits would refuse
        # the load by design.
        "HIBACHI_RATE_LIMIT_IP_PER_MINUTE": "0",
        "HIBACHI_RATE_LIMIT_PHONE_PER_MINUTE": "0",
    }
    env.pop("DATABASE_URL", None)
    env.pop("TWILIO_ACCOUNT_SID", None)  # replies are stored as simulated: no outbound HTTP
    hibachi = [sys.executable, "-c", "from api.cli import main; main()"]
    subprocess.run(  # noqa: ASYNC221 (set-up before any timing)
        [*hibachi, "migrate", "--seed"], env=env, check=True, capture_output=True
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env["PUBLIC_BASE_URL"] = base
    server = subprocess.Popen(  # noqa: ASYNC220 (a server we stop with a signal)
        [*hibachi, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db_server = None
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(1200):  # ready: the database answers and the workers are warm
                try:
                    if (await client.get(base + "/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        db_server = embedded.start_server(data_dir)
        pool = await asyncpg.create_pool(
            asyncpg_dsn(embedded.server_url(db_server)), min_size=1, max_size=4
        )
        acks: list[tuple[float, float]] = []  # (sent at, seconds)
        sms_replies: list[tuple[float, float]] = []
        web_replies: list[tuple[float, float]] = []
        watch = ReplyWatch(pool)
        stop_watch = asyncio.Event()
        watcher = asyncio.create_task(watch.run(stop_watch))
        begun = time.perf_counter()
        measured_from = begun + warmup
        deadline = measured_from + seconds

        async def cpu_at_start() -> dict[str, float]:
            await asyncio.sleep(warmup)
            return cpu_seconds(server, data_dir)

        cpu_start = asyncio.create_task(cpu_at_start())
        await asyncio.gather(
            *(
                sms_customer(n, base, watch, deadline, acks, sms_replies)
                for n in range(customers // 2)
            ),
            *(web_customer(base, deadline, web_replies) for _ in range(customers - customers // 2)),
        )
        cpu_before, cpu_after = await cpu_start, cpu_seconds(server, data_dir)
        elapsed = time.perf_counter() - measured_from
        stop_watch.set()
        await watcher
        await pool.close()
    finally:  # a failed run must not leave the service (and its database) behind
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        if db_server is not None:
            db_server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)

    def measured(samples: list[tuple[float, float]]) -> list[float]:
        return [seconds for at, seconds in samples if at >= measured_from]

    ack, sms, web = measured(acks), measured(sms_replies), measured(web_replies)
    replies = sms + web
    messages = len(replies)
    cpu_ms = {  # CPU per message, by process group (backends of every client in "postgres")
        f"cpu_ms_per_message_{group}": round(
            (cpu_after[group] - cpu_before[group]) * 1000 / max(1, messages), 1
        )
        for group in cpu_before
    }

    def ms(values: list[float], q: float) -> float | None:
        return round(pct(values, q) * 1000, 1) if values else None

    return {
        "bench": "webhooks",
        "customers": customers,
        "workers": workers,
        "warmup_s": warmup,
        "seconds": round(elapsed, 1),
        "messages": messages,
        "messages_per_s": round(messages / elapsed, 1),
        "ack_p50_ms": ms(ack, 0.5),
        "ack_p99_ms": ms(ack, 0.99),
        "reply_p50_ms": ms(replies, 0.5),
        "reply_p99_ms": ms(replies, 0.99),
        "sms_reply_p50_ms": ms(sms, 0.5),
        "web_reply_p50_ms": ms(web, 0.5),
        **cpu_ms,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--workers", type=int, default=0, help="`hibachi serve --workers N` (0: turns in the API)"
    )
    parser.add_argument(
        "--warmup", type=float, default=5, help="seconds of load before measuring (not counted)"
    )
    args = parser.parse_args()
    result = asyncio.run(main(args.customers, args.seconds, args.workers, args.warmup))
    for key, value in result.items():
        print(f"{key:18} {value}")
    print(json.dumps(result))
