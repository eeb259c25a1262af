"""What a turn runs with: its database session and services (the graph's runtime context)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.infra.clock import Clock
from knowledge.service import KnowledgeService


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
