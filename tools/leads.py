"""Leads in the database: a prospect's party as collected, its follow-up, and the booking it
became. Callers own the transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.charter import Rules
from knowledge.models import AutomatedReminder, Booking, Conversation, Customer, Lead
from tools.prospects import LeadView

FOLLOW_UP = "lead_follow_up"
#: Lead columns a turn may set (what the prospect told us, and where it is).
FIELDS = (
    "name",
    "email",
    "phone",
    "event_date",
    "event_time",
    "adults",
    "kids",
    "toddlers",
    "zip_code",
    "place",
    "travel_miles",
    "upgrades",
)


async def newest(
    session: AsyncSession, status: str | None, limit: int
) -> list[tuple[Lead, str | None, datetime | None]]:
    """The newest leads (of one status, or all), each with its follow-up's state and when it
    went out."""
    query = (
        select(Lead, AutomatedReminder.status, AutomatedReminder.sent_at)
        .outerjoin(AutomatedReminder, AutomatedReminder.lead_id == Lead.id)
        .order_by(Lead.created_at.desc(), Lead.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(Lead.status == status)
    return [(lead, state, sent) for lead, state, sent in (await session.execute(query)).all()]


_OPEN = select(Lead).where(
    Lead.conversation_id == bindparam("conversation_id"), Lead.status == "open"
)


async def open_for(session: AsyncSession, conversation_id: int) -> Lead | None:
    return (await session.scalars(_OPEN, {"conversation_id": conversation_id})).first()


def view(lead: Lead | None) -> LeadView:
    if lead is None:
        return LeadView()
    return LeadView(
        name=lead.name,
        email=lead.email,
        phone=lead.phone,
        event_date=lead.event_date,
        event_time=lead.event_time,
        adults=lead.adults,
        kids=lead.kids,
        toddlers=lead.toddlers,
        zip_code=lead.zip_code,
        place=lead.place,
        travel_miles=lead.travel_miles,
        upgrades=tuple(lead.upgrades or ()),
    )


async def save(
    session: AsyncSession,
    lead: Lead | None,
    values: Mapping[str, Any],
    *,
    customer: Customer,
    conversation: Conversation,
    now: datetime,
    link_sent: bool,
) -> Lead:
    """Create or update the conversation's open lead with what this turn learned: its fields
    (`FIELDS`), `status` when the prospect gave up, `quote_total` when a quote went out."""
    if lead is None:
        lead = Lead(
            customer_id=customer.id,
            conversation_id=conversation.id,
            channel=conversation.channel,
            status="open",
            upgrades=[],
            quotes_sent=0,
            created_at=now,
        )
        session.add(lead)
    if values.get("status") == "lost":
        lead.status = "lost"
    for key in FIELDS:
        if key in values:
            setattr(lead, key, list(values[key]) if key == "upgrades" else values[key])
    if "quote_total" in values:
        lead.quotes_sent = (lead.quotes_sent or 0) + 1
        lead.quoted_at = now
        lead.quote_total = values["quote_total"]
    if link_sent and lead.link_sent_at is None:
        lead.link_sent_at = now
    lead.updated_at = now
    await session.flush()
    return lead


async def plan_follow_up(session: AsyncSession, lead: Lead, now: datetime, rules: Rules) -> None:
    """The one follow-up, a day (the rule's hours) after our latest reply, unless the business
    turned follow-ups off. A follow-up that went (or was claimed, skipped or suppressed) is
    never planned again. The scheduler moves it into messaging hours."""
    if not rules.leads.follow_up:
        return
    due = now + timedelta(hours=rules.leads.follow_up_hours)
    await session.execute(
        insert(AutomatedReminder)
        .values(
            lead_id=lead.id,
            reminder_type=FOLLOW_UP,
            scheduled_at=due,
            status="pending",
            attempts=0,
        )
        .on_conflict_do_update(
            index_elements=["lead_id", "reminder_type"],
            set_={"scheduled_at": due, "status": "pending", "attempts": 0},
            where=AutomatedReminder.status.in_(("pending", "cancelled")),
        )
    )


async def cancel_follow_up(session: AsyncSession, lead_id: int) -> None:
    """The prospect wrote back: their follow-up does not go (our answer may plan a new one)."""
    await session.execute(
        update(AutomatedReminder)
        .where(AutomatedReminder.lead_id == lead_id, AutomatedReminder.status == "pending")
        .values(status="cancelled", last_error="the prospect wrote back")
    )


async def mark_booked(
    session: AsyncSession, booking: Booking, customer: Customer, now: datetime
) -> int:
    """A booking for a prospect's phone or email: their open leads are booked, linked to it,
    and their follow-ups cancelled. Returns how many leads it closed."""
    match = [Lead.customer_id == customer.id]
    if customer.phone:
        match.append(Lead.phone == customer.phone)
    if customer.email:
        match.append(Lead.email == customer.email.lower())
    leads = (await session.scalars(select(Lead).where(Lead.status == "open", or_(*match)))).all()
    for lead in leads:
        lead.status, lead.booking_id, lead.booked_at = "booked", booking.id, now
    if leads:
        await session.execute(
            update(AutomatedReminder)
            .where(
                AutomatedReminder.lead_id.in_([lead.id for lead in leads]),
                AutomatedReminder.status.in_(("pending", "claimed")),
            )
            .values(status="cancelled", last_error="the prospect booked")
        )
        await session.flush()
    return len(leads)
