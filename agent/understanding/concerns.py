"""Cues that must win: safety and people-matter concerns, read by patterns kept as data.

A concern found here reaches a person whatever the learned reader thinks of the message (see
`data/<lang>/concerns.yaml`). Food illness and injury count only after the event: before it, "my
wife got sick" explains a change, it does not report one.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import get_args

import yaml

from agent.understanding.schema import Concern

DATA = Path(__file__).resolve().parent / "data"
AFTER_EVENT_ONLY: frozenset[Concern] = frozenset({"illness", "injury"})
#: The intent each concern is read as, so the policy handles it with its kind.
INTENT_OF: dict[Concern, str] = {
    "no_show": "no_show",
    "illness": "complaint",
    "injury": "complaint",
    "billing": "complaint",
    "legal": "complaint",
    "complaint": "complaint",
    "allergy": "dietary_request",
    "unsafe_weather": "weather_concern",
}


class Concerns:
    """One language's concern patterns, compiled once."""

    def __init__(self, patterns: dict[Concern, list[re.Pattern[str]]]) -> None:
        self.patterns = patterns

    @classmethod
    def load(cls, language: str = "en") -> Concerns:
        return _concerns(language)

    def find(self, normalised: str, after_event: bool) -> tuple[Concern, int] | None:
        """The first concern (in the file's order) and where it starts, or None."""
        for concern, patterns in self.patterns.items():
            if concern in AFTER_EVENT_ONLY and not after_event:
                continue
            for pattern in patterns:
                m = pattern.search(normalised)
                if m is not None:
                    return concern, m.start()
        return None


@cache
def _concerns(language: str) -> Concerns:
    raw = yaml.safe_load((DATA / language / "concerns.yaml").read_text("utf-8")) or {}
    known = set(get_args(Concern))
    patterns: dict[Concern, list[re.Pattern[str]]] = {}
    for name, items in raw.items():
        if name not in known:
            raise ValueError(f"concerns.yaml ({language}): unknown concern {name!r}")
        patterns[name] = [re.compile(p) for p in items]
    return Concerns(patterns)
