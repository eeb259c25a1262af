"""What a turn runs with: its database session and services (the graph's runtime context),
plus a scratch pad for the turn's working data, shared by its nodes and never checkpointed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agent.state import TurnEvent
from agent.understanding.prospect import Details
from agent.understanding.schema import Understanding
from knowledge.charter import Charter
from knowledge.infra.clock import Clock
from knowledge.models import AutomatedReminder, Booking, Conversation, Customer, Lead, Message
from knowledge.service import KnowledgeService
from tools.policy import Decision


@dataclass
class Scratch:
    """This turn's rows, reading, decisions and result."""

    event: TurnEvent | None = None
    conversation: Conversation | None = None
    customer: Customer | None = None
    opted_out: bool = False  # the customer switched this conversation's channel off
    booking: Booking | None = None
    inbound: Message | None = None
    #: Later messages of the same burst (sent before we answered), read and answered with it.
    burst: list[Message] = field(default_factory=list)
    reminder: AutomatedReminder | None = None
    charter: Charter | None = None
    repeat_customer: bool = False
    understanding: Understanding | None = None
    confirmation: str | None = None  # "yes" or "no" to the change we asked to confirm
    #: What a sender with no booking says about a party they want (read only for them).
    details: Details | None = None
    lead: Lead | None = None  # their open lead, once the turn has looked it up
    decisions: list[Decision] = field(default_factory=list)
    llm_reply: str | None = None  # the LLM's phrasing, used only if its facts hold
    faq_views: list[int] = field(default_factory=list)  # FAQs answered, counted after commit
    # the turn's result, as the caller sees it
    skip: str | None = None  # why the turn stopped early: "human_owned", "duplicate"
    tone: str = "neutral"
    intent: str = "other"
    intents: list[str] = field(default_factory=list)
    outcome: str = "silent"
    rules: list[str] = field(default_factory=list)
    reply: str | None = None
    reply_message_id: int | None = None
    escalation_ids: list[int] = field(default_factory=list)
    llm: str | None = None  # what the LLM did: agreed, reread, fallback, rejected_reply

    @property
    def text(self) -> str:
        """What the customer said this turn: the message, and the rest of its burst."""
        if self.inbound is None:
            return ""
        return "\n".join([self.inbound.body, *(m.body for m in self.burst)])


@dataclass
class TurnContext:
    session: AsyncSession
    knowledge: KnowledgeService
    clock: Clock
    #: The channels with no transport configured: their replies are stored as simulated.
    simulated: frozenset[str] = frozenset()
    console_url: str = "http://127.0.0.1:8000"
    llm: Any = None
    llm_timeout: float = 8.0
    scratch: Scratch = field(default_factory=Scratch)
