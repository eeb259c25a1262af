"""The graph's state: only what the next turn needs, since it is checkpointed per conversation.

The full history lives in the `messages` table, and this turn's working data (the rows, the
reading, the decisions, the reply) lives in the turn's scratch pad (`agent.context.Scratch`),
which is never checkpointed. What stays here: the question left open, a few recent lines,
the customer's last tone, a turn count, and the event and route of the turn in progress.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict

RECENT_LINES = 8
RECENT_CHARS = 280

EventKind = Literal["customer_message", "reminder", "operational", "agent_action"]
Route = Literal["understand", "notify_owner", "proactive", "human_reply", "end", "review", "act"]


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


class TurnState(TypedDict, total=False):
    pending: str | None  # the question our last message asked, answered this turn
    proposal: list[dict[str, Any]] | None  # the changes that question asked to confirm
    recent: list[dict[str, str]]
    turns: int
    customer_tone: str  # the tone of the customer's last message, for proactive messages
    event: dict[str, Any]  # this turn's event
    route: Route  # where the graph goes next (set by load_context and decide)


def remember(recent: list[dict[str, str]], who: str, text: str) -> list[dict[str, str]]:
    """Append a line to the recent history, keeping it short."""
    line = {"who": who, "text": text[:RECENT_CHARS]}
    return [*recent, line][-RECENT_LINES:]
