"""Cues that must win: safety and people-matter concerns, read by patterns kept as data.

A concern found here reaches a person whatever the learned reader thinks of the message (see
`data/<lang>/concerns.yaml`). Food illness and injury count only after the event: before it, "my
wife got sick" explains a change, it does not report one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import get_args

import yaml

from agent.understanding.schema import Concern

DATA = Path(__file__).resolve().parent / "data"
AFTER_EVENT_ONLY: frozenset[str] = frozenset({"illness", "injury"})
#: Cues that report a late chef only while the chef is due (asked days before, "when does the
#: chef get here?" is a question for the FAQs).
WHILE_DUE = "late_chef"
#: A request made again after no reply: while the chef is due, it is the chef who has not come
#: ("I've texted 3 times tonight. call me").
UNANSWERED = "unanswered"
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
    "unanswered": "complaint",
    "safety": "complaint",
}
#: Concerns that ask for nothing of their own: "2nd time asking, we're 18 adults now" is the
#: headcount change, and the case beside it (`agent.nodes.decide.concern_cases`) is how a person
#: sees that the office failed the customer (docs/labelling.md, rule I6).
NO_REQUEST: frozenset[Concern] = frozenset({"unanswered"})
#: Concerns that make a message sound frustrated, whatever its register, unless it sounds worried
#: (docs/labelling.md, rule T4: "third time I'm asking"): a customer made to ask again is
#: exasperated. 109 of the 112 training messages with the cue are labelled so.
SOUND_FRUSTRATED: frozenset[Concern] = frozenset({"unanswered"})
#: The concerns, the most urgent first, as the policy ranks them (URGENT, then HIGH, then
#: MEDIUM; tools/policy.py CONCERN_PRIORITY): a message's first concern sets its case's priority.
URGENCY: tuple[Concern, ...] = (
    "no_show",
    "illness",
    "injury",
    "unsafe_weather",
    "safety",
    "billing",
    "legal",
    "complaint",
    "unanswered",
    "allergy",
)


class Concerns:
    """One language's concern patterns, compiled once."""

    def __init__(self, patterns: dict[str, list[re.Pattern[str]]]) -> None:
        self.patterns = patterns

    @classmethod
    def load(cls, language: str = "en") -> Concerns:
        return _concerns(language)

    def find(
        self, normalised: str, after_event: bool, chef_due: bool = False
    ) -> list[tuple[Concern, int]]:
        """Every concern the message holds, each once, the most urgent first (`URGENCY`), with
        where its first cue starts: "2nd time asking ... supposed to hit 103 ... any nuts in the
        sauce" is unsafe weather, an allergy and a request made again."""
        found: dict[Concern, int] = {}
        for name, patterns in self.patterns.items():
            if name in AFTER_EVENT_ONLY and not after_event:
                continue
            if name == WHILE_DUE and not chef_due:
                continue
            m = next((m for p in patterns if (m := p.search(normalised)) is not None), None)
            if m is None:
                continue
            if name == WHILE_DUE or (name == UNANSWERED and chef_due):
                name = "no_show"  # while the chef is due, no answer is about the chef
            if name == "no_show" and after_event and not chef_due:
                name = "complaint"  # the party is over: a late chef is a complaint now
            kind: Concern = name  # type: ignore[assignment]
            found[kind] = min(found.get(kind, m.start()), m.start())
        return sorted(found.items(), key=lambda kp: URGENCY.index(kp[0]))


def most_urgent_first(concerns: Iterable[Concern]) -> tuple[Concern, ...]:
    """The concerns, each once, the most urgent first."""
    return tuple(sorted(dict.fromkeys(concerns), key=URGENCY.index))


@cache
def _concerns(language: str) -> Concerns:
    raw = yaml.safe_load((DATA / language / "concerns.yaml").read_text("utf-8")) or {}
    known = {*get_args(Concern), WHILE_DUE}
    patterns: dict[str, list[re.Pattern[str]]] = {}
    for name, items in raw.items():
        if name not in known:
            raise ValueError(f"concerns.yaml ({language}): unknown concern {name!r}")
        patterns[name] = [re.compile(p) for p in items]
    return Concerns(patterns)
