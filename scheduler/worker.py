"""The scheduler loop: claim due touchpoints and run each as a turn through the agent graph.

Any number of workers share the table: a claim takes rows with FOR UPDATE SKIP LOCKED, and a
claim older than the lease (its worker died) is taken again. The turn itself marks the row
sent, skipped or suppressed; a turn that fails is retried with exponential backoff, and after
the last attempt the row is marked failed for the console. A turn cut off by the database going
away is not the touchpoint's failure: the worker keeps its claim and runs it again as soon as
the database answers, spending no attempt and waiting no backoff.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.runtime import AgentRuntime
from agent.state import TurnEvent
from knowledge.db import connection_lost, unit_of_work
from knowledge.infra import metrics
from knowledge.infra.clock import Clock, FrozenClock
from knowledge.infra.loops import pause
from knowledge.models import Booking, Lead
from knowledge.service import KnowledgeService
from scheduler import repository as repo
from scheduler.planner import within_hours
from tools import bookings

log = structlog.get_logger(__name__)

# Messages the customer is waiting for right now are not held back to messaging hours.
IMMEDIATE = {"on_the_way", "arriving"}


class Worker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        runtime: AgentRuntime,
        knowledge: KnowledgeService,
        clock: Clock,
        *,
        batch: int = 20,
        lease: timedelta = timedelta(minutes=5),
        max_attempts: int = 5,
        backoff: timedelta = timedelta(minutes=1),
    ) -> None:
        self.sessionmaker = sessionmaker
        self.runtime = runtime
        self.knowledge = knowledge
        self.clock = clock
        self.batch = batch
        self.lease = lease
        self.max_attempts = max_attempts
        self.backoff = backoff
        self._held: list[repo.Claim] = []  # claimed by this worker and not yet run

    async def run_due(self) -> int:
        """Claim and run what is due now; returns how many touchpoints were run."""
        done = 0
        while True:
            if not self._held:
                async with unit_of_work(self.sessionmaker) as session:
                    claimed = await repo.claim_due(
                        session, self.clock.now(), self.batch, self.lease
                    )
                self._held.extend(claimed)
            if not self._held:
                return done
            while self._held:
                # A claim leaves the list only once it is run or recorded for a retry: if the
                # database goes away mid-batch, this worker runs the rest when it is back
                # instead of leaving them `claimed` until their lease runs out.
                await self._run(self._held[0])
                self._held.pop(0)
                done += 1

    async def _run(self, claim: repo.Claim) -> None:
        now = self.clock.now()
        instruments = metrics.instruments()
        try:
            async with unit_of_work(self.sessionmaker) as session:
                rules = (await self.knowledge.charter(session)).rules
                opens = within_hours(now, rules)
                if claim.kind not in IMMEDIATE and opens > now:
                    await repo.postpone(session, claim.id, opens)
                    return
                if claim.lead_id is not None:
                    conversation_id = await self._lead_conversation(session, claim.lead_id)
                    payload: dict[str, object] = {
                        "touchpoint": claim.kind,
                        "lead_id": claim.lead_id,
                    }
                else:
                    booking = await session.get(Booking, claim.booking_id)
                    assert booking is not None
                    conversation = await bookings.journey_conversation(session, booking)
                    conversation_id = conversation.id
                    payload = {"touchpoint": claim.kind, "booking_id": claim.booking_id}
            instruments.touchpoint_lateness.labels(claim.kind).observe(
                max(0.0, (now - claim.due_at).total_seconds())
            )
            result = await self.runtime.handle(
                TurnEvent(
                    kind="reminder",
                    conversation_id=conversation_id,
                    reminder_id=claim.id,
                    payload=payload,
                )
            )
            ran = "sent" if result.reply_message_id is not None else "nothing_sent"
            instruments.touchpoints.labels(claim.kind, ran).inc()
        except Exception as exc:  # a failed touchpoint is retried, never lost
            if connection_lost(exc):
                raise  # the claim stays held (see run_due) and runs again, no attempt spent
            give_up = claim.attempts >= self.max_attempts
            retry_at = now + self.backoff * (2 ** (claim.attempts - 1))
            instruments.touchpoints.labels(claim.kind, "failed" if give_up else "retry").inc()
            log.warning(
                "touchpoint failed",
                reminder=claim.id,
                kind=claim.kind,
                attempt=claim.attempts,
                give_up=give_up,
                error=str(exc)[:200],
            )
            async with unit_of_work(self.sessionmaker) as session:
                await repo.retry_later(
                    session, claim.id, f"{type(exc).__name__}: {exc}", retry_at, give_up=give_up
                )

    @staticmethod
    async def _lead_conversation(session: AsyncSession, lead_id: int) -> int:
        """The conversation a prospect wrote on: the follow-up goes back the same way."""
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        if lead.conversation_id is not None:
            return lead.conversation_id
        conversation = await bookings.get_or_create_conversation(
            session, lead.customer_id, lead.channel
        )
        return conversation.id

    async def advance(self, clock: FrozenClock, until_: timedelta) -> int:
        """Move a controlled clock forward, running every job that falls due, in order, each
        at its own due time (tests and the evaluation harness)."""
        until = clock.now() + until_
        done = await self.run_due()
        while True:
            async with self.sessionmaker() as session:
                due = await repo.next_due(session, until)
            if due is None:
                break
            clock.set(max(due, clock.now()))
            done += await self.run_due()
        clock.set(until)
        return done + await self.run_due()

    async def run_forever(
        self, stop: asyncio.Event, wake: asyncio.Event | None = None, poll_seconds: float = 1.0
    ) -> None:
        """Run due touchpoints until `stop` is set; `wake` makes it look again at once."""
        wake = wake or asyncio.Event()
        while not stop.is_set():
            wake.clear()
            try:
                await self.run_due()
            except Exception as exc:  # keep the loop alive through database blips
                log.error("scheduler loop error", error=str(exc)[:200])
            await pause(stop, wake, poll_seconds)
