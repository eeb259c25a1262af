"""Turns that start on our side: a scheduled touchpoint, an operational event, a human's reply."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from langgraph.runtime import Runtime
from sqlalchemy import select

from agent.context import TurnContext
from agent.state import Decided, TurnState
from knowledge.charter import Charter
from knowledge.models import AutomatedReminder, Lead
from tools import bookings, leads, prospects
from tools.journey import decide_touchpoint
from tools.policy import Decision


async def proactive(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Decide what a touchpoint says (or that it stays silent) for the turn's booking."""
    ctx = runtime.context
    loaded = state["loaded"]
    event = loaded.event
    charter = loaded.charter
    kind = str(event.payload.get("touchpoint", ""))
    booking = loaded.booking
    opted_out = loaded.opted_out
    if kind == leads.FOLLOW_UP:
        decision = await _lead_follow_up(ctx, event.payload.get("lead_id"), opted_out, charter)
    elif booking is None or booking.status == "cancelled":
        decision = Decision("reminder", "silent", "none", f"touchpoint:{kind}:no_booking")
    else:
        payload = dict(event.payload)
        if kind == "confirmation":
            payload["menu_request_planned"] = await _menu_request_planned(ctx, booking.id)
        decision = decide_touchpoint(
            kind,
            bookings.view(booking),
            address=booking.address,
            menu_selected=booking.menu_selected,
            now=ctx.clock.now(),
            rules=charter.rules,
            addons=charter.addons,
            payload=payload,
        )
        if opted_out:
            # Nothing is sent on a channel the customer left, but what the touchpoint does
            # for the business (a default menu, a call to make) still happens.
            decision = replace(
                decision,
                outcome="escalated" if decision.escalation else "silent",
                kind="none",
                rule=f"{decision.rule}:suppressed",
                pending=None,
            )
    return {
        "decided": Decided((decision,), "reminder", ("reminder",), pending=decision.pending),
        "tone": state.get("customer_tone") or "neutral",
        "pending": decision.pending or state.get("pending"),
    }


async def _lead_follow_up(
    ctx: TurnContext, lead_id: object, opted_out: bool, charter: Charter
) -> Decision:
    """The day-after message to a prospect, unless they booked (or the lead is gone) or left
    the channel."""
    lead = await ctx.session.get(Lead, int(str(lead_id))) if lead_id is not None else None
    if lead is None or lead.status != "open":
        return Decision("reminder", "silent", "none", "touchpoint:lead_follow_up:booked")
    if opted_out:
        return Decision("reminder", "silent", "none", "touchpoint:lead_follow_up:suppressed")
    return prospects.decide_follow_up(leads.view(lead), lead.quote_total, charter.rules)


async def _menu_request_planned(ctx: TurnContext, booking_id: int) -> bool | None:
    """Whether the week-before menu request is still to go out for this booking (None when
    the booking has no planned journey: then the time to the event decides)."""
    status = await ctx.session.scalar(
        select(AutomatedReminder.status).where(
            AutomatedReminder.booking_id == booking_id,
            AutomatedReminder.reminder_type == "7_day",
        )
    )
    return None if status is None else status in ("pending", "claimed")


async def human_reply(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """A person's message goes out as written, through the customer's channel."""
    event = state["loaded"].event
    sent = Decision("agent_action", "handled", "human_reply", "human_reply")
    return {
        "decided": Decided((sent,), "agent_action", ("agent_action",)),
        "reply": event.text.strip() or None,
    }
