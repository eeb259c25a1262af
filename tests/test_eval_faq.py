"""`hibachi eval faq`: labelled customer questions texted to the whole agent, the replies
scored by the FAQ answer they give."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from evals import faq
from evals.faq import Question, QuestionsError
from tests.conftest import clone_database

ROOT = Path(__file__).resolve().parents[1]
SEEDED = {
    f["question"]
    for f in yaml.safe_load((ROOT / "knowledge" / "seed" / "default.yaml").read_text())["faqs"]
}


@pytest.fixture(scope="module")
async def faq_url(pg_server: Any, template_url: str) -> str:
    return await clone_database(pg_server, template_url, "hibachi_eval_faq_tests")


def question(text: str, answer: str | None, qid: str = "t-1") -> Question:
    return Question(id=qid, text=text, faq=answer, style=("plain",), split="dev")


class TestQuestions:
    def test_the_set_is_split_once_and_labelled_with_seeded_faqs(self) -> None:
        everything = faq.load()
        dev, test = faq.load(split="dev"), faq.load(split="test")
        assert len(dev) + len(test) == len(everything) >= 300
        assert len({q.id for q in everything}) == len(everything)
        assert len({q.text.lower() for q in everything}) == len(everything)
        assert {q.faq for q in everything} - {None} <= SEEDED
        assert sum(q.faq is None for q in test) >= 20  # questions no FAQ answers

    def test_a_bad_line_is_named_with_its_number(self, tmp_path: Path) -> None:
        path = tmp_path / "q.jsonl"
        good = {"id": "a", "text": "venmo ok?", "faq": None, "style": [], "split": "dev"}
        path.write_text(json.dumps(good) + "\n" + json.dumps(good | {"split": "train"}) + "\n")
        with pytest.raises(QuestionsError, match=r"q\.jsonl:2: split"):
            faq.load(path)


class TestMeasure:
    async def test_replies_are_scored_by_the_faq_answer_they_give(self, faq_url: str) -> None:
        asked = [
            question("whats ur cancellation policy", "What is your cancellation policy?", "t-1"),
            # labelled with another FAQ: the reply's answer is the cancellation policy's
            question("whats ur cancel policy", "How do I book a party?", "t-2"),
            question("asdkjh qwe zzz", None, "t-3"),
            # answered from the booking: its own date, the FAQ's fact in other words (MARKS)
            question(
                "when do u need our protein picks by",
                "When do I need to choose the menu and final guest count?",
                "t-4",
            ),
        ]
        report = await faq.measure(faq_url, asked)
        right = {a.question.id: a.right for a in report.answered}
        assert right == {"t-1": True, "t-2": False, "t-3": True, "t-4": True}
        assert report.answered[1].given == ("What is your cancellation policy?",)
        figures = report.figures()
        assert figures["right_answer"] == 0.6667 and figures["wrong_answer"] == 0.3333
        assert figures["unanswerable_left_alone"] == 1.0
        assert report.misses() == {
            ("How do I book a party?", "What is your cancellation policy?"): 1
        }


def test_an_unknown_split_is_a_clear_error() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from evals.cli import main; main()", "eval", "faq", "--split", "x"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode != 0
    assert "unknown split 'x'; use dev, test or all" in done.stdout + done.stderr
