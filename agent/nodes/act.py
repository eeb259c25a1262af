"""act: carry out the decisions: change the booking, open escalations, queue team alerts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.state import Decided, Loaded, TurnState
from knowledge.models import TeamAlert
from tools import bookings, leads
from tools.bookings import history as booking_history
from tools.escalations import open_escalation, problem_of, withdrawn
from tools.policy import Decision


async def act(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    loaded = state["loaded"]
    now = ctx.clock.now()
    text = loaded.text if loaded.inbound is not None else None
    escalation_ids: list[int] = []
    # whose case a decision opens or tells, and how the team is reached about it
    case_of: dict[str, Any] = {
        "customer": loaded.customer,
        "booking": loaded.booking,
        "conversation_id": loaded.conversation.id,
        "rules": loaded.charter.rules,
        "console_url": ctx.console_url,
    }
    if loaded.inbound is not None and loaded.lead is not None:
        # A prospect who writes back needs no reminder of their quote.
        await leads.cancel_follow_up(ctx.session, loaded.lead.id)
    for decision in state["decided"].decisions:
        if decision.lead:
            await _save_lead(ctx, loaded, decision.lead, link_sent=decision.rule == "lead:link")
        if decision.updates:
            await bookings.apply(
                ctx.session,
                decision.updates,
                customer=loaded.customer,
                booking=loaded.booking,
                now=now,
                channel=loaded.conversation.channel,
            )
            if loaded.booking is not None and decision.updates.get("status") == "cancelled":
                await booking_history.record(
                    ctx.session,
                    loaded.booking.id,
                    "cancelled",
                    {
                        "via": f"the customer's reply ({loaded.conversation.channel})",
                        "rule": decision.rule,
                        "refund": bool(decision.updates.get("deposit_refund_due")),
                        "deposit_amount": str(loaded.booking.deposit_amount),
                    },
                    now,
                )
        if decision.escalation is not None:
            escalation = await open_escalation(
                ctx.session,
                decision.escalation,
                **case_of,
                customer_request=text,
                problem=problem_of(decision.intent),
            )
            if escalation.id not in escalation_ids:
                escalation_ids.append(escalation.id)
        if decision.withdraws and text is not None:
            told = await withdrawn(ctx.session, **case_of, customer_request=text)
            escalation_ids += [c.id for c in told if c.id not in escalation_ids]
    return {"escalation_ids": escalation_ids}


async def _save_lead(
    ctx: TurnContext, loaded: Loaded, values: Mapping[str, Any], *, link_sent: bool
) -> None:
    """Store what the prospect told us and the quote they got, and (re)plan the one follow-up
    from this reply."""
    now = ctx.clock.now()
    lead = await leads.save(
        ctx.session,
        loaded.lead,
        values,
        customer=loaded.customer,
        conversation=loaded.conversation,
        now=now,
        link_sent=link_sent,
    )
    if lead.status == "open" and lead.quotes_sent:
        # Planned from our latest message to a quoted prospect: it goes if they stall here.
        await leads.plan_follow_up(ctx.session, lead, now, loaded.charter.rules)


async def notify_owner(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """A human owns the thread: the agent stays silent and tells the owner a message came in."""
    ctx = runtime.context
    loaded = state["loaded"]
    inbound = loaded.inbound
    who = loaded.customer.name or loaded.customer.phone or "a customer"
    body = inbound.body if inbound is not None else ""
    ctx.session.add(
        TeamAlert(
            channel="console",
            user_id=loaded.conversation.owner_user_id,
            subject=f"New message from {who}",
            body=body[:1000],
        )
    )
    if inbound is not None:
        inbound.status = "processed"
    await ctx.session.flush()
    silent = Decision("other", "silent", "none", "human_owned")
    return {"decided": Decided((silent,), "other", ())}
