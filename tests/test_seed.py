"""`hibachi seed` loads the business's knowledge once and never overwrites an admin's edit."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge import repository as repo
from knowledge.models import AddonItem, BusinessRule, FaqItem
from knowledge.schemas import AddonUpdate
from knowledge.seed import load_seed
from knowledge.service import KnowledgeService


async def _counts(session: AsyncSession) -> tuple[int, int, int]:
    rules = await session.scalar(select(func.count()).select_from(BusinessRule))
    addons = await session.scalar(select(func.count()).select_from(AddonItem))
    faqs = await session.scalar(select(func.count()).select_from(FaqItem))
    return rules or 0, addons or 0, faqs or 0


class TestSeed:
    async def test_seeding_again_inserts_nothing(self, session: AsyncSession) -> None:
        before = await _counts(session)
        report = await load_seed(session)
        assert report.inserted == {}
        assert await _counts(session) == before
        assert before[2] >= 15

    async def test_reseeding_keeps_an_admin_price_change(
        self, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        lobster = await repo.addon_by_slug(session, "lobster")
        assert lobster is not None
        await knowledge.update_addon(session, lobster.id, AddonUpdate(price=Decimal("18")))
        await load_seed(session)
        await session.refresh(lobster)
        assert lobster.price == Decimal("18")

    async def test_seed_carries_the_business_facts(
        self, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        rules = await knowledge.rules(session)
        assert rules.deposit.deposit_amount == Decimal("100")
        assert rules.pricing.party_minimum == Decimal("550")
        assert rules.pricing.adult_price == Decimal("55")
        assert rules.pricing.child_price == Decimal("30")
        assert rules.pricing.toddler_price == Decimal("0")
        assert rules.travel.travel_free_miles == 30
        assert rules.travel.travel_fee_per_mile == Decimal("2")
        assert rules.cancellation.refund_full_days == 7
        assert rules.cancellation.late_cancel_days == 3
        assert rules.rescheduling.free_reschedule_hours == 48
        assert rules.rescheduling.reschedule_fee == Decimal("100")
        assert rules.changes.change_window_hours == 24
        assert rules.changes.minor_headcount_delta == 2
        assert rules.changes.major_headcount_pct == 10
        assert rules.menu.menu_deadline_days == 3
        assert rules.menu.included_proteins == ["chicken", "steak", "shrimp", "calamari", "tofu"]
        assert rules.menu.default_proteins == ["chicken", "steak"]
        assert rules.business.phone == "+19167408768"
        assert rules.business.timezone == "America/Los_Angeles"
        assert (rules.business.messaging_hours.start, rules.business.messaging_hours.end) == (
            "09:00",
            "20:00",
        )
        assert rules.reviews.review_links_for_low_ratings is True

    async def test_seed_prices_every_addon(self, session: AsyncSession) -> None:
        prices = {a.slug: a.price for a in await repo.addons(session)}
        assert prices == {
            "salmon": Decimal("5"),
            "scallops": Decimal("5"),
            "filet_mignon": Decimal("5"),
            "lobster": Decimal("15"),
            "yakisoba": Decimal("5"),
            "extra_fried_rice": Decimal("5"),
            "extra_veggies": Decimal("5"),
            "third_protein": Decimal("10"),
        }
