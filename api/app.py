"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from api import errors
from api.routes import bookings, conversations, health, knowledge, twilio, webchat
from api.state import AppState
from knowledge.clock import Clock, SystemClock
from knowledge.db import Database, open_database
from knowledge.invalidation import InvalidationListener
from knowledge.service import KnowledgeService
from knowledge.settings import Settings


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    knowledge_service: KnowledgeService | None = None,
    runtime: Any = None,
) -> FastAPI:
    """Build the app; the database, the agent runtime and (unless `settings.run_worker` is off)
    an in-process scheduler start with it, unless they are handed in."""
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from agent.inbox import Inbox
        from agent.runtime import AgentRuntime, postgres_checkpointers
        from scheduler.worker import Worker
        from tools.messaging.alerts import AlertSender, run_alerts
        from tools.messaging.sender import OutboxSender, run_sender
        from tools.messaging.twilio import TwilioChannel

        async with AsyncExitStack() as stack:
            db = database or await open_database(settings)
            if database is None:
                stack.push_async_callback(db.dispose)
            service = knowledge_service or KnowledgeService(
                clock=clock, ttl_seconds=settings.knowledge_cache_ttl_seconds
            )
            listener = InvalidationListener(db.url, service.invalidate)
            await listener.start()
            stack.push_async_callback(listener.stop)
            agent = runtime
            if agent is None:
                savers = await stack.enter_async_context(postgres_checkpointers(db.url, 4))
                agent = AgentRuntime.from_settings(
                    settings, db.sessionmaker, service, clock, savers
                )
            state = AppState(
                settings=settings, database=db, knowledge=service, clock=clock, runtime=agent
            )
            app.state.hibachi = state
            if settings.run_worker:
                stop = asyncio.Event()
                worker = Worker(db.sessionmaker, agent, service, clock)
                inbox = Inbox(db.sessionmaker, agent)
                tasks = [
                    asyncio.create_task(worker.run_forever(stop, state.worker_wake)),
                    asyncio.create_task(inbox.run_forever(stop, state.inbox_wake)),
                ]
                twilio_channel = None
                if settings.twilio_account_sid and settings.twilio_auth_token:
                    http = await stack.enter_async_context(
                        httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
                    )
                    twilio_channel = TwilioChannel(settings, http)
                    sender = OutboxSender(db.sessionmaker, twilio_channel, clock, knowledge=service)
                    tasks.append(asyncio.create_task(run_sender(sender, stop)))
                alerts = AlertSender(db.sessionmaker, settings, twilio_channel, clock)
                tasks.append(asyncio.create_task(run_alerts(alerts, stop)))

                async def _stop_background() -> None:
                    stop.set()
                    for task in tasks:
                        with contextlib.suppress(asyncio.CancelledError):
                            await task

                stack.push_async_callback(_stop_background)
            yield

    app = FastAPI(
        title="Hibachi customer-service agent",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(health.router)
    app.include_router(knowledge.router)
    app.include_router(bookings.router)
    app.include_router(twilio.router)
    app.include_router(conversations.router)
    app.include_router(webchat.router)
    return app
