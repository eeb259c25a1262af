"""deliver: store the reply for the customer's channel (the outbox) and close the turn."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from langgraph.runtime import Runtime

from agent.context import TurnContext
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


def decision_trail(state: TurnState) -> dict[str, Any]:
    """What the console shows for a turn: intent, tone, the policy rows and the facts used."""
    decided = state["decided"]
    return {
        "intent": decided.intent,
        "intents": list(decided.intents),
        "tone": state.get("tone", "neutral"),
        "outcome": decided.outcome,
        "llm": state.get("llm"),
        "answered": [m.id for m in state["loaded"].answered],
        "decisions": [
            {
                "intent": d.intent,
                "outcome": d.outcome,
                "rule": d.rule,
                "kind": d.kind,
                "facts": _json_safe(dict(d.facts)),
                "escalation": _json_safe(asdict(d.escalation)) if d.escalation else None,
            }
            for d in decided.decisions
        ],
    }


async def deliver(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    loaded = state["loaded"]
    event = loaded.event
    decisions = state["decided"].decisions
    recent = list(state.get("recent", []))
    if loaded.inbound is not None:
        recent = remember(recent, "customer", loaded.text)
        loaded.inbound.status = "processed"
        for message in loaded.burst:
            message.status = "processed"
            # Whose reply answered it: the reply is keyed by the burst's first message.
            message.meta = {**(message.meta or {}), "answered_with": loaded.inbound.id}
    reply = state.get("reply")
    message_id = None
    human = event.kind == "agent_action"
    if reply:
        if human:
            kind = "human_reply"
        elif event.kind in ("reminder", "operational"):
            kind = str(event.payload.get("touchpoint", "reminder"))
        else:
            kind = decisions[0].kind if decisions else "reply"
        message_id = await queue_reply(
            ctx.session,
            loaded.conversation,
            reply,
            kind=kind,
            idempotency_key=reply_key(event.key),
            meta=decision_trail(state),
            simulated=loaded.conversation.channel in ctx.simulated,
            author="human" if human else "agent",
            author_user_id=event.payload.get("user_id") if human else None,
        )
        recent = remember(recent, "human" if human else "agent", reply)
    reminder = loaded.reminder
    if reminder is not None:
        rule = decisions[0].rule if decisions else ""
        if message_id is not None:
            reminder.status = "sent"
            reminder.sent_at = ctx.clock.now()
            reminder.message_id = message_id
        else:
            reminder.status = "suppressed" if rule.endswith(":suppressed") else "skipped"
    await ctx.session.flush()
    return {
        "recent": recent,
        "turns": int(state.get("turns", 0)) + 1,
        "reply_message_id": message_id,
    }
