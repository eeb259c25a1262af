"""The durable inbox: customer messages are rows first; this drains them into turns.

A webhook or a web chat request stores the message, announces it once committed (a hint
through the process's `Notifier`) and acknowledges at once; a process running the inbox, this
one or a `hibachi worker`, wakes and runs the turn. Because the row stays `received` until its turn
commits, a message acknowledged just before a crash is answered when any process starts
again. Per conversation only the oldest waiting message is taken at a time, so a customer's
messages are answered in the order they were sent; several inboxes (in several processes)
share the work, a conversation whose turn another one is running being left to it.

A web chat request waits for its turn's answer: the inbox that ran the turn says so on the
turns channel, and `TurnWaiters` hands that to the waiting request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.runtime import AgentRuntime
from agent.state import TurnEvent, reply_key
from knowledge.db import unit_of_work
from knowledge.infra.loops import pause
from knowledge.infra.notify import Notifier
from tools.messaging.channels import BURST_CHANNELS
from tools.outbox import stored_reply

log = structlog.get_logger(__name__)

INBOX_CHANNEL = "hibachi_inbox"  # payload: the stored message's id
TURNS_CHANNEL = "hibachi_turns"  # a web chat turn finished: {"message": id, "pending": …}
# How long a message of another worker's share waits before this one takes it: under the web
# chat's reply timeout, so a chat whose worker is restarting or busy is answered in time.
SHARD_GRACE_SECONDS = 10.0

# Each conversation's oldest waiting message.
_OLDEST = """
    SELECT DISTINCT ON (conversation_id) id, conversation_id, channel, created_at,
        meta ->> 'trace' AS trace
    FROM messages
    WHERE direction = 'inbound' AND status = 'received'
    ORDER BY conversation_id, created_at, id
