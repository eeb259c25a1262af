"""The console's "try it": what the agent would answer a new customer's question with an edit to
the knowledge that is not saved. The edit and the whole turn (a stand-in customer, their
message, the reply, any case) run inside one database transaction that is rolled back, on a
knowledge service of their own and an in-memory checkpointer: nothing is saved, sent or
announced, and the running agent's caches are untouched."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agent.runtime import AgentRuntime, TurnResult
from knowledge.infra.clock import Clock
from knowledge.schemas import FaqCreate, RuleUpdate
from knowledge.service import KnowledgeService
from tools import bookings


@dataclass(frozen=True)
class Edit:
    """An unsaved change: a rule's new text or values, and/or an FAQ to add."""

    rule_id: int | None = None
    rule: RuleUpdate | None = None
    faq: FaqCreate | None = None


async def _stranger(session: AsyncSession) -> str:
    """A phone number no customer has: the question is a new customer's, with no booking."""
    while True:
        phone = f"+1555{secrets.randbelow(10**7):07d}"
        if await bookings.customer_by_phone(session, phone) is None:
            return phone


async def rehearse(engine: AsyncEngine, clock: Clock, question: str, edit: Edit) -> TurnResult:
    """The agent's answer to `question` from a new customer by text, with `edit` applied; every
    row it writes is rolled back."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        try:
            sessions = async_sessionmaker(
                bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
            )
            knowledge = KnowledgeService(clock=clock, ttl_seconds=0)
            async with sessions() as session:
                if edit.rule is not None and edit.rule_id is not None:
                    await knowledge.update_rule(session, edit.rule_id, edit.rule, actor="try it")
                if edit.faq is not None:
                    await knowledge.create_faq(session, edit.faq)
                phone = await _stranger(session)
                await session.commit()
            runtime = AgentRuntime(sessions, knowledge, clock, InMemorySaver())
            return await runtime.receive(phone, question)
        finally:
            await outer.rollback()
