"""What each number and each menu word in a message is for, learned from the corpus.

The rules find the candidates: every count ("14", "another") and every protein or add-on named
(aliases and misspellings included). A learned model then reads each one in its context and
says what it does:

- a count: a new total, more, fewer, or nothing to do with the headcount ("at 6", "2 tables",
  the old count in "18, not 16"), and which group it counts (adults, kids, toddlers, guests);
- a menu word: wanted, going out, or neither (only asked about, refused, "filet is over our
  budget").

Features are the words around the candidate by position and as a bag, the candidate's shape,
the group word next to it and what the rules made of it (a total, more, fewer, refused): the
rules' reading is evidence, and the corpus decides how much it is worth. Training labels come
from the message's labelled entities: a count whose value is a labelled total or change takes
that role, a menu word in the labelled proteins or add-ons is wanted, one in the removed lists
goes out, anything else is nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression

from agent.understanding import entities as ent
from agent.understanding.schema import GuestChange, GuestGroup

COUNT_ROLES: tuple[str, ...] = ("none", "total", "more", "fewer")
GROUPS: tuple[GuestGroup, ...] = ("adults", "kids", "toddlers", "guests")
MENU_ROLES: tuple[str, ...] = ("none", "want", "remove")
C_SLOTS = 4.0

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")
_NUMBER = re.compile(r"\d{1,4}")
_ONE = frozenset({"another", "a", "an"})
_NOT_COUNTS = re.compile(r"^(?:am|pm|th|st|nd|rd|mins?|minutes?|hours?|hrs?|%|:|\$|/)$")
_GROUP_WORD = re.compile(rf"^(?:{ent.GROUP})$")

Kind = Literal["count", "protein", "upgrade"]


@dataclass(frozen=True)
class Slot:
    """A candidate: a count or a menu word, where it is, and its value."""

    kind: Kind
    start: int
    token: int  # index of its first token
    end_token: int  # index after its last token
    value: int | str  # the count, or the menu slug


@dataclass(frozen=True)
class Tokens:
    words: list[str]
    starts: list[int]

    @classmethod
    def of(cls, text: str) -> Tokens:
        found = list(_TOKEN.finditer(text))
        return cls([m.group(0) for m in found], [m.start() for m in found])

    def index_at(self, position: int) -> int:
        for k, start in enumerate(self.starts):
            if start >= position:
                return k
        return len(self.starts)


def find_slots(text: str, tokens: Tokens, mentions: Iterable[ent.Mention]) -> list[Slot]:
    """Every count and every menu word of a normalised message, in order."""
    slots: list[Slot] = []
    words = tokens.words
    for k, word in enumerate(words):
        after = words[k + 1] if k + 1 < len(words) else ""
        before = words[k - 1] if k else ""
        if _NUMBER.fullmatch(word):
            clock = before == ":" and k >= 2 and words[k - 2].isdigit()
            if _NOT_COUNTS.match(after) or before == "$" or clock:
                continue  # a time, a price, an hour
            slots.append(Slot("count", tokens.starts[k], k, k + 1, int(word)))
        elif ent.UNITS.get(word, 0) >= 1:  # "one", "two": small numbers stay words
            slots.append(Slot("count", tokens.starts[k], k, k + 1, ent.UNITS[word]))
        elif word in _ONE and (
            _GROUP_WORD.match(after) or after in ("extra", "more", "additional")
        ):
            slots.append(Slot("count", tokens.starts[k], k, k + 1, 1))
    for m in mentions:
        first = tokens.index_at(m.start)
        last = max(first + 1, tokens.index_at(m.end))
        slots.append(Slot(m.kind, m.start, first, last, m.slug))
    slots.sort(key=lambda s: s.start)
    return slots


def _group_near(words: Sequence[str], slot: Slot) -> str:
    for k in (*range(slot.end_token, min(len(words), slot.end_token + 3)),):
        if _GROUP_WORD.match(words[k]):
            return ent.group_of(words[k])
    for k in range(slot.token - 1, max(-1, slot.token - 4), -1):
        if _GROUP_WORD.match(words[k]):
            return ent.group_of(words[k])
    return "-"


def slot_features(words: Sequence[str], slot: Slot, hints: Iterable[str]) -> dict[str, float]:
    """The evidence about one candidate (see the module's docstring)."""
    f: dict[str, float] = {f"kind={slot.kind}": 1.0}
    for d in range(1, 5):
        k = slot.token - d
        f[f"L{d}={words[k] if k >= 0 else '^'}"] = 1.0
    for d in range(0, 4):
        k = slot.end_token + d
        f[f"R{d + 1}={words[k] if k < len(words) else '$'}"] = 1.0
    if slot.token >= 2:
        f[f"L21={words[slot.token - 2]}_{words[slot.token - 1]}"] = 1.0
    lo, hi = max(0, slot.token - 7), min(len(words), slot.end_token + 6)
    for k in range(lo, hi):
        if not slot.token <= k < slot.end_token:
            f[f"w={words[k]}"] = 0.5
    if slot.kind == "count":
        value = int(slot.value)
        f[f"size={min(value, 5) if value < 10 else (10 if value < 30 else 30)}"] = 1.0
        f[f"group={_group_near(words, slot)}"] = 1.0
    else:
        f[f"slug={slot.value}"] = 1.0
    f["first"] = float(slot.token == 0)
    for hint in hints:
        f[hint] = 1.0
    return f


@dataclass(frozen=True)
class SlotReading:
    slot: Slot
    role: str
    role_probability: float
    group: GuestGroup = "guests"
    group_probability: float = 1.0

    @property
    def confidence(self) -> float:
        counts_people = self.slot.kind == "count" and self.role != "none"
        return self.role_probability * (self.group_probability if counts_people else 1.0)


class _Head:
    """One multinomial regression over a DictVectorizer's features, read without
    scikit-learn's per-call checks."""

    def __init__(self, vocabulary: dict[str, int], classes: Sequence[str], model: Any) -> None:
        self.vocabulary = vocabulary
        self.classes = list(classes)
        weights = np.zeros((len(vocabulary), len(classes)), dtype=np.float32)
        bias = np.full(len(classes), -10.0, dtype=np.float32)
        coef = model.coef_
        if coef.shape[0] == 1:  # two classes: scikit-learn keeps one row, for the second
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-model.intercept_[0] / 2, model.intercept_[0] / 2])
        else:
            intercept = model.intercept_
        for row, label in enumerate(model.classes_):
            weights[:, int(label)] = coef[row]
            bias[int(label)] = intercept[row]
        self.weights, self.bias = weights, bias

    def probabilities(self, features: dict[str, float]) -> np.ndarray:
        scores = self.bias.copy()
        for name, value in features.items():
            index = self.vocabulary.get(name)
            if index is not None:
                scores += value * self.weights[index]
        p = np.exp(scores - scores.max())
        return np.asarray(p / p.sum())


