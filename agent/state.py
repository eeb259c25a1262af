"""The graph's state. Two kinds of keys:

- kept from turn to turn (checkpointed per conversation), only what the next turn needs: the
  question left open and the changes it asked to confirm, a few recent lines, the customer's
  last tone and a turn count (the full history is in the `messages` table);
- this turn's working data, which nodes return and later nodes read: the event, the rows
  loaded for it, the reading, the decisions, the reply. These are `UntrackedValue` channels:
  never written to a checkpoint, gone when the turn ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal, TypedDict

from langgraph.channels import UntrackedValue
from pydantic import BaseModel, ConfigDict

from agent.understanding.prospect import Details
from agent.understanding.schema import Understanding
from knowledge.charter import Charter
from knowledge.models import AutomatedReminder, Booking, Conversation, Customer, Lead, Message
from tools.policy import Decision

RECENT_LINES = 8
RECENT_CHARS = 280

EventKind = Literal["customer_message", "reminder", "operational", "agent_action"]
Route = Literal[
    "understand", "notify_owner", "proactive", "human_reply", "end", "review", "decide", "act"
]


class TurnEvent(BaseModel):
    """What starts a turn. A customer message refers to its stored inbound row."""

    model_config = ConfigDict(frozen=True)

    kind: EventKind
    conversation_id: int
    message_id: int | None = None
    reminder_id: int | None = None
    text: str = ""
    payload: dict[str, Any] = {}

    @classmethod
    def customer_message(cls, conversation_id: int, message_id: int) -> TurnEvent:
        """The turn that answers a stored inbound message."""
        return cls(kind="customer_message", conversation_id=conversation_id, message_id=message_id)

    @classmethod
    def answer_again(cls, conversation_id: int, message_id: int, why: str) -> TurnEvent:
        """A second answer to a message already answered: the request a web visitor came with,
        answered once they have proven their booking (`why` = "verified")."""
        return cls(
            kind="customer_message",
            conversation_id=conversation_id,
            message_id=message_id,
            payload={"again": why},
        )

    @staticmethod
    def message_key(message_id: int) -> str:
        """The key of the turn that answers a stored message (the first answer)."""
        return f"message:{message_id}"

    @property
    def key(self) -> str:
        """Identifies the turn for idempotency: a replayed event finds its reply already there."""
        if self.message_id is not None:
            again = self.payload.get("again")
            return self.message_key(self.message_id) + (f":{again}" if again else "")
        if self.reminder_id is not None:
            return f"reminder:{self.reminder_id}"
        return f"{self.kind}:{self.payload.get('id', '')}"


def reply_key(turn_key: str) -> str:
    """The idempotency key of a turn's reply: one reply per turn, however often it runs."""
    return f"reply:{turn_key}"


@dataclass(frozen=True)
class Loaded:
    """The turn's event and the rows it works with, read once by `load_context`. The rows are
    the session's own: a node that changes the booking changes it in this turn's transaction."""

    event: TurnEvent
    conversation: Conversation
    customer: Customer
    charter: Charter
    booking: Booking | None = None
    opted_out: bool = False  # the customer switched this conversation's channel off
    inbound: Message | None = None  # the customer's message this turn answers
    #: Later messages of the same burst (sent before we answered), read and answered with it.
    burst: tuple[Message, ...] = ()
    reminder: AutomatedReminder | None = None
    lead: Lead | None = None  # the open lead of a sender with no booking
    repeat_customer: bool = False  # welcomed back on the first message of a conversation
    #: What our last message asked ("confirm_change", "which_booking", ...) and the changes it
    #: asked to confirm, as the turn found them (the turn's own decision replaces them).
    asked: str | None = None
    proposal: tuple[dict[str, Any], ...] = ()
    #: The guest change the last turn made ("Done: 12 guests"), which this message may correct
    #: ("no sorry just 1"); empty after any turn that made none.
    changed: tuple[dict[str, Any], ...] = ()
    #: What the customer's request of the turn before was about ("moving the date"), which a
    #: money question may point back to ("is there a fee for that?"); None after any other.
    topic: str | None = None

    @property
    def text(self) -> str:
        """What the customer said this turn: the message, and the rest of its burst."""
        if self.inbound is None:
            return ""
        return "\n".join([self.inbound.body, *(m.body for m in self.burst)])

    @property
    def answered(self) -> list[Message]:
        """The customer's messages this turn answers."""
        return [self.inbound, *self.burst] if self.inbound is not None else []


