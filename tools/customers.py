"""The console's inbox (every conversation, newest activity first, with filters and search) and
a customer's page (their bookings with ratings, their channels and opt-outs, their threads)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.errors import Conflict, NotFound
from knowledge.models import (
    ApiUser,
    Booking,
    Conversation,
    Customer,
    CustomerAddress,
    Escalation,
    Feedback,
    Message,
)

OPEN_CASE = ("open", "in_progress")
_DIGITS = re.compile(r"\D")


@dataclass(frozen=True)
class InboxRow:
    conversation_id: int
    channel: str
    customer_id: int
    customer_name: str | None
    customer_phone: str | None
    customer_email: str | None
    owner: str  # "ai" or "human"
    owner_name: str | None
    last_body: str | None
    last_author: str | None
    last_at: datetime | None
    open_cases: int
    waiting: bool  # the customer wrote last: the business owes an answer


@dataclass(frozen=True)
class InboxFilter:
    channel: str | None = None
    open_case: bool = False
    waiting: bool = False
    search: str | None = None


def _searched(query: Select[Any], text: str) -> Select[Any]:
    """Name, email or booking reference (case-insensitive), or a phone number's digits."""
    text = text.strip()
    like = f"%{text.replace('%', '').replace('_', '')}%"
    matches = [
        Customer.name.ilike(like),
        Customer.email.ilike(like),
        exists().where(
            Booking.customer_id == Customer.id, func.upper(Booking.reference) == text.upper()
        ),
        exists().where(
            CustomerAddress.customer_id == Customer.id, CustomerAddress.address.ilike(like)
        ),
    ]
    digits = _DIGITS.sub("", text)
    if len(digits) >= 4:
        matches.append(Customer.phone.like(f"%{digits}%"))
    return query.where(or_(*matches))


async def inbox(
    session: AsyncSession, wanted: InboxFilter, limit: int = 50, before: int | None = None
) -> list[InboxRow]:
    """Conversations, newest activity first (at most `limit`; `before` pages on by the last
    activity's message id)."""
    last = (
        select(Message.id, Message.body, Message.author, Message.created_at)
        .where(Message.conversation_id == Conversation.id)
        .order_by(Message.id.desc())
        .limit(1)
        .lateral("last")
    )
    cases = (
        select(func.count())
        .where(Escalation.conversation_id == Conversation.id, Escalation.status.in_(OPEN_CASE))
        .scalar_subquery()
    )
    query = (
        select(Conversation, Customer, ApiUser.name, last.c.id, last.c.body, last.c.author)
        .add_columns(last.c.created_at, cases.label("open_cases"))
        .join(Customer, Customer.id == Conversation.customer_id)
        .outerjoin(ApiUser, ApiUser.id == Conversation.owner_user_id)
        .outerjoin(last, true())
    )
    if wanted.channel:
        query = query.where(Conversation.channel == wanted.channel)
    if wanted.open_case:
        query = query.where(cases > 0)
    if wanted.waiting:
        query = query.where(last.c.author == "customer")
    if wanted.search and wanted.search.strip():
        query = _searched(query, wanted.search)
    if before is not None:
        query = query.where(last.c.id < before)
    query = query.order_by(last.c.id.desc().nulls_last(), Conversation.id.desc()).limit(limit)
    rows = (await session.execute(query)).all()
    return [
        InboxRow(
            conversation_id=conversation.id,
            channel=conversation.channel,
            customer_id=customer.id,
            customer_name=customer.name,
            customer_phone=customer.phone,
            customer_email=customer.email,
            owner=conversation.owner,
            owner_name=owner_name,
            last_body=body,
            last_author=author,
            last_at=at,
            open_cases=open_cases,
            waiting=author == "customer",
        )
        for conversation, customer, owner_name, _id, body, author, at, open_cases in rows
    ]


@dataclass(frozen=True)
class Profile:
    customer: Customer
    addresses: list[CustomerAddress]
    bookings: list[tuple[Booking, list[Feedback]]]  # newest party first
    conversations: list[Conversation]
    cases: list[Escalation]  # newest first


async def profile(session: AsyncSession, customer_id: int) -> Profile:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"no customer with id {customer_id}")
    addresses = (
        await session.scalars(
            select(CustomerAddress)
            .where(CustomerAddress.customer_id == customer_id)
            .order_by(CustomerAddress.channel, CustomerAddress.id)
        )
    ).all()
    booked = (
        await session.scalars(
            select(Booking)
            .where(Booking.customer_id == customer_id)
            .order_by(Booking.event_at.desc())
        )
    ).all()
    ratings = (
        await session.scalars(
            select(Feedback)
            .where(Feedback.booking_id.in_([b.id for b in booked]))
            .order_by(Feedback.id)
        )
    ).all()
    conversations = (
        await session.scalars(
            select(Conversation)
            .where(Conversation.customer_id == customer_id)
            .order_by(Conversation.id)
        )
    ).all()
    cases = (
        await session.scalars(
            select(Escalation)
            .where(Escalation.customer_id == customer_id)
            .order_by(Escalation.id.desc())
        )
    ).all()
    return Profile(
        customer=customer,
        addresses=list(addresses),
        bookings=[(b, [f for f in ratings if f.booking_id == b.id]) for b in booked],
        conversations=list(conversations),
        cases=list(cases),
    )


async def take_over(session: AsyncSession, conversation_id: int, user: ApiUser) -> Conversation:
    """A person takes a thread: the agent stays silent on it until it is handed back. Someone
    else's thread is taken only by an admin."""
    conversation = await session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None:
        raise NotFound(f"no conversation with id {conversation_id}")
    holder = conversation.owner_user_id
    if conversation.owner == "human" and holder not in (None, user.id) and user.role != "admin":
        person = await session.get(ApiUser, holder)
        raise Conflict(f"{person.name if person else 'someone else'} has taken this thread over")
    conversation.owner, conversation.owner_user_id = "human", user.id
    await session.flush()
    return conversation


async def hand_back(session: AsyncSession, conversation_id: int, user: ApiUser) -> Conversation:
    """The agent answers the thread again. Cases on it stay as they are."""
    conversation = await session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None:
        raise NotFound(f"no conversation with id {conversation_id}")
    holder = conversation.owner_user_id
    if holder not in (None, user.id) and user.role != "admin":
        raise Conflict("only the person who took this thread over, or an admin, hands it back")
    conversation.owner, conversation.owner_user_id = "ai", None
    await session.flush()
    return conversation
