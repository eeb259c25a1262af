"""Booking input from the business's booking site, and the booking as the API shows it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from knowledge.errors import AppError
from knowledge.models.customers import ChannelName
from knowledge.schemas import StorableInput
from tools.phones import to_e164

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)]


def _phone(value: str) -> str:
    try:
        return to_e164(value)
    except AppError as exc:  # reported by pydantic, with the field's name
        raise ValueError(exc.message) from None


Phone = Annotated[str, AfterValidator(_phone)]
Count = Annotated[int, Field(ge=0, le=1000)]


def _check_event_at(at: datetime) -> None:
    if at.tzinfo is None:
        raise ValueError("event_at: give a time zone, e.g. 2026-06-20T18:00:00-07:00")
    try:
        # The journey's touchpoints are planned around the event in UTC; the year 9999 has no
        # room for them.
        in_range = at.astimezone(UTC).year < 9999
    except OverflowError:
        in_range = False
    if not in_range:
        raise ValueError("event_at: out of range; give a real date, e.g. 2026-06-20T18:00:00-07:00")


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PersonName
    phone: Phone
    email: Email | None = None
    channel: ChannelName = "sms"

    @model_validator(mode="after")
    def _reachable(self) -> CustomerIn:
        if self.channel == "email" and not self.email:
            raise ValueError("email: give the customer's email address to reach them by email")
        return self


class BookingCreate(StorableInput):
    customer: CustomerIn
    event_at: datetime
    address: Text
    adults: Count = 0
    kids: Count = 0
    toddlers: Count = 0
    proteins: list[str] = Field(default_factory=list)
    upgrades: list[str] = Field(default_factory=list)
    deposit_amount: Decimal | None = Field(default=None, ge=0, max_digits=10, decimal_places=2)
    deposit_paid: bool = True
    travel_miles: Decimal | None = Field(default=None, ge=0, max_digits=8, decimal_places=1)
    access_notes: str | None = None

    @model_validator(mode="after")
    def _sane(self) -> BookingCreate:
        _check_event_at(self.event_at)
        if self.adults + self.kids + self.toddlers < 1:
            raise ValueError("adults: a party needs at least one guest")
        return self


class BookingUpdate(StorableInput):
    event_at: datetime | None = None
    address: Text | None = None
    adults: Count | None = None
    kids: Count | None = None
    toddlers: Count | None = None
    proteins: list[str] | None = None
    upgrades: list[str] | None = None
    access_notes: str | None = None
    status: Literal["confirmed", "completed", "cancelled"] | None = None

    @model_validator(mode="after")
    def _aware(self) -> BookingUpdate:
        for name in self.model_fields_set:
            if getattr(self, name) is None and name != "access_notes":
                raise ValueError(f"{name}: may not be null; leave it out to keep the current value")
        if self.event_at is not None:
            _check_event_at(self.event_at)
        return self


class ChefDeparted(BaseModel):
    model_config = ConfigDict(extra="forbid")

    eta_minutes: int = Field(ge=1, le=240)


class TouchpointView(BaseModel):
    kind: str
    due_at: datetime
    status: str
    attempts: int
    last_error: str | None


class BookingView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    reference: str
    customer_id: int
    event_at: datetime
    address: str
    adults: int
    kids: int
    toddlers: int
    proteins: list[str]
    upgrades: list[str]
    menu_selected: bool
    status: str
    deposit_amount: Decimal
    created_at: datetime
    touchpoints: list[TouchpointView] = Field(default_factory=list)
