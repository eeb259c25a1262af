"""The schema comes from migrations, goes back down cleanly, and matches the models."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest

from knowledge import migrate
from knowledge.db import asyncpg_dsn, ensure_database
from knowledge.infra import embedded
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


class TestDuplicateCasesMerged:
    """Open cases of one conversation from before one-case-per-problem become one, none lost."""

    async def test_open_cases_of_a_conversation_are_merged_into_the_oldest(
        self, pg_server: Any
    ) -> None:
        url = embedded.server_url(pg_server, "hibachi_merge_cases")
        await ensure_database(url)
        await asyncio.to_thread(migrate.downgrade, url, "base")
        await migrate.upgrade_async(url, "0006")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            customer = await conn.fetchval(
                "INSERT INTO customers (name, phone, preferred_channel, sms_opted_out,"
                " whatsapp_opted_out, is_promoter)"
                " VALUES ('Dup Case', '+15550001111', 'sms', false, false, false) RETURNING id"
            )
            thread = await conn.fetchval(
                "INSERT INTO conversations (customer_id, channel, owner)"
                " VALUES ($1, 'sms', 'ai') RETURNING id",
                customer,
            )
            cases = [
                ("HIGH", "Cancellation request", "please cancel", "open", "2026-06-12"),
                ("URGENT", "Change within 24 hours", "cancel it!!", "open", "2026-06-11"),
                ("HIGH", "Cancellation request", "hello??", "in_progress", "2026-06-12"),
                ("LOW", "Question", "old one", "resolved", "2026-06-01"),
            ]
            ids = [
                await conn.fetchval(
                    "INSERT INTO escalations (customer_id, conversation_id, priority, reason,"
                    " customer_request, action_required, deadline, status)"
                    " VALUES ($1, $2, $3, $4, $5, 'Call the customer', $6::text::timestamptz, $7)"
                    " RETURNING id",
                    customer,
                    thread,
                    priority,
                    reason,
                    request,
                    deadline,
                    status,
                )
                for priority, reason, request, status, deadline in cases
            ]
        finally:
            await conn.close()

        await migrate.upgrade_async(url)

        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            rows = {r["id"]: r for r in await conn.fetch("SELECT * FROM escalations ORDER BY id")}
        finally:
            await conn.close()
        assert len(rows) == 4  # none deleted
        kept = rows[ids[0]]
        assert (kept["status"], kept["priority"]) == ("open", "URGENT")
        assert kept["deadline"].date().isoformat() == "2026-06-11"
        assert kept["customer_request"] == "please cancel\n\ncancel it!!\n\nhello??"
        assert kept["reason"] == "Cancellation request; Change within 24 hours"
        assert [(rows[i]["status"], rows[i]["merged_into_id"]) for i in ids[1:3]] == [
            ("merged", ids[0]),
            ("merged", ids[0]),
        ]
        assert rows[ids[3]]["status"] == "resolved"  # a closed case stays as it was


class TestLeadsMigration:
    """A database from before leads gains the chef capacity and lead rules, the base ZIP code
    for travel, and follow-ups that name a lead; the journey planned before is untouched."""

    async def test_rules_and_touchpoints_after_upgrade(self, pg_server: Any) -> None:
        url = embedded.server_url(pg_server, "hibachi_leads_migration")
        await ensure_database(url)
        await asyncio.to_thread(migrate.downgrade, url, "base")
        await migrate.upgrade_async(url, "0007")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await conn.execute(
                "INSERT INTO business_rules (rule_type, title, content, value, is_active, version)"
                " VALUES ('travel', 'Travel fee', 'x',"
                ' \'{"travel_free_miles": 30, "travel_fee_per_mile": 2}\', true, 1)'
            )
            customer = await conn.fetchval(
                "INSERT INTO customers (name, phone, preferred_channel, sms_opted_out,"
                " whatsapp_opted_out, is_promoter)"
                " VALUES ('Old Booking', '+15550002222', 'sms', false, false, false) RETURNING id"
            )
            booking = await conn.fetchval(
                "INSERT INTO bookings (reference, customer_id, event_at, address, adults, kids,"
                " toddlers, proteins, upgrades, menu_selected, menu_provisional, deposit_amount,"
                " deposit_paid, status, reschedule_count) VALUES ('MH-OLD1', $1,"
                " '2027-01-16 18:00-08', '1 Main St', 10, 0, 0, '[]', '[]', false, false, 100,"
                " true, 'confirmed', 0) RETURNING id",
                customer,
            )
            await conn.execute(
                "INSERT INTO automated_reminders (booking_id, reminder_type, scheduled_at, status,"
                " attempts, response_received) VALUES ($1, '7_day', '2027-01-09 10:00-08',"
                " 'pending', 0, false)",
                booking,
            )
        finally:
            await conn.close()

        await migrate.upgrade_async(url)

        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            values = {
                r["rule_type"]: json.loads(r["value"])
                for r in await conn.fetch("SELECT rule_type, value FROM business_rules")
            }
            reminders = await conn.fetch(
                "SELECT booking_id, lead_id, status FROM automated_reminders"
            )
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(
                    "INSERT INTO automated_reminders (reminder_type, scheduled_at, status,"
                    " attempts, response_received) VALUES ('lead_follow_up', now(), 'pending', 0,"
                    " false)"
                )
        finally:
            await conn.close()
        assert values["travel"] == {
            "travel_free_miles": 30,
            "travel_fee_per_mile": 2,
            "base_zip": "95814",
        }
        assert values["capacity"]["chefs"] == 2
        assert values["leads"] == {"follow_up": True, "follow_up_hours": 24}
        assert [(r["booking_id"], r["lead_id"], r["status"]) for r in reminders] == [
            (booking, None, "pending")
        ]


class TestCustomerAddressesMigration:
    """Customers known by a phone and per-channel opt-out columns become customers reached at
    addresses, every opt-out and email address carried over; a downgrade gives them back."""

    async def test_addresses_are_filled_from_the_old_columns(self, pg_server: Any) -> None:
        url = embedded.server_url(pg_server, "hibachi_addresses_migration")
        await ensure_database(url)
        await asyncio.to_thread(migrate.downgrade, url, "base")
        await migrate.upgrade_async(url, "0009")
        people = [
            ("Texts Only", "+15550003001", None, False, False),
            ("Stopped SMS", "+15550003002", "Stopped@Example.com ", True, False),
            ("Stopped WhatsApp", "+15550003003", "wa@example.com", False, True),
            ("Web Visitor", None, None, False, False),
        ]
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            ids = [
                await conn.fetchval(
                    "INSERT INTO customers (name, phone, email, preferred_channel, sms_opted_out,"
                    " whatsapp_opted_out, is_promoter)"
                    " VALUES ($1, $2, $3, 'sms', $4, $5, false) RETURNING id",
                    name,
                    phone,
                    email,
                    sms_off,
                    whatsapp_off,
                )
                for name, phone, email, sms_off, whatsapp_off in people
            ]
        finally:
            await conn.close()

        await migrate.upgrade_async(url)

        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            rows = await conn.fetch(
                "SELECT customer_id, channel, address, opted_out FROM customer_addresses"
                " ORDER BY customer_id, channel"
            )
            columns = {
                r["column_name"]
                for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_name = 'customers'"
                )
            }
            await conn.execute(
                "INSERT INTO conversations (customer_id, channel, owner)"
                " VALUES ($1, 'email', 'ai')",
                ids[1],
            )
        finally:
            await conn.close()
        assert [tuple(r) for r in rows] == [
            (ids[0], "sms", "+15550003001", False),
            (ids[0], "whatsapp", "+15550003001", False),
            (ids[1], "email", "stopped@example.com", False),
            (ids[1], "sms", "+15550003002", True),
            (ids[1], "whatsapp", "+15550003002", False),
            (ids[2], "email", "wa@example.com", False),
            (ids[2], "sms", "+15550003003", False),
            (ids[2], "whatsapp", "+15550003003", True),
        ]
        assert not columns & {"sms_opted_out", "whatsapp_opted_out"}

        await asyncio.to_thread(migrate.downgrade, url, "0009")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            back = await conn.fetch(
                "SELECT id, sms_opted_out, whatsapp_opted_out FROM customers ORDER BY id"
            )
        finally:
            await conn.close()
        assert [tuple(r) for r in back] == [
            (ids[0], False, False),
            (ids[1], True, False),
            (ids[2], False, True),
            (ids[3], False, False),
        ]


class TestPolicyTextsMigration:
    """Seeded policy texts that wrote their figures out become the same sentences with
    placeholders; a text an admin rewrote stays; a downgrade gives the seeded ones back."""

    async def test_seeded_texts_take_placeholders_and_edited_ones_stay(
        self, pg_server: Any
    ) -> None:
        url = embedded.server_url(pg_server, "hibachi_policy_texts_migration")
        await ensure_database(url)
        await asyncio.to_thread(migrate.downgrade, url, "base")
        await migrate.upgrade_async(url, "0014")
        seeded = (
            "Adults are $55 each and kids aged 6 to 12 are $30; children 5 and under eat free."
            " Every party has a $550 minimum."
        )
        edited = "Travel is free nearby; ask us about far-away parties."
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            for rule_type, content, value in (
                ("pricing", seeded, {"adult_price": 55}),
                ("travel", edited, {"travel_free_miles": 30}),
            ):
                await conn.execute(
                    "INSERT INTO business_rules (rule_type, title, content, value, is_active,"
                    " version) VALUES ($1, $1, $2, $3, true, 1)",
                    rule_type,
                    content,
                    json.dumps(value),
                )
            await migrate.upgrade_async(url, "0015")
            after = dict(await conn.fetch("SELECT rule_type, content FROM business_rules"))
            await asyncio.to_thread(migrate.downgrade, url, "0014")
            back = dict(await conn.fetch("SELECT rule_type, content FROM business_rules"))
        finally:
            await conn.close()
        assert after["pricing"].startswith("Adults are {{ adult_price }} each")
        assert after["travel"] == edited
        assert (back["pricing"], back["travel"]) == (seeded, edited)
