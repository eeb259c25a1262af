"""Soak: mixed traffic at a set rate on one `hibachi serve`, watching for errors, leaks and drift.

The service runs as `hibachi serve --workers 2` (the API acknowledges; two worker processes
answer, schedule and send; `--workers 0` runs all of it in the API process) on a throw-away
embedded PostgreSQL, without a Twilio account (replies are stored as simulated sends). Memory
and CPU figures cover the service with its workers.

An open loop (Poisson arrivals at `--rate` customer messages per second, whatever the service
answers) sends signed Twilio SMS and WhatsApp webhooks and web chat messages from customers who
each hold a short conversation. Beside them: bookings through the admin API (each gets its
confirmation from the scheduler; some are today's events whose chef departs, so an "arriving"
touchpoint falls due during the run) and an admin changing an add-on's price back and forth.

Measured: every response (any non-2xx, transport failure or unanswered message is an error,
counted by kind), webhook acknowledge latency, reply latency (web chat: the request; SMS and
WhatsApp: until the reply row exists, read from the database by one poller every 50 ms, so
that figure is rounded up to the poll), the service's RSS every few seconds, and p99 reply
latency in the first and last window (5 minutes; a quarter of runs under 10 minutes). Warm-up
is the first 10 % of the run: memory growth compares the last RSS with the RSS after it, and
the first window starts after it (the very first one, whose p99 the service's first seconds
inflate several times, is reported too, as p99_first_with_warmup_ms).
Web visitors come from 64 or more loopback addresses (127.0.1.x), so the service's per-address
limit (120 requests a minute) applies to them as it would to real visitors, not to the bench.

`ok` holds when there was no error, RSS grew under 10 %, p99 moved at most 20 % either way, and
the rate was carried: the generator sent at least 95 % of it and, when the load stopped, under
5 seconds' worth of SMS/WhatsApp messages were still waiting for their reply. A run that was
not carried says so first: its latency and memory figures then describe an overload.
The p99 drift is judged on runs of 10 minutes or more only. It is there to catch slow decay
(leaks, growing tables, queues); in a 2-minute run its windows are 30 seconds, whose p99 on a
shared 2-core machine moved −22 %, +108 %, +129 % and −22 % between identical runs, so a short
run reports it without judging it (`drift_judged`).
Prints a readable summary, then the figures as one JSON line; `--check` exits 1 unless `ok`.

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 50] [--workers 2] [--check]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import _path  # noqa: F401  (must come first: see bench/_path.py)
import asyncpg
import httpx
import psutil
from twilio.request_validator import RequestValidator

from knowledge.db import asyncpg_dsn
from tests.helpers.otlp import Collector

AUTH_TOKEN = "soak-auth-token"
BUSINESS_NUMBER = "+19167408768"
MIX = "sms:35,whatsapp:20,web:45"  # shares of the customer messages (--mix)
SECONDS_BETWEEN_MESSAGES = 8.0  # a customer's average gap: sets how many talk at once
BOOKED_SHARE = 0.25  # SMS customers who text about a booking made during the run
BOOKING_EVERY_S = 3.0
EVENT_DAY_EVERY = 3  # every third booking is tonight's, and its chef departs
CHEF_EVERY_S = 10.0
EDIT_EVERY_S = 5.0
POLL_S = 0.05
WARM_UP = 0.1  # the first 10 % of the run: imports, caches and connections still settling
DRIFT_MIN_MINUTES = 10  # shorter runs report the p99 drift without judging it (see above)
MAX_IN_FLIGHT = 2000  # the client refuses to pile up more than this (counted as an error)
MIN_WEB_ADDRESSES = 64
STRANGER_TEXTS = [
    "hi there!",
    "how much do kids cost?",
    "is the deposit refundable?",
    "what upgrades do you have?",
    "can you cook inside my garage?",
    "how much is it per adult?",
    "do you bring tables and chairs?",
    "what proteins can we choose?",
    "how far do you travel?",
    "thanks!",
]
BOOKED_TEXTS = [
    "hi, just checking my booking is all set",
    "what time will the chef get here?",
    "do we need to provide plates?",
    "is the deposit refundable?",
    "thank you!",
]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# One line per error event (our structured log and uvicorn's); a traceback's last line names the
# exception; answers the client saw are counted from the responses, not from the access log.
LOG_ERROR = re.compile(r"\[(error|critical)\s*\]|^ERROR:")
LOG_WARNING = re.compile(r"\[warning\s*\]|^WARNING:")
STRUCTURED_ERROR = re.compile(r"\[(?:error|critical)\s*\]\s+(.+?)(?:\s{2,}|$)")
LOG_EXCEPTION = re.compile(r"^[\w.]+(Error|Exception|Timeout)\w*: ")


def parse_mix(text: str) -> dict[str, float]:
    """'sms:35,whatsapp:20,web:45' → each channel's share of the messages."""
    shares: dict[str, float] = {}
    for part in text.split(","):
        channel, _, weight = part.partition(":")
        if channel.strip() not in ("sms", "whatsapp", "web") or float(weight or 0) < 0:
            raise argparse.ArgumentTypeError(
                f"'{part}': give channel:weight, channel sms|whatsapp|web"
            )
        shares[channel.strip()] = float(weight)
    total = sum(shares.values())
    if total <= 0:
        raise argparse.ArgumentTypeError("the weights add up to nothing")
    return {channel: weight / total for channel, weight in shares.items() if weight}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def phone(block: int, n: int) -> str:
    """A valid, unique US number: block 2xx SMS, 4xx WhatsApp, 6xx bookings."""
    return f"+1916{block + n // 10000:03d}{n % 10000:04d}"


