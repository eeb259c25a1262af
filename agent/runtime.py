"""The one way into the agent: every caller turns its event into a turn here.

A turn runs in one transaction that the runtime owns: it takes the conversation's advisory
lock (so turns of one conversation never overlap, across processes), runs the graph, and
commits once. Replies and alerts are rows in that transaction; senders deliver them after.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import structlog
from langgraph.checkpoint.base import BaseCheckpointSaver
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.context import TurnContext
from agent.graph import build_graph
from agent.state import Decided, TurnEvent, TurnState
from agent.understanding import reader
from agent.understanding.schema import INTENTS
from knowledge.db import IdleChecks, asyncpg_dsn, unit_of_work
from knowledge.infra import metrics, tracing
from knowledge.infra.clock import Clock
from knowledge.models import ApiUser
from knowledge.models.customers import CHANNELS
from knowledge.service import KnowledgeService
from tools import bookings, travel
from tools.outbox import record_inbound

CHECKPOINT_SCHEMA = "langgraph"
# Each turn adds a checkpoint; only the latest is ever read, so every few turns a
# conversation's older checkpoints are dropped to keep storage flat.
PRUNE_EVERY_TURNS = 10
# FAQ view counts are stored at most this often per process: one statement for all the views
# in between, rather than a transaction of its own after every answer.
VIEW_COUNT_SECONDS = 2.0
log = structlog.get_logger(__name__)
TURN_LOCK_NAMESPACE = 1  # first key of pg_advisory_xact_lock(int, int) for conversation turns
# The saved state itself: looked up only by thread, never filtered on, so autovacuum's analyze
# need not read it (statistics on large JSON and binary values were most of its CPU time).
CHECKPOINT_PAYLOAD_COLUMNS = {
    "checkpoints": ("checkpoint", "metadata"),
    "checkpoint_blobs": ("blob",),
    "checkpoint_writes": ("blob",),
}


@dataclass(frozen=True)
class TurnResult:
    conversation_id: int
    reply: str | None
    intent: str
    intents: list[str]
    tone: str
    outcome: str
    rules: list[str]
    escalation_ids: list[int] = field(default_factory=list)
    reply_message_id: int | None = None
    skipped: str | None = None
    llm: str | None = None
    pending: str | None = None  # the question the reply asked, if any


@asynccontextmanager
async def postgres_checkpointer(url: str, max_size: int = 8) -> AsyncIterator[Any]:
    """LangGraph's Postgres saver on its own pool, its tables in their own schema."""
    async with postgres_checkpointers(url, 1, max_size) as savers:
        yield savers[0]


@cache
def _compact_saver() -> type[Any]:
    """LangGraph's Postgres saver with shorter channel versions.

    A checkpoint records a version for every channel a turn wrote (the one-turn working keys
    too), and the saver's own versions are 51 characters: a 32-digit counter and a random
    fraction, most of a checkpoint's bytes. The counter alone is what LangGraph compares
    (as strings) to see what changed; the fraction only tells forks of one thread apart, and
    a conversation never forks. Counter-only versions compare in order with the long form in
    both directions, so checkpoints written by either read in the other.
    """
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    class CompactSaver(AsyncPostgresSaver):
        def get_next_version(self, current: str | None, channel: None) -> str:
            previous = int(str(current).split(".")[0]) if current is not None else 0
            return f"{previous + 1:032}"

    return CompactSaver


@asynccontextmanager
async def postgres_checkpointers(
    url: str, count: int, max_size: int = 8
) -> AsyncIterator[list[Any]]:
    """Several savers over one connection pool.

    Each AsyncPostgresSaver serializes its operations behind one lock, so a single saver
    makes concurrent conversations wait for each other's checkpoints; conversations are
    spread over `count` savers instead (see AgentRuntime).
    """
    saver_class = _compact_saver()
    dsn = asyncpg_dsn(url)
    idle = IdleChecks()
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        dsn,
        open=False,
        min_size=1,
        max_size=max_size,
        # A connection cut by a database restart while idle is noticed on checkout, not by a
        # turn; one in steady use is not pinged (see knowledge.db.PING_IDLE_SECONDS).
        check=idle.check,
        reset=idle.returned,
        kwargs={
            "autocommit": True,
            "prepare_threshold": 0,
            "row_factory": dict_row,
            "options": f"-c search_path={CHECKPOINT_SCHEMA}",
        },
    )
    await pool.open()
    try:
        async with pool.connection() as conn:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {CHECKPOINT_SCHEMA}")
        savers = [saver_class(pool) for _ in range(count)]
        await savers[0].setup()
        async with pool.connection() as conn:
            await _skip_payload_statistics(conn)
        yield savers
    finally:
        await pool.close()


