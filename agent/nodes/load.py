"""load_context: the conversation, customer, booking and charter a turn works with."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from sqlalchemy import select

from agent.context import TurnContext
from agent.state import TurnEvent, TurnState
from knowledge.errors import NotFound
from knowledge.models import AutomatedReminder, Booking, Conversation, Customer, Message
from tools import bookings


async def load_context(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    event = TurnEvent.model_validate(state["event"])
    session = ctx.session
    # One round trip for the conversation (locked: a takeover waits for this turn), its
    # customer and the inbound message.
    query = (
        select(Conversation, Customer, Message)
        .join(Customer, Customer.id == Conversation.customer_id)
        .outerjoin(
            Message,
            (Message.id == (event.message_id or 0)) & (Message.conversation_id == Conversation.id),
        )
        .where(Conversation.id == event.conversation_id)
        .with_for_update(of=Conversation)
    )
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound(f"no conversation {event.conversation_id}")
    conversation, customer, inbound = row
    now = ctx.clock.now()
    booking_id = event.payload.get("booking_id")
    if event.kind in ("reminder", "operational") and booking_id is not None:
        booking = await session.get(Booking, int(booking_id), with_for_update=True)
    else:
        booking = await bookings.current_booking(session, customer.id, now)
    scratch = ctx.scratch
    scratch.conversation, scratch.customer, scratch.booking = conversation, customer, booking
    scratch.charter = await ctx.knowledge.charter(session)
    if not state.get("turns"):  # the welcome back belongs to the first message only
        scratch.repeat_customer = (
            await bookings.completed_before(session, customer.id, booking.id if booking else None)
            > 0
        )
    fresh: dict[str, Any] = {
        "skip": None,
        "tone": "neutral",
        "intent": "other",
        "intents": [],
        "outcome": "silent",
        "rules": [],
        "reply": None,
        "reply_message_id": None,
        "escalation_ids": [],
        "llm_enabled": ctx.llm is not None,
    }
    if event.kind == "customer_message":
        if inbound is None:
            raise NotFound(f"no inbound message {event.message_id} on this conversation")
        scratch.inbound = inbound
        if inbound.status != "received":
            return fresh | {"skip": "duplicate"}
        conversation.last_inbound_at = inbound.created_at or now
        if conversation.owner == "human":
            return fresh | {"skip": "human_owned"}
    if event.kind == "reminder" and event.reminder_id is not None:
        reminder = await session.get(AutomatedReminder, event.reminder_id)
        if reminder is None or reminder.status in ("sent", "skipped", "suppressed", "cancelled"):
            return fresh | {"skip": "duplicate"}
        scratch.reminder = reminder
    return fresh
