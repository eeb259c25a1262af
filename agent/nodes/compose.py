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

from agent.context import TurnContext
from agent.llm import facts_hold
from agent.state import TurnState
from agent.understanding.schema import Tone
from knowledge.infra import metrics

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
    """The reply kinds (a channel's own layout of a kind, `kind.email.j2`, is not a kind)."""
    return sorted(
        p.stem for p in TEMPLATES.glob("*.j2") if not p.name.startswith("_") and "." not in p.stem
    )


#: Channels whose replies keep their line breaks (an email reads as paragraphs and lists; a
#: text is one paragraph).
LAID_OUT = frozenset({"email"})


@cache
def _own_layout(kind: str, channel: str) -> bool:
    return (TEMPLATES / f"{kind}.{channel}.j2").exists()


def _tidy(text: str, laid_out: bool) -> str:
    if not laid_out:
        return _SPACES.sub(" ", text).strip()
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class _Facts(dict[str, Any]):
    """Facts for a template; an optional fact that is absent reads as empty."""

    def __getattr__(self, name: str) -> Any:
        return self.get(name, "")


def render_body(kind: str, facts: Mapping[str, Any], channel: str | None = None) -> str:
    """A decision's text; a channel with its own layout of the kind (`touch_confirmation.email.j2`)
    gets that one."""
    own = channel is not None and channel in LAID_OUT and _own_layout(kind, channel)
    name = f"{kind}.{channel}.j2" if own else f"{kind}.j2"
    text = environment().get_template(name).render(f=_Facts(facts))
    return _tidy(text, laid_out=own)


def compose(
    parts: Sequence[tuple[str, Mapping[str, Any]]],
    tone: Tone,
    *,
    name: str | None,
    signature: str,
    welcome_back: bool = False,
    greet: bool = True,
    channel: str | None = None,
) -> str:
    """One reply covering every request of the turn, opened and closed in the customer's tone.
    Mid-conversation replies skip the hello (but keep an apology or reassurance)."""
    tone_macros = environment().get_template("_tone.j2").module
    sorry = any(facts.get("sorry") for _, facts in parts)
    hello = str(tone_macros.hello(tone, name, welcome_back, greet, sorry)).strip()  # type: ignore[attr-defined]
    bye = str(tone_macros.bye(tone, signature)).strip()  # type: ignore[attr-defined]
    bodies = [render_body(kind, facts, channel) for kind, facts in parts]
    laid_out = channel in LAID_OUT and any("\n" in b for b in bodies)
    text = ("\n\n" if laid_out else " ").join(p for p in [hello, *bodies, bye] if p)
    text = _tidy(text, laid_out)
    if tone in ("formal", "frustrated") or sorry:
        text = _EMOJI.sub("", text)
    if tone == "frustrated":
        text = text.replace("!", ".")
    return _tidy(text, laid_out)


def _greets(state: TurnState) -> bool:
    """Say hello on a conversation's first message and on proactive messages, not on every
    reply of a running exchange (nor on a second answer, which follows one already said)."""
    loaded = state["loaded"]
    if loaded.event.payload.get("again"):
        return False
    return not state.get("turns") or loaded.inbound is None


def template_reply(state: TurnState) -> str | None:
    """The reply the templates give for the turn's decisions; None when all are silent."""
    loaded = state["loaded"]
    parts = [
        (d.kind, d.facts)
        for d in state["decided"].decisions
        if d.outcome != "silent" and d.kind != "none"
    ]
    if not parts:
        return None
    tone: Tone = state.get("tone", "neutral")  # type: ignore[assignment]
    return compose(
        parts,
        tone,
        name=loaded.customer.name,
        signature=loaded.charter.rules.business.signature,
        welcome_back=loaded.repeat_customer and not state.get("turns"),
        greet=_greets(state),
        channel=loaded.conversation.channel,
    )


async def compose_node(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """The template reply, or the LLM's phrasing of it when every fact in that phrasing holds."""
    text = template_reply(state)
    candidate = state.get("llm_reply")
    if text is None or not candidate or candidate.strip() == text:
        return {"reply": text}
    if len(candidate) < SMS_LIMIT and facts_hold(candidate, text):
        return {"reply": candidate.strip()}
    log.warning("llm reply dropped: it states facts the decision does not have")
    metrics.instruments().llm_fallbacks.labels("facts_not_held").inc()
    return {"reply": text, "llm": "rejected_reply"}
