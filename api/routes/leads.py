"""Leads: prospects the agent quoted, what they told it, and whether they booked."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from api.deps import CurrentUser, Session
from tools import leads

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


class LeadView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    channel: str
    conversation_id: int | None
    customer_id: int
    name: str | None
    phone: str | None
    email: str | None
    event_date: date | None
    event_time: time | None
    adults: int | None
    kids: int | None
    toddlers: int | None
    zip_code: str | None
    place: str | None
    travel_miles: Decimal | None
    upgrades: list[str]
    quote_total: Decimal | None
    quotes_sent: int
    quoted_at: datetime | None
    link_sent_at: datetime | None
    follow_up: str | None = None  # the follow-up's state: pending, sent, cancelled, …
    follow_up_sent_at: datetime | None = None
    booking_id: int | None
    booked_at: datetime | None
    created_at: datetime


@router.get("")
async def list_leads(
    _: CurrentUser,
    session: Session,
    status: Annotated[Literal["open", "booked", "lost", "all"], Query()] = "all",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[LeadView]:
    """The newest leads first, with their quote, follow-up and booking."""
    rows = await leads.newest(session, None if status == "all" else status, limit)
    return [
        LeadView.model_validate(lead).model_copy(
            update={"follow_up": state, "follow_up_sent_at": sent}
        )
        for lead, state, sent in rows
    ]
