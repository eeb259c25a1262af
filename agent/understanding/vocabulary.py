"""What the reader takes from the knowledge base (never hard-coded): the words for proteins and
add-ons, and the ages each price group goes up to."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from knowledge.charter import Charter


@dataclass(frozen=True)
class AgeLimits:
    """The oldest age each price group takes (the knowledge's pricing rule): with little ones
    up to 5 and kids up to 12, a guest of 4 is a little one, of 9 a kid, of 13 an adult."""

    toddlers: int = 5
    kids: int = 12

    def group(self, age: int) -> str:
        return "toddlers" if age <= self.toddlers else "kids" if age <= self.kids else "adults"

    @classmethod
    def of(cls, toddler_max_age: int, child_age_range: str) -> AgeLimits:
        """From the pricing rule's values; a range the owner wrote without a number ("up to
        teens") keeps the kids' usual upper age."""
        numbers = [int(n) for n in re.findall(r"\d+", child_age_range)]
        kids = numbers[-1] if numbers else cls.kids
        return cls(toddlers=toddler_max_age, kids=max(kids, toddler_max_age))


#: The groups where no knowledge says otherwise (the seed's pricing rule).
USUAL_AGES = AgeLimits()


@dataclass(frozen=True)
class Vocabulary:
    """Canonical slugs and the phrases customers use for them, and the price groups' ages."""

    proteins: dict[str, list[str]] = field(default_factory=dict)  # slug -> aliases
    upgrades: dict[str, list[str]] = field(default_factory=dict)  # slug -> aliases
    ages: AgeLimits = USUAL_AGES

    @classmethod
    def from_charter(cls, charter: Charter) -> Vocabulary:
        """Built once per charter: a cached charter gives back the same vocabulary."""
        cached = _BY_CHARTER.get(id(charter))
        if cached is not None and cached[0] is charter:
            return cached[1]
        vocabulary = cls._build(charter)
        if len(_BY_CHARTER) >= 8:
            _BY_CHARTER.clear()
        _BY_CHARTER[id(charter)] = (charter, vocabulary)
        return vocabulary

    @classmethod
    def _build(cls, charter: Charter) -> Vocabulary:
        menu = charter.rules.menu
        proteins = {p: [p, *menu.protein_aliases.get(p, [])] for p in menu.included_proteins}
        upgrades: dict[str, list[str]] = {}
        for addon in charter.addons:
            aliases = [addon.slug.replace("_", " "), addon.name.lower(), *addon.aliases]
            target = proteins if addon.category == "premium_protein" else upgrades
            target[addon.slug] = list(dict.fromkeys(a.lower() for a in aliases))
        pricing = charter.rules.pricing
        ages = AgeLimits.of(pricing.toddler_max_age, pricing.child_age_range)
        return cls(proteins=proteins, upgrades=upgrades, ages=ages)

    @classmethod
    def from_seed(cls, seed: dict[str, Any]) -> Vocabulary:
        """The same vocabulary built straight from a seed file's data (for offline tools)."""
        menu = next(r for r in seed["business_rules"] if r["rule_type"] == "menu")["value"]
        proteins = {
            p: [p, *menu.get("protein_aliases", {}).get(p, [])] for p in menu["included_proteins"]
        }
        upgrades: dict[str, list[str]] = {}
        for addon in seed["addons"]:
            aliases = [addon["slug"].replace("_", " "), addon["name"].lower(), *addon["aliases"]]
            target = proteins if addon["category"] == "premium_protein" else upgrades
            target[addon["slug"]] = list(dict.fromkeys(a.lower() for a in aliases))
        pricing = next(r for r in seed["business_rules"] if r["rule_type"] == "pricing")["value"]
        ages = AgeLimits.of(int(pricing["toddler_max_age"]), str(pricing["child_age_range"]))
        return cls(proteins=proteins, upgrades=upgrades, ages=ages)


_BY_CHARTER: dict[int, tuple[Charter, Vocabulary]] = {}
