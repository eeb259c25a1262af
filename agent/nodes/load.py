"""load_context: the conversation, customer, booking and charter a turn works with."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from langgraph.runtime import Runtime
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.context import TurnContext
from agent.state import Loaded, Route, TurnEvent, TurnState, reply_key
from knowledge.errors import NotFound
from knowledge.models import (
    AutomatedReminder,
    Booking,
    Conversation,
    Customer,
    CustomerAddress,
    Message,
)
from tools import bookings, leads
from tools.messaging.channels import BURST_CHANNELS
from tools.messaging.keywords import keyword
from tools.outbox import stored_reply

BURST_MAX = 5

ROUTES: dict[str, Route] = {
    "customer_message": "understand",
    "reminder": "proactive",
    "operational": "proactive",
    "agent_action": "human_reply",
}


# The statements of every turn are built once (building one costs about as much as running it).

# The conversation's messages after this one that still wait for an answer.
_REST_OF_BURST = (
    select(Message)
    .where(
        Message.conversation_id == bindparam("conversation_id"),
        Message.direction == "inbound",
        Message.status == "received",
        Message.id > bindparam("after"),
    )
    .order_by(Message.id)
    .limit(BURST_MAX)
    .with_for_update(skip_locked=True)
)

# One round trip for the conversation (locked: a takeover waits for this turn), its customer,
# the inbound message and whether the customer left this channel. FOR NO KEY UPDATE: storing
# the customer's next message (whose foreign key takes a KEY SHARE lock on the row) must not
# wait for this turn.
_LEFT_CHANNEL = (
    select(CustomerAddress.id)
    .where(
        CustomerAddress.customer_id == Conversation.customer_id,
        CustomerAddress.channel == Conversation.channel,
        CustomerAddress.opted_out.is_(True),
    )
    .exists()
)
_CONTEXT = (
    select(Conversation, Customer, Message, _LEFT_CHANNEL)
    .join(Customer, Customer.id == Conversation.customer_id)
    .outerjoin(
        Message,
        (Message.id == bindparam("message_id")) & (Message.conversation_id == Conversation.id),
    )
    .where(Conversation.id == bindparam("conversation_id"))
    .with_for_update(of=Conversation, key_share=True)
)


async def _rest_of_burst(session: AsyncSession, inbound: Message) -> list[Message]:
    """The conversation's messages that came after this one and still wait for an answer:
    sent before we replied, they are one thought with it and get one reply."""
    found = await session.scalars(
        _REST_OF_BURST, {"conversation_id": inbound.conversation_id, "after": inbound.id}
    )
    burst: list[Message] = []
    for message in found.all():
        if keyword(message.body) is not None:
            break  # STOP, HELP, START: a carrier keyword is answered on its own
        burst.append(message)
    return burst


async def _answered(session: AsyncSession, key: str) -> bool:
    """Whether this turn's reply is stored already (a repeated second answer)."""
    return await stored_reply(session, reply_key(key)) is not None


async def load_context(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    event = TurnEvent.model_validate(state["event"])
    session = ctx.session
    found = await session.execute(
        _CONTEXT, {"message_id": event.message_id or 0, "conversation_id": event.conversation_id}
    )
    row = found.one_or_none()
    if row is None:
        raise NotFound(f"no conversation {event.conversation_id}")
    conversation, customer, inbound, left_channel = row
    now = ctx.clock.now()
    booking_id = event.payload.get("booking_id")
    if event.kind in ("reminder", "operational") and booking_id is not None:
        booking = await session.get(Booking, int(booking_id), with_for_update=True)
    else:
        booking = await bookings.current_booking(session, customer.id, now)
    loaded = Loaded(
        event=event,
        conversation=conversation,
        customer=customer,
        charter=await ctx.knowledge.charter(session),
        booking=booking,
        opted_out=bool(left_channel),
        asked=state.get("pending"),
        proposal=tuple(state.get("proposal") or ()),
        changed=tuple(state.get("changed") or ()),
        topic=state.get("topic"),
    )
    if not state.get("turns"):  # the welcome back belongs to the first message only
        before = await bookings.completed_before(
            session, customer.id, booking.id if booking else None
        )
        loaded = replace(loaded, repeat_customer=before > 0)
    if event.kind == "customer_message":
        if inbound is None:
            raise NotFound(f"no inbound message {event.message_id} on this conversation")
        loaded = replace(loaded, inbound=inbound)
        if booking is None:
            # Someone without a booking may be a prospect: their lead is part of the context.
            loaded = replace(loaded, lead=await leads.open_for(session, conversation.id))
        again = event.payload.get("again")
        if inbound.status != "received" and not again:
            return {"loaded": loaded, "skip": "duplicate", "route": "end"}
        if again and await _answered(session, event.key):
            return {"loaded": loaded, "skip": "duplicate", "route": "end"}
        conversation.last_inbound_at = inbound.created_at or now
        if conversation.channel in BURST_CHANNELS:
            loaded = replace(loaded, burst=tuple(await _rest_of_burst(session, inbound)))
        if conversation.owner == "human":
            return {
                "loaded": loaded,
                "skip": "human_owned",
                "route": "notify_owner",
                "changed": None,  # a change made before a person took over is theirs to mend
                "topic": None,
            }
    if event.kind == "reminder" and event.reminder_id is not None:
        reminder = await session.get(AutomatedReminder, event.reminder_id)
        if reminder is None or reminder.status in ("sent", "skipped", "suppressed", "cancelled"):
            return {"loaded": loaded, "skip": "duplicate", "route": "end"}
        loaded = replace(loaded, reminder=reminder)
    # The change just made is this turn's to correct only, and the request just made this turn's
    # to ask about: a turn that makes one keeps it again.
    return {"loaded": loaded, "route": ROUTES[event.kind], "changed": None, "topic": None}
