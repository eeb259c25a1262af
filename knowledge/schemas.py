"""Validated shapes of knowledge: rule values per type, admin input, and read views."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from knowledge.models.catalog import ADDON_CATEGORIES, ADDON_UNITS, DISCOUNT_TYPES, FAQ_CATEGORIES

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Money = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$", min_length=1, max_length=50)]
Clock = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]
Priority = Literal["LOW", "MEDIUM", "HIGH", "URGENT"]

# PostgreSQL `integer`, the type of every id column: a larger number names no row and would
# make the driver fail, so input stops at the edge with a 422.
MAX_INT = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_INT)]

AddonCategory = Literal[ADDON_CATEGORIES]  # type: ignore[valid-type]
AddonUnit = Literal[ADDON_UNITS]  # type: ignore[valid-type]
FaqCategory = Literal[FAQ_CATEGORIES]  # type: ignore[valid-type]
DiscountType = Literal[DISCOUNT_TYPES]  # type: ignore[valid-type]


class _Values(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MessagingHours(_Values):
    start: Clock
    end: Clock

    @model_validator(mode="after")
    def _ordered(self) -> MessagingHours:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class BusinessValues(_Values):
    name: ShortText
    phone: Phone
    team_phone: Phone
    management_email: ShortText
    timezone: str
    messaging_hours: MessagingHours
    google_review_url: AnyHttpUrl
    yelp_review_url: AnyHttpUrl
    feedback_form_url: AnyHttpUrl
    agreement_url: AnyHttpUrl
    booking_url: AnyHttpUrl
    signature: ShortText

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"'{value}' is not a known time zone (e.g. America/Los_Angeles)"
            ) from None
        return value


class PricingValues(_Values):
    adult_price: Money
    child_price: Money
    toddler_price: Money
    child_age_range: ShortText
    toddler_max_age: int = Field(ge=0, le=18)
    party_minimum: Money


class DepositValues(_Values):
    deposit_amount: Money


class TravelValues(_Values):
    travel_free_miles: int = Field(ge=0)
    travel_fee_per_mile: Money
    #: Where the chefs start from: travel is measured from this ZIP code's centre. Without it a
    #: quote leaves travel out and says it is confirmed at booking.
    base_zip: Annotated[str, StringConstraints(pattern=r"^[0-9]{5}$")] | None = None


class MenuValues(_Values):
    proteins_per_person: int = Field(ge=1, le=5)
    included_proteins: list[Slug] = Field(min_length=1)
    protein_aliases: dict[Slug, list[Text]]
    default_proteins: list[Slug] = Field(min_length=1)
    menu_deadline_days: int = Field(ge=0, le=60)
    included_items: list[Text]
    customer_provides: list[Text]

    @model_validator(mode="after")
    def _defaults_are_included(self) -> MenuValues:
        unknown = [p for p in self.default_proteins if p not in self.included_proteins]
        if unknown:
            raise ValueError(f"default_proteins not among included_proteins: {', '.join(unknown)}")
        return self


class CancellationValues(_Values):
    refund_full_days: int = Field(ge=0, le=365)
    late_cancel_days: int = Field(ge=0, le=365)

    @model_validator(mode="after")
    def _ordered(self) -> CancellationValues:
        if self.late_cancel_days > self.refund_full_days:
            raise ValueError("late_cancel_days must not exceed refund_full_days")
        return self


class ReschedulingValues(_Values):
    free_reschedule_hours: int = Field(ge=0, le=24 * 60)
    reschedule_fee: Money


class ChangesValues(_Values):
    change_window_hours: int = Field(ge=0, le=24 * 30)
    minor_headcount_delta: int = Field(ge=0, le=1000)
    major_headcount_pct: int = Field(ge=0, le=100)
    headcount_free_change_days: int = Field(ge=0, le=365)
    #: "unsure": a booking change the reader is not sure of is read back for a YES first;
    #: "always": every booking change is.
    confirm_changes: Literal["unsure", "always"] = "unsure"


class EventValues(_Values):
    duration_minutes: int = Field(ge=1, le=24 * 60)
    extended_duration_guests: int = Field(ge=1)
    arrival_lead_minutes: ShortText
    payment_methods: list[Text] = Field(min_length=1)


class ReviewValues(_Values):
    review_links_for_low_ratings: bool
    promoter_min_rating: int = Field(ge=1, le=5)


Minutes = Annotated[int, Field(ge=1, le=7 * 24 * 60)]


def _unclaimed_alert_minutes() -> dict[Priority, int]:
    return {"URGENT": 15, "HIGH": 240}


def _deadline_warning_minutes() -> dict[Priority, int]:
    return {"URGENT": 30, "HIGH": 240}


class EscalationValues(_Values):
    deadline_hours: dict[Priority, Annotated[int, Field(ge=1, le=24 * 60)]]
    #: How long a case of each priority may wait with nobody claiming it before the team is
    #: alerted again; at twice that, the owner is (priorities not named are not watched).
    unclaimed_alert_minutes: dict[Priority, Minutes] = Field(
        default_factory=_unclaimed_alert_minutes
    )
    #: How long before a claimed case's deadline its holder is reminded.
    deadline_warning_minutes: dict[Priority, Minutes] = Field(
        default_factory=_deadline_warning_minutes
    )
    #: The owner's mobile for the second alert about an unclaimed case (their email, the
    #: business's management email, is always used).
    owner_phone: Phone | None = None

    @field_validator("deadline_hours")
    @classmethod
    def _every_priority(cls, value: dict[str, int]) -> dict[str, int]:
        missing = {"LOW", "MEDIUM", "HIGH", "URGENT"} - set(value)
        if missing:
            raise ValueError(f"missing deadlines for {', '.join(sorted(missing))}")
        return value


class WhatsappTemplate(_Values):
    content_sid: Annotated[str, StringConstraints(pattern=r"^HX[0-9a-fA-F]{32}$")]
    variables: list[Slug] = Field(default_factory=list)  # facts for {{1}}, {{2}}, … in order


class WhatsappValues(_Values):
    """Approved templates per touchpoint, for proactive WhatsApp messages outside the 24-hour
    window in which WhatsApp allows free-form business messages."""

    session_window_hours: int = Field(ge=1, le=24)
    templates: dict[Slug, WhatsappTemplate] = Field(default_factory=dict)


class CapacityValues(_Values):
    """How many parties the business can serve at once, for availability questions."""

    #: Parties at the same time: one chef (and grill) each.
    chefs: int = Field(ge=1, le=100)
    #: How long a party holds its chef, travel and set-up included: two parties whose starts are
    #: closer than this need two chefs.
    party_slot_hours: Annotated[Decimal, Field(gt=0, le=24)]
    #: The start times offered when the time asked for is taken.
    start_times: list[Clock] = Field(min_length=1)

    @field_validator("start_times")
    @classmethod
    def _sorted(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class LeadValues(_Values):
    """What the agent does for a prospect who got a quote and has not booked."""

    follow_up: bool
    #: How long after the last quote the one follow-up goes (moved into messaging hours).
    follow_up_hours: int = Field(ge=1, le=24 * 14)


class WebChatValues(_Values):
    """What the chat widget shows when it opens: a greeting, the line saying an automated
    assistant answers and a person takes over, and up to four suggested questions."""

    greeting: ShortText
    disclosure: ShortText
    suggestions: list[
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    ] = Field(default_factory=list, max_length=4)


RULE_VALUE_SCHEMAS: dict[str, type[_Values]] = {
    "business": BusinessValues,
    "pricing": PricingValues,
    "deposit": DepositValues,
    "travel": TravelValues,
    "menu": MenuValues,
    "cancellation": CancellationValues,
    "rescheduling": ReschedulingValues,
    "changes": ChangesValues,
    "event": EventValues,
    "reviews": ReviewValues,
    "escalations": EscalationValues,
    "whatsapp": WhatsappValues,
    "capacity": CapacityValues,
    "leads": LeadValues,
    "web_chat": WebChatValues,
}

# Which rule type holds each flat rule value (e.g. reschedule_fee -> rescheduling).
RULE_FIELD_OWNER: dict[str, str] = {
    name: rule_type
    for rule_type, schema in RULE_VALUE_SCHEMAS.items()
    for name in schema.model_fields
}


def validate_rule_value(rule_type: str, value: dict[str, Any]) -> dict[str, Any]:
    """Check a known rule type's values; unknown types keep free-form values.

    Raises ValueError naming the first bad field, e.g. "value.reschedule_fee: …".
    """
    schema = RULE_VALUE_SCHEMAS.get(rule_type)
    if schema is None:
        return value
    try:
        return schema.model_validate(value).model_dump(mode="json")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in ("value", *first["loc"]))
        raise ValueError(f"{where}: {first['msg']}") from None


# ---- admin input ----------------------------------------------------------------------


def _unstorable_at(data: Any, where: str) -> tuple[str, str] | None:
    if isinstance(data, str) and "\x00" in data:
        return where, "must not contain NUL characters (\\u0000)"
    if isinstance(data, float) and not math.isfinite(data):
        return where, "must be a finite number"
    if isinstance(data, dict):
        for key, item in data.items():
            if "\x00" in str(key):
                return where, "keys must not contain NUL characters (\\u0000)"
            found = _unstorable_at(item, f"{where}.{key}" if where else str(key))
            if found is not None:
                return found
    if isinstance(data, list):
        for index, item in enumerate(data):
            found = _unstorable_at(item, f"{where}.{index}" if where else str(index))
            if found is not None:
                return found
    return None


def reject_unstorable(data: Any) -> Any:
    """Raw input back unchanged, or ValueError naming the first value PostgreSQL cannot store:
    text with a NUL character, or NaN / Infinity (which Python's JSON parser lets through)."""
    found = _unstorable_at(data, "")
    if found is not None:
        where, problem = found
        raise ValueError(f"{where or 'body'}: {problem}")
    return data


class StorableInput(BaseModel):
    """Request input: unknown fields refused, and nothing PostgreSQL cannot store."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return reject_unstorable(data)


class _Update(StorableInput):
    """A partial edit: omitted fields stay as they are; null only where a field may be empty."""

    nullable: ClassVar[frozenset[str]] = frozenset({"description"})

    @model_validator(mode="after")
    def _no_nulls(self) -> _Update:
        for name in self.model_fields_set:
            if getattr(self, name) is None and name not in self.nullable:
                raise ValueError(f"{name}: may not be null; leave it out to keep the current value")
        return self


class RuleCreate(StorableInput):
    rule_type: Slug
    title: ShortText
    content: Text
    value: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True

    @model_validator(mode="after")
    def _valid_value(self) -> RuleCreate:
        self.value = validate_rule_value(self.rule_type, self.value)
        return self


class RuleUpdate(_Update):
    title: ShortText | None = None
    content: Text | None = None
    value: dict[str, Any] | None = None
    is_active: bool | None = None


class AddonCreate(StorableInput):
    slug: Slug
    name: Name
    description: str | None = None
    price: Money
    unit: AddonUnit = "per_person"
    category: AddonCategory
    aliases: list[Text] = Field(default_factory=list)
    display_order: int = Field(default=0, ge=0, le=MAX_INT)
    is_available: bool = True


class AddonUpdate(_Update):
    name: Name | None = None
    description: str | None = None
    price: Money | None = None
    unit: AddonUnit | None = None
    category: AddonCategory | None = None
    aliases: list[Text] | None = None
    display_order: int | None = Field(default=None, ge=0, le=MAX_INT)
    is_available: bool | None = None


class FaqCreate(StorableInput):
    question: Text
    answer: Text
    keywords: str = ""
    category: FaqCategory
    is_active: bool = True


class FaqUpdate(_Update):
    question: Text | None = None
    answer: Text | None = None
    keywords: str | None = None
    category: FaqCategory | None = None
    is_active: bool | None = None


class SavedReplyCreate(StorableInput):
    title: Name
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1600)]


class SavedReplyUpdate(_Update):
    title: Name | None = None
    body: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1600)]
        | None
    ) = None


class OfferCreate(StorableInput):
    title: ShortText
    description: str = ""
    discount_type: DiscountType
    discount_value: Money
    valid_from: date
    valid_to: date
    is_active: bool = True

    @model_validator(mode="after")
    def _dates_ordered(self) -> OfferCreate:
        check_offer(self.discount_type, self.discount_value, self.valid_from, self.valid_to)
        return self


class OfferUpdate(_Update):
    nullable: ClassVar[frozenset[str]] = frozenset()  # an offer's description is "" when empty

    title: ShortText | None = None
    description: str | None = None
    discount_type: DiscountType | None = None
    discount_value: Money | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    is_active: bool | None = None


def check_offer(
    discount_type: str, discount_value: Decimal, valid_from: date, valid_to: date
) -> None:
    if valid_to < valid_from:
        raise ValueError("valid_to: the offer must not end before it starts")
    if discount_type == "percentage" and discount_value > 100:
        raise ValueError("discount_value: a percentage discount cannot exceed 100")


# ---- read views -----------------------------------------------------------------------


class _View(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class RuleView(_View):
    id: int
    rule_type: str
    title: str
    content: str  # may name values as {{ placeholders }}
    value: dict[str, Any]
    is_active: bool
    version: int
    last_updated: datetime
    updated_by: str | None
    text: str | None = None  # the content as customers read it, placeholders filled


class RuleVersionView(_View):
    version: int
    title: str
    content: str
    value: dict[str, Any]
    is_active: bool
    updated_by: str | None
    valid_from: datetime
    replaced_at: datetime | None
    replaced_by: str | None


class AddonView(_View):
    id: int
    slug: str
    name: str
    description: str | None
    price: Decimal
    unit: str
    category: str
    aliases: list[str]
    display_order: int
    is_available: bool
    last_updated: datetime


class FaqView(_View):
    id: int
    question: str
    answer: str
    keywords: str
    category: str
    view_count: int
    helpful_count: int
    is_active: bool
    last_updated: datetime


class SavedReplyView(_View):
    id: int
    title: str
    body: str
    last_updated: datetime


class OfferView(_View):
    id: int
    title: str
    description: str
    discount_type: str
    discount_value: Decimal
    valid_from: date
    valid_to: date
    is_active: bool
