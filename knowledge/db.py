"""Engine, sessions and the unit of work; the database is PostgreSQL everywhere."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry

from knowledge.errors import ConfigError
from knowledge.infra import embedded, metrics
from knowledge.infra.settings import Settings


@dataclass
class Database:
    """One process's handle on the database: engine, session factory, embedded server if any."""

    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    server: Any = field(default=None, repr=False)

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def ping(self, timeout: float = 2.0) -> None:
        """Raise unless the database answers a trivial query within `timeout` seconds."""
        async with self.engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=timeout)


def resolve_url(settings: Settings) -> tuple[str, Any]:
    """The database URL to use, starting the embedded server when DATABASE_URL is unset."""
    if settings.database_url:
        return settings.database_url, None
    server = embedded.start_server(settings.data_dir)
    return embedded.server_url(server), server


def asyncpg_dsn(url: str) -> str:
    """The same URL in the plain form asyncpg and psycopg understand."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def describe(url: str) -> str:
    """Where a URL points, without its password, for messages."""
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host") or "localhost"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{host}{port}/{parsed.database}"


async def ensure_database(url: str, timeout: float = 5.0) -> None:
    """Create the URL's database if the server lacks it; fail with one line if unreachable."""
    parsed = make_url(url)
    try:
        conn = await asyncpg.connect(asyncpg_dsn(url), timeout=timeout)
    except asyncpg.InvalidCatalogNameError:
        admin = parsed.set(database="postgres")
        conn = await _connect_or_fail(admin.render_as_string(hide_password=False), url, timeout)
        try:
            await conn.execute(f'CREATE DATABASE "{parsed.database}"')
        except asyncpg.DuplicateDatabaseError:
            pass
        finally:
            await conn.close()
        return
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise _unreachable(url, exc) from None
    await conn.close()


async def _connect_or_fail(dsn: str, url: str, timeout: float) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(asyncpg_dsn(dsn), timeout=timeout)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise _unreachable(url, exc) from None


def _unreachable(url: str, exc: BaseException) -> ConfigError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ConfigError(f"DATABASE_URL: cannot reach the database at {describe(url)} ({reason})")


# A pooled connection idle longer than this is pinged before use (one that was in use a moment
# ago has just proved itself). A connection cut while in use (a database restart) fails its
# statement once; SQLAlchemy then invalidates the whole pool, so the rest are replaced.
PING_IDLE_SECONDS = 1.0


class WatchedPool(AsyncAdaptedQueuePool):
    """SQLAlchemy's pool for asyncio, counting for the operator's metrics the checkouts that
    found it at its limit with no connection free, so had to wait (how many, how long, and
    those that ran out of time), in whichever process they happen."""

    def _do_get(self) -> ConnectionPoolEntry:
        at_limit = -1 < self._max_overflow <= self._overflow
        if not at_limit or not self._pool.empty():
            return super()._do_get()
        instruments = metrics.instruments()
        started = time.perf_counter()
        try:
            return super()._do_get()
        except PoolTimeout:
            instruments.db_timeouts.inc()
            raise
        finally:
            instruments.db_waits.inc()
            instruments.db_wait_seconds.observe(time.perf_counter() - started)


def make_engine(url: str, *, ping_idle: bool = True, **kwargs: Any) -> AsyncEngine:
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("poolclass", WatchedPool)
    engine = create_async_engine(url, **kwargs)
    if ping_idle:
        _ping_when_idle(engine.sync_engine.pool)
    _count_in_use(engine.sync_engine.pool)
    return engine


def _count_in_use(pool: Any) -> None:
    """The connections checked out now, for the operator's metrics."""
    in_use = metrics.instruments().db_in_use

    @event.listens_for(pool, "checkout")
    def _taken(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        in_use.inc()

    @event.listens_for(pool, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        in_use.dec()


def _ping_when_idle(pool: Any) -> None:
    """SQLAlchemy's pool_pre_ping costs a round trip on every checkout; this pings only
    connections that sat idle (the pool retries with a new connection if the ping fails)."""

    @event.listens_for(pool, "connect")
    def _new(dbapi_connection: Any, record: Any) -> None:
        record.info.pop("idle_since", None)

    @event.listens_for(pool, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _taken(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since > PING_IDLE_SECONDS:
            try:
                dbapi_connection.ping()
            except Exception as exc:
                raise DisconnectionError(f"stale pooled connection: {exc}") from exc


class IdleChecks:
    """The same rule for a psycopg pool (LangGraph's checkpoints): `check` pings a connection
    only if it sat idle; `returned` (the pool's reset callback) notes when it came back."""

    def __init__(self) -> None:
        self._since: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    async def returned(self, connection: Any) -> None:
        self._since[connection] = time.monotonic()

    async def check(self, connection: Any) -> None:
        since = self._since.get(connection)
        if since is not None and time.monotonic() - since > PING_IDLE_SECONDS:
            await AsyncConnectionPool.check_connection(connection)


async def open_database(settings: Settings) -> Database:
    """Connect (and create the database if needed); raises ConfigError when it cannot."""
    # Starting the embedded server blocks for well under a second, once per process.
    url, server = resolve_url(settings)
    await ensure_database(url, timeout=settings.db_connect_timeout_seconds)
    engine = make_engine(url)
    return Database(
        url=url,
        engine=engine,
        sessionmaker=async_sessionmaker(engine, expire_on_commit=False),
        server=server,
    )


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One transaction: commits when the block succeeds, rolls back when it raises."""
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# SQLSTATEs of a server that went away: connection exceptions (08…) and shutting down,
# starting up or terminated by the administrator (57P…; not 57014, a statement timeout).
UNAVAILABLE_SQLSTATES = ("08", "57P")


def connection_lost(exc: BaseException) -> bool:
    """Whether a failure is the database connection's (cut by a restart or a failover) rather
    than the work's: such work is worth running again as it is once the database answers."""
    error: BaseException | None = exc
    while error is not None:
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(error, psycopg.OperationalError) and sqlstate is None:
            return True  # psycopg's own: the connection is lost, or its pool found none
        if isinstance(error, asyncpg.InternalClientError | asyncpg.ConnectionDoesNotExistError):
            return True  # asyncpg's protocol broken off mid-statement
        if isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_SQLSTATES):
            return True
        wrapped = error.orig if isinstance(error, DBAPIError) else None
        error = error.__cause__ or (wrapped if isinstance(wrapped, BaseException) else None)
    return False
