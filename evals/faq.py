"""`hibachi eval faq`: how often a customer's question gets the FAQ answer that answers it.

Each question of a labelled set (`evals/data/faq_questions.jsonl`) is texted, as one turn
through the whole agent, by a customer whose party is three weeks out; the reply is searched
for the seeded FAQs' answers. A question is answered right when the reply gives the answer of
the FAQ it is labelled with (or gives its facts in other words: `MARKS`, `COVERS`) and no
other FAQ's; a question no FAQ answers (`faq: null`) is right when the reply gives no FAQ
answer at all. The set is split once into `dev` (what search
and keywords may be tuned on) and `test` (frozen: measured, never tuned on).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from evals.schema import BookingSpec, CustomerSpec, Scenario, Step
from evals.suite import run_all
from knowledge import repository as repo
from knowledge.db import make_engine
from knowledge.service import KnowledgeService, render_answer

QUESTIONS = Path(__file__).parent / "data" / "faq_questions.jsonl"
SPLITS = ("dev", "test")
#: When every question is asked: a weekday afternoon, the party three weeks later.
NOW = datetime.fromisoformat("2026-06-10T14:00:00-07:00")
EVENT = NOW + timedelta(days=21, hours=4)
_SPACE = re.compile(r"\s+")
#: Replies that give a FAQ's facts in the words of another answer: the customer's own booking
#: ("Your chef arrives between 5:40 PM and 5:45 PM") or the policy's reply to a stated diet.
MARKS: dict[str, tuple[str, ...]] = {
    "When does the chef arrive?": ("Your chef arrives between",),
    "How do I pay the remaining balance?": ("; you can pay by",),
    "Do you have vegetarian or vegan options?": (
        "is one of our included proteins, and the rice and vegetables come with every plate",
    ),
    "Can you handle food allergies?": (
        "Let me connect you with our chef to talk through safe options",
    ),
    # the customer's own deadline, from their booking's date
    "When do I need to choose the menu and final guest count?": (
        "protein choices and the final guest count are due by",
    ),
}
#: FAQs whose answer states another's facts too: the price per person gives the kids' price
#: and the minimum; the areas served and the travel fee both give the free miles and the fee.
COVERS: dict[str, tuple[str, ...]] = {
    "How much do kids cost?": ("How much does it cost per person?",),
    "Is there a minimum order for a party?": ("How much does it cost per person?",),
    "Do you charge a travel fee?": ("What areas do you serve?",),
    "What areas do you serve?": ("Do you charge a travel fee?",),
}


class QuestionsError(ValueError):
    """A line of the questions file that is not a labelled question."""


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    faq: str | None  # the FAQ question that answers it; None: no FAQ does
    style: tuple[str, ...]
    split: str


def load(path: Path = QUESTIONS, split: str | None = None) -> list[Question]:
    """The labelled questions of `split` (every one when None), in file order."""
    questions: list[Question] = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row: dict[str, Any] = json.loads(line)
            question = Question(
                id=str(row["id"]),
                text=str(row["text"]),
                faq=row["faq"],
                style=tuple(row.get("style", [])),
                split=str(row["split"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise QuestionsError(f"{path}:{number}: {exc}") from exc
        if question.split not in SPLITS:
            raise QuestionsError(f"{path}:{number}: split must be one of {SPLITS}")
        if split is None or question.split == split:
            questions.append(question)
    return questions


@dataclass(frozen=True)
class Answered:
    question: Question
    reply: str
    outcome: str | None
    given: tuple[str, ...]  # the FAQs whose answers the reply gives

    @property
    def right(self) -> bool:
        """The answer of the FAQ asked about (or of one that states its facts) and nothing of
        another; no answer at all when no FAQ answers the question."""
        expected = self.question.faq
        if expected is None:
            return not self.given
        fitting = {expected, *COVERS.get(expected, ())}
        return bool(self.given) and set(self.given) <= fitting


@dataclass
class FaqReport:
    answered: list[Answered] = field(default_factory=list)

    def _share(self, items: Sequence[Answered]) -> float:
        return sum(a.right for a in items) / len(items) if items else 0.0

    @property
    def answerable(self) -> list[Answered]:
        return [a for a in self.answered if a.question.faq is not None]

    @property
    def unanswerable(self) -> list[Answered]:
        return [a for a in self.answered if a.question.faq is None]

    def figures(self) -> dict[str, Any]:
        answerable, unanswerable = self.answerable, self.unanswerable
        by_style: dict[str, list[Answered]] = defaultdict(list)
        for a in self.answered:
            for style in a.question.style:
                by_style[style].append(a)
        return {
            "questions": len(self.answered),
            "right_answer": round(self._share(answerable), 4),
            "wrong_answer": round(
                sum(bool(a.given) and not a.right for a in answerable) / max(1, len(answerable)), 4
            ),
            "no_answer": round(sum(not a.given for a in answerable) / max(1, len(answerable)), 4),
            "handed_to_team": round(
                sum(a.outcome == "escalated" for a in answerable) / max(1, len(answerable)), 4
            ),
            "unanswerable_left_alone": round(self._share(unanswerable), 4),
            "styles": {s: round(self._share(items), 4) for s, items in sorted(by_style.items())},
        }

    def misses(self) -> Counter[tuple[str | None, str]]:
        """How often each FAQ was answered with another (or nothing: "-")."""
        return Counter(
            (a.question.faq, ", ".join(a.given) or "-") for a in self.answered if not a.right
        )


def scenario_for(question: Question) -> Scenario:
    return Scenario(
        name=f"faq-{question.id}".lower(),
        now=NOW,
        customer=CustomerSpec(name="Dana Lee", phone="+19165550188"),
        booking=BookingSpec(event_at=EVENT, adults=12, kids=2, proteins=["chicken", "steak"]),
        steps=[Step(say=question.text)],
    )


def _flat(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


async def measure(
    url: str, questions: Sequence[Question], on_done: Callable[[str], None] | None = None
) -> FaqReport:
    """Ask every question on the seeded database at `url`, each as a scenario of one step
    (`evals.suite.run_all`: every turn rolled back), and read the replies for FAQ answers."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with async_sessionmaker(engine)() as session:
            charter = await KnowledgeService().charter(session)
            answers = {
                f.question: _flat(render_answer(f.answer, charter.facts))
                for f in await repo.faqs(session, active_only=True)
            }
    finally:
        await engine.dispose()
    scenarios = [(QUESTIONS, scenario_for(q)) for q in questions]
    results = await run_all(url, scenarios, on_run=on_done)
    report = FaqReport()
    for question, runs in zip(questions, results, strict=True):
        step = runs.runs[0].steps[0] if runs.runs[0].steps else None
        reply = _flat(step.reply) if step is not None else ""
        given = tuple(
            q
            for q, answer in answers.items()
            if answer in reply or any(mark in reply for mark in MARKS.get(q, ()))
        )
        outcome = step.outcome if step is not None else None
        report.answered.append(Answered(question, reply, outcome, given))
    return report
