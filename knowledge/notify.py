"""Cross-process signals over PostgreSQL: LISTEN on a few channels, call a handler on NOTIFY.

Each process holds one listening connection. Knowledge changes clear its cache; a stored
customer message wakes whichever process answers messages; a finished turn reaches the web
chat request waiting for it. If the connection drops, notifications could be missed, so
`on_connect` runs on every (re)connect: the cache is cleared and the inbox looks for work.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
import structlog

from knowledge.db import asyncpg_dsn
from knowledge.service import NOTIFY_CHANNEL

log = structlog.get_logger(__name__)

Handler = Callable[[str], None]


class Listener:
    """One connection listening on `handlers`' channels; each payload goes to its handler."""

    def __init__(
        self,
        url: str,
        handlers: Mapping[str, Handler],
        on_connect: Callable[[], None] | None = None,
    ) -> None:
        self._dsn = asyncpg_dsn(url)
        self._handlers = dict(handlers)
        self._on_connect = on_connect
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.received = 0

    async def start(self, timeout: float = 10.0) -> None:
        self._task = asyncio.create_task(self._run(), name="notify-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _notified(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        self.received += 1
        handler = self._handlers.get(channel)
        if handler is not None:
            try:
                handler(payload)
            except Exception as exc:  # one bad payload never stops the listener
                log.warning("notification handler failed", channel=channel, error=str(exc)[:200])

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
                for channel in self._handlers:
                    await conn.add_listener(channel, self._notified)
                if self._on_connect is not None:
                    self._on_connect()
                self._ready.set()
                delay = 0.5
                await self._until_closed(conn)
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("listener disconnected", error=str(exc), retry_in=delay)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


def invalidation_handlers(invalidate: Callable[[], None]) -> dict[str, Handler]:
    """The knowledge cache's channel: any change clears the whole cache."""
    return {NOTIFY_CHANNEL: lambda _payload: invalidate()}
