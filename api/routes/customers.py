"""The console's inbox (every conversation, newest activity first, filtered and searched) and a
customer's page: their bookings with ratings, channels and opt-outs, threads and cases."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from api.deps import CurrentUser, Session
from api.routes.conversations import ConversationView
from knowledge.schemas import RowId
from tools import customers

router = APIRouter(prefix="/api/v1", tags=["console"])
SEARCH = "a name, phone number, email address or booking reference"


class InboxRowView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    conversation_id: int
    channel: str
    customer_id: int
    customer_name: str | None
    customer_phone: str | None
    customer_email: str | None
    owner: str
    owner_name: str | None
    last_body: str | None
    last_author: str | None
    last_at: datetime | None
    open_cases: int
    waiting: bool


class CustomerView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str | None
    phone: str | None
    email: str | None
    preferred_channel: str
    is_promoter: bool
    created_at: datetime


class AddressView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    channel: str
    address: str
    opted_out: bool
    verified: bool
    undeliverable: bool
    last_seen_at: datetime | None


class RatingView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rating: int
    feedback_text: str | None
    review_source: str | None
    created_at: datetime


class CustomerBooking(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    reference: str
    event_at: datetime
    status: str
    adults: int
    kids: int
    toddlers: int
    deposit_amount: Decimal
    ratings: list[RatingView] = []


class CaseSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    priority: str
    reason: str
    status: str
    created_at: datetime
    resolved_at: datetime | None


class CustomerProfile(BaseModel):
    customer: CustomerView
    addresses: list[AddressView]  # every way to reach them, with opt-outs
    bookings: list[CustomerBooking]  # newest party first
    conversations: list[ConversationView]
    cases: list[CaseSummary]  # newest first


@router.get("/inbox")
async def inbox(
    _: CurrentUser,
    session: Session,
    channel: Literal["sms", "whatsapp", "web", "email"] | None = None,
    open_case: bool = False,
    waiting: bool = False,
    q: Annotated[
        str | None, Query(max_length=200, description="name, phone, email or booking reference")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: RowId | None = None,
) -> list[InboxRowView]:
    """Every conversation, newest activity first: `open_case` only those with an open case,
    `waiting` only those whose customer wrote last; `q` searches; `before` pages on."""
    wanted = customers.InboxFilter(channel=channel, open_case=open_case, waiting=waiting, search=q)
    rows = await customers.inbox(session, wanted, limit=limit, before=before)
    return [InboxRowView.model_validate(r) for r in rows]


@router.get("/customers/{customer_id}")
async def customer(customer_id: RowId, _: CurrentUser, session: Session) -> CustomerProfile:
    found = await customers.profile(session, customer_id)
    return CustomerProfile(
        customer=CustomerView.model_validate(found.customer),
        addresses=[AddressView.model_validate(a) for a in found.addresses],
        bookings=[
            CustomerBooking.model_validate(b).model_copy(
                update={"ratings": [RatingView.model_validate(f) for f in ratings]}
            )
            for b, ratings in found.bookings
        ],
        conversations=[ConversationView.model_validate(c) for c in found.conversations],
        cases=[CaseSummary.model_validate(e) for e in found.cases],
    )