async def _skip_payload_statistics(conn: Any) -> None:
    """Exclude the checkpoint payload columns from planner statistics, once per database."""
    wanted = [
        (table, column) for table, cols in CHECKPOINT_PAYLOAD_COLUMNS.items() for column in cols
    ]
    cursor = await conn.execute(
        """
        SELECT c.relname AS table, a.attname AS column
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND a.attstattarget IS DISTINCT FROM 0
            AND (c.relname, a.attname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
        """,
        (CHECKPOINT_SCHEMA, [t for t, _ in wanted], [c for _, c in wanted]),
    )
    for row in await cursor.fetchall():
        table, column = row["table"], row["column"]
        await conn.execute(
            f"ALTER TABLE {CHECKPOINT_SCHEMA}.{table} ALTER COLUMN {column} SET STATISTICS 0"
        )


# One round trip for the inbox: take the conversation's turn lock if free (NULL if not), then
# see whether the message still waits (another process may have answered it since it was
# listed; running the graph only to find that out costs a whole turn).
_LOCK_IF_WAITING = text(
    f"""
    SELECT CASE WHEN pg_try_advisory_xact_lock({TURN_LOCK_NAMESPACE}, :c)
        THEN EXISTS (SELECT 1 FROM messages WHERE id = :m AND status = 'received')
    END
    """
)


_INTENTS = frozenset(INTENTS)


def _observe(event: TurnEvent, state: TurnState, seconds: float, span: Any) -> None:
    """The turn's metrics, and what its span says of it."""
    decided, loaded, reading = state.get("decided"), state.get("loaded"), state.get("reading")
    channel = loaded.conversation.channel if loaded is not None else "none"
    intent = metrics.label(decided.intent if decided else None, _INTENTS, "none")
    outcome = decided.outcome if decided else "skipped" if state.get("skip") else "silent"
    instruments = metrics.instruments()
    instruments.turns.labels(event.kind, channel, intent, outcome).inc()
    instruments.turn_seconds.labels(event.kind).observe(seconds)
    if reading is not None:
        instruments.reader_confidence.observe(reading.understanding.requests[0].confidence)
    if span is not None:
        span.set_attributes(
            {"hibachi.channel": channel, "hibachi.intent": intent, "hibachi.outcome": outcome}
        )


