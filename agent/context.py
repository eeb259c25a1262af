"""What a turn runs with: its database session and services (the graph's runtime context),
plus a scratch pad for the rows the nodes share within the turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agent.understanding.schema import Understanding
from knowledge.charter import Charter
from knowledge.clock import Clock
from knowledge.models import AutomatedReminder, Booking, Conversation, Customer, Message
from knowledge.service import KnowledgeService
from tools.policy import Decision


@dataclass
class Scratch:
    """Rows and results shared by the nodes of one turn; never checkpointed."""

    conversation: Conversation | None = None
    customer: Customer | None = None
    booking: Booking | None = None
    inbound: Message | None = None
    reminder: AutomatedReminder | None = None
    charter: Charter | None = None
    repeat_customer: bool = False
    understanding: Understanding | None = None
    decisions: list[Decision] = field(default_factory=list)
    llm_reply: str | None = None  # the LLM's phrasing, used only if its facts hold


@dataclass
class TurnContext:
    session: AsyncSession
    knowledge: KnowledgeService
    clock: Clock
    simulated: bool = True  # no messaging credentials: store replies as simulated
    console_url: str = "http://127.0.0.1:8000"
    llm: Any = None
    llm_timeout: float = 8.0
    scratch: Scratch = field(default_factory=Scratch)
