"""The learned part of the reader: intents (several per message) and tone, from examples.

Features, all from the normalised text: word 1-2-grams (every number one shape), character
2-5-grams inside word boundaries, and tokens for what the rules read (`rule_cancellation`,
`tone_anxious`) and for the conversation's state (`ctx_pending_menu`, `ctx_after_event`). The
rules' reading is a feature, not a verdict: the model learns from the corpus where to trust it.
Intents are one logistic regression per intent (a message can ask several things); tone is one
multinomial regression.

Prediction computes the features with the vectorisers' own analysers and weights but skips
scikit-learn's per-call input checks, which cost ten times the arithmetic (`vector`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from agent.understanding.schema import INTENTS, TONES, BookingTopic
from agent.understanding.slots import SlotModel

#: The saved model's layout; a model of another is retrained. 2: the slot reader reads people
#: named without a number (SlotModel.person_role). 3: the booking_question intent. 4: the topics
#: a booking question asks. 6: the word features read every number as one shape.
FORMAT = 6
#: What the per-label models predict: every intent, and whether a change is only asked about.
LABELS: tuple[str, ...] = (*INTENTS, "hypothetical")
#: What a booking question asks about (one probability each; a question may ask several).
TOPICS: tuple[str, ...] = BookingTopic.__args__  # type: ignore[attr-defined]
#: The priority a person must get a message at (the corpus's `safety`), "none" for most.
SAFETY: tuple[str, ...] = ("none", "MEDIUM", "HIGH", "URGENT")
C_SAFETY = 4.0
C_INTENTS = 8.0
C_TONE = 4.0
C_TOPICS = 4.0


@dataclass(frozen=True)
class Reading:
    """What the model says of one text: each intent's probability, and the tone's."""

    intents: dict[str, float]  # every label of LABELS with its probability
    tone: str
    tone_probability: float
    safety: dict[str, float] = field(default_factory=dict)  # SAFETY level -> probability
    topics: dict[str, float] = field(default_factory=dict)  # TOPICS -> probability

    def at_least(self, level: str) -> float:
        """The probability that the message needs a person at `level` or higher."""
        return sum(self.safety.get(s, 0.0) for s in SAFETY[SAFETY.index(level) :])


#: A number's digits, read by the word features as one shape ("we're 18 now" and "we're 23 now"
#: are one message to the intent model; "the 28th" stays an ordinal, "5pm" a time). The
#: character features keep them: cross-validated, folding those too cost intents 0.4 points.
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Features:
    """The inputs of one text: its normalised words with the hints, and its folded raw form
    (the characters keep what normalising hides: shorthand, emoji, misspellings)."""

    words: str
    chars: str

    @classmethod
    def of(cls, normalised: str, raw: str, hints: Sequence[str]) -> Features:
        words = _DIGITS.sub("9", normalised)
        return cls(words + " " + " ".join(hints) if hints else words, raw)


class LearnedReader:
    """Weights and vocabularies of a trained reader, with a fast predict."""

    def __init__(
        self,
        words: TfidfVectorizer,
        chars: TfidfVectorizer,
        intent_weights: np.ndarray,
        intent_bias: np.ndarray,
        tone_weights: np.ndarray,
        tone_bias: np.ndarray,
        provenance: dict[str, Any],
        safety_weights: np.ndarray | None = None,
        safety_bias: np.ndarray | None = None,
        slots: SlotModel | None = None,
        topic_weights: np.ndarray | None = None,
        topic_bias: np.ndarray | None = None,
    ) -> None:
        self.words = words
        self.chars = chars
        self.intent_weights = intent_weights  # (features, intents)
        self.intent_bias = intent_bias
        self.tone_weights = tone_weights  # (features, tones)
        self.tone_bias = tone_bias
        self.provenance = provenance
        self.safety_weights = safety_weights  # (features, SAFETY)
        self.safety_bias = safety_bias
        self.slots = slots
        self.topic_weights = topic_weights  # (features, TOPICS)
        self.topic_bias = topic_bias
        self._prepare()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_parts", None)  # rebuilt from the vectorisers on load
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._prepare()

    def _prepare(self) -> None:
        """The vectorisers' own analysers, vocabularies and idf weights, for `vector`."""
        self._parts = [
            (v.build_analyzer(), v.vocabulary_, v.idf_.astype(np.float32), offset)
            for v, offset in ((self.words, 0), (self.chars, len(self.words.vocabulary_)))
        ]

    def vector(self, item: Features) -> tuple[np.ndarray, np.ndarray]:
        """The item's non-zero features (indices, values), exactly as the vectorisers' own
        `transform` computes them (sublinear tf times idf, each part l2-normalised), without
        their per-call input checks, which cost ten times the arithmetic."""
        indices: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for (analyse, vocabulary, idf, offset), text in zip(
            self._parts, (item.words, item.chars), strict=True
        ):
            counts: dict[int, int] = {}
            for gram in analyse(text):
                index = vocabulary.get(gram)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            if not counts:
                continue
            at = np.fromiter(counts, dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
            weight = (1.0 + np.log(tf)) * idf[at]
            norm = float(np.sqrt(np.dot(weight, weight)))
            indices.append(at + offset)
            values.append(weight / norm if norm else weight)
        if not indices:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(indices), np.concatenate(values)

    def read(self, items: Sequence[Features]) -> list[Reading]:
        """One reading per text (a message, then its clauses)."""
        readings = []
        for item in items:
            at, value = self.vector(item)
            intent_p = 1.0 / (1.0 + np.exp(-(value @ self.intent_weights[at] + self.intent_bias)))
            tone_scores = value @ self.tone_weights[at] + self.tone_bias
            tone_p = np.exp(tone_scores - tone_scores.max())
            tone_p /= tone_p.sum()
            best = int(tone_p.argmax())
            safety: dict[str, float] = {}
            if self.safety_weights is not None and self.safety_bias is not None:
                scores = value @ self.safety_weights[at] + self.safety_bias
                p = np.exp(scores - scores.max())
                safety = dict(zip(SAFETY, (p / p.sum()).tolist(), strict=True))
            topics: dict[str, float] = {}
            if self.topic_weights is not None and self.topic_bias is not None:
                z = value @ self.topic_weights[at] + self.topic_bias
                topics = dict(zip(TOPICS, (1.0 / (1.0 + np.exp(-z))).tolist(), strict=True))
            readings.append(
                Reading(
                    intents=dict(zip(LABELS, intent_p.tolist(), strict=True)),
                    tone=TONES[best],
                    tone_probability=float(tone_p[best]),
                    safety=safety,
                    topics=topics,
                )
            )
        return readings

    def read_slowly(self, items: Sequence[Features]) -> list[Reading]:
        """`read` through scikit-learn's own transforms: the reference the fast path matches."""
        x = sp.hstack(
            [
                self.words.transform([f.words for f in items]),
                self.chars.transform([f.chars for f in items]),
            ],
            format="csr",
        )
        intent_p = 1.0 / (1.0 + np.exp(-(np.asarray(x @ self.intent_weights) + self.intent_bias)))
        tone_scores = np.asarray(x @ self.tone_weights) + self.tone_bias
        return [
            Reading(
                intents=dict(zip(LABELS, intent_p[row].tolist(), strict=True)),
                tone=TONES[int(tone_scores[row].argmax())],
                tone_probability=0.0,
            )
            for row in range(x.shape[0])
        ]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        joblib.dump(self, tmp, compress=3)
        tmp.replace(path)
        path.with_suffix(".json").write_text(json.dumps(self.provenance, indent=2) + "\n")

    @staticmethod
    def load(path: Path) -> LearnedReader:
        model = joblib.load(path)
        if not isinstance(model, LearnedReader):
            raise TypeError(f"{path} does not hold a trained reader")
        return model


def _per_label(
    x: Any, labels: Sequence[Sequence[str]], names: Sequence[str], c: float
) -> tuple[np.ndarray, np.ndarray]:
    """One logistic regression per name (a row may carry several), as weight and bias columns.
    A name no row carries, or every row does, keeps a bias far below zero."""
    weights = np.zeros((x.shape[1], len(names)), dtype=np.float32)
    bias = np.full(len(names), -10.0, dtype=np.float32)
    for column, name in enumerate(names):
        y = np.array([name in row for row in labels], dtype=int)
        if 0 < y.sum() < len(y):
            model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
            model.fit(x, y)
            weights[:, column] = model.coef_[0]
            bias[column] = model.intercept_[0]
    return weights, bias


def _multinomial(
    x: Any, labels: Sequence[int], classes: int, c: float
) -> tuple[np.ndarray, np.ndarray]:
    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    model.fit(x, list(labels))
    weights = np.zeros((x.shape[1], classes), dtype=np.float32)
    bias = np.full(classes, -10.0, dtype=np.float32)
    for row, label in enumerate(model.classes_):
        weights[:, int(label)] = model.coef_[row]
        bias[int(label)] = model.intercept_[row]
    return weights, bias


def train(
    items: Sequence[Features],
    intents: Sequence[Sequence[str]],
    tones: Sequence[str],
    provenance: dict[str, Any],
    safety: Sequence[str] | None = None,
    slots: SlotModel | None = None,
    topics: Sequence[Sequence[str] | None] | None = None,
) -> LearnedReader:
    """Fit the vectorisers and both models; deterministic for the same inputs. `intents` holds
    each message's labels from LABELS."""
    started = time.perf_counter()
    words = TfidfVectorizer(
        analyzer="word",
        ngram_range=(1, 2),
        sublinear_tf=True,
        min_df=1,
        token_pattern=r"(?u)\b[\w']+\b|[^\w\s]",
        lowercase=False,
        dtype=np.float32,
    )
    chars = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        sublinear_tf=True,
        min_df=2,
        lowercase=False,
        dtype=np.float32,
    )
    x = sp.hstack(
        [
            words.fit_transform([f.words for f in items]),
            chars.fit_transform([f.chars for f in items]),
        ],
        format="csr",
    )
    n_features = x.shape[1]

    intent_weights, intent_bias = _per_label(x, intents, LABELS, C_INTENTS)

    tone_weights, tone_bias = _multinomial(x, [TONES.index(t) for t in tones], len(TONES), C_TONE)
    safety_weights = safety_bias = None
    if safety is not None:
        levels = [SAFETY.index(s) for s in safety]
        safety_weights, safety_bias = _multinomial(x, levels, len(SAFETY), C_SAFETY)

    topic_weights = topic_bias = None
    # Learned from the booking questions alone: what each one asks, never whether it is one.
    rows = [k for k, asked in enumerate(topics or []) if asked]
    if topics is not None and rows:
        asked = [topics[k] or () for k in rows]
        topic_weights, topic_bias = _per_label(x[rows], asked, TOPICS, C_TOPICS)

    provenance = {
        **provenance,
        "format": FORMAT,
        "scikit_learn": sklearn.__version__,
        "features": int(n_features),
        "training_messages": len(items),
        "training_seconds": round(time.perf_counter() - started, 1),
    }
    return LearnedReader(
        words,
        chars,
        intent_weights,
        intent_bias,
        tone_weights,
        tone_bias,
        provenance,
        safety_weights,
        safety_bias,
        slots,
        topic_weights,
        topic_bias,
    )
