"""The reader: normalise, read by rules, weigh by the learned model, let safety cues win.

`Reader.understand(text, context, vocabulary)` is pure and deterministic:

1. Carrier opt-out words alone win outright; an empty message is "other".
2. The text is normalised (`normalise.py`): shorthand, "2"/"4" as words, misspellings, numbers.
3. The rules (`rules.py`) read the normalised text: requests with their entities and positions.
4. The learned model (`learned.py`) reads the message and each clause, with the rules' reading
   and the conversation's state as features: every intent it gives 0.5 or more is asked for;
   the rules' requests it agrees with keep their entities, intents only it found are placed at
   the clause that carries them most, and a greeting never stands beside a real request.
5. Concern cues (`concerns.py`) win last: a no-show, an illness or injury after the event, a
   billing dispute, a legal threat, a complaint, an allergy or unsafe weather always yields the
   request a person handles, whatever the model thought.

Each request carries the model's probability as its confidence; the policy applies a booking
change only when it is sure (see `agent.nodes.decide`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from agent.understanding import intents as cue
from agent.understanding import rules
from agent.understanding.concerns import INTENT_OF, Concerns
from agent.understanding.learned import Features, LearnedReader, Reading
from agent.understanding.normalise import Lexicon, Normaliser
from agent.understanding.schema import (
    INTENTS,
    Concern,
    Context,
    Entities,
    Intent,
    Request,
    Understanding,
)
from agent.understanding.vocabulary import Vocabulary

log = logging.getLogger(__name__)

MODELS = Path(__file__).resolve().parent / "model"
THRESHOLD = 0.5
#: A booking change is applied without a confirmation question only at this confidence or more.
CONFIDENT = 0.8
#: The least probability with which "only asked about" marks a change as hypothetical.
HYPOTHETICAL_THRESHOLD = 0.5
#: A booking change is applied without a confirmation question only at this confidence or more.
CONFIDENT = 0.8
_QUIET: frozenset[str] = frozenset({"greeting", "other"})
_CONCERN_INTENTS: frozenset[str] = frozenset({"complaint", "no_show"})
_CAPS = re.compile(r"\b[A-Z]{3,}\b")
_PUNCTUATION = re.compile(r"[.,!?;:()\-]+")
_POLITE = re.compile(r"\b(?:please|thanks|thank you|thx)\b")


def model_path(language: str = "en") -> Path:
    return MODELS / f"reader-{language}.joblib"


def hints_for(understanding: Understanding, context: Context, raw: str) -> list[str]:
    """The tokens that tell the model what the rules read and where the conversation stands."""
    hints = [f"rule_{r.intent}" for r in understanding.requests]
    hints.append(f"tone_{understanding.tone}")
    hints.append(f"ctx_pending_{context.pending or 'none'}")
    if context.after_event:
        hints.append("ctx_after_event")
    if len(_CAPS.findall(raw)) >= 2:
        hints.append("shape_caps")
    if "!!" in raw:
        hints.append("shape_bangs")
    if "?" in raw:
        hints.append("shape_question")
    return hints


@dataclass(frozen=True)
class _Clause:
    start: int
    end: int


class Reader:
    """One language's reader: its normaliser, its concern cues and its trained model."""

    def __init__(self, model: LearnedReader | None, language: str = "en") -> None:
        self.model = model
        self.language = language
        self.lexicon = Lexicon.load(language)
        self.concerns = Concerns.load(language)
        self._normalisers: dict[int, tuple[Vocabulary, Normaliser]] = {}

    def normaliser(self, vocabulary: Vocabulary) -> Normaliser:
        cached = self._normalisers.get(id(vocabulary))
        if cached is not None and cached[0] is vocabulary:
            return cached[1]
        words = [a for table in (vocabulary.proteins, vocabulary.upgrades) for a in _all(table)]
        normaliser = Normaliser(self.lexicon, words)
        if len(self._normalisers) >= 8:
            self._normalisers.clear()
        self._normalisers[id(vocabulary)] = (vocabulary, normaliser)
        return normaliser

    def answer(self, text: str) -> str | None:
        """ "yes" or "no" when the whole message answers a yes/no question, else None."""
        words = self.normaliser(Vocabulary()).normalise(text)
        words = _POLITE.sub(" ", _PUNCTUATION.sub(" ", words))
        key = " ".join(words.split())
        if key in self.lexicon.yes_answers:
            return "yes"
        if key in self.lexicon.no_answers:
            return "no"
        return None

    def features(
        self, text: str, context: Context, vocabulary: Vocabulary
    ) -> tuple[str, Understanding, list[int], Features]:
        """The normalised text, the rules' reading of it with positions, and the model's input."""
        normalised = self.normaliser(vocabulary).normalise(text)
        tone = rules.detect_tone(text)
        by_rules, positions = rules.read(normalised, context, vocabulary, tone=tone)
        raw = rules.fold(text)
        return (
            normalised,
            by_rules,
            positions,
            Features.of(normalised, raw, hints_for(by_rules, context, text)),
        )

    def understand(self, text: str, context: Context, vocabulary: Vocabulary) -> Understanding:
        """Read one customer message: its tone, its requests in order, and any concern."""
        folded = rules.fold(text)
        if not folded.strip() or cue.OPT_OUT.match(folded):
            return rules.understand(text, context, vocabulary)
        normalised, by_rules, positions, features = self.features(text, context, vocabulary)
        concern = self.concerns.find(normalised, context.after_event)
        if self.model is None:
            return _with_concern(by_rules, positions, concern, normalised, context)

        clauses = [_Clause(c.start, c.end) for c in cue.split_clauses(normalised)]
        state = [h for h in hints_for(by_rules, context, text) if not h.startswith("rule_")]
        clause_features = [
            Features.of(
                normalised[c.start : c.end],
                normalised[c.start : c.end],
                [
                    f"rule_{r.intent}"
                    for r, p in zip(by_rules.requests, positions, strict=True)
                    if c.start <= p < c.end
                ]
                + state,
            )
            for c in clauses
        ]
        readings = self.model.read([features, *clause_features] if len(clauses) > 1 else [features])
        message = readings[0]
        chosen = [i for i in INTENTS if message.intents[i] >= THRESHOLD]
        if not chosen:
            chosen = [max(INTENTS, key=lambda i: message.intents[i])]
        if len(chosen) > 1:
            chosen = [i for i in chosen if i not in _QUIET] or chosen[:1]

        requests = _place(chosen, by_rules, positions, clauses, readings[1:], message)
        hypothetical = message.intents["hypothetical"] >= HYPOTHETICAL_THRESHOLD
        if hypothetical:
            requests = [
                (p, r.model_copy(update={"entities": _asked_only(r.entities)}))
                if r.intent in ("headcount_change", "menu_selection", "protein_swap")
                else (p, r)
                for p, r in requests
            ]
        tone = message.tone
        placed = Understanding(
            tone=tone,
            requests=[r for _, r in sorted(requests, key=lambda pr: pr[0])],
            source="reader",
        )
        return _with_concern(
            placed,
            [p for p, _ in sorted(requests, key=lambda pr: pr[0])],
            concern,
            normalised,
            context,
        )


