"""Rule values built straight from the seed file, for pure policy tests without a database."""

from __future__ import annotations

from typing import Any

from knowledge.charter import Rules
from knowledge.seed import seed_addons, seed_rules

__all__ = ["rules_with", "seed_addons", "seed_rules"]


def rules_with(**overrides: Any) -> Rules:
    """Seed rules with flat overrides, e.g. rules_with(reschedule_fee=150)."""
    from knowledge.schemas import RULE_FIELD_OWNER

    values = seed_rules().model_dump(mode="json")
    for name, value in overrides.items():
        values[RULE_FIELD_OWNER[name]][name] = value
    return Rules.model_validate(values)