class SlotModel:
    def __init__(self, count_role: _Head, group: _Head, menu_role: _Head) -> None:
        self.count_role = count_role
        self.group = group
        self.menu_role = menu_role

    def read(
        self, words: Sequence[str], slots: Sequence[Slot], hints: Sequence[Sequence[str]]
    ) -> list[SlotReading]:
        readings = []
        for slot, own in zip(slots, hints, strict=True):
            features = slot_features(words, slot, own)
            if slot.kind == "count":
                p = self.count_role.probabilities(features)
                g = self.group.probabilities(features)
                readings.append(
                    SlotReading(
                        slot,
                        COUNT_ROLES[int(p.argmax())],
                        float(p.max()),
                        GROUPS[int(g.argmax())],
                        float(g.max()),
                    )
                )
            else:
                p = self.menu_role.probabilities(features)
                readings.append(SlotReading(slot, MENU_ROLES[int(p.argmax())], float(p.max())))
        return readings


def _fit(rows: Sequence[dict[str, float]], labels: Sequence[int], classes: Sequence[str]) -> _Head:
    vectoriser = DictVectorizer()
    x = vectoriser.fit_transform(rows)
    model = LogisticRegression(C=C_SLOTS, max_iter=3000, class_weight="balanced")
    model.fit(x, list(labels))
    return _Head(dict(vectoriser.vocabulary_), classes, model)


