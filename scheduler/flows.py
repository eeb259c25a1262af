"""Booking flows that touch the journey: create, move the date, chef departed."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.charter import Rules
from knowledge.models import AutomatedReminder, Booking
from scheduler import planner
from scheduler import repository as repo

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
