"""`bench/soak.py --trace FILE`: every acknowledgement and reply, in the order sent, with wall-clock
times to line the slow ones up with other records."""

from __future__ import annotations

import csv
import importlib
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_the_trace_lists_acknowledgements_and_replies_in_the_order_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    soak = importlib.import_module("soak")
    figures = soak.Figures(started=time.perf_counter() - 10)
    figures.acks += [(2.5, 0.012), (1.0, 0.009)]
    figures.replies += [(2.5, "web", 0.31), (1.0, "sms", 0.074)]
    trace = tmp_path / "trace.csv"

    soak.write_trace(trace, figures)

    rows = list(csv.DictReader(trace.open()))
    assert [(r["sent_at_s"], r["kind"], r["channel"], r["seconds"]) for r in rows] == [
        ("1.000", "ack", "", "0.0090"),
        ("1.000", "reply", "sms", "0.0740"),
        ("2.500", "ack", "", "0.0120"),
        ("2.500", "reply", "web", "0.3100"),
    ]
    started_unix = time.time() - 10
    for row in rows:
        assert abs(float(row["sent_unix"]) - (started_unix + float(row["sent_at_s"]))) < 1.0
