"""The console's actions on a booking: cancel and reschedule with the policy's terms shown first,
record the deposit refund, and read the booking's history. Agents and admins may act; every
action tells the customer and is written to the history with who did it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import CurrentUser, Knowledge, Session, State
from api.routes.bookings import booking_view
from knowledge.models import ApiUser, Booking, BookingHistory
from knowledge.schemas import RowId
from scheduler import flows
from tools import bookings
from tools.bookings import actions
from tools.bookings.schemas import (
    ActionResult,
    CancellationPreview,
    CancelRequest,
    HistoryEntry,
    ReschedulePreview,
    RescheduleRequest,
)

router = APIRouter(prefix="/api/v1/bookings", tags=["bookings"])


async def _result(
    session: AsyncSession,
    booking: Booking,
    entry: BookingHistory,
    user: ApiUser,
    message_id: int | None,
) -> ActionResult:
    return ActionResult(
        booking=await booking_view(session, booking),
        entry=actions.entry_view(entry, user.name),
        message_id=message_id,
    )


@router.get("/{booking_id}/cancellation")
async def cancellation_terms(
    booking_id: RowId, _: CurrentUser, session: Session, knowledge: Knowledge, state: State
) -> CancellationPreview:
    """What cancelling now would do: refund or not and why (from the live cancellation rule),
    the reschedule the policy offers instead, and the message the customer would get."""
    booking = await bookings.get(session, booking_id)
    charter = await knowledge.charter(session)
    return (await flows.cancellation_terms(session, booking, state.clock.now(), charter))[1]


@router.post("/{booking_id}/cancel")
async def cancel(
    booking_id: RowId,
    user: CurrentUser,
    session: Session,
    knowledge: Knowledge,
    state: State,
    data: Annotated[CancelRequest | None, Body()] = None,
) -> ActionResult:
    """Cancel on the policy's terms: pending touchpoints cancelled, the customer told, the
    history written. A cancelled booking, or a party that took place: 409."""
    booking = await bookings.get(session, booking_id, lock=True)
    charter = await knowledge.charter(session)
    entry, message_id = await flows.cancel_booking(
        session,
        booking,
        user,
        state.clock.now(),
        charter,
        simulated=state.runtime.simulated,
        expect_refund=data.refund if data else None,
    )
    result = await _result(session, booking, entry, user, message_id)
    await session.commit()
    return result


@router.get("/{booking_id}/reschedule")
async def reschedule_terms(
    booking_id: RowId,
    event_at: Annotated[datetime, Query()],
    _: CurrentUser,
    session: Session,
    knowledge: Knowledge,
    state: State,
) -> ReschedulePreview:
    """What moving to `event_at` would cost (the live rescheduling rule) and say. A time that
    has passed: 422; one every chef is taken at: 409 with the open times nearby."""
    booking = await bookings.get(session, booking_id)
    charter = await knowledge.charter(session)
    now = state.clock.now()
    return (await flows.reschedule_terms(session, booking, event_at, now, charter))[1]


@router.post("/{booking_id}/reschedule")
async def reschedule(
    booking_id: RowId,
    data: RescheduleRequest,
    user: CurrentUser,
    session: Session,
    knowledge: Knowledge,
    state: State,
) -> ActionResult:
    """Move the booking: touchpoints re-planned for the new date, the customer told the date
    and the fee, the history written."""
    booking = await bookings.get(session, booking_id, lock=True)
    charter = await knowledge.charter(session)
    entry, message_id = await flows.reschedule_booking(
        session,
        booking,
        data.event_at,
        user,
        state.clock.now(),
        charter,
        simulated=state.runtime.simulated,
        expect_fee=data.fee,
    )
    result = await _result(session, booking, entry, user, message_id)
    await session.commit()
    state.worker_wake.set()
    return result


@router.post("/{booking_id}/deposit-refunded")
async def deposit_refunded(
    booking_id: RowId, user: CurrentUser, session: Session, knowledge: Knowledge, state: State
) -> ActionResult:
    """Record the refund the policy gave as made (409 if none was due or it is recorded)."""
    booking = await bookings.get(session, booking_id, lock=True)
    charter = await knowledge.charter(session)
    entry, message_id = await flows.deposit_refunded(
        session,
        booking,
        user,
        state.clock.now(),
        charter,
        simulated=state.runtime.simulated,
    )
    result = await _result(session, booking, entry, user, message_id)
    await session.commit()
    return result


@router.get("/{booking_id}/history")
async def history(booking_id: RowId, _: CurrentUser, session: Session) -> list[HistoryEntry]:
    """What was done to the booking, oldest first: who (none: the agent), when, what."""
    await bookings.get(session, booking_id)
    return await actions.history_of(session, booking_id)
