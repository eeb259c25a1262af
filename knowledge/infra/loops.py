"""Waiting between rounds of a background loop."""

from __future__ import annotations

import asyncio
import contextlib


async def pause(stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> None:
    """Return after `seconds`, or as soon as `stop` or `wake` is set."""
    events = [stop] if wake is None else [stop, wake]
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED), seconds)
    for waiter in waiters:
        waiter.cancel()
