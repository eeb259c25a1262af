"""The scenario file format (YAML, one scenario per file): a public contract, validated here.

Every error names the file, the step and the field, e.g.
`evals/scenarios/cancel.yaml: steps[2].expect.priority: Input should be 'LOW', …`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.understanding.schema import Intent, Tone
from knowledge.models.conversations import REMINDER_KINDS

Priority = Literal["LOW", "MEDIUM", "HIGH", "URGENT"]
Outcome = Literal["handled", "escalated", "silent"]
Notice = Literal["team_sms", "management_email"]
Touchpoint = Literal[REMINDER_KINDS]  # type: ignore[valid-type]
_DURATION = re.compile(r"^(\d+)([mhd])$")


class ScenarioError(ValueError):
    """A scenario file that cannot be used, with where and why."""


def parse_duration(text: str) -> timedelta:
    """'30m', '6h', '2d' → a timedelta."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"'{text}' is not a duration like 30m, 6h or 2d")
    amount, unit = int(match.group(1)), match.group(2)
    return {"m": timedelta(minutes=amount), "h": timedelta(hours=amount)}.get(
        unit, timedelta(days=amount)
    )


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-06-10T15:00:00-07:00")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerSpec(_Strict):
    name: str | None = "Dana Lee"  # null: a prospect we know only by their number
    phone: str = "+19165550101"
    channel: Literal["sms", "whatsapp", "web"] = "sms"
    past_bookings: int = Field(default=0, ge=0, le=50)
    #: On web chat: a visitor nobody knows yet, whose messages go through the chat API (which
    #: verifies a booking); `name` and `phone` are then the booking's customer's.
    anonymous: bool = False

    @model_validator(mode="after")
    def _anonymous_on_web(self) -> CustomerSpec:
        if self.anonymous and self.channel != "web":
            raise ValueError("anonymous: only a web chat visitor is anonymous")
        return self


class BookingSpec(_Strict):
    event_at: datetime
    #: Who the booking is under when a step makes it (a prospect names themselves on the form).
    name: str | None = None
    #: The booking reference (a new one when omitted), for a visitor who types it.
    reference: Annotated[str, Field(pattern=r"^MH-[A-Z0-9]{4,8}$")] | None = None
    created_at: datetime | None = None
    address: str = "12 Oak St, Sacramento, CA 95814"
    adults: int = Field(default=10, ge=0)
    kids: int = Field(default=0, ge=0)
    toddlers: int = Field(default=0, ge=0)
    proteins: list[str] = Field(default_factory=list)
    upgrades: list[str] = Field(default_factory=list)
    status: Literal["confirmed", "completed", "cancelled"] = "confirmed"
    #: Whether the deposit reached the business (a booking made by a step has paid it).
    deposit_paid: bool = True

    @field_validator("event_at", "created_at")
    @classmethod
    def _zoned(cls, value: datetime | None) -> datetime | None:
        return value if value is None else _aware(value)


class KnowledgeSpec(_Strict):
    addon_prices: dict[str, float] = Field(default_factory=dict)
    rules: dict[str, Any] = Field(default_factory=dict)


class Expect(_Strict):
    outcome: Outcome | None = None
    intent: Intent | None = None
    tone: Tone | None = None
    priority: Priority | None = None
    reply_contains: list[str] = Field(default_factory=list)
    reply_not_contains: list[str] = Field(default_factory=list)
    replies: int | None = Field(default=None, ge=0)  # messages sent to the customer in the step
    reply_matches: str | None = None
    booking: dict[str, Any] = Field(default_factory=dict)
    #: The customer's latest lead (a prospect's party as collected): its fields, e.g. status,
    #: name, adults, event_date ("2027-01-16"), event_time ("18:00"), zip_code, travel_miles.
    lead: dict[str, Any] = Field(default_factory=dict)
    escalations_open: int | None = Field(default=None, ge=0)
    notified: list[Notice] | None = None
    sent: list[Touchpoint] | None = None

    @field_validator("reply_matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


ACTIONS = ("say", "burst", "advance", "event", "agent", "code")


class Step(_Strict):
    say: str | None = None
    #: Texts sent seconds apart before any reply: answered together in one turn (SMS, WhatsApp).
    burst: list[str] | None = Field(default=None, min_length=2)
    advance: str | None = None
    event: Literal["booking_created", "chef_departed"] | None = None
    eta_minutes: int | None = Field(default=None, ge=1, le=240)
    agent: Literal["claim", "reply", "resolve", "release"] | None = None
    #: An anonymous web visitor types the code we texted to the phone on the booking.
    code: Literal["texted"] | None = None
    text: str | None = None
    expect: Expect = Field(default_factory=Expect)

    @field_validator("advance")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        actions = [a for a in ACTIONS if getattr(self, a) is not None]
        if len(actions) != 1:
            raise ValueError(f"a step does exactly one of: {', '.join(ACTIONS)}")
        if self.agent in ("reply", "resolve") and not self.text:
            raise ValueError(f"agent: {self.agent} needs text")
        return self


class Scenario(_Strict):
    name: Annotated[str, Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    tags: list[str] = Field(default_factory=list)
    now: datetime
    customer: CustomerSpec = Field(default_factory=CustomerSpec)
    booking: BookingSpec | None = None
    knowledge: KnowledgeSpec = Field(default_factory=KnowledgeSpec)
    #: The customer's other bookings, besides `booking` (a customer with several parties).
    more_bookings: list[BookingSpec] = Field(default_factory=list)
    #: Other customers' parties already booked at these starts (for availability).
    taken: list[datetime] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)

    @field_validator("now")
    @classmethod
    def _zoned(cls, value: datetime) -> datetime:
        return _aware(value)

    @field_validator("taken")
    @classmethod
    def _zoned_starts(cls, value: list[datetime]) -> list[datetime]:
        return [_aware(v) for v in value]

    @model_validator(mode="after")
    def _booking_created_once(self) -> Scenario:
        """The scenario's booking is made by its one booking_created step, if it has one
        (a prospect who books after chatting); otherwise it exists before the first step."""
        created = [i for i, step in enumerate(self.steps) if step.event == "booking_created"]
        if len(created) > 1:
            raise ValueError(f"steps[{created[1]}].event: the booking can be created only once")
        if created and self.booking is None:
            raise ValueError(
                f"steps[{created[0]}].event: booking_created needs a booking to create"
            )
        return self

    @model_validator(mode="after")
    def _web_steps(self) -> Scenario:
        for index, step in enumerate(self.steps):
            if step.code and not self.customer.anonymous:
                raise ValueError(f"steps[{index}].code: only an anonymous web visitor types a code")
            if step.burst and self.customer.anonymous:
                raise ValueError(f"steps[{index}].burst: web chat answers each message on its own")
        return self

    @property
    def booked_in_a_step(self) -> bool:
        return any(step.event == "booking_created" for step in self.steps)


def _where(loc: tuple[Any, ...]) -> str:
    """('steps', 2, 'expect', 'priority') → 'steps[2].expect.priority'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "scenario"


def load_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file; raises ScenarioError naming file, step and field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot read YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping with name, now and steps")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ScenarioError(f"{path}: {_where(tuple(first['loc']))}: {message}") from None


def find_scenarios(paths: list[Path]) -> list[Path]:
    """Every .yaml/.yml file under the given files and folders, sorted."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        elif path.exists():
            found.add(path)
        else:
            raise ScenarioError(f"{path}: no such file or folder")
    return sorted(found)
