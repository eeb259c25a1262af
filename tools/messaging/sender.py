"""The outbox sender: delivers committed outbound rows through their channel's transport.

Rows are claimed with SKIP LOCKED. Each is prepared inside a database session (address,
thread, templates) and sent after it closes. A busy provider (Twilio 429 and 5xx, SMTP 4xx) is
retried with exponential backoff; 21610 (unsubscribed) records the opt-out; other refusals fail
at once. A send with no answer stays `sending`: Twilio's status callback carries our message id
and fills in its own, and only if no callback arrives within the grace period is it sent again.
A row on a channel with no transport configured is marked simulated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge.db import unit_of_work
from knowledge.infra import metrics
from knowledge.infra.clock import Clock
from knowledge.infra.faults import crash_point
from knowledge.infra.loops import pause
from knowledge.models import Conversation, Customer, Message
from knowledge.models.conversations import MESSAGE_STATUSES
from tools import addresses
from tools.messaging.channels import Outgoing, SendResult, Transport

log = structlog.get_logger(__name__)
_STATUSES = frozenset(MESSAGE_STATUSES)

_CLAIM = text(
    """
    UPDATE messages AS m
    SET status = 'sending', attempts = m.attempts + 1, next_attempt_at = :now + :grace
    WHERE m.id IN (
        SELECT id FROM messages
        WHERE direction = 'outbound'
          AND ((status = 'pending' AND coalesce(next_attempt_at, :now) <= :now)
               OR (status = 'sending' AND provider_message_id IS NULL AND next_attempt_at <= :now))
        ORDER BY id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING m.id
    """
)


class OutboxSender:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        transports: Mapping[str, Transport],
        clock: Clock,
        *,
        max_attempts: int = 5,
        backoff: timedelta = timedelta(seconds=30),
        unknown_grace: timedelta = timedelta(minutes=2),
        batch: int = 20,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.transports = transports
        self.clock = clock
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.unknown_grace = unknown_grace
        self.batch = batch

    async def send_pending(self) -> int:
        sent = 0
        while True:
            now = self.clock.now()
            async with unit_of_work(self.sessionmaker) as session:
                ids = list(
                    await session.scalars(
                        _CLAIM, {"now": now, "grace": self.unknown_grace, "limit": self.batch}
                    )
                )
            if not ids:
                return sent
            for message_id in ids:
                await self._send(message_id)
                sent += 1

    async def _send(self, message_id: int) -> None:
        async with self.sessionmaker() as session:
            message = await session.get(Message, message_id)
            assert message is not None
            conversation = await session.get(Conversation, message.conversation_id)
            assert conversation is not None
            customer = await session.get(Customer, conversation.customer_id)
            assert customer is not None
            transport = self.transports.get(message.channel)
            prepared: Outgoing | SendResult = (
                SendResult(status="simulated")
                if transport is None
                else await transport.prepare(session, message, conversation, customer)
            )
        if isinstance(prepared, SendResult):
            await self._record(message_id, prepared)
            return
        result = await prepared.send()
        if result.sid:
            crash_point("reply_sent")
        await self._record(message_id, result, prepared.note)

    async def _record(self, message_id: int, result: SendResult, note: str | None = None) -> None:
        now = self.clock.now()
        async with unit_of_work(self.sessionmaker) as session:
            message = await session.get(Message, message_id, with_for_update=True)
            assert message is not None
            if note:
                message.meta = {**message.meta, "delivery_note": note}
            if message.status != "sending":
                return  # a status callback got here first
            sent = metrics.instruments().sent
            if result.sid or result.status in ("sent", "simulated"):
                message.provider_message_id = result.sid or message.provider_message_id
                message.status = result.status or "queued"
                message.next_attempt_at = None
                sent.labels(message.channel, metrics.label(message.status, _STATUSES)).inc()
                return
            message.error_code = result.error_code
            if result.opted_out:
                conversation = await session.get(Conversation, message.conversation_id)
                assert conversation is not None
                await addresses.set_opted_out(
                    session, conversation.customer_id, message.channel, True
                )
            if result.unknown:
                log.warning("send outcome unknown; waiting for a status callback", id=message_id)
                sent.labels(message.channel, "unknown").inc()
                if message.attempts >= self.max_attempts:
                    message.status = "failed"
                return  # stays `sending` until a callback or the grace period passes
            if result.retry and message.attempts < self.max_attempts:
                message.status = "pending"
                message.next_attempt_at = now + self.backoff * (2 ** (message.attempts - 1))
                sent.labels(message.channel, "retry").inc()
                metrics.instruments().outbox_retries.labels(message.channel).inc()
                return
            message.status = "failed"
            message.next_attempt_at = None
            sent.labels(message.channel, "failed").inc()


async def run_sender(sender: OutboxSender, stop: asyncio.Event, poll_seconds: float = 1.0) -> None:
    """Deliver the outbox until `stop` is set."""
    while not stop.is_set():
        try:
            await sender.send_pending()
        except Exception as exc:  # keep delivering through database blips
            log.error("outbox loop error", error=str(exc)[:200])
        await pause(stop, None, poll_seconds)
