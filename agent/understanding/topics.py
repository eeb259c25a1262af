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

    def __init__(self, patterns: dict[BookingTopic, list[re.Pattern[str]]]) -> None:
        self.patterns = patterns

    @classmethod
    def load(cls, language: str = "en") -> Topics:
        return _topics(language)

    def asked(self, normalised: str, whole: bool = True) -> list[BookingTopic]:
        """Every topic the text asks about, in the order said; the whole booking when none
        (or nothing, with `whole=False`)."""
        found: list[tuple[int, BookingTopic]] = []
        for topic, patterns in self.patterns.items():
            starts = [m.start() for p in patterns if (m := p.search(normalised))]
            if starts:
                found.append((min(starts), topic))
        found.sort()
        asked = [topic for _, topic in found]
        if "arrival" in asked and "when" in asked and not _says_party(normalised):
            asked.remove("when")  # "what time does the chef come on saturday" is one question
        return asked or ([WHOLE] if whole else [])


_PARTY = re.compile(r"\b(?:party|event|booking|reservation|we start|it start)")


def _says_party(normalised: str) -> bool:
    return _PARTY.search(normalised) is not None


@cache
def _topics(language: str) -> Topics:
    path = DATA / language / "topics.yaml"
    raw = yaml.safe_load(path.read_text("utf-8")) if path.exists() else {}
    known = get_args(BookingTopic)
    patterns: dict[BookingTopic, list[re.Pattern[str]]] = {}
    for name, items in (raw or {}).items():
        if name not in known:
            raise ValueError(f"topics.yaml ({language}): unknown topic {name!r}")
        patterns[cast(BookingTopic, name)] = [re.compile(p) for p in items]
    return Topics(patterns)
