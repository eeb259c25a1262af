"""Customers, conversations and bookings as a turn reads and changes them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BindParameter, bindparam, case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.errors import NotFound
from knowledge.models import (
    AutomatedReminder,
    Booking,
    Conversation,
    Customer,
    CustomerSentiment,
    Feedback,
)
from tools import addresses
from tools.policy import BookingView

# Ratings and follow-ups still refer to an event for a while after it took place.
RECENT_EVENT_WINDOW = timedelta(days=14)
BOOKING_FIELDS = {
    "adults",
    "kids",
    "toddlers",
    "proteins",
    "upgrades",
    "menu_selected",
    "menu_provisional",
    "status",
    "deposit_refund_due",
    "access_notes",
    "dietary_notes",
}


async def get(session: AsyncSession, booking_id: int, *, lock: bool = False) -> Booking:
    """The booking (locked for update with `lock`), or NotFound."""
    booking = await session.get(Booking, booking_id, with_for_update=lock)
    if booking is None:
        raise NotFound(f"no booking with id {booking_id}")
    return booking


async def touchpoints(session: AsyncSession, booking_id: int) -> list[AutomatedReminder]:
    """The booking's planned journey messages, in the order they are due."""
    query = (
        select(AutomatedReminder)
        .where(AutomatedReminder.booking_id == booking_id)
        .order_by(AutomatedReminder.scheduled_at)
    )
    return list((await session.scalars(query)).all())


def view(booking: Booking) -> BookingView:
    return BookingView(
        reference=booking.reference,
        event_at=booking.event_at,
        created_at=booking.created_at,
        adults=booking.adults,
        kids=booking.kids,
        toddlers=booking.toddlers,
        proteins=tuple(booking.proteins or ()),
        upgrades=tuple(booking.upgrades or ()),
        status=booking.status,
        reschedule_count=booking.reschedule_count,
        deposit_amount=booking.deposit_amount,
        deposit_paid=booking.deposit_paid,
        travel_miles=booking.travel_miles,
    )


# Built once: building a statement costs about as much as running it.
_BY_PHONE = select(Customer).where(Customer.phone == bindparam("phone"))
_CONVERSATION = select(Conversation).where(
    Conversation.customer_id == bindparam("customer_id"),
    Conversation.channel == bindparam("channel"),
)
# The customer's next event, or failing that the latest one since `since` (one statement).
_NOW: BindParameter[datetime] = bindparam("now")
_CURRENT_BOOKING = (
    select(Booking)
    .where(
        Booking.customer_id == bindparam("customer_id"),
        Booking.status != "cancelled",
        Booking.event_at > bindparam("since"),
    )
    .order_by(
        (Booking.event_at > _NOW).desc(),
        case((Booking.event_at > _NOW, Booking.event_at)).asc(),
        Booking.event_at.desc(),
    )
    .limit(1)
)


async def customer_by_phone(session: AsyncSession, phone: str) -> Customer | None:
    return (await session.scalars(_BY_PHONE, {"phone": phone})).first()


async def get_or_create_customer(
    session: AsyncSession, phone: str, *, name: str | None = None, channel: str = "sms"
) -> Customer:
    """The customer with this phone, created if new. Two first messages from one new number
    arriving together both end up with the same customer (the insert yields to the other)."""
    customer = await customer_by_phone(session, phone)
    if customer is None:
        await session.execute(
            insert(Customer)
            .values(phone=phone, name=name, preferred_channel=channel)
            .on_conflict_do_nothing(index_elements=[Customer.phone])
        )
        customer = await customer_by_phone(session, phone)
        assert customer is not None
        await addresses.remember_phone(session, customer.id, phone)
    elif name and not customer.name:
        customer.name = name
    return customer


