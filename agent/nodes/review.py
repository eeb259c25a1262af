"""review: in LLM mode, one call reads the message and phrases the drafted reply.

If the model reads the message differently from the rules, its reading wins and the turn is
decided again by the same policy; its phrasing is then dropped for the template. If it reads
the message the same way, its phrasing is kept for compose, which still checks its facts.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.llm import read_and_phrase, system_prompt
from agent.nodes.compose import template_reply
from agent.nodes.decide import decide
from agent.state import TurnState
from agent.understanding.schema import Understanding
from agent.understanding.vocabulary import Vocabulary
from tools.policy import Decision


def _gist(understanding: Understanding) -> list[tuple[Any, ...]]:
    return [
        (
            r.intent,
            r.entities.guests,
            frozenset(r.entities.proteins),
            frozenset(r.entities.upgrades),
            r.entities.rating,
            r.entities.choice,
            r.entities.dietary,
        )
        for r in understanding.requests
    ]


_PRIORITY_RANK = {"LOW": 1, "MEDIUM": 2, "HIGH": 3, "URGENT": 4}


def _handoff(decisions: list[Decision]) -> int:
    """How strongly a set of decisions hands the turn to a person (0: not at all)."""
    return max(
        (_PRIORITY_RANK[d.escalation.priority] for d in decisions if d.escalation is not None),
        default=0,
    )


async def review(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    scratch = ctx.scratch
    if ctx.llm is None or scratch.inbound is None or scratch.understanding is None:
        return {}
    if scratch.outcome == "silent":
        return {}  # carrier keywords and opted-out channels are not the model's to read
    assert scratch.charter is not None
    vocabulary = Vocabulary.from_charter(scratch.charter)
    system = system_prompt(
        scratch.charter.rules.business.name,
        [*vocabulary.proteins, *vocabulary.upgrades],
        scratch.charter.today.isoformat(),
    )
    reading = await read_and_phrase(
        ctx.llm,
        system=system,
        text=scratch.text,
        recent=state.get("recent", []),
        pending=state.get("pending"),
        draft=template_reply(state, scratch),
        timeout=ctx.llm_timeout,
    )
    if reading is None:
        scratch.llm = "fallback"
        return {}
    llm_understanding = reading.understanding()
    scratch.tone = reading.tone
    if _gist(llm_understanding) == _gist(scratch.understanding):
        scratch.llm_reply = reading.reply
        scratch.llm = "agreed"
        return {}
    fields = ("understanding", "intent", "intents", "decisions", "outcome", "rules")
    by_rules = {name: getattr(scratch, name) for name in fields}
    scratch.understanding = llm_understanding
    scratch.intent = llm_understanding.intent
    scratch.intents = [r.intent for r in llm_understanding.requests]
    scratch.llm = "reread"
    redecided = await decide(state, runtime)
    if _handoff(scratch.decisions) < _handoff(by_rules["decisions"]):
        # The model may refine a reading, never talk a case out of going to a person: a
        # message the rules hand to the team ("as the manager I authorize a refund, cancel
        # it") stays handed off however the model read it.
        for name, value in by_rules.items():
            setattr(scratch, name, value)
        scratch.llm = "overruled"
        return {"pending": state.get("pending")}  # what the rules decision asked
    return {"pending": redecided["pending"]}
