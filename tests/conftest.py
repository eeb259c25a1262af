"""Shared fixtures: one embedded PostgreSQL per run, a migrated and seeded template database,
a rolled-back transaction per test, and databases cloned from the template when a test needs
real commits (several connections or processes)."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from api.app import create_app
from knowledge import migrate
from knowledge.db import Database, asyncpg_dsn, ensure_database, make_engine, unit_of_work
from knowledge.infra import embedded
from knowledge.infra.clock import FrozenClock
from knowledge.infra.settings import Settings
from knowledge.seed import load_seed
from knowledge.service import KnowledgeService
from knowledge.users import create_user

TEMPLATE = "hibachi_template"
_clone_ids = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="hibachi-test-"))
    os.chmod(data_dir, 0o755)
    server = embedded.start_server(data_dir)
    yield server
    server.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
async def template_url(pg_server: Any) -> str:
    """A database with the schema migrated and the default knowledge seeded."""
    url = embedded.server_url(pg_server, TEMPLATE)
    await ensure_database(url)
    await migrate.upgrade_async(url)
    engine = make_engine(url, pool_size=1, max_overflow=0)
    async with unit_of_work(async_sessionmaker(engine, expire_on_commit=False)) as session:
        await load_seed(session)
    await engine.dispose()
    return url


async def clone_database(pg_server: Any, template_url: str, name: str | None = None) -> str:
    """A fresh database copied from the template (tens of milliseconds)."""
    name = name or f"hibachi_clone_{os.getpid()}_{next(_clone_ids)}"
    admin = await asyncpg.connect(asyncpg_dsn(embedded.server_url(pg_server, "postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    finally:
        await admin.close()
    return embedded.server_url(pg_server, name)


@asynccontextmanager
async def committed_database(
    pg_server: Any, template_url: str, pool_size: int = 4
) -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession]]]:
    """A fresh copy of the template and sessions on it whose commits are real, for tests that
    need several connections or processes to see each other's work."""
    url = await clone_database(pg_server, template_url)
    engine = make_engine(url, pool_size=pool_size)
    try:
        yield url, async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def test_db_url(pg_server: Any, template_url: str) -> str:
    return await clone_database(pg_server, template_url, "hibachi_test")


@pytest.fixture(scope="session")
async def engine(test_db_url: str) -> AsyncIterator[Any]:
    eng = make_engine(test_db_url)
    yield eng
    await eng.dispose()


@pytest.fixture
async def connection(engine: Any) -> AsyncIterator[AsyncConnection]:
    conn = await engine.connect()
    outer = await conn.begin()
    yield conn
    await outer.rollback()
    await conn.close()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions on the test's connection: their commits are savepoints, rolled back at the end."""
    return async_sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
async def session(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as s:
        yield s


@pytest.fixture
def clock() -> FrozenClock:
    from datetime import UTC, datetime

    return FrozenClock(datetime(2026, 6, 10, 22, 0, tzinfo=UTC))


@pytest.fixture
def knowledge(clock: FrozenClock) -> KnowledgeService:
    return KnowledgeService(clock=clock, ttl_seconds=5.0)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env="test", data_dir=tmp_path, run_worker=False)


@pytest.fixture
async def client(
    settings: Settings,
    test_db_url: str,
    connection: AsyncConnection,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    knowledge: KnowledgeService,
    runtime: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """The app over ASGI, its sessions inside the test's rolled-back transaction."""
    database = Database(url=test_db_url, engine=connection.engine, sessionmaker=sessionmaker)
    app = create_app(
        settings, database=database, clock=clock, knowledge_service=knowledge, runtime=runtime
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


async def bearer(session: AsyncSession, name: str, role: str) -> dict[str, str]:
    """Headers of a new, committed user with this name and role."""
    _user, token = await create_user(session, name, role)
    await session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def admin_headers(session: AsyncSession) -> dict[str, str]:
    return await bearer(session, "test-admin", "admin")


@pytest.fixture
async def agent_headers(session: AsyncSession) -> dict[str, str]:
    return await bearer(session, "test-agent", "agent")


@pytest.fixture(scope="session")
async def checkpointer(test_db_url: str) -> AsyncIterator[Any]:
    from agent.runtime import postgres_checkpointer

    async with postgres_checkpointer(test_db_url) as saver:
        yield saver


@pytest.fixture
def runtime(
    sessionmaker: async_sessionmaker[AsyncSession],
    knowledge: KnowledgeService,
    clock: FrozenClock,
    checkpointer: Any,
) -> Any:
    """The agent on the test's rolled-back transaction, with the real Postgres checkpointer."""
    from agent.runtime import AgentRuntime

    return AgentRuntime(sessionmaker, knowledge, clock, checkpointer)


@pytest.fixture
def worker(
    sessionmaker: async_sessionmaker[AsyncSession],
    runtime: Any,
    knowledge: KnowledgeService,
    clock: FrozenClock,
) -> Any:
    from scheduler.worker import Worker

    return Worker(sessionmaker, runtime, knowledge, clock)


@pytest.fixture(scope="module")
def imap() -> Iterator[Any]:
    """The shop's IMAP mailbox: a private dovecot on loopback (one per test module)."""
    from tests.helpers.mailserver import imap_server

    yield from imap_server()


@pytest.fixture
def smtp() -> Iterator[Any]:
    """An SMTP server on loopback that keeps every email sent to it."""
    from tests.helpers.mailserver import SmtpSink

    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@dataclass(frozen=True)
class Console:
    """A module's running service and Chromium (see `console`)."""

    url: str  # the service's database
    base: str  # the service's base URL
    sessions: async_sessionmaker[AsyncSession]
    browser: Any


@pytest.fixture(scope="module")
async def console(
    pg_server: Any, template_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Console]:
    """`hibachi serve --no-worker` and Debian's Chromium, started once for a test module on a
    database of its own: starting them is most of a browser test's time. The module's tests
    share its rows, so each makes its own people and customers under names (and phone
    numbers) no other test of the module uses; a test that counts everything of a kind
    starts a service of its own."""
    from playwright.async_api import async_playwright

    from tests.helpers.browser import launch
    from tests.helpers.service import served

    os.environ.setdefault("HOME", str(tmp_path_factory.mktemp("home")))
    url = await clone_database(pg_server, template_url)
    engine = make_engine(url)
    try:
        async with served(url, "--no-worker") as base, async_playwright() as p:
            browser = await launch(p)
            yield Console(url, base, async_sessionmaker(engine, expire_on_commit=False), browser)
            await browser.close()
    finally:
        await engine.dispose()


@pytest.fixture
async def chromium(console: Console) -> AsyncIterator[Any]:
    """The module's Chromium; the pages a test opens are closed after it (their cookies and
    storage with them), so the next test starts signed out."""
    yield console.browser
    for context in console.browser.contexts:
        await context.close()
