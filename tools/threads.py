"""Conversations and their messages as the console and the API read them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import Conversation, Message
from tools import addresses, bookings


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
