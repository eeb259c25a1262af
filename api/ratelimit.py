"""Per-key request limits (a customer's phone, a visitor's IP) over a sliding minute.

Each process counts on its own; behind N processes a key can reach N times the limit, which
is enough to stop a runaway sender without a shared store. A refused request is answered 429
with Retry-After before anything is stored; requests accepted earlier are untouched.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from cachetools import TTLCache

from knowledge.errors import TooManyRequests
from knowledge.infra import metrics

WINDOW_SECONDS = 60.0


class RateLimiter:
    def __init__(
        self,
        per_minute: int,
        *,
        name: str = "requests",
        max_keys: int = 100_000,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.name = name  # what is limited ("phone", "ip"): the refusals' metric label
        self.timer = timer
        self.hits: TTLCache[str, deque[float]] = TTLCache(
            maxsize=max_keys, ttl=WINDOW_SECONDS, timer=timer
        )

    def check(self, key: str, what: str) -> None:
        """Count one request for `key`; raise TooManyRequests if the minute is full."""
        if self.per_minute <= 0:
            return
        now = self.timer()
        window = self.hits.get(key)
        if window is None:
            window = deque()
        while window and window[0] <= now - WINDOW_SECONDS:
            window.popleft()
        if len(window) >= self.per_minute:
            retry = max(1, math.ceil(window[0] + WINDOW_SECONDS - now))
            metrics.instruments().rate_limited.labels(self.name).inc()
            raise TooManyRequests(
                f"too many {what}: at most {self.per_minute} a minute; try again in {retry} s",
                details={"retry_after": retry},
            )
        window.append(now)
        self.hits[key] = window  # refreshes the entry's time to live
