"""A booking's history: what was done to it, by whom and when (queries; the caller commits)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import ApiUser, BookingHistory


async def record(
    session: AsyncSession,
    booking_id: int,
    action: str,
    details: Mapping[str, Any],
    now: datetime,
    *,
    user_id: int | None = None,
) -> BookingHistory:
    """Add one line to the booking's history (user None: the agent did it)."""
    entry = BookingHistory(
        booking_id=booking_id,
        user_id=user_id,
        action=action,
        details=dict(details),
        created_at=now,
    )
    session.add(entry)
    await session.flush()
    return entry


async def of(session: AsyncSession, booking_id: int) -> list[tuple[BookingHistory, str | None]]:
    """The booking's history, oldest first, each line with the name of the person who acted."""
    query = (
        select(BookingHistory, ApiUser.name)
        .outerjoin(ApiUser, ApiUser.id == BookingHistory.user_id)
        .where(BookingHistory.booking_id == booking_id)
        .order_by(BookingHistory.created_at, BookingHistory.id)
    )
    return [(entry, name) for entry, name in (await session.execute(query)).all()]
