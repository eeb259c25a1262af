"""The escalation queue as the console reads it: each case with its customer, booking and
owner, and how long is left before its deadline."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.errors import NotFound
from knowledge.models import ApiUser, Booking, Customer, Escalation
from tools.escalations import OPEN

PRIORITY_ORDER = {"URGENT": 0, "HIGH": 1, "MEDIUM": 2, "LOW": 3}


class EscalationView(BaseModel):
    id: int
    priority: str
    reason: str
    action_required: str
    customer_request: str | None
    status: str
    deadline: datetime
    created_at: datetime
    resolved_at: datetime | None
    resolution_notes: str | None
    overdue: bool
    seconds_left: int
    customer_id: int
    customer_name: str | None
    customer_phone: str | None
    conversation_id: int | None
    booking_id: int | None
    booking_reference: str | None
    event_at: datetime | None
    assigned_to_id: int | None
    assigned_to: str | None


def _view(
    escalation: Escalation,
    customer: Customer,
    booking: Booking | None,
    owner: ApiUser | None,
    now: datetime,
) -> EscalationView:
    left = int((escalation.deadline - now).total_seconds())
    open_ = escalation.status in OPEN
    return EscalationView(
        id=escalation.id,
        priority=escalation.priority,
        reason=escalation.reason,
        action_required=escalation.action_required,
        customer_request=escalation.customer_request,
        status=escalation.status,
        deadline=escalation.deadline,
        created_at=escalation.created_at,
        resolved_at=escalation.resolved_at,
        resolution_notes=escalation.resolution_notes,
        overdue=open_ and left < 0,
        seconds_left=left,
        customer_id=customer.id,
        customer_name=customer.name,
        customer_phone=customer.phone,
        conversation_id=escalation.conversation_id,
        booking_id=booking.id if booking else None,
        booking_reference=booking.reference if booking else None,
        event_at=booking.event_at if booking else None,
        assigned_to_id=escalation.assigned_to_id,
        assigned_to=owner.name if owner else None,
    )


def _query(status: str) -> Select[Escalation, Customer, Booking, ApiUser]:
    query: Select[Escalation, Customer, Booking, ApiUser] = (
        select(Escalation, Customer, Booking, ApiUser)
        .join(Customer, Customer.id == Escalation.customer_id)
        .outerjoin(Booking, Booking.id == Escalation.booking_id)
        .outerjoin(ApiUser, ApiUser.id == Escalation.assigned_to_id)
    )
    if status == "open":
        query = query.where(Escalation.status.in_(OPEN))
    elif status == "closed":
        query = query.where(Escalation.status.not_in(OPEN))
    return query


async def queue(
    session: AsyncSession,
    now: datetime,
    *,
    status: str = "open",
    priority: str | None = None,
    user_id: int | None = None,
    unassigned: bool = False,
    overdue: bool = False,
) -> list[EscalationView]:
    """Cases, most urgent first (priority, then deadline), at most 500."""
    query = _query(status)
    if priority:
        query = query.where(Escalation.priority == priority)
    if user_id is not None:
        query = query.where(Escalation.assigned_to_id == user_id)
    if unassigned:
        query = query.where(Escalation.assigned_to_id.is_(None))
    if overdue:
        query = query.where(Escalation.deadline < now)
    rows = (await session.execute(query.limit(500))).all()
    views = [_view(row[0], row[1], row[2], row[3], now) for row in rows]
    views.sort(key=lambda v: (PRIORITY_ORDER.get(v.priority, 9), v.deadline, v.id))
    return views


async def one(session: AsyncSession, escalation_id: int, now: datetime) -> EscalationView:
    query = _query("all").where(Escalation.id == escalation_id)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound(f"no escalation with id {escalation_id}")
    return _view(row[0], row[1], row[2], row[3], now)
