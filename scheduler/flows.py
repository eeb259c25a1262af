"""What a booking's changes mean for its journey: planned when it is created, moved with its
date, stopped when it is cancelled, and the chef's departure announced."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.runtime import AgentRuntime
from agent.state import TurnEvent
from knowledge.charter import Charter, Rules
from knowledge.db import unit_of_work
from knowledge.errors import NotFound
from knowledge.models import AutomatedReminder, Booking
from scheduler import planner
from scheduler import repository as repo
from tools import bookings
from tools.bookings import create as booking_records
from tools.bookings.schemas import BookingCreate, BookingUpdate


async def plan_journey(
    session: AsyncSession, booking: Booking, now: datetime, rules: Rules
) -> None:
    """Plan every touchpoint of a new booking (the confirmation is due at once)."""
    await repo.upsert_plan(session, booking.id, planner.plan(booking.event_at, now, rules), now)
    await session.flush()


async def event_moved(session: AsyncSession, booking: Booking, now: datetime, rules: Rules) -> None:
    """The event date changed: touchpoints that have not gone out follow it."""
    await repo.replan(session, booking.id, planner.plan(booking.event_at, now, rules), now)


async def chef_departed(
    session: AsyncSession, booking: Booking, eta_minutes: int, now: datetime
) -> None:
    """Plan the 'ten minutes away' message from the chef's ETA."""
    arriving = planner.arriving_at(now, eta_minutes)
    row = (
        await session.scalars(
            select(AutomatedReminder).where(
                AutomatedReminder.booking_id == booking.id,
                AutomatedReminder.reminder_type == "arriving",
            )
        )
    ).first()
    if row is None:
        await repo.upsert_plan(session, booking.id, {"arriving": arriving}, now)
    elif row.status == "pending":
        row.scheduled_at = arriving
    await session.flush()


async def announce_departure(runtime: AgentRuntime, booking_id: int, eta_minutes: int) -> None:
    """The chef has left: plan 'ten minutes away' and tell the customer now, as a turn."""
    async with unit_of_work(runtime.sessionmaker) as session:
        booking = await session.get(Booking, booking_id, with_for_update=True)
        if booking is None:
            raise NotFound(f"no booking with id {booking_id}")
        conversation = await bookings.journey_conversation(session, booking)
        await chef_departed(session, booking, eta_minutes, runtime.clock.now())
        conversation_id = conversation.id
    await runtime.handle(
        TurnEvent(
            kind="operational",
            conversation_id=conversation_id,
            payload={
                "touchpoint": "on_the_way",
                "booking_id": booking_id,
                "eta_minutes": eta_minutes,
                "id": f"on_the_way:{booking_id}",
            },
        )
    )


async def create_booking(
    session: AsyncSession,
    data: BookingCreate,
    now: datetime,
    charter: Charter,
    idempotency_key: str | None = None,
) -> tuple[Booking, bool]:
    """Store the booking and plan its journey; returns (booking, created). A retried request
    with the same idempotency key gets the first booking back, its journey untouched."""
    booking, created = await booking_records.create(session, data, now, charter, idempotency_key)
    if created:
        await plan_journey(session, booking, now, charter.rules)
    return booking, created


async def update_booking(
    session: AsyncSession, booking: Booking, data: BookingUpdate, now: datetime, rules: Rules
) -> Booking:
    """Change a booking: a new date moves the journey, a cancellation stops it."""
    change = await booking_records.update(session, booking, data, now)
    if change == "cancelled":
        await repo.cancel_pending(session, booking.id)
    elif change == "moved":
        await event_moved(session, booking, now, rules)
    return booking
