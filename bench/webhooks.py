"""Channel load: simulated customers over SMS (signed Twilio webhooks) and web chat, against
`hibachi serve` on the embedded PostgreSQL, for a fixed time.

Each customer sends a message, waits for the answer, and sends the next (a closed loop).
SMS: acknowledge latency is the webhook's response time; reply latency runs until the reply
row exists. Web chat answers in the request, so its reply latency is the request's.
Prints a table, then the figures as one JSON line.

    .venv/bin/python bench/webhooks.py [--customers 100] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
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
from twilio.request_validator import RequestValidator

from knowledge import embedded
from knowledge.db import asyncpg_dsn

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def sms_customer(
    n: int,
    base: str,
    pool: asyncpg.Pool,
    deadline: float,
    acks: list[float],
    replies: list[float],
) -> int:
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
            acks.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            while time.perf_counter() < deadline + 30:
                answered = await pool.fetchval(
                    "SELECT count(*) FROM messages o JOIN messages i "
                    "ON o.idempotency_key = 'reply:message:' || i.id "
                    "WHERE i.provider_message_id = $1",
                    sid,
                )
                if answered:
                    replies.append(time.perf_counter() - started)
                    break
                await asyncio.sleep(0.02)
            sent += 1
    return sent


async def web_customer(base: str, deadline: float, replies: list[float]) -> int:
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
            replies.append(time.perf_counter() - started)
            sent += 1
    return sent


async def main(customers: int, seconds: float) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="hibachi-bench-webhooks-"))
    env = {
        **os.environ,
        "HIBACHI_DATA_DIR": str(data_dir),
        "TWILIO_AUTH_TOKEN": TOKEN,
        # The load comes from one address: the per-address limit would refuse it by design.
        "HIBACHI_RATE_LIMIT_IP_PER_MINUTE": "0",
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
        [*hibachi, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(base + "/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    db_server = embedded.start_server(data_dir)
    pool = await asyncpg.create_pool(
        asyncpg_dsn(embedded.server_url(db_server)), min_size=1, max_size=4
    )
    acks: list[float] = []
    sms_replies: list[float] = []
    web_replies: list[float] = []
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    counts = await asyncio.gather(
        *(sms_customer(n, base, pool, deadline, acks, sms_replies) for n in range(customers // 2)),
        *(web_customer(base, deadline, web_replies) for _ in range(customers - customers // 2)),
    )
    elapsed = time.perf_counter() - started
    await pool.close()
    server.send_signal(signal.SIGTERM)
    server.wait(30)
    db_server.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)
    replies = sms_replies + web_replies
    return {
        "bench": "webhooks",
        "customers": customers,
        "seconds": round(elapsed, 1),
        "messages": sum(counts),
        "messages_per_s": round(sum(counts) / elapsed, 1),
        "ack_p50_ms": round(statistics.median(acks) * 1000, 1) if acks else None,
        "ack_p99_ms": round(pct(acks, 0.99) * 1000, 1),
        "reply_p50_ms": round(statistics.median(replies) * 1000, 1) if replies else None,
        "reply_p99_ms": round(pct(replies, 0.99) * 1000, 1),
        "sms_reply_p50_ms": round(statistics.median(sms_replies) * 1000, 1)
        if sms_replies
        else None,
        "web_reply_p50_ms": round(statistics.median(web_replies) * 1000, 1)
        if web_replies
        else None,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    result = asyncio.run(main(args.customers, args.seconds))
    for key, value in result.items():
        print(f"{key:18} {value}")
    print(json.dumps(result))
