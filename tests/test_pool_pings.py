"""Pooled connections are pinged only after sitting idle: one cut while idle (a database
restart, an idle timeout) is replaced on checkout, and one in steady use costs no round trip.
Shown failing once with the checks removed: the query after the cut raised."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from knowledge import db
from knowledge.db import IdleChecks, asyncpg_dsn, make_engine


async def cut(url: str, pid: int) -> None:
    admin = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


class TestIdlePing:
    async def test_a_connection_cut_while_idle_is_replaced(
        self, test_db_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(db, "PING_IDLE_SECONDS", 0.05)
        engine = make_engine(test_db_url, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as conn:
                pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await cut(test_db_url, pid)
            await asyncio.sleep(0.2)
            async with engine.connect() as conn:
                again = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            assert again != pid
        finally:
            await engine.dispose()

    async def test_without_the_check_the_cut_connection_fails_its_statement(
        self, test_db_url: str
    ) -> None:
        engine = make_engine(test_db_url, ping_idle=False, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as conn:
                pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await cut(test_db_url, pid)
            await asyncio.sleep(0.2)
            with pytest.raises(DBAPIError):
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    async def test_a_connection_back_a_moment_ago_is_not_pinged(
        self, test_db_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        engine = make_engine(test_db_url, pool_size=1, max_overflow=0)
        pings = 0
        try:
            async with engine.connect() as conn:
                raw: Any = (await conn.get_raw_connection()).dbapi_connection
            original = type(raw).ping

            def counted(self: Any) -> None:
                nonlocal pings
                pings += 1
                original(self)

            monkeypatch.setattr(type(raw), "ping", counted)
            for _ in range(5):
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            assert pings == 0
        finally:
            await engine.dispose()


class TestIdleChecksForCheckpoints:
    async def test_only_an_idle_connection_is_checked(
        self, test_db_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import psycopg

        monkeypatch.setattr(db, "PING_IDLE_SECONDS", 0.05)
        checks = IdleChecks()
        conn = await psycopg.AsyncConnection.connect(asyncpg_dsn(test_db_url), autocommit=True)
        try:
            await checks.check(conn)  # never returned to a pool: new, nothing to check
            await checks.returned(conn)
            await checks.check(conn)  # back a moment ago
            await cut(test_db_url, conn.info.backend_pid)
            await asyncio.sleep(0.2)
            with pytest.raises(psycopg.OperationalError):
                await checks.check(conn)  # idle, and dead: the pool will replace it
        finally:
            await conn.close()
