"""Due touchpoints in bulk, for the scheduler's process tests and its benchmark."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge.db import unit_of_work
from knowledge.models import AutomatedReminder, Booking, Customer


async def due_confirmations(
    sessions: async_sessionmaker[AsyncSession], count: int, due: datetime, phone_prefix: str
) -> None:
    """`count` bookings a month after `due`, each with its confirmation due at `due`."""
    async with unit_of_work(sessions) as session:
        for n in range(count):
            customer = Customer(name=f"Guest {n}", phone=f"{phone_prefix}{n:04d}")
            session.add(customer)
            await session.flush()
            booking = Booking(
                reference=f"MH-P{n:05d}",
                customer_id=customer.id,
                event_at=due + timedelta(days=30),
                address="1 Test Way",
                adults=10,
            )
            session.add(booking)
            await session.flush()
            session.add(
                AutomatedReminder(
                    booking_id=booking.id, reminder_type="confirmation", scheduled_at=due
                )
            )
