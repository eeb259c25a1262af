"""Messages to a customer about what a person did to their booking from the console (cancelled
it, moved it, refunded the deposit), in the business's wording: the reply templates, composed as
the agent's replies are, and stored in the outbox in the caller's transaction, so a message
leaves only if the change it reports commits."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agent.nodes.compose import compose
from agent.understanding.schema import Tone
from knowledge.charter import Rules
from knowledge.models import ApiUser, Conversation, Customer
from tools import addresses
from tools.outbox import queue_reply
from tools.policy import Decision

#: A notice is the business speaking, not an answer to a message: written warm and plain.
TONE: Tone = "neutral"


def write(decision: Decision, customer: Customer, channel: str, rules: Rules) -> str:
    """The text of the notice on `channel`, from the decision's facts alone."""
    return compose(
        [(decision.kind, decision.facts)],
        TONE,
        name=customer.name,
        signature=rules.business.signature,
        channel=channel,
    )


async def text_for(
    session: AsyncSession, decision: Decision, customer: Customer, channel: str, rules: Rules
) -> str | None:
    """What the customer will be told, or None when they switched that channel off."""
    if await addresses.opted_out(session, customer.id, channel):
        return None
    return write(decision, customer, channel, rules)


def _trail(decision: Decision, by: ApiUser) -> dict[str, Any]:
    """The decision trail the console shows under the message (the shape of a turn's)."""
    facts = json.loads(json.dumps(dict(decision.facts), default=str))
    return {
        "intent": decision.intent,
        "intents": [decision.intent],
        "tone": TONE,
        "outcome": decision.outcome,
        "llm": None,
        "answered": [],
        "by": by.name,
        "decisions": [
            {
                "intent": decision.intent,
                "outcome": decision.outcome,
                "rule": decision.rule,
                "kind": decision.kind,
                "facts": facts,
                "escalation": None,
            }
        ],
    }


async def queue(
    session: AsyncSession,
    conversation: Conversation,
    customer: Customer,
    decision: Decision,
    rules: Rules,
    *,
    key: str,
    by: ApiUser,
    simulated: Collection[str],
) -> int | None:
    """Store the notice in the outbox once per `key`; returns its message id, or None when the
    customer switched the conversation's channel off (nothing is sent)."""
    text = await text_for(session, decision, customer, conversation.channel, rules)
    if text is None:
        return None
    return await queue_reply(
        session,
        conversation,
        text,
        kind=decision.kind,
        idempotency_key=f"notice:{key}",
        meta=_trail(decision, by),
        simulated=conversation.channel in simulated,
    )
