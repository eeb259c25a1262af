"""The Prometheus scrape: every process's counters (knowledge.infra.metrics) and what waits in
the database now (tools.backlog), served at `/metrics` on the API and, with
`HIBACHI_METRICS_ADDRESS`, on an address of its own that stays off the public port.

The database part is read at most every SNAPSHOT_SECONDS whatever the scrape rate, by the
process that answers the scrape (several API processes each answer for the whole database).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials

from knowledge.db import unit_of_work
from knowledge.errors import ConfigError, Forbidden
from knowledge.infra import metrics, tracing
from knowledge.infra.clock import Clock
from knowledge.infra.settings import Settings
from tools import backlog

log = structlog.get_logger(__name__)

SNAPSHOT_SECONDS = 5.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Scraper:
    """Builds the scrape's text; one per process."""

    sessionmaker: Any
    clock: Clock
    _waiting: backlog.Waiting | None = None
    _read_at: float = float("-inf")
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def waiting(self) -> backlog.Waiting | None:
        async with self._lock:
            if time.monotonic() - self._read_at >= SNAPSHOT_SECONDS:
                try:
                    async with unit_of_work(self.sessionmaker) as session:
                        self._waiting = await backlog.waiting(session, self.clock.now())
                except Exception as exc:  # a scrape still shows the processes' figures
                    log.warning("metrics: backlog not read", error=str(exc)[:200])
                    self._waiting = None
                self._read_at = time.monotonic()
            return self._waiting

    async def render(self) -> bytes:
        waiting = await self.waiting()
        return await asyncio.to_thread(_render, waiting)


def _render(waiting: backlog.Waiting | None) -> bytes:
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    metrics.instruments()  # this process's metrics exist (at zero) before the first event
    shared = metrics.shared_directory()
    if shared is None:
        processes = generate_latest(REGISTRY)
    else:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(shared))  # type: ignore[no-untyped-call]
        processes = generate_latest(registry)
    now = CollectorRegistry()
    if waiting is not None:
        now.register(_WaitingCollector(waiting))
    return processes + generate_latest(now)


class _WaitingCollector:
    def __init__(self, waiting: backlog.Waiting) -> None:
        self.waiting = waiting

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        w = self.waiting
        for name, doc, label, values in (
            ("inbox_waiting", "Customer messages stored and not answered yet.", "channel", w.inbox),
            (
                "inbox_oldest_waiting_seconds",
                "Age of the oldest customer message not answered.",
                "channel",
                w.inbox_oldest,
            ),
            ("outbox_backlog", "Replies and notices not sent yet.", "channel", w.outbox),
            (
                "outbox_oldest_unsent_seconds",
                "Age of the oldest reply or notice not sent yet.",
                "channel",
                w.outbox_oldest,
            ),
            (
                "touchpoints_due",
                "Touchpoints past their planned time and not run yet.",
                "kind",
                w.touchpoints_due,
            ),
            (
                "touchpoints_oldest_due_seconds",
                "How long the most overdue touchpoint has waited.",
                "kind",
                w.touchpoints_oldest,
            ),
            ("escalations_open", "Cases open or in progress.", "priority", w.cases_open),
            (
                "escalations_unclaimed",
                "Open cases nobody has claimed yet.",
                "priority",
                w.cases_unclaimed,
            ),
            (
                "escalations_unclaimed_oldest_seconds",
                "How long the oldest unclaimed case has waited for a person.",
                "priority",
                w.cases_unclaimed_oldest,
            ),
            ("escalations_overdue", "Open cases past their deadline.", "priority", w.cases_overdue),
        ):
            family = GaugeMetricFamily(f"{metrics.NAMESPACE}_{name}", doc, labels=[label])
            for key, value in sorted(values.items()):
                family.add_metric([key], value)
            yield family


def check_access(credentials: HTTPAuthorizationCredentials | None, settings: Settings) -> None:
    """On the public port: with HIBACHI_METRICS_TOKEN set, the scrape must bear it; in
    production without one, the scrape belongs on HIBACHI_METRICS_ADDRESS."""
    token = settings.metrics_token
    if token:
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Forbidden("metrics: send HIBACHI_METRICS_TOKEN as a bearer token")
    elif settings.env == "production":
        raise Forbidden(
            "metrics are not served on the public port in production: set "
            "HIBACHI_METRICS_ADDRESS (a private address) or HIBACHI_METRICS_TOKEN"
        )


def metrics_app(scraper: Scraper) -> FastAPI:
    """The separate address's app: `/metrics` only, no token (bind it to a private address)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/metrics")
    async def scrape() -> Response:
        return Response(await scraper.render(), media_type=CONTENT_TYPE)

    return app


class _QuietServer(uvicorn.Server):
    """A second server in the service's process: the first one handles the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def separate_address(address: str, scraper: Scraper) -> AsyncIterator[uvicorn.Server]:
    """Serve the scrape on `address` ("host:port") while the block runs; an address that is
    taken or wrong fails here, at start, not at the first scrape."""
    host, _, port = address.rpartition(":")
    try:
        listening = socket.create_server((host or "127.0.0.1", int(port)), reuse_port=False)
    except OSError as exc:
        raise ConfigError(f"HIBACHI_METRICS_ADDRESS: cannot listen on {address}: {exc}") from None
    config = uvicorn.Config(metrics_app(scraper), log_level="warning", lifespan="off")
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        yield server
    finally:
        server.should_exit = True
        await task
        listening.close()


class RequestObserver:
    """ASGI middleware: how long each webhook takes to acknowledge (a histogram by route) and,
    when tracing, a server span per request named by its route's path, never the requested one
    (an unknown path is "unmatched"), so neither carries an id or a token.

    Written here rather than taken from opentelemetry-instrumentation-fastapi: that middleware
    matches every request's route a second time and builds its attributes whether or not the
    trace is kept, and under the soak's 50 messages/s it cost the API process about 2 ms of
    CPU per message (bench/soak.py --observe, docs/reliability.md), a quarter of its work."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        webhook = scope["path"].startswith("/webhooks/")
        if not webhook and not tracing.enabled():
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with tracing.server_span(scope["method"], scope["headers"]) as span:
            try:
                await self.app(scope, receive, sending)
            finally:
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                if span is not None and span.is_recording():
                    span.update_name(f"{scope['method']} {route}")
                    span.set_attributes(
                        {
                            "http.request.method": scope["method"],
                            "http.route": route,
                            "http.response.status_code": status,
                        }
                    )
                if webhook:
                    seconds = time.perf_counter() - started
                    metrics.instruments().webhook_seconds.labels(route).observe(seconds)
