"""The labelled corpus the reader learns from and is measured on.

Files: `data/<lang>/*.jsonl`, one labelled message per line (see README "The reader"). Which
messages are held out for measuring is decided once and kept in `data/<lang>/test_ids.txt`:
every message listed there is test, every other message is training, so examples added later
join the training side and the test split never moves. `freeze_split` writes that file the
first time, drawing a fixed share of each file with a fixed seed.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.understanding.schema import CHANGE_INTENTS, INTENTS, TONES

DATA = Path(__file__).resolve().parent / "data"
TEST_SHARE = 0.3
SEED = 20261204
#: Files whose every message is test (written apart from the reader to measure it) or training
#: (the rules were tuned on it, so it can never measure them).
ALWAYS_TEST = frozenset({"heldout.jsonl"})
ALWAYS_TRAIN = frozenset({"tuned.jsonl"})
SAFETY_LEVELS = ("MEDIUM", "HIGH", "URGENT")
#: How real people write, each measured on its own by the report.
HARD_STYLES = (
    "typo",
    "shorthand",
    "numbers_in_words",
    "indirect",
    "multi_request",
    "rambling",
    "emoji_short",
)
STYLES = (
    "plain",
    *HARD_STYLES,
    "formal",
    "angry",
    "anxious",
    "refusal_mention",
    "correction",
    "hypothetical",
)

Split = Literal["train", "test", "all"]


class CorpusError(ValueError):
    """A corpus line that breaks the format; the message names the file, line and field."""


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    language: str
    pending: str | None
    after_event: bool
    intents: tuple[str, ...]
    entities: dict[str, Any]
    tone: str
    safety: str | None = None
    style: tuple[str, ...] = ()
    source: str = ""
    #: Sent while the chef is due (from the arrival lead until the party would be over), as
    #: the turn knows from the booking and the clock: "is he close?" then means a late chef.
    chef_due: bool = False

    @property
    def guests(self) -> list[dict[str, Any]]:
        """The labelled guest changes, one per group."""
        raw = self.entities.get("guests")
        if raw is None:
            return []
        return list(raw) if isinstance(raw, list) else [raw]

    @property
    def swap_without_sides(self) -> bool:
        """An early label of a swap names the proteins involved without saying which goes out
        (`tuned.jsonl`, `heldout.jsonl`): its `proteins` are the old and the new together."""
        return "protein_swap" in self.intents and "removed_proteins" not in self.entities

    @property
    def changes_booking(self) -> bool:
        """Whether the label asks for a change the agent would apply (not just a question)."""
        if self.entities.get("hypothetical"):
            return False
        return any(i in self.intents for i in CHANGE_INTENTS)


@dataclass
class Corpus:
    examples: list[Example] = field(default_factory=list)
    test_ids: frozenset[str] = frozenset()

    def split(self, which: Split) -> list[Example]:
        if which == "all":
            return list(self.examples)
        want_test = which == "test"
        return [e for e in self.examples if (e.id in self.test_ids) == want_test]

    def fingerprint(self) -> str:
        """A hash of every example and of the split: the trained reader records it."""
        digest = hashlib.sha256()
        for example in sorted(self.examples, key=lambda e: e.id):
            digest.update(json.dumps(_as_row(example), sort_keys=True).encode())
        digest.update("\n".join(sorted(self.test_ids)).encode())
        return digest.hexdigest()[:16]

    def test_fingerprint(self) -> str:
        """A hash of the test split's messages and labels: frozen with the split, so a test
        message relabelled by mistake is seen (`test_labels.sha256` beside `test_ids.txt`)."""
        digest = hashlib.sha256()
        for example in sorted(self.split("test"), key=lambda e: e.id):
            digest.update(json.dumps(_as_row(example), sort_keys=True).encode())
        return digest.hexdigest()


def _as_row(example: Example) -> dict[str, Any]:
    return {
        "id": example.id,
        "text": example.text,
        "pending": example.pending,
        "after_event": example.after_event,
        **({"chef_due": True} if example.chef_due else {}),
        "intents": list(example.intents),
        "entities": example.entities,
        **({"safety": example.safety} if example.safety is not None else {}),
        "tone": example.tone,
    }


def parse_line(line: str, where: str, language: str, source: str) -> Example:
    """One corpus line, checked; a bad line raises CorpusError naming where and what."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise CorpusError(f"{where}: not JSON ({error.msg})") from None
    if not isinstance(row, dict):
        raise CorpusError(f"{where}: expected an object")
    for key in ("id", "text", "intents", "tone"):
        if key not in row:
            raise CorpusError(f"{where}: missing {key!r}")
    intents = row["intents"]
    if not intents or any(i not in INTENTS for i in intents):
        raise CorpusError(f"{where}: intents {intents!r} (known: {', '.join(INTENTS)})")
    if row["tone"] not in TONES:
        raise CorpusError(f"{where}: tone {row['tone']!r} (known: {', '.join(TONES)})")
    safety = row.get("safety")
    if safety is not None and safety not in SAFETY_LEVELS:
        raise CorpusError(f"{where}: safety {safety!r} (known: {', '.join(SAFETY_LEVELS)})")
    style = tuple(row.get("style") or ())
    unknown = [s for s in style if s not in STYLES]
    if unknown:
        raise CorpusError(f"{where}: style {unknown!r} (known: {', '.join(STYLES)})")
    context = row.get("context") or {}
    return Example(
        id=str(row["id"]),
        text=str(row["text"]),
        language=str(row.get("lang") or language),
        pending=context.get("pending"),
        after_event=bool(context.get("after_event")),
        chef_due=bool(context.get("chef_due")),
        intents=tuple(dict.fromkeys(intents)),
        entities=dict(row.get("entities") or {}),
        tone=str(row["tone"]),
        safety=safety,
        style=style,
        source=source,
    )