#: Which tone of a burst's texts the reply answers: care before matching.
_TONE_WEIGHT = {"frustrated": 4, "anxious": 3, "formal": 2, "casual": 1, "neutral": 0}


def combine(readings: Sequence[Understanding]) -> Understanding:
    """One reading for a burst of texts read one by one: every request in the order sent
    (a greeting or an empty line only when nothing else was asked, each other intent once but
    every guest change, so "2 more adults" then "and 3 more" add up), the most careful tone,
    and the first concern."""
    if len(readings) == 1:
        return readings[0]
    requests: list[Request] = []
    seen: set[str] = set()
    for reading in readings:
        for request in reading.requests:
            if request.intent != "headcount_change" and request.intent in seen:
                continue
            seen.add(request.intent)
            requests.append(request)
    real = [r for r in requests if r.intent not in _QUIET]
    tone = max((r.tone for r in readings), key=lambda t: _TONE_WEIGHT.get(t, 0))
    concern = next((r.concern for r in readings if r.concern is not None), None)
    return Understanding(
        tone=tone,
        requests=real or requests[:1],
        source=readings[0].source,
        concern=concern,
    )


def _all(table: dict[str, list[str]]) -> list[str]:
    return [alias for aliases in table.values() for alias in aliases]


def _asked_only(entities: Entities) -> Entities:
    return entities.model_copy(update={"hypothetical": True})


def _place(
    chosen: Sequence[str],
    by_rules: Understanding,
    positions: Sequence[int],
    clauses: Sequence[_Clause],
    clause_readings: Sequence[Reading],
    message: Reading,
) -> list[tuple[int, Request]]:
    """The chosen intents as requests with positions: the rules' own where they found the intent
    (with its entities), else the start of the clause the model gives the intent most."""
    placed: list[tuple[int, Request]] = []
    for intent in chosen:
        confidence = round(message.intents[intent], 3)
        found = [
            (p, r) for p, r in zip(positions, by_rules.requests, strict=True) if r.intent == intent
        ]
        if found:
            placed += [(p, r.model_copy(update={"confidence": confidence})) for p, r in found]
            continue
        position = 0
        if clause_readings:
            best = max(range(len(clauses)), key=lambda k: clause_readings[k].intents[intent])
            position = clauses[best].start
        placed.append((position, Request(intent=intent, confidence=confidence)))
    return placed


def _with_concern(
    understanding: Understanding,
    positions: Sequence[int],
    concern: tuple[Concern, int] | None,
    normalised: str,
    context: Context,
) -> Understanding:
    """The reading with the concern's request added when it is missing (cues that must win)."""
    if concern is None:
        return understanding
    kind, position = concern
    intent: Intent = INTENT_OF[kind]  # type: ignore[assignment]
    requests = list(understanding.requests)
    where = list(positions)
    if kind == "allergy":
        serious = Entities(dietary="serious")
        index = next((k for k, r in enumerate(requests) if r.intent == intent), None)
        if index is None:
            requests.append(Request(intent=intent, entities=serious))
            where.append(position)
        else:
            requests[index] = requests[index].model_copy(update={"entities": serious})
    else:
        # One case per problem: the concern's request stands for the message's complaints.
        kept = [
            (p, r)
            for p, r in zip(where, requests, strict=True)
            if r.intent not in _CONCERN_INTENTS or r.intent == intent
        ]
        where, requests = [p for p, _ in kept], [r for _, r in kept]
        if all(r.intent != intent for r in requests):
            requests.append(Request(intent=intent))
            where.append(position)
    ordered = [r for _, r in sorted(zip(where, requests, strict=True), key=lambda pr: pr[0])]
    real = [r for r in ordered if r.intent not in _QUIET]
    return understanding.model_copy(update={"requests": real or ordered, "concern": kind})


@cache
def default_reader(language: str = "en") -> Reader:
    """The process's reader: the trained model from `hibachi reader train`, trained now (and
    saved) when there is none or it was trained on another corpus."""
    from agent.understanding import training

    return Reader(training.load_or_train(language), language)
