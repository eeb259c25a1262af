"""The graph's state: small and JSON-shaped, since it is checkpointed per conversation.

The full history lives in the `messages` table; the state keeps only what the next turn needs:
the question left open, a few recent lines, and a record of this turn for the caller.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict

RECENT_LINES = 8
RECENT_CHARS = 280

EventKind = Literal["customer_message", "reminder", "operational", "agent_action"]


class TurnEvent(BaseModel):
    """What starts a turn. A customer message refers to its stored inbound row."""

    model_config = ConfigDict(frozen=True)

    kind: EventKind
    conversation_id: int
    message_id: int | None = None
    reminder_id: int | None = None
    text: str = ""
    payload: dict[str, Any] = {}

    @property
    def key(self) -> str:
        """Identifies the turn for idempotency: a replayed event finds its reply already there."""
        if self.message_id is not None:
            return f"message:{self.message_id}"
        if self.reminder_id is not None:
            return f"reminder:{self.reminder_id}"
        return f"{self.kind}:{self.payload.get('id', '')}"


class TurnState(TypedDict, total=False):
    # kept between turns
    pending: str | None
    recent: list[dict[str, str]]
    turns: int
    customer_tone: str  # the tone of the customer's last message, for proactive messages
    # this turn
    event: dict[str, Any]
    skip: str | None  # why the turn stops early: "human_owned", "duplicate"
    llm_enabled: bool
    tone: str
    intent: str
    intents: list[str]
    outcome: str
    rules: list[str]
    reply: str | None
    llm: str | None  # what the LLM did this turn: agreed, reread, fallback, rejected_reply
    reply_message_id: int | None
    escalation_ids: list[int]


def remember(recent: list[dict[str, str]], who: str, text: str) -> list[dict[str, str]]:
    """Append a line to the recent history, keeping it short."""
    line = {"who": who, "text": text[:RECENT_CHARS]}
    return [*recent, line][-RECENT_LINES:]
