"""deliver: store the reply for the customer's channel (the outbox) and close the turn."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from langgraph.runtime import Runtime

from agent.context import Scratch, TurnContext
from agent.state import TurnState, remember, reply_key
from tools.outbox import queue_reply


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def decision_trail(scratch: Scratch) -> dict[str, Any]:
    """What the console shows for a turn: intent, tone, the policy rows and the facts used."""
    decisions = scratch.decisions
    return {
        "intent": scratch.intent,
        "intents": scratch.intents,
        "tone": scratch.tone,
        "outcome": scratch.outcome,
        "llm": scratch.llm,
        "answered": [m.id for m in [scratch.inbound, *scratch.burst] if m is not None],
        "decisions": [
            {
                "intent": d.intent,
                "outcome": d.outcome,
                "rule": d.rule,
                "kind": d.kind,
                "facts": _json_safe(dict(d.facts)),
                "escalation": _json_safe(asdict(d.escalation)) if d.escalation else None,
            }
            for d in decisions
        ],
    }


async def deliver(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    scratch = ctx.scratch
    assert scratch.conversation is not None
    event = runtime.context.scratch.event
    assert event is not None
    recent = list(state.get("recent", []))
    if scratch.inbound is not None:
        recent = remember(recent, "customer", scratch.text)
        scratch.inbound.status = "processed"
        for message in scratch.burst:
            message.status = "processed"
            # Whose reply answered it: the reply is keyed by the burst's first message.
            message.meta = {**(message.meta or {}), "answered_with": scratch.inbound.id}
    reply = scratch.reply
    message_id = None
    human = event.kind == "agent_action"
    if reply:
        if human:
            kind = "human_reply"
        elif event.kind in ("reminder", "operational"):
            kind = str(event.payload.get("touchpoint", "reminder"))
        else:
            kind = scratch.decisions[0].kind if scratch.decisions else "reply"
        message_id = await queue_reply(
            ctx.session,
            scratch.conversation,
            reply,
            kind=kind,
            idempotency_key=reply_key(event.key),
            meta=decision_trail(scratch),
            simulated=scratch.conversation.channel in ctx.simulated,
            author="human" if human else "agent",
            author_user_id=event.payload.get("user_id") if human else None,
        )
        recent = remember(recent, "human" if human else "agent", reply)
    if scratch.reminder is not None:
        rule = scratch.decisions[0].rule if scratch.decisions else ""
        if message_id is not None:
            scratch.reminder.status = "sent"
            scratch.reminder.sent_at = ctx.clock.now()
            scratch.reminder.message_id = message_id
        else:
            scratch.reminder.status = "suppressed" if rule.endswith(":suppressed") else "skipped"
    await ctx.session.flush()
    scratch.reply_message_id = message_id
    return {
        "recent": recent,
        "turns": int(state.get("turns", 0)) + 1,
    }
