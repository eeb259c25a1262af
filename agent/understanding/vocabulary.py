"""The words for proteins and add-ons, taken from the knowledge base (never hard-coded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from knowledge.charter import Charter


@dataclass(frozen=True)
class Vocabulary:
    """Canonical slugs and the phrases customers use for them."""

    proteins: dict[str, list[str]] = field(default_factory=dict)  # slug -> aliases
    upgrades: dict[str, list[str]] = field(default_factory=dict)  # slug -> aliases

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
        return cls(proteins=proteins, upgrades=upgrades)

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
        return cls(proteins=proteins, upgrades=upgrades)


_BY_CHARTER: dict[int, tuple[Charter, Vocabulary]] = {}
