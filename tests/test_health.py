"""GET /healthz says whether the service can reach its database; GET /readyz whether it can
do its work (database, schema, worker processes)."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from api.app import create_app
from api.workers import WorkerProcesses
from knowledge import migrate
from knowledge.db import Database, make_engine
from knowledge.infra.settings import Settings
from tests.conftest import committed_database

# A stand-in worker: waits for the file named by its first argument, then writes "ready" to the
# pipe given by `--ready-fd N` (as `hibachi worker` does once its reader is loaded).
READY_WHEN_TOLD = """
import os, sys, time
go, fd = sys.argv[1], int(sys.argv[sys.argv.index("--ready-fd") + 1])
while not os.path.exists(go):
    time.sleep(0.05)
os.write(fd, b"ready\\n")
time.sleep(60)
"""


# A stand-in worker that notes the share it was given (in a file named by its pid), then says
# it is ready.
NOTES_ITS_SHARE = """
import os, sys, time
with open(os.path.join(sys.argv[1], str(os.getpid())), "w") as out:
    out.write(os.environ["HIBACHI_INBOX_SHARD"])
os.write(int(sys.argv[sys.argv.index("--ready-fd") + 1]), b"ready\\n")
time.sleep(60)
"""


async def until_ready(client: httpx.AsyncClient, seconds: float = 20.0) -> httpx.Response:
    response = await client.get("/readyz")
    for _ in range(int(seconds / 0.1)):
        if response.status_code == 200:
            break
        await asyncio.sleep(0.1)
        response = await client.get("/readyz")
    return response


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


async def _ready(app: Any) -> httpx.Response:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.get("/readyz")


class TestReadiness:
    async def test_ready_when_the_database_answers_at_the_current_schema(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {"status": "ready", "database": "ok", "schema": "ok"}

    async def test_not_ready_on_an_older_schema_saying_what_to_run(
        self, settings: Settings, pg_server: Any, template_url: str
    ) -> None:
        async with committed_database(pg_server, template_url) as (url, sessions):
            async with sessions() as session:
                await session.execute(text("UPDATE alembic_version SET version_num = '0005'"))
                await session.commit()
            engine = make_engine(url)
            database = Database(url=url, engine=engine, sessionmaker=async_sessionmaker(engine))
            response = await _ready(create_app(settings, database=database, runtime=object()))
            await engine.dispose()
        assert response.status_code == 503
        body = response.json()
        assert (body["status"], body["database"]) == ("unavailable", "ok")
        assert body["schema"] == f"at 0005, needs {migrate.head()}: run `hibachi migrate`"

    async def test_not_ready_when_the_database_is_unreachable(self, settings: Settings) -> None:
        dead = "postgresql+asyncpg://postgres@127.0.0.1:1/hibachi"
        engine = make_engine(dead, ping_idle=False)
        database = Database(url=dead, engine=engine, sessionmaker=async_sessionmaker(engine))
        response = await _ready(create_app(settings, database=database, runtime=object()))
        await engine.dispose()
        assert response.status_code == 503
        assert response.json()["database"].startswith("unreachable: ")

    async def test_not_ready_while_a_worker_process_is_down(
        self,
        settings: Settings,
        test_db_url: str,
        connection: AsyncConnection,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        # Two real child processes, watched too slowly to be replaced during the test; each
        # says "ready" on its pipe (as `hibachi worker --ready-fd` does) when the test lets it.
        workers = WorkerProcesses(2, test_db_url, check_every=60)
        go = Path(tempfile.mkdtemp()) / "go"
        workers.command = [sys.executable, "-c", READY_WHEN_TOLD, str(go)]
        workers.start()
        database = Database(url=test_db_url, engine=connection.engine, sessionmaker=sessionmaker)
        app = create_app(settings, database=database, runtime=object(), workers=workers)
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                    starting = await c.get("/readyz")
                    go.touch()
                    both = await until_ready(c)
                    workers.children[0].kill()
                    workers.children[0].wait()
                    one = await c.get("/readyz")
        finally:
            workers.stop(grace=5)
        assert (starting.status_code, starting.json()["workers"]) == (
            503,
            "0 of 2 ready (2 starting)",
        )
        assert (both.status_code, both.json()["workers"]) == (200, "2 of 2 ready")
        assert (one.status_code, one.json()["workers"]) == (503, "1 of 2 ready")


class TestShares:
    async def test_each_worker_and_its_replacement_get_their_share(self, test_db_url: str) -> None:
        """`hibachi serve --workers 2` gives worker K the share "K/2" (agent.inbox), and a
        replacement the share of the worker it replaces."""
        notes = Path(tempfile.mkdtemp())
        workers = WorkerProcesses(2, test_db_url, check_every=0.2)
        workers.command = [sys.executable, "-c", NOTES_ITS_SHARE, str(notes)]

        def shares() -> list[str | None]:
            found = [notes / str(child.pid) for child in workers.children]
            return [p.read_text() if p.exists() else None for p in found]

        workers.start()
        try:
            for _ in range(200):
                if workers.ready() == 2:
                    break
                await asyncio.sleep(0.1)
            first = shares()
            dead = workers.children[0]
            dead.kill()
            for _ in range(200):
                if workers.children[0].pid != dead.pid and workers.ready() == 2:
                    break
                await asyncio.sleep(0.1)
            replaced = shares()
        finally:
            workers.stop(grace=5)
        assert first == ["0/2", "1/2"]
        assert workers.children[0].pid != dead.pid and replaced == ["0/2", "1/2"]
