"""Tuning for the long-running service processes (`hibachi serve`, `hibachi worker`).

Python's cyclic garbage collector stops the process while it walks every tracked object; in a
worker holding the compiled graph, SQLAlchemy's caches and the knowledge cache, a full
collection paused every turn in flight for up to 450 ms (measured under the 50 messages/s
soak). Objects built at start-up live as long as the process, so they are frozen out of the
collector's walks once start-up is done, and young collections run less often (each turn
allocates thousands of short-lived objects that reference counting frees anyway). A
collection that still takes long is logged, with its generation, so a pause in the reply
times can be told from one in the database.
"""

from __future__ import annotations

import gc
import time
from typing import Any

import structlog

log = structlog.get_logger(__name__)

# (young, middle, old): collect the young generation after this many net allocations.
THRESHOLDS = (20_000, 20, 20)
SLOW_COLLECTION_MS = 100.0


def settle_heap() -> None:
    """Call once start-up is complete."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    watch_collections()


class _SlowCollections:
    """A gc callback: logs a collection that stopped the process for `slow_ms` or more."""

    def __init__(self, slow_ms: float) -> None:
        self.slow_ms = slow_ms
        self.started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        ms = (time.perf_counter() - self.started) * 1000
        if ms >= self.slow_ms:
            log.warning(
                "slow garbage collection",
                generation=info["generation"],
                ms=round(ms, 1),
                collected=info["collected"],
            )


def watch_collections(slow_ms: float = SLOW_COLLECTION_MS) -> None:
    """Log every collection of `slow_ms` or more from now on (once per process)."""
    if not any(isinstance(cb, _SlowCollections) for cb in gc.callbacks):
        gc.callbacks.append(_SlowCollections(slow_ms))
