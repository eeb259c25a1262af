"""Replies from templates: one template per decision kind, adapted to the customer's tone.

Templates live under `prompts/replies/` as files; every fact they print comes from the
decision, so a reply can only quote amounts, dates and links the policy produced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import structlog
from langgraph.runtime import Runtime

from agent.context import Scratch, TurnContext
from agent.llm import facts_hold
from agent.state import TurnState
from agent.understanding.schema import Tone

log = structlog.get_logger(__name__)
TEMPLATES = Path(__file__).resolve().parents[2] / "prompts" / "replies"
SMS_LIMIT = 480
_SPACES = re.compile(r"[ \t]+")
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\ufe0f]")


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,  # SMS and WhatsApp are plain text; HTML views escape on their own
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


def template_names() -> list[str]:
    return sorted(p.stem for p in TEMPLATES.glob("*.j2") if not p.name.startswith("_"))


class _Facts(dict[str, Any]):
    """Facts for a template; an optional fact that is absent reads as empty."""

    def __getattr__(self, name: str) -> Any:
        return self.get(name, "")


def render_body(kind: str, facts: Mapping[str, Any]) -> str:
    text = environment().get_template(f"{kind}.j2").render(f=_Facts(facts))
    return _SPACES.sub(" ", text).strip()


def compose(
    parts: Sequence[tuple[str, Mapping[str, Any]]],
    tone: Tone,
    *,
    name: str | None,
    signature: str,
    welcome_back: bool = False,
    greet: bool = True,
) -> str:
    """One reply covering every request of the turn, opened and closed in the customer's tone.
    Mid-conversation replies skip the hello (but keep an apology or reassurance)."""
    tone_macros = environment().get_template("_tone.j2").module
    hello = str(tone_macros.hello(tone, name, welcome_back, greet)).strip()  # type: ignore[attr-defined]
    bye = str(tone_macros.bye(tone, signature)).strip()  # type: ignore[attr-defined]
    bodies = [render_body(kind, facts) for kind, facts in parts]
    text = " ".join([hello, *bodies, bye])
    text = _SPACES.sub(" ", text).strip()
    if tone in ("formal", "frustrated"):
        text = _EMOJI.sub("", text)
    if tone == "frustrated":
        text = text.replace("!", ".")
    return _SPACES.sub(" ", text).strip()


def _greets(state: TurnState, scratch: Scratch) -> bool:
    """Say hello on a conversation's first message and on proactive messages, not on every
    reply of a running exchange (nor on a second answer, which follows one already said)."""
    if scratch.event is not None and scratch.event.payload.get("again"):
        return False
    return not state.get("turns") or scratch.inbound is None


def template_reply(state: TurnState, scratch: Scratch) -> str | None:
    """The reply the templates give for the turn's decisions; None when all are silent."""
    assert scratch.charter is not None
    parts = [
        (d.kind, d.facts) for d in scratch.decisions if d.outcome != "silent" and d.kind != "none"
    ]
    if not parts:
        return None
    tone: Tone = scratch.tone  # type: ignore[assignment]
    return compose(
        parts,
        tone,
        name=scratch.customer.name if scratch.customer is not None else None,
        signature=scratch.charter.rules.business.signature,
        welcome_back=scratch.repeat_customer and not state.get("turns"),
        greet=_greets(state, scratch),
    )


async def compose_node(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """The template reply, or the LLM's phrasing of it when every fact in that phrasing holds."""
    scratch = runtime.context.scratch
    text = template_reply(state, scratch)
    candidate = scratch.llm_reply
    scratch.reply = text
    if text is None or not candidate or candidate.strip() == text:
        return {}
    if len(candidate) < SMS_LIMIT and facts_hold(candidate, text):
        scratch.reply = candidate.strip()
        return {}
    log.warning("llm reply dropped: it states facts the decision does not have")
    scratch.llm = "rejected_reply"
    return {}
