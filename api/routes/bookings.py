"""Bookings from the business's booking site, and operational events such as chef departed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import AdminUser, CurrentUser, Knowledge, Session, State
from knowledge.models import Booking
from knowledge.schemas import RowId
from scheduler import flows
from tools import bookings
from tools.bookings.schemas import (
    BookingCreate,
    BookingUpdate,
    BookingView,
    ChefDeparted,
    TouchpointView,
)

router = APIRouter(prefix="/api/v1/bookings", tags=["bookings"])


async def booking_view(session: AsyncSession, booking: Booking) -> BookingView:
    rows = await bookings.touchpoints(session, booking.id)
    view = BookingView.model_validate(booking)
    view.touchpoints = [
        TouchpointView(
            kind=r.reminder_type,
            due_at=r.scheduled_at,
            status=r.status,
            attempts=r.attempts,
            last_error=r.last_error,
        )
        for r in rows
    ]
    return view


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_booking(
    data: BookingCreate,
    response: Response,
    _: AdminUser,
    session: Session,
    knowledge: Knowledge,
    state: State,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> BookingView:
    """Create a booking and plan its journey; the confirmation goes out at once."""
    charter = await knowledge.charter(session)
    # A blank key is no key: stored, it would make every later blank-keyed booking a conflict.
    key = (idempotency_key or "").strip() or None
    booking, created = await flows.create_booking(session, data, state.clock.now(), charter, key)
    view = await booking_view(session, booking)
    await session.commit()
    if created:
        state.worker_wake.set()
    else:
        response.status_code = status.HTTP_200_OK
    return view


@router.get("/{booking_id}")
async def get_booking(booking_id: RowId, _: CurrentUser, session: Session) -> BookingView:
    return await booking_view(session, await bookings.get(session, booking_id))


@router.patch("/{booking_id}")
async def update_booking(
    booking_id: RowId,
    data: BookingUpdate,
    _: CurrentUser,
    session: Session,
    knowledge: Knowledge,
    state: State,
) -> BookingView:
    booking = await bookings.get(session, booking_id, lock=True)
    rules = await knowledge.rules(session)
    await flows.update_booking(session, booking, data, state.clock.now(), rules)
    view = await booking_view(session, booking)
    await session.commit()
    state.worker_wake.set()
    return view


@router.post("/{booking_id}/chef-departed")
async def chef_departed(
    booking_id: RowId, data: ChefDeparted, _: CurrentUser, session: Session, state: State
) -> BookingView:
    """Tell the customer the chef is on the way, and plan the 'ten minutes away' message."""
    await bookings.get(session, booking_id)
    await session.commit()  # nothing of ours is held while the turn runs
    await flows.announce_departure(state.runtime, booking_id, data.eta_minutes)
    state.worker_wake.set()
    return await booking_view(session, await bookings.get(session, booking_id))
