"""What a booking's changes mean for its journey: planned when it is created, moved with its
date, stopped when it is cancelled, and the chef's departure announced; and the console's
actions on a booking (cancel, reschedule, the deposit refund), each on the policy's terms, told
to the customer and written to the booking's history."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent import notices
from agent.runtime import AgentRuntime
from agent.state import TurnEvent
from knowledge.charter import Charter, Rules
from knowledge.db import unit_of_work
from knowledge.errors import NotFound
from knowledge.models import ApiUser, AutomatedReminder, Booking, BookingHistory, Customer
from scheduler import planner
from scheduler import repository as repo
from tools import bookings
from tools.bookings import actions
from tools.bookings import create as booking_records
from tools.bookings.schemas import (
    BookingCreate,
    BookingUpdate,
    CancellationPreview,
    ReschedulePreview,
)
from tools.policy import Decision


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


# ---- the console's actions on a booking ---------------------------------------------------


async def _customer(session: AsyncSession, booking: Booking) -> Customer:
    customer = await session.get(Customer, booking.customer_id)
    assert customer is not None
    return customer


async def _tell(
    session: AsyncSession,
    booking: Booking,
    entry: BookingHistory,
    decision: Decision,
    user: ApiUser,
    charter: Charter,
    simulated: Collection[str],
) -> int | None:
    """Queue the customer's message about the action where their journey talks to them, and
    note it on the history line."""
    customer = await _customer(session, booking)
    conversation = await bookings.journey_conversation(session, booking)
    message_id = await notices.queue(
        session,
        conversation,
        customer,
        decision,
        charter.rules,
        key=f"booking-history:{entry.id}",
        by=user,
        simulated=simulated,
    )
    entry.details = {**entry.details, "message_id": message_id, "channel": conversation.channel}
    await session.flush()
    return message_id


async def cancellation_terms(
    session: AsyncSession, booking: Booking, now: datetime, charter: Charter
) -> tuple[Decision, CancellationPreview]:
    """What cancelling the booking now would do and tell the customer; nothing changes."""
    rules = charter.rules
    decision = actions.cancellation(booking, now, rules)
    customer = await _customer(session, booking)
    channel = customer.preferred_channel
    message = await notices.text_for(session, decision, customer, channel, rules)
    preview = actions.cancellation_preview(
        booking, decision, now, rules, channel=channel, message=message
    )
    return decision, preview


async def cancel_booking(
    session: AsyncSession,
    booking: Booking,
    user: ApiUser,
    now: datetime,
    charter: Charter,
    *,
    simulated: Collection[str],
    expect_refund: bool | None = None,
) -> tuple[BookingHistory, int | None]:
    """Cancel the booking on the policy's terms: its pending touchpoints stop, the customer is
    told in the business's wording, and the history says who did it and why. Returns the
    history line and the message queued (None: the customer left that channel)."""
    decision, preview = await cancellation_terms(session, booking, now, charter)
    actions.expect_refund(decision, expect_refund)
    customer = await _customer(session, booking)
    entry = await actions.cancel(
        session, booking, customer, decision, preview, now, user_id=user.id
    )
    message_id = await _tell(session, booking, entry, decision, user, charter, simulated)
    return entry, message_id


async def reschedule_terms(
    session: AsyncSession, booking: Booking, new_at: datetime, now: datetime, charter: Charter
) -> tuple[Decision, ReschedulePreview]:
    """What moving the booking to `new_at` would cost and tell the customer; nothing changes.
    A time that has passed or that the chefs are all taken at is refused."""
    rules = charter.rules
    decision = await actions.reschedule(session, booking, new_at, now, rules)
    customer = await _customer(session, booking)
    channel = customer.preferred_channel
    message = await notices.text_for(session, decision, customer, channel, rules)
    preview = actions.reschedule_preview(
        booking, decision, now, rules, channel=channel, message=message
    )
    return decision, preview


async def reschedule_booking(
    session: AsyncSession,
    booking: Booking,
    new_at: datetime,
    user: ApiUser,
    now: datetime,
    charter: Charter,
    *,
    simulated: Collection[str],
    expect_fee: Decimal | None = None,
) -> tuple[BookingHistory, int | None]:
    """Move the booking on the policy's terms: the same change as any new date (the journey's
    touchpoints follow it, the move is counted), the customer told the new date and the fee,
    and the history written."""
    decision, preview = await reschedule_terms(session, booking, new_at, now, charter)
    actions.expect_fee(preview, expect_fee)
    moved_from = booking.event_at
    await update_booking(session, booking, BookingUpdate(event_at=new_at), now, charter.rules)
    entry = await actions.record_move(session, booking, moved_from, preview, now, user_id=user.id)
    message_id = await _tell(session, booking, entry, decision, user, charter, simulated)
    return entry, message_id


async def deposit_refunded(
    session: AsyncSession,
    booking: Booking,
    user: ApiUser,
    now: datetime,
    charter: Charter,
    *,
    simulated: Collection[str],
) -> tuple[BookingHistory, int | None]:
    """Record the refund the policy gave as made, tell the customer (the cancellation message
    promised it), and write the history."""
    decision = actions.deposit_refund(booking, charter.rules)
    entry = await actions.mark_deposit_refunded(session, booking, now, user_id=user.id)
    message_id = await _tell(session, booking, entry, decision, user, charter, simulated)
    return entry, message_id
