"""How well the rules read the labelled messages.

    .venv/bin/python -m agent.understanding.report [--errors] [--data PATH]

Prints intent accuracy (first intent and the whole ordered list), entity accuracy (guests,
proteins, upgrades, rating, cancel choice; each over the messages labelled with it), tone
accuracy and timings, optionally every miss, and ends with the figures as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agent.understanding.rules import understand, warm_up
from agent.understanding.schema import Context, GuestChange, Pending, Understanding
from agent.understanding.vocabulary import Vocabulary
from knowledge.seed import read_seed

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "labelled_messages.jsonl"
NOW = datetime(2026, 6, 10, 15, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
TIMEZONE = "America/Los_Angeles"


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    pending: Pending | None
    after_event: bool
    intents: list[str]
    entities: dict[str, Any]
    tone: str


@dataclass
class Evaluation:
    figures: dict[str, float | int]
    errors: list[str] = field(default_factory=list)
    timings_ms: list[float] = field(default_factory=list)


def load_examples(path: Path = DATA) -> list[Example]:
    examples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        examples.append(
            Example(
                id=row["id"],
                text=row["text"],
                pending=row["context"].get("pending"),
                after_event=bool(row["context"].get("after_event")),
                intents=list(row["intents"]),
                entities=dict(row.get("entities") or {}),
                tone=row["tone"],
            )
        )
    return examples


def default_vocabulary() -> Vocabulary:
    """The protein and add-on words of the default knowledge (the seed file)."""
    return Vocabulary.from_seed(read_seed())


def context_for(example: Example) -> Context:
    return Context(
        now=NOW, timezone=TIMEZONE, pending=example.pending, after_event=example.after_event
    )


def merged_entities(understanding: Understanding) -> dict[str, Any]:
    """The entities of all requests together, the shape the labels use."""
    merged: dict[str, Any] = {"proteins": [], "upgrades": []}
    for request in understanding.requests:
        e = request.entities
        merged["proteins"] += [p for p in e.proteins if p not in merged["proteins"]]
        merged["upgrades"] += [u for u in e.upgrades if u not in merged["upgrades"]]
        for name in ("guests", "rating", "choice", "date", "dietary"):
            value = getattr(e, name)
            if value is not None and merged.get(name) is None:
                merged[name] = value
    return merged


def _guests_match(label: dict[str, Any], got: GuestChange | None) -> bool:
    if got is None:
        return False
    return bool(
        label.get("total") == got.total
        and label.get("delta") == got.delta
        and label.get("group", "guests") == got.group
    )


class _Ratio:
    def __init__(self) -> None:
        self.hit = 0
        self.total = 0

    def add(self, ok: bool) -> bool:
        self.total += 1
        self.hit += ok
        return ok

    def value(self) -> float:
        return round(self.hit / self.total, 4) if self.total else 1.0


def evaluate(
    examples: Sequence[Example] | None = None, vocabulary: Vocabulary | None = None
) -> Evaluation:
    """Run the rules over the labelled messages and score them."""
    examples = load_examples() if examples is None else examples
    vocabulary = default_vocabulary() if vocabulary is None else vocabulary
    warm_up()

    scores = {
        name: _Ratio()
        for name in (
            "intent",
            "all_intents",
            "headcount",
            "proteins",
            "upgrades",
            "rating",
            "choice",
            "tone",
        )
    }
    errors: list[str] = []
    timings: list[float] = []
    for ex in examples:
        started = time.perf_counter()
        got = understand(ex.text, context_for(ex), vocabulary)
        timings.append((time.perf_counter() - started) * 1000)
        intents = [r.intent for r in got.requests]
        merged = merged_entities(got)
        problems: list[str] = []
        if not scores["intent"].add(intents[0] == ex.intents[0]):
            problems.append(f"intent {intents[0]} != {ex.intents[0]}")
        if not scores["all_intents"].add(intents == ex.intents) and intents[0] == ex.intents[0]:
            problems.append(f"intents {intents} != {ex.intents}")
        labels = ex.entities
        # A guest count is an entity of a headcount change only; other messages may state one.
        counts = "guests" in labels and "headcount_change" in ex.intents
        if counts and not scores["headcount"].add(
            _guests_match(labels["guests"], merged.get("guests"))
        ):
            problems.append(f"guests {merged.get('guests')} != {labels['guests']}")
        for name in ("proteins", "upgrades"):
            if name in labels and not scores[name].add(set(merged[name]) == set(labels[name])):
                problems.append(f"{name} {merged[name]} != {labels[name]}")
        for name in ("rating", "choice"):
            if name in labels and not scores[name].add(merged.get(name) == labels[name]):
                problems.append(f"{name} {merged.get(name)} != {labels[name]}")
        if not scores["tone"].add(got.tone == ex.tone):
            problems.append(f"tone {got.tone} != {ex.tone}")
        if problems:
            errors.append(f"{ex.id} {ex.text[:110]!r}: " + "; ".join(problems))

    figures: dict[str, float | int] = {
        "messages": len(examples),
        "intent_accuracy": scores["intent"].value(),
        "all_intents_accuracy": scores["all_intents"].value(),
        "headcount_accuracy": scores["headcount"].value(),
        "protein_accuracy": scores["proteins"].value(),
        "upgrade_accuracy": scores["upgrades"].value(),
        "rating_accuracy": scores["rating"].value(),
        "choice_accuracy": scores["choice"].value(),
        "tone_accuracy": scores["tone"].value(),
        "median_ms": round(statistics.median(timings), 3) if timings else 0.0,
        "max_ms": round(max(timings), 3) if timings else 0.0,
    }
    return Evaluation(figures=figures, errors=errors, timings_ms=timings)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--errors", action="store_true", help="list every message read wrongly")
    parser.add_argument("--data", type=Path, default=DATA, help="labelled messages (JSON lines)")
    args = parser.parse_args(argv)

    result = evaluate(load_examples(args.data))
    f = result.figures
    rows = [
        ("messages", f["messages"]),
        ("intent accuracy (first intent)", f["intent_accuracy"]),
        ("all intents, exact order", f["all_intents_accuracy"]),
        ("headcount extraction", f["headcount_accuracy"]),
        ("protein extraction", f["protein_accuracy"]),
        ("upgrade extraction", f["upgrade_accuracy"]),
        ("rating extraction", f["rating_accuracy"]),
        ("cancel choice", f["choice_accuracy"]),
        ("tone accuracy", f["tone_accuracy"]),
        ("median ms per message", f["median_ms"]),
        ("max ms per message", f["max_ms"]),
    ]
    for label, value in rows:
        print(f"{label:<34} {value}")
    if args.errors:
        print(f"\n{len(result.errors)} messages with a miss:")
        for line in result.errors:
            print(" ", line)
    print(json.dumps(f, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