@dataclass(frozen=True)
class Reading:
    """What the customer's message says, as `classify` (or the LLM's re-read) understood it."""

    understanding: Understanding
    #: "yes" or "no" to the change we asked to confirm; "noted" when a change only offered
    #: with its quote is acknowledged without consent ("ok thanks").
    confirmation: str | None = None
    #: What a sender with no booking says about a party they want (read only for them).
    details: Details | None = None
    #: The customer with a booking speaks of another party ("want to book another one"): its
    #: date and guests are no changes to the one booked.
    another_party: bool = False
    #: The date the message names for that other party, if any.
    another_date: date | None = None
    #: A money question about the request just made ("is there a fee for that?"): the
    #: question our last message asked about it still stands ("Reply 1 to cancel ...").
    follow_up: bool = False


@dataclass(frozen=True)
class Decided:
    """What `decide` (or `proactive`, or a person's reply) made of the turn."""

    decisions: tuple[Decision, ...]
    intent: str
    intents: tuple[str, ...]
    pending: str | None = None  # the question this turn's reply asks
    proposal: tuple[dict[str, Any], ...] = ()  # the changes that question asks to confirm
    faq_views: tuple[int, ...] = ()  # FAQs answered, counted once the turn has committed

    @property
    def outcome(self) -> str:
        outcomes = {d.outcome for d in self.decisions}
        return (
            "escalated"
            if "escalated" in outcomes
            else "handled"
            if "handled" in outcomes
            else "silent"
        )

    @property
    def rules(self) -> list[str]:
        return [d.rule for d in self.decisions]


class TurnState(TypedDict, total=False):
    # Kept from turn to turn (checkpointed).
    pending: str | None  # the question our last message asked, answered this turn
    proposal: list[dict[str, Any]] | None  # the changes that question asked to confirm
    changed: list[dict[str, Any]] | None  # the guest change the last turn made
    topic: str | None  # what the customer's last request was about ("moving the date")
    recent: list[dict[str, str]]
    turns: int
    customer_tone: str  # the tone of the customer's last message, for proactive messages
    # This turn only (never checkpointed).
    event: Annotated[dict[str, Any], UntrackedValue]  # what started the turn (TurnEvent)
    route: Annotated[Route, UntrackedValue]  # where the graph goes next
    loaded: Annotated[Loaded, UntrackedValue]
    skip: Annotated[str, UntrackedValue]  # why the turn stopped early: "human_owned", ...
    reading: Annotated[Reading, UntrackedValue]
    tone: Annotated[str, UntrackedValue]  # the tone the reply is written in
    decided: Annotated[Decided, UntrackedValue]
    #: The decision on the rules' reading, kept while the LLM's re-read is decided again.
    by_rules: Annotated[Decided, UntrackedValue]
    llm: Annotated[str, UntrackedValue]  # what the LLM did: agreed, reread, fallback, ...
    llm_reply: Annotated[str, UntrackedValue]  # the LLM's phrasing, used only if its facts hold
    escalation_ids: Annotated[list[int], UntrackedValue]
    reply: Annotated[str | None, UntrackedValue]
    reply_message_id: Annotated[int | None, UntrackedValue]


#: The keys a checkpoint holds; every other key lives for one turn.
KEPT = frozenset({"pending", "proposal", "changed", "topic", "recent", "turns", "customer_tone"})


def remember(recent: list[dict[str, str]], who: str, text: str) -> list[dict[str, str]]:
    """Append a line to the recent history, keeping it short."""
    line = {"who": who, "text": text[:RECENT_CHARS]}
    return [*recent, line][-RECENT_LINES:]
