"""What a booking question asks, read by patterns kept as data (`data/<lang>/topics.yaml`)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import cast, get_args

import yaml

from agent.understanding.schema import BookingTopic

DATA = Path(__file__).resolve().parent / "data"
#: What a booking question that names nothing asks for: the whole booking.
WHOLE: BookingTopic = "details"


class Topics:
    """One language's topic patterns, compiled once."""

    def __init__(
        self,
        patterns: dict[BookingTopic, list[re.Pattern[str]]],
        others: list[re.Pattern[str]] | None = None,
        named_only: frozenset[str] = frozenset(),
    ) -> None:
        self.patterns = patterns
        self.others = others or []
        #: Topics asked only where their patterns find them, never on the learned reader's
        #: odds alone (`named_only` in the data): a payment reported opens a case.
        self.named_only = named_only

    @classmethod
    def load(cls, language: str = "en") -> Topics:
        return _topics(language)

    def asked(self, normalised: str) -> list[BookingTopic]:
        """Every topic the text names, in the order said (none when it names none)."""
        found: list[tuple[int, BookingTopic]] = []
        for topic, patterns in self.patterns.items():
            starts = [m.start() for p in patterns if (m := p.search(normalised))]
            if starts:
                found.append((min(starts), topic))
        return [topic for _, topic in sorted(found)]

    def about_someone_else(self, normalised: str) -> bool:
        """Whether the question is about another person's party (`someone_else` patterns)."""
        return any(p.search(normalised) for p in self.others)


@cache
def _topics(language: str) -> Topics:
    path = DATA / language / "topics.yaml"
    raw = yaml.safe_load(path.read_text("utf-8")) if path.exists() else {}
    known = get_args(BookingTopic)
    patterns: dict[BookingTopic, list[re.Pattern[str]]] = {}
    raw = dict(raw or {})
    others = [re.compile(p) for p in raw.pop("someone_else", [])]
    named_only = frozenset(str(t) for t in raw.pop("named_only", []))
    if unknown := named_only - set(known):
        raise ValueError(f"topics.yaml ({language}): unknown named_only topics {sorted(unknown)}")
    for name, items in raw.items():
        if name not in known:
            raise ValueError(f"topics.yaml ({language}): unknown topic {name!r}")
        patterns[cast(BookingTopic, name)] = [re.compile(p) for p in items]
    return Topics(patterns, others, named_only)
