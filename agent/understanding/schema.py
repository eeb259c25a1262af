"""What understanding a message produces; the LLM path fills the same schema."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

Intent = Literal[
    "menu_selection",
    "protein_swap",
    "headcount_change",
    "date_change",
    "cancellation",
    "rating",
    "dietary_request",
    "weather_concern",
    "access_info",
    "booking_question",
    "faq",
    "human_request",
    "greeting",
    "opt_out",
    "complaint",
    "no_show",
    "other",
]
Tone = Literal["casual", "formal", "frustrated", "anxious", "neutral"]
Pending = Literal[
    "cancel_choice",
    "rating",
    "menu",
    "confirm_change",
    "contact",
    "which_booking",
    "lead",
    "verify",
]
GuestGroup = Literal["adults", "kids", "toddlers", "guests"]
#: What a customer asks about their own booking ("booking_question"), answered from it.
BookingTopic = Literal[
    "when",  # the date and start time
    "address",
    "guests",
    "menu",  # proteins and add-ons chosen
    "reference",
    "arrival",  # when the chef gets there
    "balance",  # what is due on the day, and how to pay
    "missing",  # what is still to do (the menu, by when)
    "details",  # the whole booking
    "paid",  # a payment the customer says they made: a person finds it and records it
]
#: What makes a message a person's job whatever else it asks; the policy gives each a priority.
Concern = Literal[
    "no_show",
    "illness",
    "injury",
    "billing",
    "legal",
    "complaint",
    "allergy",
    "unsafe_weather",
    "unanswered",  # the customer asks again after no reply: a person sees that we failed them
    "safety",  # urgent, by the learned reader, with no cue saying what kind
]

INTENTS: tuple[str, ...] = Intent.__args__  # type: ignore[attr-defined]
#: The requests that change a booking's guests, proteins or add-ons when applied.
CHANGE_INTENTS: tuple[str, ...] = ("menu_selection", "protein_swap", "headcount_change")
TONES: tuple[str, ...] = Tone.__args__  # type: ignore[attr-defined]


class GuestChange(BaseModel):
    """A new guest count: an absolute total, or a signed change to one group."""

    model_config = ConfigDict(frozen=True)

    total: int | None = Field(default=None, ge=0, le=10_000)
    delta: int | None = Field(default=None, ge=-10_000, le=10_000)
    group: GuestGroup = "guests"


class Entities(BaseModel):
    model_config = ConfigDict(frozen=True)

    guests: GuestChange | None = None
    proteins: list[str] = Field(default_factory=list)  # included and premium protein slugs
    removed_proteins: list[str] = Field(default_factory=list)  # a swap's outgoing proteins
    upgrades: list[str] = Field(default_factory=list)  # non-protein add-on slugs
    rating: int | None = Field(default=None, ge=1, le=5)
    date: dt.date | None = None  # a target date for a date change, in the business timezone
    choice: Literal["1", "2"] | None = None  # an answer to the pending cancel question
    dietary: Literal["serious", "preference"] | None = None  # allergy/medical/cert vs liking
    removed_upgrades: list[str] = Field(default_factory=list)  # add-ons taken off the order
    asked: list[BookingTopic] = Field(default_factory=list)  # a booking question's topics
    #: A booking question about somebody else's party ("the Johnsons' party"): not answered.
    someone_else: bool = False
    #: Only asked about ("what would 5 more cost?"): answered with a quote, never applied.
    hypothetical: bool = False
    #: Says a change is not wanted ("we're not cancelling, just asking"): nothing changes.
    kept: bool = False
    #: A street address given with access information ("we moved it to 45 Pine St"): a new
    #: party address when it is not the one booked.
    address: str | None = None

    @property
    def changes_something(self) -> bool:
        """Whether a booking change carries values to apply: guests, proteins or add-ons."""
        return bool(
            self.guests is not None or self.proteins or self.upgrades or self.removed_upgrades
        )

    @property
    def names_something(self) -> bool:
        """Whether a request names anything to act on: a change's values, a protein taken off,
        a date or a cancel choice ("resched fee?" names none)."""
        return bool(self.changes_something or self.removed_proteins or self.date or self.choice)


class Request(BaseModel):
    """One thing the customer asks for in a message."""

    model_config = ConfigDict(frozen=True)

    intent: Intent
    entities: Entities = Field(default_factory=Entities)
    #: How sure the reader is of this intent (1.0 for cues that must win and for rules alone).
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    #: The part of the message (normalised) this request was read from: a question is looked up
    #: in the FAQs by it. Not part of a model's answer.
    clause: SkipJsonSchema[str | None] = None
    #: Which text of a burst the request was read from (0 for a single message).
    part: SkipJsonSchema[int] = 0


class Understanding(BaseModel):
    """Everything read from one message: its tone and its requests, in the order written."""

    model_config = ConfigDict(frozen=True)

    tone: Tone
    requests: list[Request] = Field(min_length=1)
    source: Literal["rules", "llm", "reader"] = "rules"
    #: Every safety or people-matter concern the message holds, the most urgent first: found by
    #: the cues that must win or, failing those, by the learned reader.
    concerns: tuple[Concern, ...] = ()

    @property
    def intent(self) -> Intent:
        return self.requests[0].intent

    @property
    def concern(self) -> Concern | None:
        """The most urgent concern, which sets the priority of the message's case."""
        return self.concerns[0] if self.concerns else None


class Context(BaseModel):
    """What the reader needs besides the words: the clock, the pending question, the event."""

    model_config = ConfigDict(frozen=True)

    now: dt.datetime
    timezone: str = "UTC"
    pending: Pending | None = None
    after_event: bool = False
    #: The chef should be there by now (from the arrival lead before the start until the party
    #: would be over): "when will the chef get here?" then reports a late chef.
    chef_due: bool = False
    #: The booking's guests by group (adults, kids, toddlers), when there is one: a change and a new
    #: total that agree with them ("two can't make it, so we're down to 13") say one thing.
    stored_guests: dict[str, int] | None = None
    #: The booking's date in the business's time zone, when there is one: "a week later" and
    #: "the following Saturday" move the party from it, not from today.
    event_date: dt.date | None = None
