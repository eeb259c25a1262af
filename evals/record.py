"""Turn a stored conversation into a scenario whose expectations are what was observed, so a
real conversation becomes a regression test.

What is recorded: the customer (name, phone, channel, completed bookings before), the booking
current when the conversation started (as it is stored now), each customer message as a
`say` step expecting the outcome, intent and tone the agent's decision trail recorded and the
priority of any escalation it opened, and the time between messages as `advance` steps
expecting the touchpoints that went out in between. Messages written by people in the console
are not replayed (the scenario keeps the customer's side and the agent's decisions).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.errors import NotFound
from knowledge.models import Booking, Conversation, Customer, Escalation, Message
from knowledge.models.conversations import REMINDER_KINDS
from tools import bookings

PRIORITY_RANK = {"LOW": 0, "MEDIUM": 1, "HIGH": 2, "URGENT": 3}
BEFORE_FIRST = timedelta(seconds=1)  # the clock starts just before the first message


def _duration(gap: timedelta) -> str | None:
    minutes = int(gap.total_seconds() // 60)
    if minutes < 1:
        return None
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def _booking_spec(booking: Booking) -> dict[str, Any]:
    return {
        "event_at": booking.event_at.isoformat(),
        "created_at": booking.created_at.isoformat(),
        "address": booking.address,
        "adults": booking.adults,
        "kids": booking.kids,
        "toddlers": booking.toddlers,
        "proteins": list(booking.proteins or []),
        "upgrades": list(booking.upgrades or []),
        "status": booking.status if booking.status != "pending" else "confirmed",
    }


async def record(
    session: AsyncSession, conversation_id: int, *, name: str | None = None
) -> dict[str, Any]:
    """The scenario (as plain data, ready for YAML) of one stored conversation."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation with id {conversation_id}")
    customer = await session.get(Customer, conversation.customer_id)
    assert customer is not None
    messages = (
        await session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.created_at, Message.id)
        )
    ).all()
    inbound = [m for m in messages if m.direction == "inbound"]
    if not inbound:
        raise NotFound(f"conversation {conversation_id} has no customer messages to replay")
    start: datetime = inbound[0].created_at - BEFORE_FIRST
    booking = await bookings.current_booking(session, customer.id, start)
    past = await bookings.completed_before(session, customer.id, booking.id if booking else None)
    cases = (
        await session.scalars(
            select(Escalation)
            .where(Escalation.conversation_id == conversation_id)
            .order_by(Escalation.created_at)
        )
    ).all()
    steps: list[dict[str, Any]] = []
    clock = start
    for index, message in enumerate(inbound):
        gap = _duration(message.created_at - clock)
        if gap is not None:
            sent = [
                m.kind
                for m in messages
                if m.direction == "outbound"
                and m.kind in REMINDER_KINDS
                and clock <= m.created_at < message.created_at
            ]
            steps.append({"advance": gap, "expect": {"sent": sent}})
            clock = message.created_at
        until = inbound[index + 1].created_at if index + 1 < len(inbound) else None
        steps.append({"say": message.body, "expect": _observed(message, messages, cases, until)})
    return {
        "name": name or f"recorded-conversation-{conversation_id}",
        "tags": ["recorded"],
        "now": start.isoformat(),
        "customer": {
            "name": customer.name or "Customer",
            "phone": customer.phone,
            "channel": conversation.channel,
            "past_bookings": past,
        },
        **({"booking": _booking_spec(booking)} if booking is not None else {}),
        "steps": steps,
    }


def _observed(
    message: Message,
    messages: Any,
    cases: Any,
    until: datetime | None,
) -> dict[str, Any]:
    def within(moment: datetime) -> bool:
        return moment >= message.created_at and (until is None or moment < until)

    replies = [
        m
        for m in messages
        if m.direction == "outbound"
        and m.author == "agent"
        and m.kind not in REMINDER_KINDS
        and within(m.created_at)
        and m.id > message.id
    ]
    trail = replies[0].meta if replies else {}
    opened = [c for c in cases if within(c.created_at)]
    expect: dict[str, Any] = {}
    if trail.get("outcome"):
        expect["outcome"] = trail["outcome"]
        expect["intent"] = trail.get("intent")
        expect["tone"] = trail.get("tone")
    elif not replies:
        expect["outcome"] = "silent"
    if opened:
        expect["priority"] = max((c.priority for c in opened), key=PRIORITY_RANK.__getitem__)
    return {k: v for k, v in expect.items() if v is not None}


def to_yaml(scenario: dict[str, Any]) -> str:
    return yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True, width=100)
