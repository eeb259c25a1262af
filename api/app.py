"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api import errors
from api.assembly import assemble
from api.metrics import RequestObserver, Scraper, separate_address
from api.process import settle_heap
from api.ratelimit import RateLimiter
from api.routes import (
    booking_actions,
    bookings,
    console,
    conversations,
    customers,
    escalations,
    health,
    knowledge,
    leads,
    metrics,
    stats,
    twilio,
    users,
    webchat,
)
from api.state import AppState
from knowledge.db import Database, open_database
from knowledge.infra import logs, tracing
from knowledge.infra.clock import Clock, SystemClock
from knowledge.infra.settings import Settings
from knowledge.service import KnowledgeService


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    knowledge_service: KnowledgeService | None = None,
    runtime: Any = None,
    settle: bool = False,
    workers: Any = None,
) -> FastAPI:
    """Build the app; the database, the agent runtime and (unless `settings.run_worker` is off)
    an in-process scheduler start with it, unless they are handed in. `settle` tunes the
    garbage collector once started, for a long-running server process (api.process).
    `workers` are the worker processes started beside it, which `/readyz` checks."""
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from agent.inbox import TURNS_CHANNEL, TurnWaiters

        # After the web server has set up its loggers: scrub them too.
        logs.configure(json_lines=settings.env == "production")
        async with AsyncExitStack() as stack:
            db = database or await open_database(settings)
            if database is None:
                stack.push_async_callback(db.dispose)
            turns = TurnWaiters()
            services = await stack.enter_async_context(
                assemble(
                    settings,
                    db,
                    clock=clock,
                    knowledge=knowledge_service,
                    runtime=runtime,
                    background=settings.run_worker,
                    listen={TURNS_CHANNEL: turns.finished},
                    process="api",
                )
            )
            scraper = Scraper(db.sessionmaker, clock)
            if settings.metrics_address:
                await stack.enter_async_context(separate_address(settings.metrics_address, scraper))
            app.state.hibachi = AppState(
                settings=settings,
                database=db,
                knowledge=services.knowledge,
                clock=clock,
                hints=services.hints,
                scraper=scraper,
                runtime=services.runtime,
                worker_wake=services.worker_wake,
                inbox_wake=services.inbox_wake,
                phone_limit=RateLimiter(settings.rate_limit_phone_per_minute, name="phone"),
                ip_limit=RateLimiter(settings.rate_limit_ip_per_minute, name="ip"),
                turns=turns,
                workers=workers,
            )
            if settle:  # a long-running server process (see api.process)
                settle_heap()
            yield

    app = FastAPI(
        title="Hibachi customer-service agent",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    # Before the first request: the request middleware makes spans only once tracing is on.
    tracing.configure("api", settings.otel_endpoint, ratio=settings.trace_sample_ratio)
    app.add_middleware(RequestObserver)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(knowledge.router)
    app.include_router(bookings.router)
    app.include_router(booking_actions.router)
    app.include_router(twilio.router)
    app.include_router(conversations.router)
    app.include_router(customers.router)
    app.include_router(escalations.router)
    app.include_router(stats.router)
    app.include_router(leads.router)
    app.include_router(console.router)
    app.include_router(users.router)
    app.include_router(webchat.router)
    return app
