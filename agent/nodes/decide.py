"""decide: each request of the turn becomes a policy decision (no outcome comes from a model)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.state import TurnState
from agent.understanding.schema import Request
from knowledge.charter import Charter
from knowledge.faults import crash_point
from tools import bookings, policy
from tools.policy import BookingView, Decision

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

BOOKING_INTENTS = {
    "menu_selection",
    "protein_swap",
    "headcount_change",
    "date_change",
    "cancellation",
    "rating",
    "access_info",
}
KEYWORD_CHANNELS = {"sms", "whatsapp"}
OPT_IN_WORDS = {"start", "unstop", "yes"}
HELP_WORDS = {"help", "info"}
STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit"}


def keyword(text: str) -> str | None:
    """A carrier keyword: the whole message is one of the opt-out, opt-in or help words."""
    word = text.strip().strip(".!").lower()
    return word if word in STOP_WORDS | OPT_IN_WORDS | HELP_WORDS else None


def _menu_parts(
    request: Request, charter: Charter, booking: BookingView
) -> tuple[list[str], list[str]]:
    """The proteins to store and the upgrades to add. A swap changes the current choice:
    outgoing proteins leave it, incoming ones join it."""
    premium = {a.slug for a in charter.addons if a.category == "premium_protein"}
    included = set(charter.rules.menu.included_proteins)
    named = [p for p in request.entities.proteins if p in included or p in premium]
    removed = set(request.entities.removed_proteins)
    if request.intent == "protein_swap" and removed and booking.proteins:
        incoming = [p for p in named if p not in removed]
        kept = [p for p in booking.proteins if p not in removed]
        named = kept + [p for p in incoming if p not in kept]
    else:
        named = [p for p in named if p not in removed]
    return named, list(request.entities.upgrades)


def decide_request(
    request: Request,
    text: str,
    booking: BookingView | None,
    charter: Charter,
    faq_answer: str | None,
    now: datetime,
    pending: str | None = None,
    anonymous: bool = False,
) -> Decision:
    """The policy decision for one request; the words matter only through the understanding."""
    rules = charter.rules
    intent, entities = request.intent, request.entities
    if intent in BOOKING_INTENTS and booking is None:
        if anonymous:
            return Decision(intent, "handled", "verify_first", "web:verify_first")
        return policy.decide_without_booking(intent, rules)
    if booking is not None and entities.choice is not None and pending == "cancel_choice":
        return policy.decide_cancel_choice(booking, entities.choice, now, rules)
    match intent:
        case "menu_selection" | "protein_swap":
            assert booking is not None
            proteins, upgrades = _menu_parts(request, charter, booking)
            return policy.decide_menu(
                intent, booking, proteins, upgrades, [], now, rules, charter.addons
            )
        case "headcount_change":
            assert booking is not None
            g = entities.guests
            counts = policy.new_counts(booking, g.total, g.delta, g.group) if g else None
            return policy.decide_headcount(booking, counts, now, rules, charter.addons)
        case "date_change":
            assert booking is not None
            return policy.decide_date_change(booking, now, rules, entities.date)
        case "cancellation":
            assert booking is not None
            return policy.decide_cancellation(booking, now, rules)
        case "rating":
            assert booking is not None
            if entities.rating is None or booking.event_at > now:
                return Decision(intent, "handled", "clarify", "rating:unclear")
            return policy.decide_rating(booking, entities.rating, now, rules)
        case "access_info":
            assert booking is not None
            return policy.decide_access(text, booking)
        case "dietary_request":
            return policy.decide_dietary(booking, entities.dietary == "serious", now, rules)
        case "weather_concern":
            return policy.decide_weather(booking, now, rules, faq_answer)
        case "human_request":
            return policy.decide_human_request(booking, now, rules)
        case "faq":
            return policy.decide_faq(faq_answer, booking, now, rules)
        case "greeting":
            return Decision(intent, "handled", "greeting", "greeting")
        case _:
            return Decision(intent, "handled", "clarify", "other")


def _questions(text: str) -> list[str]:
    """The sentences of a message that ask something, last first: "I'm so nervous, it's my
    first time. What do we need to provide?" is searched as its question too."""
    sentences = [p.strip() for p in _SENTENCE_END.split(text) if p.strip()]
    asked = [p for p in sentences if p.endswith("?")]
    return list(reversed(asked)) if len(sentences) > 1 else []


async def _faq_answer(ctx: TurnContext, text: str) -> str | None:
    for candidate in [text, *_questions(text)]:
        # The view is counted after the turn commits (see AgentRuntime): every turn answering
        # a popular FAQ would otherwise queue on its row until the one before it commits.
        match = await ctx.knowledge.search_faq(ctx.session, candidate, count_view=False)
        if match is not None:
            ctx.scratch.faq_views.append(match.faq_id)
            return match.answer
    return None


async def decide(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    scratch = ctx.scratch
    assert scratch.charter is not None and scratch.conversation is not None
    assert scratch.customer is not None
    charter = scratch.charter
    text = scratch.inbound.body if scratch.inbound is not None else ""
    channel = scratch.conversation.channel
    word = keyword(text) if channel in KEYWORD_CHANNELS else None
    opted_out = bool(getattr(scratch.customer, f"{channel}_opted_out", False))

    decisions: list[Decision]
    if word is not None and (word != "yes" or opted_out):
        decisions = [policy.decide_opt_out(word, channel, charter.rules)]
    elif opted_out:
        decisions = [Decision("other", "silent", "none", "opted_out")]
    else:
        assert scratch.understanding is not None
        booking = bookings.view(scratch.booking) if scratch.booking is not None else None
        decisions = []
        for index, request in enumerate(scratch.understanding.requests):
            answer = None
            if request.intent == "protein_swap" and booking is not None and not booking.proteins:
                # Nothing chosen yet, so there is nothing to swap: this is the first choice.
                request = request.model_copy(update={"intent": "menu_selection"})
            general_weather = request.intent == "weather_concern" and booking is None
            if request.intent in ("faq", "other") or general_weather:
                answer = await _faq_answer(ctx, text)
                if answer is not None and not general_weather:
                    # An unrecognised message that the FAQs answer well is a question after all.
                    request = request.model_copy(update={"intent": "faq"})
            if index < len(scratch.intents) and scratch.intents[index] != request.intent:
                scratch.intents[index] = request.intent
                scratch.intent = scratch.intents[0]
            decisions.append(
                decide_request(
                    request,
                    text,
                    booking,
                    charter,
                    answer,
                    ctx.clock.now(),
                    state.get("pending"),
                    anonymous=channel == "web" and scratch.customer.phone is None,
                )
            )
    scratch.decisions = decisions
    outcomes = {d.outcome for d in decisions}
    scratch.outcome = (
        "escalated" if "escalated" in outcomes else "handled" if "handled" in outcomes else "silent"
    )
    scratch.rules = [d.rule for d in decisions]
    if not scratch.intents:
        scratch.intent = decisions[0].intent
    pending = next((d.pending for d in reversed(decisions) if d.pending), None)
    crash_point("turn_decided")
    return {"pending": pending, "route": "review" if ctx.llm is not None else "act"}
