"""Storing what customers send, once per provider message id."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import Message
from tools import bookings

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
        insert(Message)
        .values(
            conversation_id=conversation.id,
            direction="inbound",
            channel=channel,
            author="customer",
            body=body,
            provider_message_id=provider_message_id,
            status="received",
            attempts=0,
            meta={"media": media_count} if media_count else {},
        )
        .on_conflict_do_nothing(index_elements=[Message.provider_message_id])
        .returning(Message.id)
    )
    return Stored(message_id=message_id, conversation_id=conversation.id)


def moves_forward(current: str, new: str) -> bool:
    return STATUS_RANK.get(new, -1) > STATUS_RANK.get(current, -1)
