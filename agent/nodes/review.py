"""review: in LLM mode, one call reads the message and phrases the drafted reply.

If the model reads the message differently from the rules, its reading goes back to `decide`
(an edge of the graph) and the turn is decided again by the same policy; its phrasing is then
dropped for the template. If it reads the message the same way, its phrasing is kept for
compose, which still checks its facts.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.llm import read_and_phrase, system_prompt
from agent.nodes.compose import template_reply
from agent.state import TurnState
from agent.understanding.schema import Understanding
from agent.understanding.vocabulary import Vocabulary


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


async def review(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    loaded = state["loaded"]
    reading = state.get("reading")
    decided = state["decided"]
    if ctx.llm is None or loaded.inbound is None or reading is None:
        return {"route": "act"}
    if decided.outcome == "silent":
        return {"route": "act"}  # carrier keywords and opted-out channels are not the model's
    charter = loaded.charter
    vocabulary = Vocabulary.from_charter(charter)
    system = system_prompt(
        charter.rules.business.name,
        [*vocabulary.proteins, *vocabulary.upgrades],
        charter.today.isoformat(),
    )
    llm_reading = await read_and_phrase(
        ctx.llm,
        system=system,
        text=loaded.text,
        recent=state.get("recent", []),
        pending=loaded.asked,
        draft=template_reply(state),
        timeout=ctx.llm_timeout,
    )
    if llm_reading is None:
        return {"llm": "fallback", "route": "act"}
    understanding = llm_reading.understanding()
    if _gist(understanding) == _gist(reading.understanding):
        return {
            "tone": llm_reading.tone,
            "llm": "agreed",
            "llm_reply": llm_reading.reply,
            "route": "act",
        }
    # Read differently: the model's reading is decided again by the same policy (the edge back
    # to decide), and its phrasing is dropped for the template.
    return {
        "tone": llm_reading.tone,
        "llm": "reread",
        "reading": replace(reading, understanding=understanding),
        "by_rules": decided,
        "route": "decide",
    }
