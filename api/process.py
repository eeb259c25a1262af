"""Tuning for the long-running service processes (`hibachi serve`, `hibachi worker`).

Python's cyclic garbage collector stops the process while it walks every tracked object; in a
worker holding the compiled graph, SQLAlchemy's caches and the knowledge cache, a full
collection paused every turn in flight for up to 450 ms (measured under the 50 messages/s
soak). Objects built at start-up live as long as the process, so they are frozen out of the
collector's walks once start-up is done, and young collections run less often (each turn
allocates thousands of short-lived objects that reference counting frees anyway).
"""

from __future__ import annotations

import gc

# (young, middle, old): collect the young generation after this many net allocations.
THRESHOLDS = (20_000, 20, 20)


def settle_heap() -> None:
    """Call once start-up is complete."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
