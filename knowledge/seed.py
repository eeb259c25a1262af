"""Load the default knowledge (business rules, add-ons, FAQs, offers) from a YAML file.

Idempotent: rows are matched by their natural key (rule type, add-on slug, FAQ question,
offer title) and only missing ones are inserted, so re-seeding never overwrites an admin's edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge import repository as repo
from knowledge.charter import Charter, Rules
from knowledge.models import AddonItem, BusinessRule, FaqItem, SeasonalOffer
from knowledge.schemas import (
    AddonCreate,
    AddonView,
    FaqCreate,
    OfferCreate,
    RuleCreate,
    validate_rule_value,
)

DEFAULT_SEED = Path(__file__).parent / "seed" / "default.yaml"


@dataclass
class SeedReport:
    inserted: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)

    def count(self, table: str, inserted: bool) -> None:
        bucket = self.inserted if inserted else self.kept
        bucket[table] = bucket.get(table, 0) + 1


def read_seed(path: Path = DEFAULT_SEED) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with business_rules, addons, faqs, offers")
    return data


@cache
def seed_rules() -> Rules:
    """The rule values of the default seed file, without a database (tools and tests)."""
    values = {
        r["rule_type"]: validate_rule_value(r["rule_type"], r["value"])
        for r in read_seed()["business_rules"]
    }
    return Rules.model_validate(values)


@cache
def seed_addons() -> tuple[AddonView, ...]:
    """The add-ons of the default seed file, as the charter holds them."""
    return tuple(
        AddonView(
            id=i,
            slug=a["slug"],
            name=a["name"],
            description=None,
            price=Decimal(str(a["price"])),
            unit=a["unit"],
            category=a["category"],
            aliases=a["aliases"],
            display_order=a["display_order"],
            is_available=True,
            last_updated=datetime(2026, 1, 1, tzinfo=UTC),
        )
        for i, a in enumerate(read_seed()["addons"], start=1)
    )


def seed_charter(now: datetime, today: date | None = None) -> Charter:
    """The charter of the default seed file at a moment (no policies' texts, no offers)."""
    return Charter(
        rules=seed_rules(),
        policies=[],
        addons=list(seed_addons()),
        offers=[],
        today=today or now.date(),
        built_at=now,
    )


async def load_seed(
    session: AsyncSession, path: Path = DEFAULT_SEED, actor: str = "seed"
) -> SeedReport:
    """Insert whatever of the seed file is missing; the caller commits."""
    data = read_seed(path)
    report = SeedReport()
    for item in data.get("business_rules", []):
        rule = RuleCreate.model_validate(item)
        exists = await repo.rule_by_type(session, rule.rule_type)
        if exists is None:
            session.add(BusinessRule(**rule.model_dump(), version=1, updated_by=actor))
        report.count("business_rules", exists is None)
    for item in data.get("addons", []):
        addon = AddonCreate.model_validate(item)
        exists_addon = await repo.addon_by_slug(session, addon.slug)
        if exists_addon is None:
            session.add(AddonItem(**addon.model_dump()))
        report.count("addon_items", exists_addon is None)
    for item in data.get("faqs", []):
        faq = FaqCreate.model_validate(item)
        exists_faq = await repo.faq_by_question(session, faq.question)
        if exists_faq is None:
            session.add(FaqItem(**faq.model_dump()))
        report.count("faq_items", exists_faq is None)
    for item in data.get("offers", []) or []:
        offer = OfferCreate.model_validate(item)
        exists_offer = await repo.offer_by_title(session, offer.title)
        if exists_offer is None:
            session.add(SeasonalOffer(**offer.model_dump()))
        report.count("seasonal_offers", exists_offer is None)
    await session.flush()
    if report.inserted:
        await repo.notify(session, "knowledge_changed", "seed")
    return report
