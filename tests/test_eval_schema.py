"""The scenario format: valid files load; a wrong one says which file, step and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from evals.schema import ScenarioError, find_scenarios, load_scenario, parse_duration

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "evals" / "scenarios" / "cancel-two-days-out.yaml"


class TestScenarioFiles:
    def test_the_shipped_scenarios_load(self) -> None:
        files = find_scenarios([ROOT / "evals" / "scenarios"])
        assert EXAMPLE in files
        for path in files:
            assert load_scenario(path).steps

    @pytest.mark.parametrize(
        ("change", "where"),
        [
            (("priority: HIGH", "priority: CRITICAL"), "steps[0].expect.priority"),
            (("intent: cancellation", "intent: refund"), "steps[0].expect.intent"),
            (("- say:", "- shout:"), "steps[0].shout"),
            (("now: 2026-06-10T15:00:00-07:00", "now: 2026-06-10T15:00:00"), "now"),
            (("  kids: 3", "  kids: -3"), "booking.kids"),
        ],
    )
    def test_a_wrong_field_is_named_with_its_file_and_step(
        self, tmp_path: Path, change: tuple[str, str], where: str
    ) -> None:
        bad = tmp_path / "bad.yaml"
        bad.write_text(EXAMPLE.read_text().replace(*change))
        with pytest.raises(ScenarioError) as caught:
            load_scenario(bad)
        assert str(caught.value).startswith(f"{bad}: {where}")

    def test_a_step_does_one_thing(self, tmp_path: Path) -> None:
        bad = tmp_path / "two.yaml"
        text = EXAMPLE.read_text().replace(
            '  - say: "hey we need to cancel, family emergency"',
            '  - say: "hi"\n    advance: 2d',
        )
        bad.write_text(text)
        with pytest.raises(ScenarioError, match="exactly one of"):
            load_scenario(bad)

    @pytest.mark.parametrize(
        ("text", "delta"),
        [("30m", timedelta(minutes=30)), ("6h", timedelta(hours=6)), ("2d", timedelta(days=2))],
    )
    def test_durations(self, text: str, delta: timedelta) -> None:
        assert parse_duration(text) == delta
        with pytest.raises(ValueError):
            parse_duration("soon")
