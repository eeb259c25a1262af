"""Conversations and their messages as the console and the API read them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.errors import NotFound
from knowledge.models import ApiUser, Conversation, Message
from tools import addresses, bookings


async def get(session: AsyncSession, conversation_id: int) -> Conversation:
    """The conversation, or NotFound."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation with id {conversation_id}")
    return conversation


async def holder(session: AsyncSession, conversation: Conversation) -> ApiUser | None:
    """The person who has taken the thread over, if anyone has."""
    if conversation.owner_user_id is None:
        return None
    return await session.get(ApiUser, conversation.owner_user_id)


async def message(session: AsyncSession, message_id: int) -> Message | None:
    return await session.get(Message, message_id)


async def of_customer(session: AsyncSession, customer_id: int) -> list[Conversation]:
    """The customer's threads, one per channel, oldest first."""
    query = (
        select(Conversation)
        .where(Conversation.customer_id == customer_id)
        .order_by(Conversation.id)
    )
    return list((await session.scalars(query)).all())


async def of_phone(session: AsyncSession, phone: str) -> list[Conversation]:
    customer = await bookings.customer_by_phone(session, phone)
    return await of_customer(session, customer.id) if customer else []


async def of_email(session: AsyncSession, email: str) -> list[Conversation]:
    customer = await addresses.customer_at(session, "email", email)
    return await of_customer(session, customer.id) if customer else []


async def messages(session: AsyncSession, conversation_id: int, limit: int) -> list[Message]:
    """A thread's messages in the order they happened."""
    query = (
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.created_at, Message.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def customer_messages(session: AsyncSession, customer_id: int, limit: int) -> list[Message]:
    """Every message with the customer, on every channel, oldest first."""
    query = (
        select(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.customer_id == customer_id)
        .order_by(Message.created_at, Message.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def since(
    session: AsyncSession,
    conversation_id: int,
    after: int,
    *,
    outbound_only: bool = False,
    limit: int | None = None,
) -> list[Message]:
    """A thread's messages stored after message `after`, in the order they were stored (what a
    chat window that has seen up to `after` has not shown yet)."""
    query = select(Message).where(Message.conversation_id == conversation_id, Message.id > after)
    if outbound_only:
        query = query.where(Message.direction == "outbound")
    query = query.order_by(Message.id)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.scalars(query)).all())
