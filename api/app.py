"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.routes import health, knowledge
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
) -> FastAPI:
    """Build the app; the database is opened at start-up unless one is handed in."""
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or await open_database(settings)
        service = knowledge_service or KnowledgeService(
            clock=clock, ttl_seconds=settings.knowledge_cache_ttl_seconds
        )
        listener = InvalidationListener(db.url, service.invalidate)
        await listener.start()
        app.state.hibachi = AppState(settings=settings, database=db, knowledge=service, clock=clock)
        try:
            yield
        finally:
            await listener.stop()
            if database is None:
                await db.dispose()

    app = FastAPI(
        title="Hibachi customer-service agent",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(health.router)
    app.include_router(knowledge.router)
    return app
