"""Cross-process cache invalidation: LISTEN on the knowledge channel, clear the cache on NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog

from knowledge.db import asyncpg_dsn
from knowledge.service import NOTIFY_CHANNEL

log = structlog.get_logger(__name__)


class InvalidationListener:
    """Holds one connection that listens for knowledge changes and calls `on_change`.

    If the connection drops, notifications could be missed, so the cache is cleared on every
    reconnect as well; until then the cache's TTL bounds how stale a value can get.
    """

    def __init__(
        self, url: str, on_change: Callable[[], None], channel: str = NOTIFY_CHANNEL
    ) -> None:
        self._dsn = asyncpg_dsn(url)
        self._on_change = on_change
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.received = 0

    async def start(self, timeout: float = 10.0) -> None:
        self._task = asyncio.create_task(self._run(), name="knowledge-invalidation")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _notified(self, *_: Any) -> None:
        self.received += 1
        self._on_change()

    @staticmethod
    async def _until_closed(conn: asyncpg.Connection) -> None:
        closed = asyncio.Event()
        conn.add_termination_listener(lambda _conn: closed.set())
        await closed.wait()

    async def _run(self) -> None:
        delay = 0.5
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn)
                await conn.add_listener(self._channel, self._notified)
                self._on_change()
                self._ready.set()
                delay = 0.5
                await self._until_closed(conn)
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("knowledge listener disconnected", error=str(exc), retry_in=delay)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
