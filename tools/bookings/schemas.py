"""Booking input from the business's booking site, and the booking as the API shows it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

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
    deposit_paid: bool
    deposit_refund_due: bool  # the policy gave the deposit back on cancelling
    deposit_refunded_at: datetime | None  # when someone recorded the refund as made
    reschedule_count: int
    created_at: datetime
    touchpoints: list[TouchpointView] = Field(default_factory=list)


class RescheduleTerms(BaseModel):
    """What moving the date costs now, from the live rescheduling rule."""

    free: bool  # the booking's first move, within `free_reschedule_hours` of booking
    fee: Decimal  # what this move costs: 0 when free
    reschedule_fee: Decimal  # the rule's fee
    free_reschedule_hours: int


class CancellationPreview(BaseModel):
    """What cancelling the booking now does, decided by the policy from the live rules: shown
    before anyone confirms."""

    booking_id: int
    reference: str
    event_at: datetime
    as_of: datetime
    time_to_event: str  # "9 days 23 hours", "12 hours"
    refund: bool
    deposit_amount: Decimal
    refund_amount: Decimal
    deposit_kept: Decimal
    refund_full_days: int  # the cancellation rule: a full refund at least this many days out
    late_cancel_days: int  # inside this many days a cancellation is late
    late: bool
    rule: str  # the policy row that decided
    why: str
    reschedule_offered: bool  # the policy offers a reschedule instead of cancelling
    reschedule: RescheduleTerms
    channel: str  # where the customer is told
    message: str | None  # what they are told (None: they opted out of that channel)


class ReschedulePreview(BaseModel):
    """What moving the booking to `new_event_at` costs and says, from the live rules."""

    booking_id: int
    reference: str
    event_at: datetime
    new_event_at: datetime
    as_of: datetime
    reschedule_count: int
    terms: RescheduleTerms
    rule: str
    why: str
    channel: str
    message: str | None


class CancelRequest(StorableInput):
    #: The refund the preview showed; if the policy's answer has changed since (the clock
    #: crossed the refund window, a rule was edited), nothing is done and 409 says so.
    refund: bool | None = None


class RescheduleRequest(StorableInput):
    event_at: datetime
    #: The fee the preview showed; a different fee now is refused with 409, as for `refund`.
    fee: Decimal | None = Field(default=None, ge=0, max_digits=10, decimal_places=2)

    @model_validator(mode="after")
    def _aware(self) -> RescheduleRequest:
        _check_event_at(self.event_at)
        return self


class HistoryEntry(BaseModel):
    """One line of a booking's history: who (None: the agent), when, what, and its details."""

    id: int
    action: str
    at: datetime
    user_id: int | None
    user_name: str | None
    details: dict[str, Any]


class ActionResult(BaseModel):
    """A booking after an action from the console: its new state, the history line written and
    the message queued for the customer (None: nothing was sent)."""

    booking: BookingView
    entry: HistoryEntry
    message_id: int | None
