"""Booking flows that touch the journey: create, move the date, chef departed."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.runtime import AgentRuntime
from agent.state import TurnEvent
from knowledge.charter import Charter, Rules
from knowledge.db import unit_of_work
from knowledge.errors import InvalidInput, NotFound
from knowledge.models import AutomatedReminder, Booking
from scheduler import planner
from scheduler import repository as repo
from scheduler.schemas import BookingCreate, BookingUpdate
from tools import addresses, bookings, leads

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_reference() -> str:
    return "MH-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


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
    """Store the customer and booking and plan the journey; returns (booking, created).

    A retried request with the same idempotency key gets the first booking back."""
    if idempotency_key:
        existing = (
            await session.scalars(select(Booking).where(Booking.idempotency_key == idempotency_key))
        ).first()
        if existing is not None:
            return existing, False
    rules = charter.rules
    if data.event_at <= now:
        raise InvalidInput("event_at: the event must be in the future")
    known = set(rules.menu.included_proteins) | {
        a.slug for a in charter.addons if a.category == "premium_protein"
    }
    unknown = [p for p in data.proteins if p not in known]
    if unknown:
        raise InvalidInput(
            f"proteins: unknown {', '.join(unknown)}; choose from {', '.join(sorted(known))}"
        )
    addons = {a.slug for a in charter.addons}
    bad_upgrades = [u for u in data.upgrades if u not in addons]
    if bad_upgrades:
        raise InvalidInput(f"upgrades: unknown {', '.join(bad_upgrades)}")
    customer = await bookings.get_or_create_customer(
        session, data.customer.phone, name=data.customer.name, channel=data.customer.channel
    )
    if data.customer.email:
        if not customer.email:
            customer.email = data.customer.email
        await addresses.remember(session, customer.id, "email", data.customer.email)
    if data.customer.channel != customer.preferred_channel:
        customer.preferred_channel = data.customer.channel
    booking = Booking(
        reference=new_reference(),
        customer_id=customer.id,
        event_at=data.event_at,
        address=data.address,
        adults=data.adults,
        kids=data.kids,
        toddlers=data.toddlers,
        proteins=list(data.proteins),
        upgrades=list(data.upgrades),
        menu_selected=bool(data.proteins),
        deposit_amount=(
            data.deposit_amount if data.deposit_amount is not None else rules.deposit.deposit_amount
        ),
        deposit_paid=data.deposit_paid,
        travel_miles=data.travel_miles,
        access_notes=data.access_notes,
        status="confirmed",
        idempotency_key=idempotency_key,
        created_at=now,  # business time (the free-reschedule window counts from it)
    )
    session.add(booking)
    await session.flush()
    await plan_journey(session, booking, now, rules)
    await leads.mark_booked(session, booking, customer, now)
    return booking, True


async def update_booking(
    session: AsyncSession, booking: Booking, data: BookingUpdate, now: datetime, rules: Rules
) -> Booking:
    """Change a booking: a new date moves the journey, a cancellation stops it."""
    changes = data.model_dump(exclude_unset=True)
    moved = "event_at" in changes and changes["event_at"] != booking.event_at
    if moved and changes["event_at"] <= now:
        raise InvalidInput("event_at: the event must be in the future")
    for name, value in changes.items():
        setattr(booking, name, value)
    if "proteins" in changes:
        booking.menu_selected = bool(changes["proteins"])
        booking.menu_provisional = False
    if booking.adults + booking.kids + booking.toddlers < 1:
        raise InvalidInput("adults: a party needs at least one guest")
    await session.flush()
    if changes.get("status") == "cancelled":
        await repo.cancel_pending(session, booking.id)
    elif moved:
        booking.reschedule_count += 1
        await event_moved(session, booking, now, rules)
    return booking