def count_labels(slots: Sequence[Slot], guests: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """Each count's role and group by the labelled guest changes (matched by value, in order)."""
    left = list(guests)
    out: list[tuple[str, str]] = []
    for slot in slots:
        match = None
        for label in left:
            if label.get("total") == slot.value:
                match = ("total", label)
                break
            delta = label.get("delta")
            if delta is not None and abs(delta) == slot.value:
                match = ("more" if delta > 0 else "fewer", label)
                break
        if match is None:
            out.append(("none", "guests"))
        else:
            left.remove(match[1])
            out.append((match[0], match[1].get("group", "guests")))
    return out


def menu_label(slot: Slot, entities: dict[str, Any]) -> str:
    wanted = {*entities.get("proteins", []), *entities.get("upgrades", [])}
    gone = {*entities.get("removed_proteins", []), *entities.get("removed_upgrades", [])}
    if slot.value in gone and slot.value not in wanted:
        return "remove"
    return "want" if slot.value in wanted else "none"


def train_slots(
    examples: Sequence[
        tuple[Sequence[str], Sequence[Slot], Sequence[Sequence[str]], dict[str, Any], bool, bool]
    ],
) -> SlotModel | None:
    """Fit the three heads from (words, slots, hints per slot, labelled entities, whether the
    label asks for a headcount change, whether its menu words' roles are labelled) per
    message."""
    count_rows: list[dict[str, float]] = []
    count_y: list[int] = []
    group_rows: list[dict[str, float]] = []
    group_y: list[int] = []
    menu_rows: list[dict[str, float]] = []
    menu_y: list[int] = []
    for words, slots, hints, labelled, headcount, menu_known in examples:
        counts = [(s, h) for s, h in zip(slots, hints, strict=True) if s.kind == "count"]
        guests = labelled.get("guests") or []
        guests = guests if isinstance(guests, list) else [guests]
        roles = count_labels([s for s, _ in counts], guests if headcount else [])
        for (slot, own), (role, group) in zip(counts, roles, strict=True):
            features = slot_features(words, slot, own)
            count_rows.append(features)
            count_y.append(COUNT_ROLES.index(role))
            if role != "none":
                group_rows.append(features)
                group_y.append(GROUPS.index(group))
        for slot, own in zip(slots, hints, strict=True):
            if slot.kind != "count" and menu_known:
                menu_rows.append(slot_features(words, slot, own))
                menu_y.append(MENU_ROLES.index(menu_label(slot, labelled)))
    if len(set(count_y)) < 2 or len(set(group_y)) < 2 or len(set(menu_y)) < 2:
        return None
    return SlotModel(
        _fit(count_rows, count_y, COUNT_ROLES),
        _fit(group_rows, group_y, GROUPS),
        _fit(menu_rows, menu_y, MENU_ROLES),
    )


def guest_changes(readings: Sequence[SlotReading]) -> list[tuple[int, GuestChange, float]]:
    """The guest changes the counts make, one per group (the first said wins; a total after a
    change of the same group is the customer's own sum), with where and how sure."""
    changes: list[tuple[int, GuestChange, float]] = []
    seen: set[str] = set()
    for r in readings:
        if r.slot.kind != "count" or r.role == "none" or r.group in seen:
            continue
        seen.add(r.group)
        value = int(r.slot.value)
        change = (
            GuestChange(total=value, group=r.group)
            if r.role == "total"
            else GuestChange(delta=value if r.role == "more" else -value, group=r.group)
        )
        changes.append((r.slot.start, change, r.confidence))
    return changes
