"""GET /healthz says whether the service can reach its database."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker

from api.app import create_app
from knowledge.db import Database, make_engine
from knowledge.infra.settings import Settings


class TestHealth:
    async def test_ok_when_the_database_answers(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok"}

    async def test_503_saying_why_when_the_database_is_unreachable(
        self, settings: Settings, test_db_url: str
    ) -> None:
        dead = "postgresql+asyncpg://postgres@127.0.0.1:1/hibachi"
        engine = make_engine(dead, ping_idle=False)
        database = Database(url=dead, engine=engine, sessionmaker=async_sessionmaker(engine))
        # The agent is not needed to answer /healthz; a stand-in keeps start-up off the database.
        app = create_app(settings, database=database, runtime=object())
        # The listener only logs and retries against a dead database; the app still starts.
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                response = await c.get("/healthz")
                api = await c.get("/api/v1/faqs", headers={"Authorization": "Bearer x"})
        await engine.dispose()
        # Any route that needs the database answers 503 with the usual error body, not 500.
        assert api.status_code == 503, api.text
        assert api.json()["error"]["code"] == "service_unavailable"
        assert api.headers["retry-after"] == "5"
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["database"].startswith("unreachable: ")
