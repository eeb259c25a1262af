"""Bookings from the business's booking site: checked against the menu, stored with their
customer, and changed later by the business. The journey each one starts is the scheduler's."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.charter import Charter
from knowledge.errors import InvalidInput
from knowledge.models import Booking
from tools import addresses, leads
from tools.bookings import get_or_create_customer
from tools.bookings.schemas import BookingCreate, BookingUpdate

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

#: What a change means for the booking's journey: nothing, a new date, or no event at all.
JourneyChange = Literal["none", "moved", "cancelled"]


def new_reference() -> str:
    return "MH-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


async def create(
    session: AsyncSession,
    data: BookingCreate,
    now: datetime,
    charter: Charter,
    idempotency_key: str | None = None,
) -> tuple[Booking, bool]:
    """Store the customer and the booking; returns (booking, created). A retried request with
    the same idempotency key gets the first booking back."""
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
    customer = await get_or_create_customer(
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
    await leads.mark_booked(session, booking, customer, now)
    return booking, True


async def update(
    session: AsyncSession, booking: Booking, data: BookingUpdate, now: datetime
) -> JourneyChange:
    """Change a booking as the business asks; says what that means for its journey (a new date
    counts as a reschedule)."""
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
        return "cancelled"
    if moved:
        booking.reschedule_count += 1
        return "moved"
    return "none"