async def get_or_create_conversation(
    session: AsyncSession, customer_id: int, channel: str
) -> Conversation:
    """The customer's thread on a channel, created if new (safe under concurrent first
    messages, like get_or_create_customer)."""
    which = {"customer_id": customer_id, "channel": channel}
    conversation = (await session.scalars(_CONVERSATION, which)).first()
    if conversation is None:
        await session.execute(
            insert(Conversation)
            .values(customer_id=customer_id, channel=channel, owner="ai")
            .on_conflict_do_nothing(index_elements=[Conversation.customer_id, Conversation.channel])
        )
        conversation = (await session.scalars(_CONVERSATION, which)).first()
        assert conversation is not None
    return conversation


async def journey_conversation(session: AsyncSession, booking: Booking) -> Conversation:
    """Where a booking's journey talks to its customer: their thread on the channel they
    prefer (created if new)."""
    customer = await session.get(Customer, booking.customer_id)
    assert customer is not None
    return await get_or_create_conversation(session, customer.id, customer.preferred_channel)


async def current_booking(session: AsyncSession, customer_id: int, now: datetime) -> Booking | None:
    """The customer's next event, or failing that the one that just took place."""
    since = now - RECENT_EVENT_WINDOW
    found = await session.scalars(
        _CURRENT_BOOKING, {"customer_id": customer_id, "now": now, "since": since}
    )
    return found.first()


async def upcoming(session: AsyncSession, customer_id: int, now: datetime) -> list[Booking]:
    """The customer's bookings still to come, soonest first."""
    query = (
        select(Booking)
        .where(
            Booking.customer_id == customer_id,
            Booking.status != "cancelled",
            Booking.event_at > now,
        )
        .order_by(Booking.event_at)
    )
    return list((await session.scalars(query)).all())


async def completed_before(session: AsyncSession, customer_id: int, booking_id: int | None) -> int:
    """How many earlier bookings of this customer took place (a repeat customer has any)."""
    query = select(func.count()).where(
        Booking.customer_id == customer_id, Booking.status == "completed"
    )
    if booking_id is not None:
        query = query.where(Booking.id != booking_id)
    return int(await session.scalar(query) or 0)


async def apply(
    session: AsyncSession,
    updates: Mapping[str, Any],
    *,
    customer: Customer,
    booking: Booking | None,
    now: datetime,
    channel: str | None = None,
) -> list[str]:
    """Write a decision's updates (`opted_out` switches the conversation's `channel` off or on
    for the customer); returns what changed, for the decision trail."""
    changed: list[str] = []
    for name, value in updates.items():
        if name == "opted_out" and channel is not None:
            await addresses.set_opted_out(session, customer.id, channel, bool(value))
            changed.append(f"{channel}_opted_out")
        elif name in BOOKING_FIELDS and booking is not None:
            if name == "access_notes" and booking.access_notes:
                value = f"{booking.access_notes}\n{value}"
            setattr(booking, name, value)
            changed.append(name)
    if booking is not None and updates.get("status") == "cancelled":
        await session.execute(
            update(AutomatedReminder)
            .where(
                AutomatedReminder.booking_id == booking.id, AutomatedReminder.status == "pending"
            )
            .values(status="cancelled")
        )
        changed.append("reminders_cancelled")
    if booking is not None and "feedback" in updates:
        await record_rating(
            session,
            customer,
            booking,
            int(updates["feedback"]),
            now,
            promoter=bool(updates.get("promoter")),
        )
        changed.append("feedback")
    await session.flush()
    return changed


async def record_rating(
    session: AsyncSession,
    customer: Customer,
    booking: Booking,
    rating: int,
    now: datetime,
    *,
    promoter: bool,
) -> None:
    session.add(
        Feedback(
            booking_id=booking.id,
            rating=rating,
            review_source="google" if promoter else "internal",
            escalated_to_human=not promoter,
        )
    )
    if promoter:
        customer.is_promoter = True
    sentiment = (
        await session.scalars(
            select(CustomerSentiment).where(CustomerSentiment.customer_id == customer.id)
        )
    ).first()
    if sentiment is None:
        sentiment = CustomerSentiment(customer_id=customer.id, total_bookings=0)
        session.add(sentiment)
    sentiment.last_rating = rating
    sentiment.sentiment_score = (Decimal(rating) - 1) / 4
    sentiment.last_updated = now
