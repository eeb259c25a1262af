"""Rule values built straight from the seed file, for pure policy tests without a database."""

from __future__ import annotations

from functools import cache
from typing import Any

from knowledge.charter import Rules
from knowledge.schemas import AddonView, validate_rule_value
from knowledge.seed import read_seed


@cache
def seed_rules() -> Rules:
    seed = read_seed()
    values = {
        r["rule_type"]: validate_rule_value(r["rule_type"], r["value"])
        for r in seed["business_rules"]
    }
    return Rules.model_validate(values)


def rules_with(**overrides: Any) -> Rules:
    """Seed rules with flat overrides, e.g. rules_with(reschedule_fee=150)."""
    from knowledge.schemas import RULE_FIELD_OWNER

    values = seed_rules().model_dump(mode="json")
    for name, value in overrides.items():
        values[RULE_FIELD_OWNER[name]][name] = value
    return Rules.model_validate(values)


@cache
def seed_addons() -> tuple[AddonView, ...]:
    from datetime import UTC, datetime
    from decimal import Decimal

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
