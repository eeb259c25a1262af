"""detect_tone and classify: what the customer said, read by the reader (agent.understanding)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.state import TurnState
from agent.understanding import prospect
from agent.understanding.reader import Reader, combine, default_reader
from agent.understanding.schema import Context, Pending, Request, Understanding
from agent.understanding.tone import detect_tone as rules_tone
from agent.understanding.vocabulary import Vocabulary
from knowledge.charter import Charter
from tools import leads, policy, travel


def _text(runtime: Runtime[TurnContext]) -> str:
    return runtime.context.scratch.text


async def detect_tone(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    runtime.context.scratch.tone = rules_tone(_text(runtime))
    return {}


def _chef_due(event_at: datetime, now: datetime, charter: Charter) -> bool:
    """From the longest arrival lead before the start until the party would be over."""
    _, longest = policy.arrival_leads(charter.rules)
    until = event_at + timedelta(minutes=charter.rules.event.duration_minutes)
    return event_at - longest <= now < until


def _details(
    text: str, answering: Sequence[str], context: Context, charter: Charter, reader: Reader
) -> prospect.Details:
    base = charter.rules.travel.base_zip
    home = travel.by_zip(base) if base else None
    cities = travel.city_names(home.state) if home is not None else frozenset()
    normalised = reader.normaliser(Vocabulary.from_charter(charter)).normalise(text)
    return prospect.read(
        text,
        normalised,
        context.now,
        context.timezone,
        cities,
        answering=answering,
    )


async def classify(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    scratch = ctx.scratch
    assert scratch.charter is not None
    now = ctx.clock.now()
    pending: Pending | None = state.get("pending")  # type: ignore[assignment]
    booking = scratch.booking
    context = Context(
        now=now,
        timezone=scratch.charter.rules.business.timezone,
        pending=pending,
        after_event=booking is not None and booking.event_at <= now,
        chef_due=booking is not None and _chef_due(booking.event_at, now, scratch.charter),
    )
    reader = default_reader()
    text = _text(runtime)
    proposal = state.get("proposal")
    answer = reader.answer(text) if pending == "confirm_change" and proposal else None
    scratch.confirmation = answer
    if answer == "yes" and proposal:
        # The customer confirmed the values we read back: apply exactly those.
        understanding = Understanding(
            tone=rules_tone(text),
            requests=[Request.model_validate(p | {"confidence": 1.0}) for p in proposal],
            source="reader",
        )
    else:
        # Each text of a burst is read on its own (two texts are two sentences, often two
        # requests), then the readings are answered as one.
        vocabulary = Vocabulary.from_charter(scratch.charter)
        texts = [m.body for m in [scratch.inbound, *scratch.burst] if m is not None] or [text]
        understanding = combine([reader.understand(t, context, vocabulary) for t in texts])
    if booking is None and scratch.inbound is not None:
        # Someone with no booking may be planning one: what they say about it is read too.
        # A bare "Sarah Lee", "Folsom" or "5" answers what their lead still misses.
        missing = leads.view(scratch.lead).missing() if scratch.lead is not None else []
        scratch.details = _details(text, missing, context, scratch.charter, reader)
    scratch.understanding = understanding
    scratch.tone = understanding.tone
    scratch.intent = understanding.intent
    scratch.intents = [r.intent for r in understanding.requests]
    return {"customer_tone": understanding.tone}