def web_address(n: int) -> str:
    """A loopback address of its own for a web visitor (Linux routes all of 127/8 locally)."""
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


@dataclass
class Customer:
    channel: str
    address: str  # a phone number, or a web visitor's IP address
    texts: list[str]
    quota: int
    sent: int = 0
    chat_token: asyncio.Task[str] | None = None


@dataclass
class Figures:
    started: float
    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    acks: list[tuple[float, float]] = field(default_factory=list)  # (sent at, seconds)
    replies: list[tuple[float, str, float]] = field(default_factory=list)  # (at, channel, s)
    rss: list[tuple[float, int]] = field(default_factory=list)
    sessions: list[tuple[int, ...]] = field(default_factory=list)  # (all, on a lock, idle in tx)
    examples: dict[str, str] = field(default_factory=dict)  # the first answer of each error
    sends: list[float] = field(default_factory=list)  # when each customer message was due
    generator_lag_max: float = 0.0
    event_day: list[int] = field(default_factory=list)
    booked_phones: list[str] = field(default_factory=list)
    observed: dict[str, int] = field(default_factory=dict)  # --observe: spans, scrapes

    def at(self) -> float:
        return time.perf_counter() - self.started

    def response(self, kind: str, response: httpx.Response) -> bool:
        self.requests[kind] += 1
        if 200 <= response.status_code < 300:
            return True
        key = f"{kind}:{response.status_code}"
        self.errors[key] += 1
        self.examples.setdefault(key, response.text[:300])
        return False

    def failure(self, kind: str, exc: BaseException) -> None:
        self.requests[kind] += 1
        self.errors[f"{kind}:{type(exc).__name__}"] += 1


class Customers:
    """One channel's customers: each holds a short conversation, then a new one arrives."""

    def __init__(
        self, channel: str, size: int, rng: random.Random, figures: Figures, addresses: int
    ) -> None:
        self.channel = channel
        self.addresses = addresses
        self.rng = rng
        self.figures = figures
        self.count = 0
        self.slots = [self._new() for _ in range(size)]

    def _new(self) -> Customer:
        self.count += 1
        texts = STRANGER_TEXTS
        booked = self.figures.booked_phones
        if self.channel == "web":
            address = web_address(self.count % self.addresses)
        elif self.channel == "sms" and booked and self.rng.random() < BOOKED_SHARE:
            texts, address = BOOKED_TEXTS, booked.pop(0)
        else:
            address = phone(200 if self.channel == "sms" else 400, self.count)
        start = self.rng.randrange(len(texts))
        return Customer(
            self.channel, address, texts[start:] + texts[:start], self.rng.randint(3, 6)
        )

    def next(self) -> tuple[Customer, str]:
        index = self.rng.randrange(len(self.slots))
        customer = self.slots[index]
        text = customer.texts[customer.sent % len(customer.texts)]
        customer.sent += 1
        if customer.sent >= customer.quota:
            self.slots[index] = self._new()
        return customer, text


class ReplyWatch:
    """Waits for the reply rows of acknowledged webhooks: one cheap query per poll for every
    message still waiting (two unique-index look-ups each), never one query per message."""

    QUERY = """
        SELECT i.provider_message_id, i.status, o.id IS NOT NULL
        FROM messages i
        LEFT JOIN messages o ON o.idempotency_key
            = 'reply:message:' || coalesce(i.meta->>'answered_with', i.id::text)
        WHERE i.provider_message_id = ANY($1::text[])
    """

    def __init__(self, pool: asyncpg.Pool, figures: Figures) -> None:
        self.pool = pool
        self.figures = figures
        self.waiting: dict[str, tuple[float, float, str]] = {}  # sid: (started, at, channel)

    def add(self, sid: str, started: float, at: float, channel: str) -> None:
        self.waiting[sid] = (started, at, channel)

    async def poll(self) -> None:
        sids = list(self.waiting)
        for chunk in range(0, len(sids), 2000):
            seen = time.perf_counter()
            rows = await self.pool.fetch(self.QUERY, sids[chunk : chunk + 2000])
            for sid, status, replied in rows:
                if replied:
                    started, at, channel = self.waiting.pop(sid)
                    self.figures.replies.append((at, channel, seen - started))
                elif status != "received":  # the turn ran and said nothing
                    _started, _at, channel = self.waiting.pop(sid)
                    self.figures.errors[f"{channel}:no_reply"] += 1

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.waiting:
                try:
                    await self.poll()
                except (OSError, asyncpg.PostgresError) as exc:
                    self.figures.errors[f"bench_db:{type(exc).__name__}"] += 1
            await asyncio.sleep(max(POLL_S, len(self.waiting) / 20000))


