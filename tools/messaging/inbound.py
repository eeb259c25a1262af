"""Storing what customers send, once per provider message id (Twilio's message SID, an
email's Message-ID)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.infra import metrics, tracing
from knowledge.models import Customer, InboundEmail, Message
from tools import addresses, bookings
from tools.messaging.email import IncomingEmail

# Delivery statuses in the order they happen; a late callback never moves a message back.
STATUS_RANK = {
    "pending": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "read": 5,
}
_STATUSES = frozenset(STATUS_RANK)


# Built once (building a statement costs about as much as running it).
_INBOUND = (
    insert(Message)
    .values(
        conversation_id=bindparam("conversation_id"),
        direction="inbound",
        channel=bindparam("channel"),
        author="customer",
        body=bindparam("body"),
        provider_message_id=bindparam("provider_message_id"),
        status="received",
        attempts=0,
        meta=bindparam("meta"),
    )
    .on_conflict_do_nothing(index_elements=[Message.provider_message_id])
    .returning(Message.id)
)


@dataclass(frozen=True)
class Stored:
    message_id: int | None  # None: this provider id was stored before (a retry or replay)
    conversation_id: int


async def store_inbound(
    session: AsyncSession,
    *,
    phone: str,
    channel: str,
    body: str,
    provider_message_id: str,
    profile_name: str | None = None,
    media_count: int = 0,
) -> Stored:
    """Store a customer's message unless its provider id was stored already."""
    customer = await bookings.get_or_create_customer(
        session, phone, name=profile_name, channel=channel
    )
    conversation = await bookings.get_or_create_conversation(session, customer.id, channel)
    message_id = await session.scalar(
        _INBOUND,
        {
            "conversation_id": conversation.id,
            "channel": channel,
            "body": body,
            "provider_message_id": provider_message_id,
            "meta": tracing.stamped({"media": media_count} if media_count else {}),
        },
    )
    if message_id is not None:
        metrics.instruments().received.labels(channel).inc()
    return Stored(message_id=message_id, conversation_id=conversation.id)


async def store_email(session: AsyncSession, mail: IncomingEmail, now: datetime) -> Stored | None:
    """Record an email once (by its Message-ID) and store it as the customer's message; None
    for a repeat delivery and for mail nobody answers (recorded with why; a bounce marks the
    addresses it names undeliverable).

    The conversation is the one of the customer at the sender's address (a new customer for an
    address never seen), whatever thread the email answers: a reply sent from another address
    never joins a thread, or a forwarded thread would hand its booking to whoever holds the
    forward. What it answers (Message-ID, subject, References) is kept for our reply's
    threading headers."""
    ledger = await session.scalar(
        insert(InboundEmail)
        .values(
            key=mail.key,
            message_id_header=mail.message_id[:2000],
            sender=mail.sender[:320],
            subject=mail.subject[:2000],
            outcome=mail.unusable or "stored",
        )
        .on_conflict_do_nothing(index_elements=[InboundEmail.key])
        .returning(InboundEmail.id)
    )
    if ledger is None:
        return None  # delivered before
    if mail.unusable is not None:
        for address in mail.bounced:
            await addresses.mark_undeliverable(session, "email", address)
        return None
    customer = await addresses.customer_at(session, "email", mail.sender)
    if customer is None:
        customer = Customer(name=mail.sender_name, email=mail.sender, preferred_channel="email")
        session.add(customer)
        await session.flush()
    elif mail.sender_name and not customer.name:
        customer.name = mail.sender_name
    await addresses.remember(session, customer.id, "email", mail.sender, seen_at=now)
    if mail.unsubscribe:
        await addresses.set_opted_out(session, customer.id, "email", True)
    conversation = await bookings.get_or_create_conversation(session, customer.id, "email")
    message = Message(
        conversation_id=conversation.id,
        direction="inbound",
        channel="email",
        author="customer",
        body=mail.text,
        provider_message_id=mail.key,
        status="received",
        attempts=0,
        meta={
            "email": {
                "message_id": mail.message_id,
                "subject": mail.subject,
                "references": list(mail.references[-10:]),
            }
        },
    )
    session.add(message)
    await session.flush()
    entry = await session.get(InboundEmail, ledger)
    assert entry is not None
    entry.message_id = message.id
    metrics.instruments().received.labels("email").inc()
    return Stored(message_id=message.id, conversation_id=conversation.id)


def moves_forward(current: str, new: str) -> bool:
    return STATUS_RANK.get(new, -1) > STATUS_RANK.get(current, -1)


async def is_stored(session: AsyncSession, provider_message_id: str) -> bool:
    """Whether a message with this provider id is stored already (a provider's retry)."""
    query = select(Message.id).where(Message.provider_message_id == provider_message_id)
    return await session.scalar(query) is not None


async def record_status(
    session: AsyncSession,
    provider_message_id: str,
    status: str,
    *,
    ours: int | None = None,
    error_code: str | None = None,
) -> None:
    """A provider's delivery report on one of our sends, found by its id, or by ours
    (`ours`, carried on the callback) when the send's own answer was lost. A status only
    moves forward: a late "sent" never undoes "delivered"."""
    message = (
        await session.scalars(
            select(Message)
            .where(Message.provider_message_id == provider_message_id)
            .with_for_update()
        )
    ).first()
    if message is None and ours is not None:
        message = await session.get(Message, ours, with_for_update=True)
        if message is not None and message.provider_message_id is None:
            message.provider_message_id = provider_message_id
            if message.status == "sending":
                message.status = "pending"  # rank 0: any provider status moves it forward
                message.next_attempt_at = None
        elif message is not None and message.provider_message_id != provider_message_id:
            message = None
    if message is not None:
        known = metrics.label(status, _STATUSES)
        metrics.instruments().delivery.labels(message.channel, known).inc()
    if message is not None and moves_forward(message.status, status):
        message.status = status
        if error_code:
            message.error_code = error_code[:20]
