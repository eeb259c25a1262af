"""The outbox sender: delivers committed outbound rows through the customer's channel.

Rows are claimed with SKIP LOCKED. Twilio 429 and 5xx are retried with exponential backoff;
21610 (unsubscribed) records the opt-out; other 4xx fail at once. A send with no answer stays
`sending`: the status callback carries our message id and fills in Twilio's, and only if no
callback arrives within the grace period is it sent again.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import structlog
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge.clock import Clock
from knowledge.db import unit_of_work
from knowledge.faults import crash_point
from knowledge.loops import pause
from knowledge.models import Conversation, Customer, Message
from knowledge.schemas import WhatsappTemplate
from knowledge.service import KnowledgeService
from tools import addresses
from tools.messaging import email as emails
from tools.messaging.channels import SendResult
from tools.messaging.email import SUBJECTS as JOURNEY_SUBJECTS
from tools.messaging.smtp import SmtpTransport
from tools.messaging.twilio import TwilioChannel

log = structlog.get_logger(__name__)

#: The journey's messages (touchpoints), sent by email in the fuller layout.
JOURNEY_KINDS = frozenset(JOURNEY_SUBJECTS)

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
        twilio: TwilioChannel | None,
        clock: Clock,
        *,
        max_attempts: int = 5,
        backoff: timedelta = timedelta(seconds=30),
        unknown_grace: timedelta = timedelta(minutes=2),
        batch: int = 20,
        knowledge: KnowledgeService | None = None,
        email: SmtpTransport | None = None,
        shop_email: str = "agent@localhost",
    ) -> None:
        self.knowledge = knowledge
        self.email = email
        self.shop_email = shop_email
        self.sessionmaker = sessionmaker
        self.twilio = twilio
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
        note: str | None = None
        template: WhatsappTemplate | None = None
        variables: dict[str, str] = {}
        mail: EmailMessage | SendResult | None = None
        async with self.sessionmaker() as session:
            message = await session.get(Message, message_id)
            assert message is not None
            conversation = await session.get(Conversation, message.conversation_id)
            assert conversation is not None
            customer = await session.get(Customer, conversation.customer_id)
            assert customer is not None
            to, channel, body = customer.phone, message.channel, message.body
            if channel == "email":
                mail = await self._email(session, message, conversation)
            if channel == "whatsapp" and self.knowledge is not None:
                rules = (await self.knowledge.charter(session)).rules
                window = timedelta(hours=rules.whatsapp.session_window_hours)
                last = conversation.last_inbound_at
                if last is None or self.clock.now() - last > window:
                    template = rules.whatsapp.templates.get(message.kind or "")
                    if template is None:
                        channel = "sms"
                        hours = f"{window.total_seconds() / 3600:g}"
                        note = (
                            f"sent by SMS: no WhatsApp template for '{message.kind}' and the "
                            f"customer has not written in the last {hours} h"
                        )
                    else:
                        facts = _facts(message.meta)
                        variables = {
                            str(i): str(facts.get(name, ""))
                            for i, name in enumerate(template.variables, start=1)
                        }
        if isinstance(mail, SendResult):
            result = mail  # nowhere to send it
        elif mail is not None:
            assert self.email is not None
            result = await self.email.send(mail)
            if result.sid:
                crash_point("reply_sent")
        elif channel == "web" or self.twilio is None or not to:
            result = SendResult(status="sent" if channel == "web" else "simulated")
        else:
            result = await self.twilio.send(
                to=to,
                channel=channel,
                body=body,
                message_id=message_id,
                content_sid=template.content_sid if template else None,
                content_variables=variables,
            )
            if result.sid:
                crash_point("reply_sent")
        await self._record(message_id, result, note)

    async def _email(
        self, session: AsyncSession, message: Message, conversation: Conversation
    ) -> EmailMessage | SendResult:
        """The email a message becomes: to the customer's address, answering their latest
        email (subject and threading headers) if they wrote one, the journey's messages in
        the fuller layout."""
        if self.email is None:
            return SendResult(status="simulated")
        address = await addresses.address_of(session, conversation.customer_id, "email")
        if address is None:
            return SendResult(error_code="no_address")
        if address.opted_out or address.undeliverable:
            return SendResult(error_code="opted_out" if address.opted_out else "undeliverable")
        latest = await session.scalar(
            select(Message.meta)
            .where(
                Message.conversation_id == conversation.id,
                Message.direction == "inbound",
                Message.id < message.id,
                Message.meta.has_key("email"),
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
        answered = (latest or {}).get("email") or {}
        journey = message.kind in JOURNEY_KINDS
        business = "Our team"
        if self.knowledge is not None:
            business = (await self.knowledge.charter(session)).rules.business.name
        return emails.compose(
            body=message.body,
            to=address.address,
            sender=self.shop_email,
            business=business,
            kind=message.kind,
            message_id=message.id,
            thread=emails.Thread(
                message_id=None if journey else answered.get("message_id"),
                subject=None if journey else answered.get("subject"),
                references=tuple(answered.get("references") or ()),
            ),
            sent_at=self.clock.now(),
            journey=journey,
        )

    async def _record(self, message_id: int, result: SendResult, note: str | None = None) -> None:
        now = self.clock.now()
        async with unit_of_work(self.sessionmaker) as session:
            message = await session.get(Message, message_id, with_for_update=True)
            assert message is not None
            if note:
                message.meta = {**message.meta, "delivery_note": note}
            if message.status != "sending":
                return  # a status callback got here first
            if result.sid or result.status in ("sent", "simulated"):
                message.provider_message_id = result.sid or message.provider_message_id
                message.status = result.status or "queued"
                message.next_attempt_at = None
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
                if message.attempts >= self.max_attempts:
                    message.status = "failed"
                return  # stays `sending` until a callback or the grace period passes
            if result.retry and message.attempts < self.max_attempts:
                message.status = "pending"
                message.next_attempt_at = now + self.backoff * (2 ** (message.attempts - 1))
                return
            message.status = "failed"
            message.next_attempt_at = None


def _facts(meta: dict[str, Any]) -> dict[str, Any]:
    """The first decision's facts from a reply's decision trail."""
    decisions = meta.get("decisions") or []
    facts = decisions[0].get("facts", {}) if decisions else {}
    return facts if isinstance(facts, dict) else {}


async def run_sender(sender: OutboxSender, stop: asyncio.Event, poll_seconds: float = 1.0) -> None:
    """Deliver the outbox until `stop` is set."""
    while not stop.is_set():
        try:
            await sender.send_pending()
        except Exception as exc:  # keep delivering through database blips
            log.error("outbox loop error", error=str(exc)[:200])
        await pause(stop, None, poll_seconds)
