"""The schema comes from migrations, goes back down cleanly, and matches the models."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from knowledge import embedded, migrate
from knowledge.db import asyncpg_dsn, ensure_database
from knowledge.models import Base


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
    finally:
        await conn.close()
    return {r["tablename"] for r in rows}


class TestMigrations:
    async def test_upgrade_creates_every_model_table_and_downgrade_removes_them(
        self, pg_server: Any
    ) -> None:
        url = embedded.server_url(pg_server, "hibachi_migrations")
        await ensure_database(url)
        await migrate.upgrade_async(url)
        assert await _tables(url) == set(Base.metadata.tables)

        await asyncio.to_thread(migrate.downgrade, url, "base")
        assert await _tables(url) == set()

        await migrate.upgrade_async(url)
        assert await _tables(url) == set(Base.metadata.tables)

    async def test_models_and_migrations_agree(self, template_url: str) -> None:
        await asyncio.to_thread(migrate.check, template_url)

    @pytest.mark.parametrize(
        "table",
        [
            "business_rules",
            "addon_items",
            "faq_items",
            "seasonal_offers",
            "automated_reminders",
            "escalations",
            "feedback",
            "customer_sentiment",
            "customers",
            "bookings",
            "conversations",
            "messages",
        ],
    )
    def test_schema_has_every_table_the_business_needs(self, table: str) -> None:
        assert table in Base.metadata.tables
