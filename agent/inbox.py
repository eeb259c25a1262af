"""The durable inbox: customer messages are rows first; this drains them into turns.

A webhook stores the message and acknowledges at once; the turn runs here afterwards. Because
the row stays `received` until its turn commits, a message acknowledged just before a crash
is answered when any process starts again. Per conversation only the oldest waiting message
is taken at a time, so a customer's messages are answered in the order they were sent.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.runtime import AgentRuntime
from agent.state import TurnEvent
from knowledge.db import unit_of_work
from knowledge.loops import pause

log = structlog.get_logger(__name__)

_OLDEST_PER_CONVERSATION = text(
    """
    SELECT DISTINCT ON (conversation_id) id, conversation_id
    FROM messages
    WHERE direction = 'inbound' AND status = 'received'
    ORDER BY conversation_id, created_at, id
    LIMIT :limit
    """
)


class Inbox:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        runtime: AgentRuntime,
        batch: int = 50,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.runtime = runtime
        self.batch = batch

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Answer every waiting message (until `stop` is set: a shutdown does not wait for a
        backlog, which stays stored for the next start); returns how many turns ran."""
        done = 0
        failed: set[int] = set()
        while stop is None or not stop.is_set():
            async with unit_of_work(self.sessionmaker) as session:
                found = await session.execute(_OLDEST_PER_CONVERSATION, {"limit": self.batch})
                waiting = [(int(m), int(c)) for m, c in found.all() if m not in failed]
            if not waiting:
                return done
            for message_id, conversation_id in waiting:
                if stop is not None and stop.is_set():
                    break
                try:
                    await self.runtime.handle(
                        TurnEvent(
                            kind="customer_message",
                            conversation_id=conversation_id,
                            message_id=message_id,
                        )
                    )
                except Exception as exc:  # the row stays `received`: a later drain retries it
                    log.error("turn failed", message=message_id, error=str(exc)[:200])
                    failed.add(message_id)
                    continue
                done += 1
        return done

    async def run_forever(
        self, stop: asyncio.Event, wake: asyncio.Event, poll_seconds: float = 2.0
    ) -> None:
        while not stop.is_set():
            wake.clear()
            try:
                await self.drain(stop)
            except Exception as exc:  # keep draining through database blips
                log.error("inbox loop error", error=str(exc)[:200])
            await pause(stop, wake, poll_seconds)