class AgentRuntime:
    """Runs turns. One per process; safe to share between concurrent callers."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        knowledge: KnowledgeService,
        clock: Clock,
        checkpointer: BaseCheckpointSaver[Any] | Sequence[BaseCheckpointSaver[Any]] | None = None,
        *,
        simulated: bool | Collection[str] = True,
        console_url: str = "http://127.0.0.1:8000",
        llm: Any = None,
        llm_timeout: float = 8.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.knowledge = knowledge
        self.clock = clock
        savers = list(checkpointer) if isinstance(checkpointer, Sequence) else [checkpointer]
        # One compiled graph per saver; a conversation always uses the same one.
        self.savers = savers
        self.graphs = [build_graph(saver) for saver in savers]
        # The channels whose replies are stored as simulated (no transport configured for
        # them): True for every channel, False for none.
        self.simulated: frozenset[str] = (
            frozenset(CHANNELS)
            if simulated is True
            else frozenset()
            if simulated is False
            else frozenset(simulated)
        )
        self.console_url = console_url
        self.llm = llm
        self.llm_timeout = llm_timeout
        # FAQ views of this process's turns, not yet stored (see count_views).
        self._views: Counter[int] = Counter()
        self._views_counted = float("-inf")

    async def warm_up(self) -> None:
        """Load what a process's first turn would (the reader's model and tables, the
        business's knowledge, the ZIP code tables), so its first customer waits no longer than
        the rest. Seconds of work, done before a worker says it is ready."""
        await asyncio.to_thread(reader.warm_up)
        try:
            async with self.sessionmaker() as session:
                charter = await self.knowledge.charter(session)
        except Exception as exc:  # no knowledge yet (not seeded): each turn will say so
            log.warning("knowledge not loaded ahead of the first turn", error=str(exc)[:200])
            return
        if charter.rules.travel.base_zip:
            await asyncio.to_thread(travel.warm_up, charter.rules.travel.base_zip)

    async def handle(self, event: TurnEvent) -> TurnResult:
        """Run one turn in its own transaction, serialized with the conversation's other turns."""
        result = await self._turn(event, wait=True)
        assert result is not None  # waiting for the lock always runs the turn
        return result

    async def handle_unless_busy(
        self, event: TurnEvent, *, stored_by: str | None = None
    ) -> TurnResult | None:
        """As `handle` for a stored customer message, but None at once if another turn of the
        conversation is running (the inbox leaves it to whoever runs it) or the message has
        been answered already. `stored_by` is the trace context of the request that stored
        the message (its turn's trace links to it)."""
        return await self._turn(event, wait=False, stored_by=stored_by)

    async def _turn(
        self, event: TurnEvent, *, wait: bool, stored_by: str | None = None
    ) -> TurnResult | None:
        started = time.perf_counter()
        with tracing.span("turn", kind=event.kind, link=stored_by) as span:
            state = await self._run(event, wait=wait)
            if state is None:
                return None
            _observe(event, state, time.perf_counter() - started, span)
        return await self._finish(event, state)

    async def _run(self, event: TurnEvent, *, wait: bool) -> TurnState | None:
        async with unit_of_work(self.sessionmaker) as session:
            key = (TURN_LOCK_NAMESPACE, event.conversation_id)
            if wait:
                await session.execute(select(func.pg_advisory_xact_lock(*key)))
            elif not await session.scalar(_LOCK_IF_WAITING, {"c": key[1], "m": event.message_id}):
                return None  # another turn holds the conversation, or answered the message
            context = TurnContext(
                session=session,
                knowledge=self.knowledge,
                clock=self.clock,
                simulated=self.simulated,
                console_url=self.console_url,
                llm=self.llm,
                llm_timeout=self.llm_timeout,
            )
            index = event.conversation_id % len(self.graphs)
            thread = f"conversation-{event.conversation_id}"
            state = await self.graphs[index].ainvoke(
                {"event": event.model_dump(mode="json")},
                config={"configurable": {"thread_id": thread}},
                context=context,
                durability="exit",
            )
        return state  # type: ignore[no-any-return]

    async def _finish(self, event: TurnEvent, state: TurnState) -> TurnResult:
        index = event.conversation_id % len(self.graphs)
        thread = f"conversation-{event.conversation_id}"
        decided: Decided | None = state.get("decided")
        if decided is not None and decided.faq_views:
            self._views.update(decided.faq_views)
        await self.count_views_if_due()
        saver = self.savers[index]
        if saver is not None and int(state.get("turns", 0)) % PRUNE_EVERY_TURNS == 0:
            await self._prune(saver, thread)
        return TurnResult(
            conversation_id=event.conversation_id,
            reply=state.get("reply"),
            intent=decided.intent if decided else "other",
            intents=list(decided.intents) if decided else [],
            tone=state.get("tone", "neutral"),
            outcome=decided.outcome if decided else "silent",
            rules=decided.rules if decided else [],
            escalation_ids=state.get("escalation_ids", []),
            reply_message_id=state.get("reply_message_id"),
            skipped=state.get("skip"),
            llm=state.get("llm"),
            pending=state.get("pending"),
        )

    async def count_views_if_due(self) -> None:
        """`count_views` if views wait and VIEW_COUNT_SECONDS have passed since the last store
        (after each turn, and from the inbox's loop, so an idle process stores them too)."""
        if self._views and time.monotonic() - self._views_counted >= VIEW_COUNT_SECONDS:
            await self.count_views()

    async def count_views(self) -> None:
        """Store the FAQ views counted since the last time, in one short transaction of their
        own (the rows' lock lasts one statement, not a turn); the process calls it once more
        when it stops."""
        views, self._views = self._views, Counter()
        self._views_counted = time.monotonic()
        if not views:
            return
        stored = False
        try:
            async with unit_of_work(self.sessionmaker) as session:
                await self.knowledge.count_views(session, views)
            stored = True
        except Exception as exc:  # a statistic: the turns have committed and stand
            log.warning("FAQ view count failed", faqs=sorted(views), error=str(exc)[:200])
        finally:
            if not stored:  # failed or cancelled: counted with the next ones
                self._views.update(views)

    async def _prune(self, saver: Any, thread: str) -> None:
        try:
            await saver.aprune([thread], strategy="keep_latest")
        except Exception as exc:  # pruning is housekeeping: a failure only delays it
            log.warning("checkpoint prune failed", thread=thread, error=str(exc)[:200])

    async def human_reply(self, conversation_id: int, user: ApiUser, text: str) -> TurnResult:
        """A person's message to the customer, through the thread's channel, signed with their
        name (the console's reply, and the evaluation harness's)."""
        return await self.handle(
            TurnEvent(
                kind="agent_action",
                conversation_id=conversation_id,
                text=f"{text.strip()}\n– {user.name}",
                payload={"user_id": user.id, "id": uuid.uuid4().hex},
            )
        )

    async def receive(
        self,
        phone: str,
        text: str,
        *,
        channel: str = "sms",
        name: str | None = None,
        provider_message_id: str | None = None,
    ) -> TurnResult:
        """Store a customer's message (committed first, so it is never lost), then answer it."""
        async with unit_of_work(self.sessionmaker) as session:
            customer = await bookings.get_or_create_customer(
                session, phone, name=name, channel=channel
            )
            conversation = await bookings.get_or_create_conversation(session, customer.id, channel)
            message = await record_inbound(
                session, conversation, text, provider_message_id=provider_message_id
            )
            event = TurnEvent.customer_message(conversation.id, message.id)
        return await self.handle(event)

    async def receive_burst(
        self, phone: str, texts: Sequence[str], *, channel: str = "sms"
    ) -> TurnResult:
        """Store several texts sent seconds apart, each committed, then answer them as the
        inbox does once the burst wait is over: on SMS and WhatsApp, one turn reads them all."""
        if not texts:
            raise ValueError("a burst needs at least one text")
        async with unit_of_work(self.sessionmaker) as session:
            customer = await bookings.get_or_create_customer(session, phone, channel=channel)
            conversation = await bookings.get_or_create_conversation(session, customer.id, channel)
            messages = [await record_inbound(session, conversation, text) for text in texts]
            event = TurnEvent.customer_message(conversation.id, messages[0].id)
        return await self.handle(event)
