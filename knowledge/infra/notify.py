"""Cross-process signals over PostgreSQL: LISTEN on a few channels, call a handler on NOTIFY.

Each process holds one listening connection. Knowledge changes clear its cache; a stored
customer message wakes whichever process answers messages; a finished turn reaches the web
chat request waiting for it. If the connection drops, notifications could be missed, so
`on_connect` runs on every (re)connect: the cache is cleared and the inbox looks for work.

Wake-ups about data that has committed go out through a `Notifier`, on a connection of its
own, never inside the data's transaction (its docstring says why).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
import structlog

from knowledge.db import asyncpg_dsn
from knowledge.infra import metrics
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
        instruments = metrics.instruments()
        while True:
            conn: asyncpg.Connection | None = None
            listening = False
            try:
                conn = await asyncpg.connect(self._dsn)
                for channel in self._handlers:
                    await conn.add_listener(channel, self._notified)
                if self._ready.is_set():
                    instruments.listen_reconnects.inc()
                if self._on_connect is not None:
                    self._on_connect()
                self._ready.set()
                instruments.listening.inc()
                listening = True
                delay = 0.5
                await self._until_closed(conn)
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("listener disconnected", error=str(exc), retry_in=delay)
            finally:
                if listening:
                    instruments.listening.dec()
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


# Every hint of a batch in one statement and one transaction.
_SEND = "SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS hint(c, p)"


class Notifier:
    """Wake-up hints (NOTIFY) for other processes, about data that has already committed.

    Not sent inside the data's own transaction: a transaction that issued NOTIFY holds one
    database-wide lock from just before its commit until its commit record is on disk, so
    acknowledgements and turns that each announced something committed one at a time, fsync
    included, and one slow flush stalled them all (the soak's p99 stalls, sampled as up to 10
    sessions waiting on that lock at COMMIT). Here the data commits without it: `send` only
    queues, and one task sends what is queued from an autocommit connection of its own with
    `synchronous_commit = off` (a hint is not data, so nothing waits for the disk), hints
    queued while a batch is in flight going together in the next statement.

    Best effort, never raising: a hint lost to a crash or a dropped connection costs its
    listener a poll (the inbox looks every 2 s; a web chat request reads the reply at its
    timeout, and the widget's stream delivers it)."""

    def __init__(self, url: str) -> None:
        self._dsn = asyncpg_dsn(url)
        self._queued: list[tuple[str, str]] = []
        self._wake = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()  # set when nothing is queued or being sent
        self._idle.set()
        self.sent = 0
        self.lost = 0

    def send(self, channel: str, payload: str) -> None:
        """Queue a hint; it goes out within a round trip or two."""
        self._queued.append((channel, payload))
        self._idle.clear()
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="notifier")

    async def stop(self, timeout: float = 2.0) -> None:
        """Send what is queued (for up to `timeout` seconds), then close the connection."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._disconnect()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._queued = self._queued, []
            if batch:
                await self._deliver(batch)
            if not self._queued:
                self._idle.set()

    async def _deliver(self, batch: list[tuple[str, str]]) -> None:
        channels = [channel for channel, _ in batch]
        payloads = [payload for _, payload in batch]
        for attempt in (1, 2):  # a connection cut since the last batch is replaced once
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncpg.connect(
                        self._dsn,
                        timeout=5,
                        server_settings={
                            "synchronous_commit": "off",
                            "application_name": "hibachi-notifier",
                        },
                    )
                await self._conn.execute(_SEND, channels, payloads)
                self.sent += len(batch)
                return
            except Exception as exc:  # any failure (asyncpg's client-state errors too): a hint
                await self._disconnect()  # is never worth more than a new connection
                if attempt == 2:
                    self.lost += len(batch)
                    log.warning("wake-up hints not sent", count=len(batch), error=str(exc)[:200])

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)


def invalidation_handlers(invalidate: Callable[[], None]) -> dict[str, Handler]:
    """The knowledge cache's channel: any change clears the whole cache."""
    return {NOTIFY_CHANNEL: lambda _payload: invalidate()}
