"""KnowledgeService: a cached charter, invalidated at once by writes here and elsewhere."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge import repository as repo
from knowledge.db import make_engine, unit_of_work
from knowledge.infra.clock import FrozenClock
from knowledge.schemas import AddonUpdate, FaqUpdate, OfferCreate, RuleUpdate
from knowledge.service import KnowledgeService, render_answer
from tests.conftest import bearer, clone_database

ROOT = Path(__file__).resolve().parents[1]


class TestCache:
    async def test_second_read_is_a_cache_hit_without_queries(
        self, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        first = await knowledge.charter(session)
        statements: list[str] = []
        from sqlalchemy import event

        sync_engine = session.bind.engine.sync_engine  # type: ignore[union-attr]

        def _count(*args: Any) -> None:
            statements.append(str(args[2]))

        event.listen(sync_engine, "before_cursor_execute", _count)
        try:
            second = await knowledge.charter(session)
        finally:
            event.remove(sync_engine, "before_cursor_execute", _count)
        assert second is first
        assert statements == []
        assert (knowledge.hits, knowledge.misses) == (1, 1)

    async def test_cache_expires_after_its_ttl(
        self, session: AsyncSession, clock: FrozenClock
    ) -> None:
        service = KnowledgeService(clock=clock, ttl_seconds=0.05)
        first = await service.charter(session)
        await asyncio.sleep(0.08)
        assert await service.charter(session) is not first
        assert service.misses == 2

    async def test_admin_write_invalidates_this_process_at_once(
        self, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        before = await knowledge.charter(session)
        lobster = before.addon("lobster")
        assert lobster is not None and lobster.price == Decimal("15")
        await knowledge.update_addon(session, lobster.id, AddonUpdate(price=Decimal("18")))
        after = (await knowledge.charter(session)).addon("lobster")
        assert after is not None and after.price == Decimal("18")

    async def test_a_fill_racing_an_invalidation_is_not_stored(
        self, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        original = knowledge._build_charter

        async def slow_build(s: AsyncSession) -> Any:
            charter = await original(s)
            knowledge.invalidate()  # a write lands while this (now stale) fill is in flight
            return charter

        knowledge._build_charter = slow_build  # type: ignore[method-assign]
        await knowledge.charter(session)
        knowledge._build_charter = original  # type: ignore[method-assign]
        await knowledge.charter(session)
        assert knowledge.misses == 2

    async def test_rule_change_reaches_the_rules_at_once(
        self, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        await knowledge.rules(session)
        rule = await repo.rule_by_type(session, "rescheduling")
        assert rule is not None
        value = {**rule.value, "reschedule_fee": "150"}
        await knowledge.update_rule(session, rule.id, RuleUpdate(value=value), actor="kim")
        assert (await knowledge.rules(session)).rescheduling.reschedule_fee == Decimal("150")


class TestCrossProcessInvalidation:
    async def test_another_process_sees_a_price_change_within_a_second(
        self, pg_server: Any, template_url: str
    ) -> None:
        url = await clone_database(pg_server, template_url)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "tests" / "helpers" / "knowledge_watcher.py"),
            url,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        ready = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert ready.startswith("READY 15"), ready

        engine = make_engine(url, pool_size=1)
        service = KnowledgeService()
        async with unit_of_work(async_sessionmaker(engine, expire_on_commit=False)) as session:
            lobster = await repo.addon_by_slug(session, "lobster")
            assert lobster is not None
            await service.update_addon(session, lobster.id, AddonUpdate(price=Decimal("18")))
        committed_at = time.time()
        await engine.dispose()

        line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode().split()
        await proc.wait()
        assert line[:2] == ["CHANGED", "18.00"], line
        elapsed = float(line[2]) - committed_at
        print(f"cross-process invalidation seen after {elapsed * 1000:.1f} ms")
        assert elapsed < 1.0


class TestCharter:
    async def test_offers_are_those_active_today_in_the_business_timezone(
        self, session: AsyncSession, knowledge: KnowledgeService, clock: FrozenClock
    ) -> None:
        # 22:00 UTC on June 10 is 15:00 on June 10 in Sacramento.
        from datetime import date

        await knowledge.create_offer(
            session,
            OfferCreate(
                title="June special",
                discount_type="fixed_amount",
                discount_value=Decimal("25"),
                valid_from=date(2026, 6, 1),
                valid_to=date(2026, 6, 10),
            ),
        )
        await knowledge.create_offer(
            session,
            OfferCreate(
                title="July special",
                discount_type="percentage",
                discount_value=Decimal("10"),
                valid_from=date(2026, 7, 1),
                valid_to=date(2026, 7, 31),
            ),
        )
        charter = await knowledge.charter(session)
        assert [o.title for o in charter.offers] == ["June special"]

    async def test_faq_answers_quote_live_prices(
        self, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        lobster = await repo.addon_by_slug(session, "lobster")
        assert lobster is not None
        await knowledge.update_addon(session, lobster.id, AddonUpdate(price=Decimal("18")))
        match = await knowledge.search_faq(session, "what premium upgrades do you offer")
        assert match is not None
        assert "Lobster (+$18/person)" in match.answer
        assert "{{" not in match.answer

    async def test_faq_words_follow_an_edit_at_once(
        self, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        """The words misspellings are corrected to for FAQ search are the live FAQs' words."""
        assert "cashapp" in await knowledge.faq_words(session)
        [faq] = [f for f in await repo.faqs(session) if "cashapp" in f.keywords]
        keywords = faq.keywords.replace("cashapp", "applepay")
        await knowledge.update_faq(session, faq.id, FaqUpdate(keywords=keywords))
        words = await knowledge.faq_words(session)
        assert "applepay" in words and "cashapp" not in words

    def test_unknown_placeholders_stay_visible(self) -> None:
        assert render_answer("Call {{ phone }} or {{ fax }}", {"phone": "1"}) == (
            "Call 1 or {{ fax }}"
        )

    async def test_every_seeded_faq_renders_completely(
        self, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        facts = (await knowledge.charter(session)).facts
        for faq in await repo.faqs(session):
            assert "{{" not in render_answer(faq.answer, facts), faq.question


class TestPolicyTextsFromValues:
    """A policy's text names its figures as placeholders, so the values are the one source:
    the seeded texts read as before, and a changed price is in the text at once."""

    async def test_seeded_texts_read_as_written_out(
        self, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        charter = await knowledge.charter(session)
        expected = {
            "pricing": "Adults are $55 each and kids aged 6 to 12 are $30; children 5 and under "
            "eat free. Every party has a $550 minimum.",
            "deposit": "A $100 deposit reserves the date and is credited to the bill. It is "
            "refunded in full when a cancellation comes at least 7 days before the event.",
            "travel": "Travel is free for the first 30 miles; after that it is $2 per mile.",
            "rescheduling": "One reschedule is free when requested within 48 hours of booking; "
            "after that a reschedule costs $100, and the deposit moves to the new date.",
        }
        for rule_type, text in expected.items():
            policy = charter.policy(rule_type)
            assert policy is not None and policy.content == text
        assert all("{{" not in p.content for p in charter.policies)

    async def test_a_changed_price_is_in_the_text_at_once(
        self, client: httpx.AsyncClient, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        admin = await bearer(session, "price-admin", "admin")
        rules = (await client.get("/api/v1/business-rules", headers=admin)).json()
        pricing = next(r for r in rules if r["rule_type"] == "pricing")
        assert "{{ adult_price }}" in pricing["content"]
        assert pricing["text"].startswith("Adults are $55 each")
        value = pricing["value"] | {"adult_price": 60}
        saved = await client.put(
            f"/api/v1/business-rules/{pricing['id']}", json={"value": value}, headers=admin
        )
        assert saved.status_code == 200, saved.text
        rules = (await client.get("/api/v1/business-rules", headers=admin)).json()
        pricing = next(r for r in rules if r["rule_type"] == "pricing")
        assert pricing["text"].startswith("Adults are $60 each")
        policy = (await knowledge.charter(session)).policy("pricing")
        assert policy is not None and policy.content.startswith("Adults are $60 each")