"""
# How long each of those has waited, against the burst wait.
_WAITED = "clock_timestamp() - created_at >= make_interval(secs => :burst)"
# This inbox's share of the conversations (see `Inbox.shard`). Another share's message is
# taken once it has waited `:grace` seconds (a stuck process never strands its share), after
# this share's own: inboxes behind on their own work never compete for the same messages.
_OWN = "(conversation_id % :shards = :shard)"
_MINE = f"({_OWN} OR clock_timestamp() - created_at >= make_interval(secs => :grace))"

# The oldest messages ready to answer, this inbox's share first, then the longest-waiting first
# (fair under a backlog: ordered by conversation, a busy service would answer low-numbered
# conversations first and leave the others waiting). A text still in its burst window takes no
# place in the batch (it would crowd out the messages that are ready); the earliest of them is
# found by _NEXT_BURST_DUE.
_OLDEST_PER_CONVERSATION = text(
    f"""
    SELECT id, conversation_id, channel, trace FROM ({_OLDEST}) AS oldest
    WHERE (NOT (channel = ANY(:channels)) OR {_WAITED}) AND {_MINE}
    ORDER BY {_OWN} DESC, created_at, id
    LIMIT :limit
    """
)


async def _sleep_unless(stop: asyncio.Event | None, seconds: float) -> bool:
    """Sleep, unless `stop` is set first; True when the sleep ran its course."""
    if stop is None:
        await asyncio.sleep(seconds)
        return True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return not stop.is_set()


# When the first text waiting for its burst comes due, in seconds from now (NULL: none waits).
_NEXT_BURST_DUE = text(
    f"""
    SELECT min(:burst - EXTRACT(EPOCH FROM clock_timestamp() - created_at)::float8)
    FROM ({_OLDEST}) AS oldest
    WHERE channel = ANY(:channels) AND NOT {_WAITED} AND {_MINE}
    """
)


_BURSTS = sorted(BURST_CHANNELS)


def announce(hints: Notifier, message_id: int) -> None:
    """Tell every inbox that a message waits; call once the message has committed."""
    hints.send(INBOX_CHANNEL, str(message_id))


class Inbox:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        runtime: AgentRuntime,
        batch: int = 50,
        concurrency: int = 1,
        hints: Notifier | None = None,
        burst_seconds: float = 0.0,
        shard: tuple[int, int] | None = None,
        shard_grace_seconds: float = SHARD_GRACE_SECONDS,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.runtime = runtime
        self.batch = batch
        self.concurrency = max(1, concurrency)
        self.hints = hints  # where a web chat request waiting for a turn hears of it
        # An SMS or WhatsApp message younger than this waits for the rest of its burst (the
        # turn reads every message that came before it ran; see agent.nodes.load).
        self.burst_seconds = burst_seconds
        self.next_due: float | None = None  # seconds until a text waiting for its burst is due
        # (k, n): this is inbox k of n sharing the work (`hibachi serve --workers n`). Each
        # takes the conversations whose id is k modulo n, and the others' only once they have
        # waited `shard_grace_seconds`: inboxes that all took the same oldest messages would
        # each try every one, and half of their turns would find it taken.
        self.shard = shard
        self.shard_grace_seconds = shard_grace_seconds

    async def drain(self, stop: asyncio.Event | None = None, *, wait_bursts: bool = True) -> int:
        """Answer every waiting message (until `stop` is set: a shutdown does not wait for a
        backlog, which stays stored for the next start); returns how many turns ran here.

        Up to `concurrency` conversations run at once (a turn's database waits overlap another
        turn's work). A conversation another process is answering is skipped; when a round
        answers nothing, everything left belongs to others and the drain ends. Texts still in
        their burst window are waited for, unless `wait_bursts` is off: then the drain ends and
        `next_due` says when the first of them comes due (the loop waits for that, or for a
        new message, whichever is first)."""
        self.next_due = None
        done = 0
        failed: set[int] = set()
        gate = asyncio.Semaphore(self.concurrency)

        async def answer(
            message_id: int, conversation_id: int, channel: str, trace: str | None
        ) -> bool:
            async with gate:
                if stop is not None and stop.is_set():
                    return False
                event = TurnEvent.customer_message(conversation_id, message_id)
                try:
                    result = await self.runtime.handle_unless_busy(event, stored_by=trace)
                except Exception as exc:  # the row stays `received`: a later drain retries it
                    log.error("turn failed", message=message_id, error=str(exc)[:200])
                    failed.add(message_id)
                    return False
                if result is None:
                    return False
                if channel == "web" and self.hints is not None:
                    notice = {"message": message_id, "pending": result.pending}
                    self.hints.send(TURNS_CHANNEL, json.dumps(notice))
                return True

        while stop is None or not stop.is_set():
            async with unit_of_work(self.sessionmaker) as session:
                found = await session.execute(
                    _OLDEST_PER_CONVERSATION,
                    {"limit": self.batch, "burst": self.burst_seconds, "channels": _BURSTS}
                    | self._share(),
                )
                ready = [
                    (int(m), int(c), ch, trace)
                    for m, c, ch, trace in found.all()
                    if m not in failed
                ]
            answered = sum(await asyncio.gather(*(answer(*row) for row in ready)))
            done += answered
            if answered:
                continue
            # Nothing more to answer now: a text still inside its burst window waits for the
            # rest of its burst.
            due = await self._next_burst_due() if self.burst_seconds > 0 else None
            if due is None:
                break
            if not wait_bursts:
                self.next_due = max(due, 0.0)
                break
            if not await _sleep_unless(stop, max(due, 0.0)):
                break
        return done

    def _share(self) -> dict[str, float]:
        shard, shards = self.shard or (0, 1)  # no share: one share holding everything
        return {"shard": shard, "shards": shards, "grace": self.shard_grace_seconds}

    async def _next_burst_due(self) -> float | None:
        async with unit_of_work(self.sessionmaker) as session:
            due = await session.scalar(
                _NEXT_BURST_DUE,
                {"burst": self.burst_seconds, "channels": _BURSTS} | self._share(),
            )
        return None if due is None else float(due)

    async def run_forever(
        self, stop: asyncio.Event, wake: asyncio.Event, poll_seconds: float = 2.0
    ) -> None:
        while not stop.is_set():
            wake.clear()
            self.next_due = None
            try:
                # Never asleep on a burst: a new message (any conversation) wakes the loop.
                await self.drain(stop, wait_bursts=False)
            except Exception as exc:  # keep draining through database blips
                log.error("inbox loop error", error=str(exc)[:200])
            await self.runtime.count_views_if_due()  # the FAQ views of the last turns
            due = self.next_due
            await pause(stop, wake, poll_seconds if due is None else min(poll_seconds, due))


@dataclass(frozen=True)
class Answer:
    """A finished turn, as a waiting web chat request sees it."""

    reply_id: int | None
    reply: str | None
    pending: str | None


class TurnWaiters:
    """Web chat requests waiting for their message's turn, resolved from the turns channel.

    Register before the message commits (the turn can finish before the request would
    otherwise start waiting). If the notice never comes (a lost listening connection, a
    failed turn), the wait ends at its timeout and the reply, if one exists by then, is read
    from the database; the widget's stream delivers anything later.
    """

    def __init__(self) -> None:
        self._waiting: dict[int, asyncio.Future[str | None]] = {}

    def register(self, message_id: int) -> None:
        self._waiting[message_id] = asyncio.get_running_loop().create_future()

    def finished(self, payload: str) -> None:
        """The turns channel's handler."""
        notice = json.loads(payload)
        future = self._waiting.get(int(notice["message"]))
        if future is not None and not future.done():
            future.set_result(notice.get("pending"))

    def forget(self, message_id: int) -> None:
        self._waiting.pop(message_id, None)

    async def wait(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        message_id: int,
        timeout: float,
    ) -> Answer:
        future = self._waiting.get(message_id)
        pending: str | None = None
        try:
            if future is not None:
                try:
                    pending = await asyncio.wait_for(asyncio.shield(future), timeout)
                except TimeoutError:
                    log.warning("no turn notice for a web chat message", message=message_id)
        finally:
            self.forget(message_id)
        return await answer_to(sessionmaker, message_id, pending)


async def answer_to(
    sessionmaker: async_sessionmaker[AsyncSession], message_id: int, pending: str | None = None
) -> Answer:
    """The stored reply to a customer message, if its turn has written one."""
    async with sessionmaker() as session:
        stored = await stored_reply(session, reply_key(TurnEvent.message_key(message_id)))
    if stored is None:
        return Answer(None, None, pending)
    return Answer(*stored, pending)
