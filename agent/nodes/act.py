"""act: carry out the decisions: change the booking, open escalations, queue team alerts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.state import TurnState
from knowledge.models import TeamAlert
from tools import bookings, leads
from tools.escalations import open_escalation, problem_of


async def act(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    scratch = ctx.scratch
    assert scratch.customer is not None and scratch.charter is not None
    assert scratch.conversation is not None
    now = ctx.clock.now()
    text = scratch.text if scratch.inbound is not None else None
    escalation_ids: list[int] = []
    if scratch.inbound is not None and scratch.lead is not None:
        # A prospect who writes back needs no reminder of their quote.
        await leads.cancel_follow_up(ctx.session, scratch.lead.id)
    for decision in scratch.decisions:
        if decision.lead:
            await _save_lead(ctx, decision.lead, link_sent=decision.rule == "lead:link")
        if decision.updates:
            await bookings.apply(
                ctx.session,
                decision.updates,
                customer=scratch.customer,
                booking=scratch.booking,
                now=now,
                channel=scratch.conversation.channel,
            )
        if decision.escalation is not None:
            escalation = await open_escalation(
                ctx.session,
                decision.escalation,
                customer=scratch.customer,
                booking=scratch.booking,
                conversation_id=scratch.conversation.id,
                customer_request=text,
                rules=scratch.charter.rules,
                console_url=ctx.console_url,
                problem=problem_of(decision.intent),
            )
            if escalation.id not in escalation_ids:
                escalation_ids.append(escalation.id)
    scratch.escalation_ids = escalation_ids
    return {}


async def _save_lead(ctx: TurnContext, values: Mapping[str, Any], *, link_sent: bool) -> None:
    """Store what the prospect told us and the quote they got, and (re)plan the one follow-up
    from this reply."""
    scratch = ctx.scratch
    assert scratch.customer is not None and scratch.conversation is not None
    assert scratch.charter is not None
    now = ctx.clock.now()
    lead = await leads.save(
        ctx.session,
        scratch.lead,
        values,
        customer=scratch.customer,
        conversation=scratch.conversation,
        now=now,
        link_sent=link_sent,
    )
    if lead.status == "open" and lead.quotes_sent:
        # Planned from our latest message to a quoted prospect: it goes if they stall here.
        await leads.plan_follow_up(ctx.session, lead, now, scratch.charter.rules)


async def notify_owner(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """A human owns the thread: the agent stays silent and tells the owner a message came in."""
    ctx = runtime.context
    scratch = ctx.scratch
    assert scratch.conversation is not None and scratch.customer is not None
    inbound = scratch.inbound
    who = scratch.customer.name or scratch.customer.phone or "a customer"
    body = inbound.body if inbound is not None else ""
    ctx.session.add(
        TeamAlert(
            channel="console",
            user_id=scratch.conversation.owner_user_id,
            subject=f"New message from {who}",
            body=body[:1000],
        )
    )
    if inbound is not None:
        inbound.status = "processed"
    await ctx.session.flush()
    scratch.outcome, scratch.rules = "silent", ["human_owned"]
    return {}
