"""What a run of scenarios adds up to: the summary figures, the JSON report and the table."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from evals.runner import Failure, ScenarioResult, StepResult

CLIP = 160  # characters of an actual value shown in the table


@dataclass
class ScenarioRuns:
    """One scenario's K runs (K = --repeat)."""

    name: str
    file: str
    runs: list[ScenarioResult]

    @property
    def passed(self) -> bool:
        return all(run.passed for run in self.runs)

    @property
    def shown(self) -> ScenarioResult:
        """The run to show: the first that failed, else the last."""
        return next((run for run in self.runs if not run.passed), self.runs[-1])


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _percentile(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 1)


def summarize(results: list[ScenarioRuns]) -> dict[str, Any]:
    """The figures over every run of every scenario.

    - scenario_pass_rate: runs that passed every step / runs
    - pass_k: scenarios whose K runs all passed / scenarios (K = repeat)
    - step_pass_rate: steps that passed / steps
    - ai_handled_share: customer turns handled / customer turns handled or escalated
    - escalation_precision, escalation_recall: over customer turns that state an outcome,
      "escalated" as the positive class
    - intent_accuracy: customer turns whose intent matched / turns that state an intent
    """
    runs = [run for scenario in results for run in scenario.runs]
    steps = [step for run in runs for step in run.steps]
    turns = [step for step in steps if step.action in ("say", "burst")]
    answered = [t for t in turns if t.outcome in ("handled", "escalated")]
    judged = [t for t in turns if t.expect.outcome is not None]
    tp = sum(1 for t in judged if t.expect.outcome == "escalated" and t.outcome == "escalated")
    fp = sum(1 for t in judged if t.expect.outcome != "escalated" and t.outcome == "escalated")
    fn = sum(1 for t in judged if t.expect.outcome == "escalated" and t.outcome != "escalated")
    with_intent = [t for t in turns if t.expect.intent is not None]
    latencies = [t.latency_ms for t in turns if t.latency_ms is not None]
    return {
        "scenarios": len(results),
        "runs": len(runs),
        "repeat": max((len(s.runs) for s in results), default=0),
        "scenarios_passed": sum(1 for s in results if s.passed),
        "scenario_pass_rate": _share(sum(1 for r in runs if r.passed), len(runs)),
        "pass_k": _share(sum(1 for s in results if s.passed), len(results)),
        "steps": len(steps),
        "step_pass_rate": _share(sum(1 for s in steps if s.passed), len(steps)),
        "customer_turns": len(turns),
        "ai_handled_share": _share(
            sum(1 for t in answered if t.outcome == "handled"), len(answered)
        ),
        "escalation_precision": _share(tp, tp + fp),
        "escalation_recall": _share(tp, tp + fn),
        "intent_accuracy": _share(
            sum(1 for t in with_intent if t.intent == t.expect.intent), len(with_intent)
        ),
        "turn_latency_p50_ms": _percentile(latencies, 50),
        "turn_latency_p95_ms": _percentile(latencies, 95),
    }


def _failure_json(failure: Failure) -> dict[str, Any]:
    return {"field": failure.field, "expected": failure.expected, "actual": failure.actual}


def _step_json(step: StepResult) -> dict[str, Any]:
    return {
        "index": step.index,
        "action": step.action,
        "passed": step.passed,
        "failures": [_failure_json(f) for f in step.failures],
        "observed": {
            "outcome": step.outcome,
            "intent": step.intent,
            "tone": step.tone,
            "priority": step.priority,
            "reply": step.reply,
            "sent": step.sent,
            "latency_ms": round(step.latency_ms, 2) if step.latency_ms is not None else None,
        },
    }


def report_json(results: list[ScenarioRuns]) -> dict[str, Any]:
    scenarios = []
    for scenario in results:
        shown = scenario.shown
        entry: dict[str, Any] = {
            "name": scenario.name,
            "file": scenario.file,
            "passed": scenario.passed,
            "runs": len(scenario.runs),
            "runs_passed": sum(1 for run in scenario.runs if run.passed),
            "steps": [_step_json(step) for step in shown.steps],
        }
        if shown.error is not None:
            entry["error"] = _failure_json(shown.error)
        scenarios.append(entry)
    return {"summary": summarize(results), "scenarios": scenarios}


def dumps(results: list[ScenarioRuns]) -> str:
    return json.dumps(report_json(results), indent=2, default=str)


def _clip(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= CLIP else text[: CLIP - 1] + "…"


def describe_failure(step: int | None, failure: Failure) -> str:
    where = f"step {step}" if step is not None else "setup"
    return (
        f"{where} {failure.field}: expected {_clip(failure.expected)} · "
        f"actual {_clip(failure.actual)}"
    )


def _figure(value: Any, percent: bool = True) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100:.1f}%" if percent else f"{value}"


def print_report(console: Console, results: list[ScenarioRuns]) -> None:
    table = Table(title="Scenarios", show_lines=False, expand=False)
    table.add_column("scenario", no_wrap=True)
    table.add_column("steps", justify="right")
    table.add_column("result")
    table.add_column("first failure", overflow="fold")
    for scenario in results:
        shown = scenario.shown
        passed_steps = sum(1 for s in shown.steps if s.passed)
        total = shown.total_steps
        runs = f" ({sum(r.passed for r in scenario.runs)}/{len(scenario.runs)} runs)"
        repeat = runs if len(scenario.runs) > 1 else ""
        first = shown.first_failure
        table.add_row(
            scenario.name,
            f"{passed_steps}/{total}",
            Text("pass" + repeat, style="green")
            if scenario.passed
            else Text("FAIL" + repeat, style="bold red"),
            describe_failure(*first) if first else "",
        )
    console.print(table)
    summary = summarize(results)
    lines = [
        f"scenarios: {summary['scenarios_passed']}/{summary['scenarios']} passed"
        f" (pass rate {_figure(summary['scenario_pass_rate'])}"
        + (
            f", pass^{summary['repeat']} {_figure(summary['pass_k'])}"
            if summary["repeat"] > 1
            else ""
        )
        + ")",
        f"steps: pass rate {_figure(summary['step_pass_rate'])} of {summary['steps']}",
        f"customer turns: {summary['customer_turns']}, AI-handled share "
        f"{_figure(summary['ai_handled_share'])}",
        f"escalation precision {_figure(summary['escalation_precision'])}, "
        f"recall {_figure(summary['escalation_recall'])}; "
        f"intent accuracy {_figure(summary['intent_accuracy'])}",
        f"turn latency p50 {_figure(summary['turn_latency_p50_ms'], False)} ms, "
        f"p95 {_figure(summary['turn_latency_p95_ms'], False)} ms",
    ]
    for line in lines:
        console.print(line, highlight=False)
