"""The evaluation harness: scenarios replayed against the real graph, database and scheduler,
each in a rolled-back transaction; every wrong expectation fails with the step, the field,
what was expected and what happened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import respx
import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from agent.llm import build_llm
from agent.runtime import AgentRuntime, postgres_checkpointer
from evals.record import record, to_yaml
from evals.report import ScenarioRuns, report_json, summarize
from evals.runner import Harness, ScenarioResult
from evals.schema import Scenario, load_scenario
from knowledge.db import make_engine
from knowledge.infra.clock import FrozenClock
from knowledge.infra.settings import Settings
from knowledge.models import Customer, Message
from knowledge.service import KnowledgeService
from tests.conftest import clone_database
from tests.test_agent_llm import BASE, completion, reading

ROOT = Path(__file__).resolve().parents[1]

CANCEL = {
    "name": "cancel-two-days-out",
    "now": "2026-06-10T15:00:00-07:00",
    "customer": {"name": "Dana Lee", "phone": "+19165550101"},
    "booking": {"event_at": "2026-06-12T18:00:00-07:00", "adults": 12, "kids": 3},
    "steps": [
        {
            "say": "hey we need to cancel, family emergency",
            "expect": {
                "outcome": "escalated",
                "intent": "cancellation",
                "priority": "HIGH",
                "reply_contains": ["non-refundable"],
                "booking": {"adults": 12, "status": "confirmed"},
                "escalations_open": 1,
                "notified": ["management_email"],
            },
        }
    ],
}


def scenario(data: dict[str, Any]) -> Scenario:
    return Scenario.model_validate(data)


@pytest.fixture(scope="module")
async def eval_url(pg_server: Any, template_url: str) -> str:
    return await clone_database(pg_server, template_url, "hibachi_eval_tests")


@pytest.fixture(scope="module")
async def harness(eval_url: str) -> AsyncIterator[Harness]:
    engine = make_engine(eval_url, pool_size=2)
    async with postgres_checkpointer(eval_url, max_size=2) as saver:
        yield Harness(engine, saver)
    await engine.dispose()


async def customers(harness: Harness) -> int:
    async with harness.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(Customer)) or 0)


class TestReplay:
    async def test_a_true_scenario_passes_and_leaves_nothing_behind(self, harness: Harness) -> None:
        before = await customers(harness)
        first = await harness.run(scenario(CANCEL), "cancel.yaml")
        again = await harness.run(scenario(CANCEL), "cancel.yaml")
        assert first.passed and again.passed, first.first_failure
        step = first.steps[0]
        assert (step.outcome, step.intent, step.priority) == ("escalated", "cancellation", "HIGH")
        assert "non-refundable" in step.reply.lower()
        assert step.latency_ms is not None and step.latency_ms > 0
        assert await customers(harness) == before

    async def test_every_wrong_field_fails_with_expected_and_actual(self, harness: Harness) -> None:
        wrong = json.loads(json.dumps(CANCEL))
        wrong["steps"][0]["expect"] = {
            "outcome": "handled",
            "intent": "date_change",
            "tone": "formal",
            "priority": "LOW",
            "reply_contains": ["full refund"],
            "reply_not_contains": ["non-refundable"],
            "reply_matches": "^refund granted",
            "booking": {"adults": 40, "status": "cancelled", "proteins": ["lobster"]},
            "escalations_open": 0,
            "notified": ["team_sms"],
            "sent": ["7_day"],
        }
        result = await harness.run(scenario(wrong), "wrong.yaml")
        assert not result.passed
        failures = {f.field: f for f in result.steps[0].failures}
        assert set(failures) == {
            "outcome",
            "intent",
            "tone",
            "priority",
            "reply_contains",
            "reply_not_contains",
            "reply_matches",
            "booking.adults",
            "booking.status",
            "booking.proteins",
            "escalations_open",
            "notified",
            "sent",
        }
        assert (failures["outcome"].expected, failures["outcome"].actual) == (
            "handled",
            "escalated",
        )
        assert (failures["booking.adults"].expected, failures["booking.adults"].actual) == (40, 12)
        assert failures["escalations_open"].actual == 1
        assert failures["notified"].actual == ["management_email"]
        assert failures["sent"].actual == []
        assert "non-refundable" in failures["reply_contains"].actual.lower()

    async def test_the_clock_runs_the_journey_each_job_at_its_time(self, harness: Harness) -> None:
        journey = {
            "name": "journey",
            "now": "2026-06-01T10:00:00-07:00",
            "booking": {"event_at": "2026-06-20T18:00:00-07:00", "adults": 10},
            "steps": [
                {"event": "booking_created", "expect": {"sent": ["confirmation"]}},
                {"advance": "16d", "expect": {"sent": ["7_day", "4_day", "menu_deadline"]}},
                {"say": "thanks, talk soon", "expect": {"escalations_open": 1}},
            ],
        }
        result = await harness.run(scenario(journey), "journey.yaml")
        assert result.passed, result.first_failure

    async def test_an_unknown_addon_override_fails_the_scenario_not_the_run(
        self, harness: Harness
    ) -> None:
        data = json.loads(json.dumps(CANCEL)) | {"knowledge": {"addon_prices": {"caviar": 99}}}
        result = await harness.run(scenario(data), "caviar.yaml")
        assert not result.passed and result.error is not None
        assert result.error.field == "knowledge.addon_prices.caviar"

    async def test_overrides_change_what_the_agent_says(self, harness: Harness) -> None:
        data = {
            "name": "lobster-price",
            "now": "2026-06-01T10:00:00-07:00",
            "booking": {"event_at": "2026-06-20T18:00:00-07:00"},
            "knowledge": {"addon_prices": {"lobster": 27}},
            "steps": [{"say": "how much is lobster?", "expect": {"reply_contains": ["$27"]}}],
        }
        result = await harness.run(scenario(data), "lobster.yaml")
        assert result.passed, result.first_failure

    async def test_a_person_takes_the_thread_and_hands_it_back(self, harness: Harness) -> None:
        data = {
            "name": "takeover",
            "now": "2026-06-10T15:00:00-07:00",
            "booking": {"event_at": "2026-06-12T18:00:00-07:00"},
            "steps": [
                {"say": "we need to cancel", "expect": {"outcome": "escalated"}},
                {"agent": "claim"},
                {"say": "hello?", "expect": {"outcome": "silent", "reply_matches": "^$"}},
                {
                    "agent": "reply",
                    "text": "Hi Dana, Kim here from the office.",
                    "expect": {"reply_contains": ["Kim here"]},
                },
                {"agent": "resolve", "text": "refund discussed", "expect": {"sent": []}},
                {"say": "what time do you arrive?", "expect": {"outcome": "handled"}},
            ],
        }
        result = await harness.run(scenario(data), "takeover.yaml")
        assert result.passed, result.first_failure
        assert result.steps[4].reply == ""  # resolving sends the customer nothing

    async def test_a_reply_takes_the_case_and_is_signed_as_in_the_console(
        self, harness: Harness
    ) -> None:
        data = {
            "name": "reply-first",
            "now": "2026-06-10T15:00:00-07:00",
            "booking": {"event_at": "2026-06-12T18:00:00-07:00"},
            "steps": [
                {"say": "we need to cancel", "expect": {"outcome": "escalated"}},
                {
                    "agent": "reply",
                    "text": "Calling you now.",
                    "expect": {"reply_matches": "\\ACalling you now\\.\\n– Agent\\Z"},
                },
                {"say": "ok thanks", "expect": {"outcome": "silent"}},
            ],
        }
        result = await harness.run(scenario(data), "reply-first.yaml")
        assert result.passed, result.first_failure


class TestBursts:
    BURST: ClassVar[dict[str, Any]] = {
        "name": "burst-greeting-then-question",
        "now": "2026-06-10T15:00:00-07:00",
        "customer": {"name": "Amy Zhou", "phone": "+19165550226", "channel": "sms"},
        "booking": {"event_at": "2026-07-09T18:00:00-07:00", "adults": 12},
        "steps": [
            {
                "burst": ["hey quick question", "how much do kids cost?"],
                "expect": {"outcome": "handled", "replies": 1, "reply_contains": ["$30"]},
            }
        ],
    }

    async def test_texts_sent_together_get_one_reply_answering_them_all(
        self, harness: Harness
    ) -> None:
        result = await harness.run(scenario(self.BURST), "burst.yaml")
        assert result.passed, result.first_failure

    async def test_the_same_texts_one_by_one_get_a_reply_each(self, harness: Harness) -> None:
        apart = json.loads(json.dumps(self.BURST))
        texts = apart["steps"][0]["burst"]
        apart["steps"] = [{"say": t, "expect": {"replies": 1}} for t in texts]
        result = await harness.run(scenario(apart), "apart.yaml")
        assert result.passed, result.first_failure
        assert "$30" not in result.steps[0].reply

    def test_a_burst_needs_two_texts(self) -> None:
        one = json.loads(json.dumps(self.BURST))
        one["steps"][0]["burst"] = ["just one"]
        with pytest.raises(ValueError, match="burst"):
            scenario(one)


class TestSummary:
    def test_figures_are_computed_from_the_steps(self) -> None:
        from evals.runner import Failure, StepResult
        from evals.schema import Expect

        def turn(outcome: str, expected: str, intent: str, want: str, ms: float) -> StepResult:
            step = StepResult(index=0, action="say", outcome=outcome, intent=intent)
            step.expect = Expect(outcome=expected, intent=want)  # type: ignore[arg-type]
            step.latency_ms = ms
            if outcome != expected:
                step.failures.append(Failure("outcome", expected, outcome))
            return step

        ok = ScenarioResult(
            "a",
            "a.yaml",
            2,
            [
                turn("escalated", "escalated", "cancellation", "cancellation", 10),
                turn("handled", "handled", "faq", "faq", 20),
            ],
        )
        bad = ScenarioResult(
            "b",
            "b.yaml",
            2,
            [
                turn("escalated", "handled", "faq", "menu_selection", 30),
                turn("handled", "escalated", "faq", "faq", 40),
            ],
        )
        summary = summarize([ScenarioRuns("a", "a.yaml", [ok]), ScenarioRuns("b", "b.yaml", [bad])])
        assert summary["scenario_pass_rate"] == 0.5
        assert summary["step_pass_rate"] == 0.5
        assert summary["ai_handled_share"] == 0.5
        assert summary["escalation_precision"] == 0.5  # 1 true of 2 escalated
        assert summary["escalation_recall"] == 0.5  # 1 of 2 that should have been
        assert summary["intent_accuracy"] == 0.75
        assert summary["turn_latency_p50_ms"] == 25.0
        report = report_json([ScenarioRuns("b", "b.yaml", [bad])])
        assert report["scenarios"][0]["steps"][0]["failures"] == [
            {"field": "outcome", "expected": "handled", "actual": "escalated"}
        ]

    def test_pass_k_needs_every_run(self) -> None:
        good = ScenarioResult("a", "a.yaml", 0)
        broken = ScenarioResult("a", "a.yaml", 0)
        from evals.runner import Failure

        broken.error = Failure("error", "x", "y")
        summary = summarize([ScenarioRuns("a", "a.yaml", [good, broken, good])])
        assert summary["repeat"] == 3
        assert summary["pass_k"] == 0.0
        assert summary["scenario_pass_rate"] == round(2 / 3, 4)


class TestLlmMode:
    @respx.mock
    async def test_the_llm_path_is_exercised_and_policy_still_decides(
        self, harness: Harness
    ) -> None:
        phrased = (
            "So sorry to hear that, Dana. Since the party is this week, the $100 deposit is "
            "non-refundable; management will call you shortly."
        )
        route = respx.post(f"{BASE}/chat/completions").respond(json=completion(reading(phrased)))
        settings = Settings(
            openai_api_key="sk-test", openai_base_url=BASE, openai_model="test-model"
        )
        llm_harness = Harness(harness.engine, harness.checkpointer, llm=build_llm(settings))
        result = await llm_harness.run(scenario(CANCEL), "cancel.yaml")
        assert route.called
        assert result.passed, result.first_failure
        assert result.steps[0].reply.startswith("So sorry to hear that")


class TestRecord:
    async def test_a_stored_conversation_becomes_a_passing_scenario(
        self, harness: Harness, eval_url: str, tmp_path: Path
    ) -> None:
        from datetime import UTC, datetime, timedelta

        from tests.factories import make_booking, make_customer

        clock = FrozenClock(datetime.now(UTC))
        sessions = async_sessionmaker(harness.engine, expire_on_commit=False)
        async with sessions() as session:
            customer = await make_customer(session, name="Rae Kim", phone="+19165550177")
            await make_booking(
                session,
                customer,
                event_at=clock.now() + timedelta(days=2),
                created_at=clock.now() - timedelta(days=10),
                adults=8,
            )
            await session.commit()
        runtime = AgentRuntime(sessions, KnowledgeService(clock=clock), clock, harness.checkpointer)
        await runtime.receive("+19165550177", "how much is lobster?")
        last = await runtime.receive("+19165550177", "we need to cancel the party")
        async with sessions() as session:
            data = await record(session, last.conversation_id, name="rae")
        path = tmp_path / "rae.yaml"
        path.write_text(to_yaml(data))
        recorded = load_scenario(path)
        assert [s.say for s in recorded.steps if s.say] == [
            "how much is lobster?",
            "we need to cancel the party",
        ]
        assert recorded.steps[-1].expect.outcome == "escalated"
        assert recorded.steps[-1].expect.priority is not None
        result = await harness.run(recorded, path)
        assert result.passed, result.first_failure
        async with sessions() as session:
            count = await session.scalar(select(func.count()).select_from(Message))
        assert count and count >= 4


class TestCommand:
    def test_the_command_prints_the_table_writes_json_and_fails_on_a_failure(
        self, tmp_path: Path
    ) -> None:
        folder = tmp_path / "scenarios"
        folder.mkdir()
        (folder / "good.yaml").write_text(yaml.safe_dump(CANCEL))
        bad = json.loads(json.dumps(CANCEL)) | {"name": "bad"}
        bad["steps"][0]["expect"] = {"priority": "LOW"}
        (folder / "bad.yaml").write_text(yaml.safe_dump(bad))
        (folder / "broken.yaml").write_text("name: broken\nnow: yesterday\nsteps: []\n")
        report = tmp_path / "report.json"
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"COLUMNS": "250"}
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "from evals.cli import main; main()",
                "eval",
                str(folder),
                "--report",
                "json",
                str(report),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=180,
        )
        assert done.returncode == 1, done.stderr
        assert "step 0 priority: expected LOW · actual HIGH" in done.stdout
        assert "broken" in done.stdout and "now" in done.stdout
        assert "scenarios: 1/3 passed" in done.stdout
        data = json.loads(report.read_text())
        assert set(data["summary"]) >= {
            "scenario_pass_rate",
            "step_pass_rate",
            "ai_handled_share",
            "escalation_precision",
            "escalation_recall",
            "intent_accuracy",
            "turn_latency_p50_ms",
            "turn_latency_p95_ms",
        }
        by_name = {s["name"]: s for s in data["scenarios"]}
        assert by_name["cancel-two-days-out"]["passed"] is True
        assert by_name["bad"]["steps"][0]["failures"] == [
            {"field": "priority", "expected": "LOW", "actual": "HIGH"}
        ]
        assert by_name["broken"]["passed"] is False

    def test_filters_that_match_nothing_are_an_error(self, tmp_path: Path) -> None:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "from evals.cli import main; main()",
                "eval",
                str(ROOT / "evals" / "scenarios"),
                "-k",
                "no-such-scenario-name",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
        assert done.returncode == 2
        assert "no scenario matches" in done.stderr


class TestLlmCommand:
    def test_eval_llm_runs_the_configured_model(
        self, pg_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`hibachi eval --llm` builds the model from the settings; respx plays the model."""
        from typer.testing import CliRunner

        from evals.cli import app
        from knowledge.infra import embedded

        folder = tmp_path / "scenarios"
        folder.mkdir()
        (folder / "cancel.yaml").write_text(yaml.safe_dump(CANCEL))
        monkeypatch.setenv("DATABASE_URL", embedded.server_url(pg_server, "postgres"))
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", BASE)
        monkeypatch.setenv("OPENAI_MODEL", "test-model")
        phrased = "So sorry, Dana. The $100 deposit is non-refundable; management will call you."
        report = tmp_path / "report.json"
        with respx.mock:
            route = respx.post(f"{BASE}/chat/completions").respond(
                json=completion(reading(phrased))
            )
            result = CliRunner().invoke(
                app,
                ["eval", str(folder), "--llm", "--repeat", "2", "--report", "json", str(report)],
            )
        assert result.exit_code == 0, result.output
        assert route.call_count == 2  # one call per customer turn, two runs
        data = json.loads(report.read_text())
        assert data["summary"]["repeat"] == 2 and data["summary"]["pass_k"] == 1.0
        assert data["scenarios"][0]["steps"][0]["observed"]["reply"] == phrased

    def test_eval_llm_without_a_model_is_a_clear_error(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from typer.testing import CliRunner

        from evals.cli import app

        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
        (tmp_path / "cancel.yaml").write_text(yaml.safe_dump(CANCEL))
        result = CliRunner().invoke(app, ["eval", str(tmp_path), "--llm"])
        assert result.exit_code == 2
        assert "--llm needs OPENAI_API_KEY" in result.output


class TestSelection:
    def test_tags_and_names_pick_scenarios(self) -> None:
        from evals.suite import Selection, load_all

        folder = ROOT / "evals" / "scenarios"
        everything = load_all([folder], Selection())
        tagged = load_all([folder], Selection(tags={"cancellation"}))
        named = load_all([folder], Selection(name="takeover"))
        assert not everything.broken and len(everything.scenarios) >= 60
        assert 0 < len(tagged.scenarios) < len(everything.scenarios)
        assert all("cancellation" in s.tags for _, s in tagged.scenarios)
        assert named.scenarios and all("takeover" in s.name for _, s in named.scenarios)
        assert load_all([folder], Selection(tags={"no-such-tag"})).scenarios == []