def read_file(path: Path, language: str) -> list[Example]:
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            examples.append(parse_line(line, f"{path.name}:{number}", language, path.name))
    return examples


def load(root: Path = DATA, languages: Iterable[str] | None = None) -> Corpus:
    """Every labelled message under root, with the frozen split."""
    examples: list[Example] = []
    test_ids: set[str] = set()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if languages is not None and folder.name not in languages:
            continue
        for path in sorted(folder.glob("*.jsonl")):
            found = read_file(path, folder.name)
            examples += found
            if path.name in ALWAYS_TEST:
                test_ids.update(e.id for e in found)
        ids_file = folder / "test_ids.txt"
        if ids_file.exists():
            test_ids.update(
                line.strip() for line in ids_file.read_text("utf-8").splitlines() if line.strip()
            )
    seen: set[str] = set()
    for example in examples:
        if example.id in seen:
            raise CorpusError(f"{example.source}: id {example.id!r} is used twice")
        seen.add(example.id)
    return Corpus(examples=examples, test_ids=frozenset(test_ids))


def freeze_split(root: Path = DATA, language: str = "en") -> Path:
    """Draw the test split once (a fixed share of each file, fixed seed) and write it down.
    Refuses to draw again: a split that moved would let tuning see the test messages."""
    folder = root / language
    ids_file = folder / "test_ids.txt"
    if ids_file.exists():
        raise CorpusError(f"{ids_file} exists: the split is frozen; new examples are training")
    rng = random.Random(SEED)
    chosen: list[str] = []
    for path in sorted(folder.glob("*.jsonl")):
        if path.name in ALWAYS_TEST | ALWAYS_TRAIN:
            continue
        ids = [e.id for e in read_file(path, language)]
        chosen += rng.sample(ids, round(len(ids) * TEST_SHARE))
    ids_file.write_text("\n".join(sorted(chosen)) + "\n", encoding="utf-8")
    return ids_file


def styles_of(examples: Sequence[Example]) -> dict[str, list[Example]]:
    by_style: dict[str, list[Example]] = {}
    for example in examples:
        for style in example.style or ("plain",):
            by_style.setdefault(style, []).append(example)
    return by_style
