"""How well the reader reads labelled messages it was not trained on.

    .venv/bin/python -m agent.understanding.report [--split test|train|all] [--rules]
                                                   [--errors] [--data FILE]

By default: the frozen test split, read by the full reader (normaliser, rules, learned model,
concern cues). `--rules` reads with the rules alone, for comparison. Prints intent accuracy
(first intent and the whole ordered list), entity accuracy (guest changes, proteins, upgrades,
ratings, cancel choices, booking question topics; each over the messages labelled with it),
tone, safety recall (each message labelled with a priority must reach a person at that
priority or higher), false changes (a booking change applied without asking that the label
does not ask for, or asks for with other values), concerns where none was needed (a message
labelled with no priority that the reader hands to a person as a safety matter: what a lower
safety threshold costs the team), accuracy per writing style, the
confusion matrix of first intents, and ends with the figures as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from agent.understanding import corpus as corpora
from agent.understanding import reader as _reader
from agent.understanding import training
from agent.understanding.corpus import Example
from agent.understanding.reader import default_reader
from agent.understanding.rules import understand as rules_understand
from agent.understanding.rules import warm_up
from agent.understanding.schema import (
    CHANGE_INTENTS,
    INTENTS,
    Context,
    GuestChange,
    Request,
    Understanding,
)
from agent.understanding.training import context_for, default_vocabulary
from agent.understanding.vocabulary import Vocabulary
from knowledge.seed import seed_charter
from tools.policy import PRIORITY_RANK, BookingView

REPORTED_STYLES = corpora.HARD_STYLES

ReadFn = Callable[[str, Context, Vocabulary], Understanding]


@dataclass
class Evaluation:
    figures: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    timings_ms: list[float] = field(default_factory=list)
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    styles: dict[str, tuple[int, int]] = field(default_factory=dict)


def load_examples(path: Path) -> list[Example]:
    """The labelled messages of one file (any language folder name works for its language)."""
    return corpora.read_file(path, path.parent.name)


def merged_entities(understanding: Understanding) -> dict[str, Any]:
    """The entities of all requests together, the shape the labels use."""
    merged: dict[str, Any] = {
        "proteins": [],
        "upgrades": [],
        "guests": [],
        "removed_proteins": [],
        "asked": [],
    }
    for request in understanding.requests:
        e = request.entities
        merged["proteins"] += [p for p in e.proteins if p not in merged["proteins"]]
        merged["removed_proteins"] += [
            p for p in e.removed_proteins if p not in merged["removed_proteins"]
        ]
        merged["upgrades"] += [u for u in e.upgrades if u not in merged["upgrades"]]
        if request.intent == "headcount_change" and e.guests is not None:
            merged["guests"].append(e.guests)
        merged["asked"] += [t for t in e.asked if t not in merged["asked"]]
        for name in ("rating", "choice", "date", "dietary"):
            value = getattr(e, name)
            if value is not None and merged.get(name) is None:
                merged[name] = value
    return merged


def _guests_match(labels: list[dict[str, Any]], got: list[GuestChange]) -> bool:
    """Whether the reading leaves a party with the counts the label does. A label that names
    no group ("24 guests") is met by the same total however the reading splits it."""
    from agent.nodes.decide import guest_counts

    want = guest_counts(_REFERENCE, [GuestChange.model_validate(label) for label in labels])
    have = guest_counts(_REFERENCE, got)
    if want is None or have is None:
        return want == have
    if all(label.get("group", "guests") == "guests" for label in labels):
        return sum(want) == sum(have)
    return want == have


_REFERENCE = BookingView(
    reference="MH-REPORT",
    event_at=training.NOW + timedelta(days=10),
    created_at=training.NOW - timedelta(days=30),
    adults=10,
    kids=2,
    toddlers=0,
    deposit_amount=Decimal("100"),
)


def reading_priority(understanding: Understanding) -> str | None:
    """The highest priority a person gets this reading at, by the policy, for a booking ten
    days out (no FAQ answers: a question nobody could answer is a LOW case)."""
    from agent.nodes.decide import concern_cases, decide_request

    now = training.NOW
    charter = seed_charter(now)
    concerns = understanding.concerns
    decisions = [
        decide_request(r, "", _REFERENCE, charter, None, now, concerns=concerns)
        for r in understanding.requests
    ]
    cases = concern_cases(concerns, decisions, _REFERENCE, now, charter.rules)
    ranks = [d.escalation.priority for d in [*decisions, *cases] if d.escalation]
    return max(ranks, key=PRIORITY_RANK.__getitem__, default=None)


def applied_changes(understanding: Understanding) -> list[Request]:
    """The change requests a turn would apply without asking: with values to apply, sure
    enough to skip the confirmation question, not only asked about, and (for guest changes)
    saying one thing about the reference booking; a message's guest changes are read back
    together when an unsure one would change what the sure ones store."""
    from agent.nodes.decide import guest_changes_disagree, guests_read_back

    requests = understanding.requests
    disagree = guest_changes_disagree(_REFERENCE, requests)
    doubted = [r for r in requests if r.confidence < _reader.CONFIDENT]
    unsure = guests_read_back(_REFERENCE, requests, doubted)
    applied = []
    for r in requests:
        e = r.entities
        if r.intent not in CHANGE_INTENTS or e.hypothetical or r in unsure:
            continue
        if r.intent == "headcount_change" and disagree:
            continue
        if e.changes_something:
            applied.append(r)
    return applied


def _key(change: GuestChange) -> tuple[int | None, int | None, str]:
    return (change.total, change.delta, change.group)


def false_change(example: Example, understanding: Understanding) -> str | None:
    """What the reading would change that the label does not ask for, or None: a guest count,
    a protein set or an add-on the label does not have, or has with other values."""
    applied = applied_changes(understanding)
    if not applied:
        return None
    label = example.entities
    asks = example.changes_booking
    guests = [r.entities.guests for r in applied if r.entities.guests is not None]
    labelled = {_key(GuestChange.model_validate(g)) for g in example.guests}
    each_asked = all(_key(g) in labelled for g in guests)  # some applied, the rest asked about
    if guests and not (
        asks
        and "headcount_change" in example.intents
        and (each_asked or _guests_match(example.guests, guests))
    ):
        return f"guests {guests}"
    menu = [r for r in applied if r.intent in ("menu_selection", "protein_swap")]
    menu_asked = asks and any(i in example.intents for i in ("menu_selection", "protein_swap"))
    proteins = {p for r in menu for p in r.entities.proteins}
    either = [proteins]
    if example.swap_without_sides:  # an early label: the new, or the old and the new
        either.append(proteins | {p for r in menu for p in r.entities.removed_proteins})
    if proteins and not (menu_asked and set(label.get("proteins", proteins)) in either):
        return f"proteins {sorted(proteins)}"
    upgrades = {u for r in menu for u in r.entities.upgrades}
    if upgrades and not (menu_asked and upgrades == set(label.get("upgrades", upgrades))):
        return f"upgrades {sorted(upgrades)}"
    return None


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
    examples: Sequence[Example] | None = None,
    vocabulary: Vocabulary | None = None,
    read: ReadFn | None = None,
) -> Evaluation:
    """Read the labelled messages (the rules alone unless `read` is given) and score them."""
    examples = corpora.load().split("test") if examples is None else examples
    vocabulary = default_vocabulary() if vocabulary is None else vocabulary
    read = rules_understand if read is None else read
    warm_up()

    names = (
        "intent",
        "all_intents",
        "headcount",
        "proteins",
        "upgrades",
        "rating",
        "choice",
        "topics",
        "tone",
        "safety",
    )
    scores = {name: _Ratio() for name in names}
    styles = {name: _Ratio() for name in REPORTED_STYLES}
    confusion: Counter[tuple[str, str]] = Counter()
    false_changes = 0
    needless_concerns = 0  # messages labelled with no priority that the reader hands over
    applied_share = _Ratio()  # changes asked for that are applied right without a question
    errors: list[str] = []
    timings: list[float] = []
    for ex in examples:
        started = time.perf_counter()
        got = read(ex.text, context_for(ex), vocabulary)
        timings.append((time.perf_counter() - started) * 1000)
        intents = list(dict.fromkeys(r.intent for r in got.requests))
        merged = merged_entities(got)
        problems: list[str] = []
        confusion[(ex.intents[0], intents[0])] += 1
        if not scores["intent"].add(intents[0] == ex.intents[0]):
            problems.append(f"intent {intents[0]} != {ex.intents[0]}")
        all_right = scores["all_intents"].add(intents == list(ex.intents))
        if not all_right and intents[0] == ex.intents[0]:
            problems.append(f"intents {intents} != {list(ex.intents)}")
        for style in ex.style:
            if style in styles:
                styles[style].add(all_right)
        labels = ex.entities
        counted = ex.guests and "headcount_change" in ex.intents
        if counted and not scores["headcount"].add(_guests_match(ex.guests, merged["guests"])):
            problems.append(f"guests {merged['guests']} != {ex.guests}")
        for name in ("proteins", "upgrades"):
            readings = [set(merged[name])]
            if name == "proteins" and ex.swap_without_sides:  # the new, or the old and new
                readings.append(readings[0] | set(merged["removed_proteins"]))
            if name in labels and not scores[name].add(set(labels[name]) in readings):
                problems.append(f"{name} {merged[name]} != {labels[name]}")
        for name in ("rating", "choice"):
            if name in labels and not scores[name].add(merged.get(name) == labels[name]):
                problems.append(f"{name} {merged.get(name)} != {labels[name]}")
        if "asked" in labels and not scores["topics"].add(
            set(merged["asked"]) == set(labels["asked"])
        ):
            problems.append(f"asked {merged['asked']} != {labels['asked']}")
        if not scores["tone"].add(got.tone == ex.tone):
            problems.append(f"tone {got.tone} != {ex.tone}")
        if ex.safety is not None:
            reached = reading_priority(got)
            enough = reached is not None and PRIORITY_RANK[reached] >= PRIORITY_RANK[ex.safety]
            if not scores["safety"].add(enough):
                problems.append(f"safety {reached} < {ex.safety}")
        elif got.concern is not None:
            needless_concerns += 1
            problems.append(f"concern {got.concern} on a message that needs none")
        if ex.changes_booking:
            applied_share.add(bool(applied_changes(got)) and false_change(ex, got) is None)
        wrong = false_change(ex, got)
        if wrong is not None:
            false_changes += 1
            problems.append(f"FALSE CHANGE: {wrong}")
        if problems:
            errors.append(f"{ex.id} {ex.text[:110]!r}: " + "; ".join(problems))

    figures: dict[str, Any] = {
        "messages": len(examples),
        "intent_accuracy": scores["intent"].value(),
        "all_intents_accuracy": scores["all_intents"].value(),
        "headcount_accuracy": scores["headcount"].value(),
        "protein_accuracy": scores["proteins"].value(),
        "upgrade_accuracy": scores["upgrades"].value(),
        "rating_accuracy": scores["rating"].value(),
        "choice_accuracy": scores["choice"].value(),
        "booking_topic_accuracy": scores["topics"].value(),
        "tone_accuracy": scores["tone"].value(),
        "safety_recall": scores["safety"].value(),
        "safety_messages": scores["safety"].total,
        "false_changes": false_changes,
        "needless_concerns": needless_concerns,
        "changes_applied_without_asking": applied_share.value(),
        "median_ms": round(statistics.median(timings), 3) if timings else 0.0,
        "p99_ms": round(_percentile(timings, 0.99), 3) if timings else 0.0,
        "styles": {name: styles[name].value() for name in REPORTED_STYLES},
    }
    return Evaluation(
        figures=figures,
        errors=errors,
        timings_ms=timings,
        confusion=confusion,
        styles={name: (styles[name].hit, styles[name].total) for name in REPORTED_STYLES},
    )


def _cross_validated(
    examples: Sequence[Example], folds: int, extra: Sequence[Example] = ()
) -> ReadFn:
    """A read function that reads each example with a model trained on the other folds (and
    on `extra`, examples always trained on and never scored: a file weighed for the corpus)."""
    from agent.understanding.reader import Reader
    from agent.understanding.training import fit

    by_text: dict[tuple[str, str | None, bool, bool], Reader] = {}
    for k in range(folds):
        held = [e for i, e in enumerate(examples) if i % folds == k]
        rest = [e for i, e in enumerate(examples) if i % folds != k] + list(extra)
        reader = Reader(fit(rest, "en", {"fold": k}))
        for e in held:
            by_text[(e.text, e.pending, e.after_event, e.chef_due)] = reader

    def read(text: str, context: Context, vocabulary: Vocabulary) -> Understanding:
        reader = by_text[(text, context.pending, context.after_event, context.chef_due)]
        return reader.understand(text, context, vocabulary)

    return read


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def confusion_table(confusion: Counter[tuple[str, str]]) -> list[str]:
    """Rows: the labelled first intent; columns: what was read (only intents that occur)."""
    used = [i for i in INTENTS if any(i in pair for pair in confusion)]
    short = {i: i.replace("_", "")[:5] for i in used}
    lines = [" " * 18 + " ".join(f"{short[i]:>5}" for i in used)]
    for want in used:
        cells = [confusion.get((want, got), 0) for got in used]
        if sum(cells):
            lines.append(f"{want:<18}" + " ".join(f"{c or '.':>5}" for c in cells))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--split", choices=("test", "train", "all"), default="test")
    parser.add_argument("--rules", action="store_true", help="read with the rules alone")
    parser.add_argument("--errors", action="store_true", help="list every message read wrongly")
    parser.add_argument("--data", type=Path, help="one labelled file instead of the corpus")
    parser.add_argument(
        "--cv",
        type=int,
        metavar="K",
        help="K-fold cross-validation inside the training split (for development: each "
        "training message is read by a model trained without it; the test split is untouched)",
    )
    parser.add_argument(
        "--with",
        dest="extra",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="with --cv: also train every fold on this labelled file (not scored), to weigh "
        "adding it to the corpus against the same messages",
    )
    args = parser.parse_args(argv)

    examples = load_examples(args.data) if args.data else corpora.load().split(args.split)
    read: ReadFn = rules_understand
    if args.cv:
        examples = corpora.load().split("train")
        extra = [e for path in args.extra for e in load_examples(path)]
        read = _cross_validated(examples, args.cv, extra)
    elif not args.rules:
        read = default_reader().understand
    result = evaluate(examples, read=read)
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
        ("booking question topics", f["booking_topic_accuracy"]),
        ("tone accuracy", f["tone_accuracy"]),
        (f"safety recall ({f['safety_messages']} messages)", f["safety_recall"]),
        ("false changes", f["false_changes"]),
        ("concerns where none was needed", f["needless_concerns"]),
        ("changes applied without asking", f["changes_applied_without_asking"]),
        ("median ms per message", f["median_ms"]),
        ("p99 ms per message", f["p99_ms"]),
    ]
    for label, value in rows:
        print(f"{label:<34} {value}")
    print("\nall intents right, by writing style:")
    for style, (hit, total) in result.styles.items():
        share = f"{hit / total:.3f}" if total else "-"
        print(f"  {style:<20} {share:>6}  ({hit}/{total})")
    print("\nfirst intent: labelled (rows) vs read (columns)")
    for line in confusion_table(result.confusion):
        print("  " + line)
    if args.errors:
        print(f"\n{len(result.errors)} messages with a miss:")
        for line in result.errors:
            print(" ", line)
    print(json.dumps(f, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
