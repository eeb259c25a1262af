"""Prometheus metrics: what each process counts, added up over every process at a scrape.

Under `hibachi serve` the API and each of its worker processes write their figures to files in
`PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess mode), and one scrape of the API
reads them all. prometheus-client picks its mode once, when it is first imported, so it is
imported here on first use (`instruments()`), after `hibachi serve` has set that directory.

Labels are low-cardinality by construction: a channel, a kind of turn or touchpoint, an intent
from the reader's fixed list, an outcome, a priority, a node's name. Never a phone number, an
address, a name or a message's text; `label()` cuts anything else to a known value.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
NAMESPACE = "hibachi"

# Seconds: a turn, a node, an LLM call, a webhook acknowledgement.
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Seconds: a touchpoint past its time, a case waiting for a person.
_SLOW = (1, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 48 * 3600)
_CONFIDENCE = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


@dataclass(frozen=True)
class Instruments:
    turns: Any
    turn_seconds: Any
    node_seconds: Any
    reader_confidence: Any
    llm_calls: Any
    llm_fallbacks: Any
    llm_seconds: Any
    llm_tokens: Any
    received: Any
    sent: Any
    delivery: Any
    outbox_retries: Any
    webhook_seconds: Any
    rate_limited: Any
    touchpoints: Any
    touchpoint_lateness: Any
    case_claim_seconds: Any
    db_in_use: Any
    db_waits: Any
    db_wait_seconds: Any
    db_timeouts: Any
    listening: Any
    listen_reconnects: Any


def multiprocess_dir() -> Path | None:
    """The directory named by the environment now (see `shared_directory` for this process's)."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


@cache
def shared_directory() -> Path | None:
    """Where this process's metrics are written (None: kept in its memory), fixed with its
    first metric: prometheus-client chooses once, whatever the environment says later."""
    return multiprocess_dir()


def share_between_processes(directory: Path) -> None:
    """Make this process and every process it starts write to `directory` (emptied first: the
    files of an earlier run would add up with this one's). Call before the first metric."""
    if directory.exists():
        for entry in directory.iterdir():
            if entry.suffix == ".db":
                entry.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory)


def forget_directory(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def process_exited(pid: int) -> None:
    """A process writing to the shared directory has ended: its live gauges stop counting
    (its counters and histograms stay in the totals)."""
    if shared_directory() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


@cache
def instruments() -> Instruments:
    """The process's metrics, made on first use."""
    shared_directory()  # the mode they are made in
    from prometheus_client import Counter, Gauge, Histogram

    def counter(name: str, doc: str, labels: Iterable[str] = ()) -> Any:
        return Counter(name, doc, list(labels), namespace=NAMESPACE)

    def histogram(name: str, doc: str, labels: Iterable[str], buckets: Iterable[float]) -> Any:
        return Histogram(name, doc, list(labels), namespace=NAMESPACE, buckets=tuple(buckets))

    def gauge(name: str, doc: str) -> Any:
        # livesum: the processes running now, added up (a dead worker's value drops out).
        return Gauge(name, doc, namespace=NAMESPACE, multiprocess_mode="livesum")

    return Instruments(
        turns=counter(
            "turns",
            "Turns run, by kind, channel, first intent and outcome.",
            ("kind", "channel", "intent", "outcome"),
        ),
        turn_seconds=histogram(
            "turn_duration_seconds",
            "Time to run a turn, its transaction included.",
            ("kind",),
            _FAST,
        ),
        node_seconds=histogram(
            "graph_node_duration_seconds",
            "Time in each node of the turn's graph.",
            ("node",),
            _FAST,
        ),
        reader_confidence=histogram(
            "reader_confidence",
            "The reader's confidence in a customer message's first intent.",
            (),
            _CONFIDENCE,
        ),
        llm_calls=counter("llm_calls", "Calls to the LLM, by outcome.", ("outcome",)),
        llm_fallbacks=counter(
            "llm_fallbacks", "Turns that fell back to the reader, by reason.", ("reason",)
        ),
        llm_seconds=histogram(
            "llm_call_duration_seconds", "Time of an LLM call, failed ones included.", (), _FAST
        ),
        llm_tokens=counter(
            "llm_tokens", "LLM tokens used, input (the prompt) or output.", ("kind",)
        ),
        received=counter(
            "messages_received", "Customer messages stored, by channel.", ("channel",)
        ),
        sent=counter(
            "messages_sent",
            "Outbound send attempts, by channel and result.",
            ("channel", "status"),
        ),
        delivery=counter(
            "delivery_status",
            "Delivery reports from the provider, by channel and status.",
            ("channel", "status"),
        ),
        outbox_retries=counter(
            "outbox_retries",
            "Sends that failed and were planned again, by channel.",
            ("channel",),
        ),
        webhook_seconds=histogram(
            "webhook_duration_seconds",
            "Time to acknowledge a webhook, by route.",
            ("route",),
            _FAST,
        ),
        rate_limited=counter(
            "rate_limited", "Requests refused by a rate limit, by what was limited.", ("limit",)
        ),
        touchpoints=counter(
            "touchpoints", "Touchpoints run, by kind and result.", ("kind", "result")
        ),
        touchpoint_lateness=histogram(
            "touchpoint_lateness_seconds",
            "How long after its planned time a touchpoint ran.",
            ("kind",),
            _SLOW,
        ),
        case_claim_seconds=histogram(
            "escalation_first_action_seconds",
            "Time from a case's opening to a person claiming or resolving it, by priority.",
            ("priority",),
            _SLOW,
        ),
        db_in_use=gauge("db_connections_in_use", "Database connections checked out now."),
        db_waits=counter(
            "db_pool_waits", "Checkouts that found the pool at its limit with no connection free."
        ),
        db_wait_seconds=histogram(
            "db_pool_wait_seconds",
            "How long those checkouts waited for a connection.",
            (),
            _FAST,
        ),
        db_timeouts=counter(
            "db_pool_timeouts", "Waits for a database connection that ran out of time."
        ),
        listening=gauge(
            "listen_connected", "Processes whose LISTEN connection (cross-process notices) is up."
        ),
        listen_reconnects=counter(
            "listen_reconnects", "Times a LISTEN connection was lost and made again."
        ),
    )


def label(value: str | None, known: frozenset[str], other: str = "other") -> str:
    """`value` when it is one of `known`, else `other`: a label never carries free text."""
    return value if value is not None and value in known else other