@dataclass
class Service:
    base: str
    client: httpx.AsyncClient
    admin_token: str
    figures: Figures
    watch: ReplyWatch
    rng: random.Random
    validator: RequestValidator = field(default_factory=lambda: RequestValidator(AUTH_TOKEN))
    sids: int = 0
    visitors: dict[str, httpx.AsyncClient] = field(default_factory=dict)  # by source address

    def visitor(self, address: str) -> httpx.AsyncClient:
        if address not in self.visitors:
            self.visitors[address] = httpx.AsyncClient(
                base_url=self.base,
                timeout=self.client.timeout,
                transport=httpx.AsyncHTTPTransport(
                    local_address=address, limits=httpx.Limits(keepalive_expiry=2)
                ),
            )
        return self.visitors[address]

    async def close(self) -> None:
        for client in [self.client, *self.visitors.values()]:
            await client.aclose()

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    async def webhook(self, customer: Customer, text: str) -> None:
        self.sids += 1
        sid = f"SM{self.sids:032d}"
        sender = customer.address
        form = {"MessageSid": sid, "From": sender, "To": BUSINESS_NUMBER, "Body": text}
        if customer.channel == "whatsapp":
            form |= {"From": f"whatsapp:{sender}", "To": f"whatsapp:{BUSINESS_NUMBER}"}
            form["ProfileName"] = f"Guest {sender[-4:]}"
        path = "/webhooks/twilio/messages"
        headers = {
            "X-Twilio-Signature": self.validator.compute_signature(self.base + path, form),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        at, started = self.figures.at(), time.perf_counter()
        try:
            response = await self.client.post(path, content=urlencode(form), headers=headers)
        except httpx.HTTPError as exc:
            self.figures.failure(customer.channel, exc)
            return
        self.figures.acks.append((at, time.perf_counter() - started))
        if self.figures.response(customer.channel, response):
            self.watch.add(sid, started, at, customer.channel)

    async def _chat_session(self, client: httpx.AsyncClient) -> str:
        try:
            response = await client.post("/api/v1/chat/sessions")
        except httpx.HTTPError as exc:
            self.figures.failure("web_session", exc)
            raise RuntimeError("no chat session") from exc
        if not self.figures.response("web_session", response):
            raise RuntimeError("no chat session")
        return str(response.json()["token"])

    async def chat(self, customer: Customer, text: str) -> None:
        client = self.visitor(customer.address)
        if customer.chat_token is None:  # the visitor's first message opens the chat
            customer.chat_token = asyncio.create_task(self._chat_session(client))
            # Its failure is counted by each message that waited for it, not reported again.
            customer.chat_token.add_done_callback(lambda t: t.cancelled() or t.exception())
        try:
            token = await asyncio.shield(customer.chat_token)
        except RuntimeError:
            self.figures.errors["web:no_session"] += 1
            return
        at, started = self.figures.at(), time.perf_counter()
        try:
            response = await client.post(
                "/api/v1/chat/messages", json={"text": text}, headers={"X-Chat-Token": token}
            )
        except httpx.HTTPError as exc:
            self.figures.failure("web", exc)
            return
        if self.figures.response("web", response):
            self.figures.replies.append((at, "web", time.perf_counter() - started))

    async def book(self, n: int) -> None:
        today = n % EVENT_DAY_EVERY == 0
        now = datetime.now(UTC)
        event_at = now + (timedelta(hours=3) if today else timedelta(days=self.rng.randint(3, 60)))
        number = phone(600, n)
        payload = {
            "customer": {"name": f"Soak Guest {n}", "phone": number, "channel": "sms"},
            "event_at": event_at.replace(microsecond=0).isoformat(),
            "address": f"{100 + n} Oak Street, Sacramento, CA",
            "adults": self.rng.randint(10, 25),
            "kids": self.rng.randint(0, 4),
        }
        headers = {**self.admin, "Idempotency-Key": f"soak-{n}"}
        try:
            response = await self.client.post("/api/v1/bookings", json=payload, headers=headers)
        except httpx.HTTPError as exc:
            self.figures.failure("booking", exc)
            return
        if not self.figures.response("booking", response):
            return
        booking_id = int(response.json()["id"])
        if today:
            self.figures.event_day.append(booking_id)
        else:
            self.figures.booked_phones.append(number)

    async def chef_departs(self, booking_id: int, remaining: float) -> None:
        # "Arriving" is due ten minutes before the ETA: 1 to 5 minutes from now, inside the run.
        due_in = self.rng.randint(1, max(1, min(5, int(remaining // 60) - 1)))
        try:
            response = await self.client.post(
                f"/api/v1/bookings/{booking_id}/chef-departed",
                json={"eta_minutes": 10 + due_in},
                headers=self.admin,
            )
        except httpx.HTTPError as exc:
            self.figures.failure("chef_departed", exc)
            return
        self.figures.response("chef_departed", response)

    async def edit_price(self, addon_id: int, price: str) -> None:
        try:
            response = await self.client.put(
                f"/api/v1/menu/addons/{addon_id}", json={"price": price}, headers=self.admin
            )
        except httpx.HTTPError as exc:
            self.figures.failure("admin_edit", exc)
            return
        self.figures.response("admin_edit", response)


class Load:
    """Fires work on schedule without waiting for answers (an open loop)."""

    def __init__(self, service: Service, figures: Figures, deadline: float) -> None:
        self.service = service
        self.figures = figures
        self.deadline = deadline
        self.tasks: set[asyncio.Task[None]] = set()

    def fire(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def every(self, seconds: float, make: Any) -> None:
        n = 0
        while (wake := self.figures.started + n * seconds) < self.deadline:
            await asyncio.sleep(max(0.0, wake - time.perf_counter()))
            work = make(n)
            if work is not None:
                self.fire(work)
            n += 1

    async def messages_at(self, rate: float, mix: dict[str, float], rng: random.Random) -> None:
        addresses = max(MIN_WEB_ADDRESSES, math.ceil(rate * mix.get("web", 0) * 1.5))
        pools = {
            channel: Customers(
                channel,
                max(2, math.ceil(rate * share * SECONDS_BETWEEN_MESSAGES)),
                rng,
                self.figures,
                addresses,
            )
            for channel, share in mix.items()
        }
        names, weights = list(mix), list(mix.values())
        due = self.figures.started
        while True:
            due += rng.expovariate(rate)
            if due >= self.deadline:
                return
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                self.figures.generator_lag_max = max(self.figures.generator_lag_max, -delay)
            channel = rng.choices(names, weights)[0]
            if len(self.tasks) >= MAX_IN_FLIGHT:
                self.figures.errors[f"{channel}:client_overloaded"] += 1
                continue
            customer, text = pools[channel].next()
            self.figures.sent[channel] += 1
            self.figures.sends.append(self.figures.at())
            if channel == "web":
                self.fire(self.service.chat(customer, text))
            else:
                self.fire(self.service.webhook(customer, text))


SESSIONS = """
    SELECT count(*),
           count(*) FILTER (WHERE wait_event_type = 'Lock'),
           count(*) FILTER (WHERE state LIKE 'idle in transaction%')
    FROM pg_stat_activity
    WHERE datname = current_database() AND application_name <> 'soak-bench'
"""


def service_processes(process: psutil.Process) -> list[psutil.Process]:
    """The service and its worker processes (`hibachi serve --workers N`)."""
    found = [process]
    for child in process.children():
        with contextlib.suppress(psutil.Error):
            if "api.cli" in " ".join(child.cmdline()):
                found.append(child)
    return found


async def sample(
    process: psutil.Process, pool: asyncpg.Pool, figures: Figures, every: float, stop: float
) -> None:
    """The RSS of the service (with its workers), and its database sessions: all, waiting on
    a lock (a turn waiting for its conversation), idle inside a transaction."""
    while True:
        try:
            rss = process.memory_info().rss
            for worker in service_processes(process)[1:]:
                with contextlib.suppress(psutil.Error):
                    rss += worker.memory_info().rss
            figures.rss.append((figures.at(), rss))
        except psutil.Error:
            figures.errors["service:died"] += 1
            return
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            figures.sessions.append(tuple(await pool.fetchrow(SESSIONS)))
        if time.perf_counter() >= stop:
            return
        await asyncio.sleep(min(every, max(0.0, stop - time.perf_counter())))


SCRAPE_EVERY_S = 15.0


async def scrape(client: httpx.AsyncClient, figures: Figures, stop: float) -> None:
    """GET /metrics every SCRAPE_EVERY_S, as a Prometheus server would (its cost is part of
    the run's); each scrape counts as a request, a failed one as an error."""
    while time.perf_counter() < stop:
        await asyncio.sleep(min(SCRAPE_EVERY_S, max(0.0, stop - time.perf_counter())))
        try:
            response = await client.get("/metrics")
        except httpx.HTTPError as exc:
            figures.failure("metrics", exc)
            continue
        if figures.response("metrics", response):
            figures.observed["scrapes"] = figures.observed.get("scrapes", 0) + 1
            figures.observed["scrape_bytes"] = len(response.content)


async def scheduler_report(pool: asyncpg.Pool, since: datetime) -> dict[str, Any]:
    """What the scheduler did for this run's bookings, and how late the touchpoints went out."""
    rows = await pool.fetch(
        """
        SELECT r.reminder_type, r.status, r.scheduled_at, r.sent_at
        FROM automated_reminders r JOIN bookings b ON b.id = r.booking_id
        WHERE b.idempotency_key LIKE 'soak-%'
        """
    )
    states: dict[str, Counter[str]] = {}
    late: list[float] = []
    for kind, status, due, sent_at in rows:
        states.setdefault(kind, Counter())[status] += 1
        if status == "sent" and sent_at is not None and due >= since:
            late.append((sent_at - due).total_seconds())
    later = datetime.now(UTC)
    postponed = sum(
        1
        for kind, status, due, _ in rows
        if kind == "confirmation" and status == "pending" and due > later
    )
    return {
        "touchpoints": {kind: dict(c) for kind, c in sorted(states.items())},
        "sent_due_in_run": len(late),
        "late_p50_s": round(pct(late, 0.5), 2) if late else None,
        "late_max_s": round(max(late), 2) if late else None,
        "confirmations_due_later": postponed,
        "failed": sum(c.get("failed", 0) for c in states.values()),
    }


def cpu_readings(service: psutil.Process, data_dir: Path) -> dict[str, dict[Any, float]]:
    """CPU seconds so far of the service, its PostgreSQL (the postmaster under data_dir and
    its backends) and this load generator, per process."""
    processes = service_processes(service)
    groups: dict[str, list[psutil.Process]] = {
        "service": processes,
        "api": processes[:1],
        "workers": processes[1:],
        "postgres": [],
        "bench": [psutil.Process()],
    }
    for proc in psutil.process_iter(["cmdline"]):
        if proc.pid != service.pid and str(data_dir) in " ".join(proc.info["cmdline"] or []):
            if "api.cli" in " ".join(proc.info["cmdline"] or []):
                continue
            with contextlib.suppress(psutil.Error):
                groups["postgres"] += [proc, *proc.children()]
    readings: dict[str, dict[Any, float]] = {}
    for name, procs in groups.items():
        readings[name] = {}
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                readings[name][(proc.pid, proc.create_time())] = times.user + times.system
    return readings


def cpu_percent(
    before: dict[str, dict[Any, float]], after: dict[str, dict[Any, float]], seconds: float
) -> dict[str, float]:
    """Per group, 100 = one core busy for the whole run (processes that exited in between are
    missed, so PostgreSQL's figure is a floor)."""
    return {
        name: round(
            sum(cpu - before[name].get(key, 0.0) for key, cpu in procs.items()) / seconds * 100, 1
        )
        for name, procs in after.items()
    }


def log_problems(log: Path) -> tuple[list[str], list[str], list[str]]:
    """The service log's error events, warnings and the exceptions its tracebacks end with."""
    errors: list[str] = []
    warnings: list[str] = []
    exceptions: list[str] = []
    for raw in log.read_text(errors="replace").splitlines():
        line = ANSI.sub("", raw).strip()
        if LOG_ERROR.search(line):
            errors.append(line)
        elif LOG_WARNING.search(line):
            warnings.append(line)
        elif LOG_EXCEPTION.search(line):
            exceptions.append(line)
    return errors, warnings, exceptions


def distinct(lines: list[str], limit: int = 8) -> list[str]:
    """The first lines of each kind (digits and timestamps folded), with their counts."""
    kinds: Counter[str] = Counter()
    first: dict[str, str] = {}
    for line in lines:
        key = re.sub(r"\d+", "#", line)[:160]
        kinds[key] += 1
        first.setdefault(key, line)
    return [f"{n}x {first[key][:300]}" for key, n in kinds.most_common(limit)]


def windows(figures: Figures, seconds: float) -> tuple[float, float, float]:
    """p99 reply latency of the messages sent in the first window after warm-up, in the last
    window, and in the very first window (warm-up included, for the record)."""
    span = 300.0 if seconds >= 600 else seconds / 4
    warm = seconds * WARM_UP
    first = [s for at, _, s in figures.replies if warm <= at < warm + span]
    last = [s for at, _, s in figures.replies if at >= seconds - span]
    cold = [s for at, _, s in figures.replies if at < span]
    return pct(first, 0.99), pct(last, 0.99), pct(cold, 0.99)


def timeline(figures: Figures, seconds: float, slices: int = 10) -> list[str]:
    width = seconds / slices
    lines = [f"{'from s':>7} {'sent':>6} {'answered':>8} {'p50 ms':>8} {'p99 ms':>8} {'rss MB':>7}"]
    for i in range(slices):
        lo, hi = i * width, (i + 1) * width
        got = [s for at, _, s in figures.replies if lo <= at < hi]
        sent = sum(1 for at in figures.sends if lo <= at < hi)
        rss = [r for at, r in figures.rss if lo <= at < hi]
        lines.append(
            f"{lo:7.0f} {sent:6d} {len(got):8d} {pct(got, 0.5) * 1000:8.0f}"
            f" {pct(got, 0.99) * 1000:8.0f} {f'{rss[-1] / 2**20:.1f}' if rss else '-':>7}"
        )
    return lines


def write_trace(path: Path, figures: Figures) -> None:
    """Every acknowledgement and reply as a CSV line, in the order the messages were sent, for
    lining the tail up with other records by hand (`sent_unix` is wall-clock time)."""
    epoch = time.time() - figures.at()
    lines = sorted(
        [(at, "ack", "", seconds) for at, seconds in figures.acks]
        + [(at, "reply", channel, seconds) for at, channel, seconds in figures.replies]
    )
    with path.open("w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["sent_at_s", "sent_unix", "kind", "channel", "seconds"])
        for at, kind, channel, seconds in lines:
            rows.writerow([f"{at:.3f}", f"{epoch + at:.3f}", kind, channel, f"{seconds:.4f}"])


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


async def start_service(
    data_dir: Path, log: Path, workers: int, traces_to: str | None = None
) -> tuple[subprocess.Popen[bytes], str, str, str]:
    """Migrate, seed, add an admin, start `hibachi serve` (tracing to `traces_to` if given);
    returns it, its URL, the admin's token and the database's URL (asked once the service
    holds the embedded server, so this process never holds it and the service is the last to
    let it go)."""
    env = {**os.environ, "HIBACHI_DATA_DIR": str(data_dir), "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        env.pop(name, None)
    if traces_to is not None:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = traces_to
    for name in ("DATABASE_URL", "TWILIO_ACCOUNT_SID", "HIBACHI_TWILIO_ACCOUNT_SID", "HIBACHI_ENV"):
        env.pop(name, None)  # no account: every reply is stored as simulated, no outbound HTTP
    hibachi = [sys.executable, "-c", "from api.cli import main; main()"]
    subprocess.run(  # noqa: ASYNC221 (set-up before any timing)
        [*hibachi, "migrate", "--seed"], env=env, check=True, capture_output=True
    )
    added = subprocess.run(  # noqa: ASYNC221
        [*hibachi, "users", "add", "soak-admin", "--role", "admin"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token = added.stdout.strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env["PUBLIC_BASE_URL"] = base
    with log.open("wb") as out:
        server = subprocess.Popen(  # noqa: ASYNC220 (a server we stop with a signal)
            [*hibachi, "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=out,
        )
    async with httpx.AsyncClient() as client:
        # Load starts when a deployment would route traffic to it: once /readyz says the
        # database answers and every worker process has loaded what its turns need.
        for _ in range(1200):
            if server.poll() is not None:
                raise SystemExit(f"hibachi serve exited at start:\n{tail(log)}")
            try:
                if (await client.get(base + "/readyz")).status_code == 200:
                    url = subprocess.run(  # noqa: ASYNC221
                        [*hibachi, "db", "url"], env=env, check=True, capture_output=True, text=True
                    ).stdout.strip()
                    return server, base, token, asyncpg_dsn(url)
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    server.kill()
    raise SystemExit(f"hibachi serve was not ready in 120 s:\n{tail(log)}")


def stop_service(server: subprocess.Popen[bytes], data_dir: Path) -> bool:
    """SIGTERM and 30 s to finish (a deployment's usual grace); False if it had to be killed.
    A killed service cannot stop its PostgreSQL, so this stops that postmaster (fast mode)."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(30)
        return True
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    for proc in psutil.process_iter(["cmdline"]):
        if str(data_dir / "pgdata") in " ".join(proc.info["cmdline"] or []):
            with contextlib.suppress(psutil.Error):
                if not proc.cmdline()[0].endswith("postgres"):
                    continue
                proc.send_signal(signal.SIGINT)
                proc.wait(30)
    return False


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    seconds = args.minutes * 60
    rng = random.Random(args.seed)
    data_dir = Path(tempfile.mkdtemp(prefix="hibachi-soak-"))
    log = data_dir / "serve.log"
    collector = Collector(keep=False).__enter__() if args.observe else None
    traces_to = collector.endpoint if collector is not None else None
    server, base, token, dsn = await start_service(data_dir, log, args.workers, traces_to)
    pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=3, server_settings={"application_name": "soak-bench"}
    )
    db_size_start = await pool.fetchval("SELECT pg_database_size(current_database())")
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends: reusing one the server
    # is closing fails with ReadError, a race of the client's making.
    limits = httpx.Limits(
        max_connections=MAX_IN_FLIGHT, max_keepalive_connections=200, keepalive_expiry=2
    )
    client = httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60, connect=10), limits=limits)
    figures = Figures(started=time.perf_counter())
    watch = ReplyWatch(pool, figures)
    service = Service(base, client, token, figures, watch, rng)
    addons = (await client.get("/api/v1/menu/addons", headers=service.admin)).json()
    addon_id, base_price = int(addons[0]["id"]), str(addons[0]["price"])
    other_price = str(round(float(base_price) + 1, 2))
    run_started = datetime.now(UTC)
    figures.started = time.perf_counter()
    deadline = figures.started + seconds
    load = Load(service, figures, deadline)
    watching = asyncio.Event()

    def departure(n: int) -> Any:
        remaining = deadline - time.perf_counter()
        if remaining < 90 or not figures.event_day:
            return None
        return service.chef_departs(figures.event_day.pop(0), remaining)

    def edit(n: int) -> Any:
        return service.edit_price(addon_id, other_price if n % 2 == 0 else base_price)

    process = psutil.Process(server.pid)
    cpu_before = cpu_readings(process, data_dir)
    psutil.cpu_percent()
    watcher = asyncio.create_task(watch.run(watching))
    await asyncio.gather(
        load.messages_at(args.rate, args.mix, rng),
        load.every(BOOKING_EVERY_S, service.book),
        load.every(CHEF_EVERY_S, departure),
        load.every(EDIT_EVERY_S, edit),
        sample(process, pool, figures, args.sample, deadline),
        *([scrape(client, figures, deadline)] if args.observe else []),
    )
    elapsed = time.perf_counter() - figures.started
    machine_cpu = psutil.cpu_percent()
    cpu = cpu_percent(cpu_before, cpu_readings(process, data_dir), elapsed)
    backlog_end = len(watch.waiting)
    # Drain: requests in flight finish, replies of the last messages arrive (or never do).
    drain_until = time.perf_counter() + args.drain
    while (load.tasks or watch.waiting) and time.perf_counter() < drain_until:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    drained = time.perf_counter() - (figures.started + elapsed)
    for task in list(load.tasks):
        task.cancel()
    watching.set()
    await watcher
    for channel in (c for _, _, c in watch.waiting.values()):
        figures.errors[f"{channel}:no_reply_in_{args.drain:.0f}s"] += 1
    await service.edit_price(addon_id, base_price)
    await service.close()
    scheduler = await scheduler_report(pool, run_started)
    db_size_end = await pool.fetchval("SELECT pg_database_size(current_database())")
    await pool.close()
    if not stop_service(server, data_dir):
        figures.errors["service:no_clean_stop_in_30s"] += 1
    if collector is not None:
        collector.__exit__(None, None, None)
        figures.observed |= {"spans": collector.count, "exports": collector.requests}
    log_errors, log_warnings, log_exceptions = log_problems(log)
    for line in log_errors:  # the service's own error events; a 500 was counted as its answer
        if event := STRUCTURED_ERROR.search(line):
            figures.errors[f"log:{event.group(1)}"] += 1
    notes: list[str] = []
    if log_errors or log_warnings:
        kept = Path(tempfile.gettempdir()) / f"hibachi-soak-{int(time.time())}.log"
        shutil.copy(log, kept)
        notes.append(f"service log kept at {kept}")
        notes += ["log error: " + line for line in distinct(log_errors)]
        notes += ["log warning: " + line for line in distinct(log_warnings)]
        notes += ["log exception: " + line for line in distinct(log_exceptions)]
    shutil.rmtree(data_dir, ignore_errors=True)
    summary = summarize(args, figures, elapsed, seconds)
    if args.trace is not None:
        write_trace(args.trace, figures)
        notes.append(f"acknowledgements and replies traced in {args.trace}")
    summary["replies_waiting_at_end"] = backlog_end
    summary["drain_s"] = round(drained, 1)
    summary["scheduler"] = scheduler
    summary["db_mb_start"] = round(db_size_start / 2**20, 1)
    summary["db_mb_end"] = round(db_size_end / 2**20, 1)
    summary["log_warnings"] = len(log_warnings)
    summary["cpu_pct"] = cpu  # 100 = one core busy for the whole run; service = api + workers
    summary["cpu_ms_per_message"] = {
        name: round(cpu[name] / 100 * elapsed * 1000 / max(sum(figures.sent.values()), 1), 1)
        for name in ("api", "workers", "postgres")
    }
    summary["cpu_ms_per_message"]["all"] = round(sum(summary["cpu_ms_per_message"].values()), 1)
    if args.observe:
        summary["observed"] = figures.observed
    summary["machine_cpu_pct"] = machine_cpu  # every core, every process (shared machine)
    summary["load_avg_1m"] = round(os.getloadavg()[0], 2)
    summary["keeps_up"] = backlog_end <= args.rate * 5  # under 5 s of traffic still waiting
    summary["ok"] = not problems(summary)
    notes += findings(summary, figures, args.rate)
    return summary, notes + timeline(figures, seconds)


def findings(summary: dict[str, Any], figures: Figures, rate: float) -> list[str]:
    """Plain sentences for what the figures mean; the loud ones first."""
    notes: list[str] = []
    if not summary["keeps_up"]:
        notes.append(
            f"SERVICE FELL BEHIND: {summary['replies_waiting_at_end']} SMS/WhatsApp messages "
            f"were unanswered when the load stopped; it answered "
            f"{summary['webhook_answers_per_s']}/s of the {summary['webhook_rate_in']}/s "
            "that came in (so p99_change_pct says little: the last window's messages were "
            "answered during the drain, with no load competing)"
        )
    if not summary["rate_sustained"]:
        notes.append(
            f"NOT SUSTAINED: sent {summary['achieved_rate']}/s of the {rate}/s target "
            f"(the load generator fell up to {figures.generator_lag_max:.1f} s behind)"
        )
    postponed = summary["scheduler"]["confirmations_due_later"]
    if postponed:
        notes.append(
            f"{postponed} confirmations wait for messaging hours "
            "(the run is outside them in the business timezone)"
        )
    notes += [f"first answer of {key}: {body}" for key, body in figures.examples.items()]
    notes.append(verdict(summary))
    return notes


def problems(summary: dict[str, Any]) -> list[str]:
    """Why a run is not ok: errors, memory growth, latency drift, or a rate not carried (by the
    load generator, or by the service: then the other figures describe an overload)."""
    reasons = []
    if summary["errors"]["total"]:
        reasons.append(f"{summary['errors']['total']} errors")
    growth, change = summary["rss_growth_pct"], summary["p99_change_pct"]
    if growth is None or growth >= 10:
        reasons.append(f"RSS grew {growth} % after warm-up (limit 10 %)")
    if summary["drift_judged"] and (change is None or abs(change) > 20):
        reasons.append(f"p99 reply latency moved {change} % first to last window (limit 20 %)")
    if not summary["rate_sustained"]:
        reasons.append(f"the load generator sent {summary['achieved_rate']}/s, not the target")
    if not summary["keeps_up"]:
        reasons.append(f"{summary['replies_waiting_at_end']} replies still owed when load stopped")
    return reasons


def verdict(summary: dict[str, Any]) -> str:
    reasons = problems(summary)
    return "verdict: ok" if not reasons else "verdict: NOT ok: " + "; ".join(reasons)


def summarize(
    args: argparse.Namespace, figures: Figures, elapsed: float, seconds: float
) -> dict[str, Any]:
    acks = [s for _, s in figures.acks]
    replies = [s for _, _, s in figures.replies]
    first, last, cold = windows(figures, seconds)
    change = (last - first) / first * 100 if first else None
    after_warmup = [r for at, r in figures.rss if at >= seconds * WARM_UP] or [
        r for _, r in figures.rss
    ]
    warm, end = (after_warmup[0], figures.rss[-1][1]) if after_warmup else (0, 0)
    growth = (end - warm) / warm * 100 if warm else None
    sent = sum(figures.sent.values())
    achieved = sent / elapsed if elapsed else 0.0
    errors = sum(figures.errors.values())
    by_channel = {
        channel: {
            "sent": figures.sent[channel],
            "replies": len(got := [s for _, c, s in figures.replies if c == channel]),
            "reply_p50_ms": ms(pct(got, 0.5)),
            "reply_p99_ms": ms(pct(got, 0.99)),
        }
        for channel in args.mix
    }
    return {
        "bench": "soak",
        "minutes": args.minutes,
        "rate_target": args.rate,
        "drift_judged": args.minutes >= DRIFT_MIN_MINUTES,
        "workers": args.workers,
        "mix": {channel: round(share, 2) for channel, share in args.mix.items()},
        "messages_sent": sent,
        "achieved_rate": round(achieved, 1),
        "errors": {"total": errors, "by_kind": dict(figures.errors.most_common())},
        "ack_p50_ms": ms(pct(acks, 0.5)),
        "ack_p99_ms": ms(pct(acks, 0.99)),
        "reply_p50_ms": ms(pct(replies, 0.5)),
        "reply_p99_ms": ms(pct(replies, 0.99)),
        "p99_first_ms": ms(first),
        "p99_first_with_warmup_ms": ms(cold),
        "p99_last_ms": ms(last),
        "p99_change_pct": None if change is None else round(change, 1),
        "rss_warm_mb": round(warm / 2**20, 1),
        "rss_end_mb": round(end / 2**20, 1),
        "rss_growth_pct": None if growth is None else round(growth, 1),
        "ok": False,  # decided once every figure is in (see problems)
        "rate_sustained": achieved >= args.rate * 0.95,
        "generator_lag_max_s": round(figures.generator_lag_max, 2),
        "requests": dict(figures.requests),
        "by_channel": by_channel,
        "replies_received": len(replies),
        "db_sessions_max": max((n for n, _, _ in figures.sessions), default=None),
        "db_lock_waits_max": max((n for _, n, _ in figures.sessions), default=None),
        "db_idle_in_tx_max": max((n for _, _, n in figures.sessions), default=None),
        "webhook_rate_in": round((figures.sent["sms"] + figures.sent["whatsapp"]) / elapsed, 1),
        "webhook_answers_per_s": round(
            sum(1 for at, ch, s in figures.replies if ch != "web" and at + s <= elapsed) / elapsed,
            1,
        ),
    }


def print_summary(result: dict[str, Any], notes: list[str]) -> None:
    skip = {"errors", "requests", "by_channel", "scheduler"}
    for key, value in result.items():
        if key not in skip:
            print(f"{key:24} {value}")
    print(f"{'errors':24} {result['errors']['total']}")
    for kind, n in result["errors"]["by_kind"].items():
        print(f"  {kind:22} {n}")
    print(f"{'requests':24} {result['requests']}")
    for channel, figures in result["by_channel"].items():
        print(f"  {channel:22} {figures}")
    for key, value in result["scheduler"].items():
        print(f"scheduler {key:14} {value}")
    for line in notes:
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=50, help="customer messages per second")
    parser.add_argument("--sample", type=float, default=5, help="seconds between RSS samples")
    parser.add_argument(
        "--drain", type=float, default=60, help="seconds to wait for the last replies"
    )
    parser.add_argument("--mix", type=parse_mix, default=parse_mix(MIX), help=f"default {MIX}")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--workers", type=int, default=2, help="`hibachi serve --workers N` (0: turns in the API)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 unless the run is ok")
    parser.add_argument(
        "--observe",
        action="store_true",
        help="trace to a stand-in OTLP collector and scrape /metrics every 15 s, as production "
        "monitoring would (compare CPU per message with a run without it)",
    )
    parser.add_argument(
        "--trace",
        type=Path,
        help="write every acknowledgement and reply to this CSV file",
    )
    args = parser.parse_args()
    result, notes = asyncio.run(run(args))
    print_summary(result, notes)
    print(json.dumps(result))
    if args.check and not result["ok"]:
        sys.exit(1)
