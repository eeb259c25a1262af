"""detect_tone and classify: what the customer said, read by the reader (agent.understanding)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.state import Reading, TurnState
from agent.understanding import entities, prospect, rules
from agent.understanding.reader import WORKED_OUT, Reader, combine, default_reader
from agent.understanding.schema import (
    Context,
    Entities,
    GuestChange,
    Pending,
    Request,
    Tone,
    Understanding,
)
from agent.understanding.tone import detect_tone as rules_tone
from agent.understanding.vocabulary import Vocabulary
from knowledge.charter import Charter
from tools import bookings, leads, policy, travel
from tools.policy import BookingView


async def detect_tone(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    return {"tone": rules_tone(state["loaded"].text)}


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


def _recounted(
    understanding: Understanding,
    proposal: Sequence[dict[str, Any]],
    text: str,
    reader: Reader,
    booking: BookingView | None,
) -> tuple[Understanding, bool]:
    """The changes read back, with the count the reply gives in place of theirs ("Just to
    confirm: 14 adults?" answered "no just 1" or "yes but 15"), as sure as values worked out
    (WORKED_OUT), so they are read back again; the reading as it is when the reply gives no
    such count. True with the changes confirmed when the count is the one read back ("yes
    14"): a yes."""
    counted = [p for p in proposal if p["intent"] == "headcount_change"]
    if len(counted) != 1 or counted[0]["entities"].get("guests") is None:
        return understanding, False
    proposed = GuestChange.model_validate(counted[0]["entities"]["guests"])
    stored = _booked(booking, proposed.group) if booking is not None else None
    recount = reader.recount(text, proposed, stored)
    if recount is None:
        return understanding, False
    after = _counts(booking, proposed) if booking is not None else None
    if recount == proposed or (
        booking is not None and after is not None and _counts(booking, recount) == after
    ):
        return _confirmed(proposal, understanding.tone), True
    requests = [
        Request.model_validate(
            p
            | {"confidence": min(p["confidence"], WORKED_OUT)}
            | (
                {"entities": p["entities"] | {"guests": recount.model_dump()}}
                if p is counted[0]
                else {}
            )
        )
        for p in proposal
    ]
    return understanding.model_copy(update={"requests": requests}), False


def _counts(booking: BookingView, change: GuestChange) -> tuple[int, int, int] | None:
    return policy.new_counts(booking, change.total, change.delta, change.group)


def _booked(booking: BookingView, group: str) -> int:
    """The guests of a group the booking holds; all of them for "guests"."""
    return int(getattr(booking, group))


def _corrected(
    understanding: Understanding,
    changed: Sequence[dict[str, Any]],
    text: str,
    reader: Reader,
    booking: BookingView,
) -> Understanding:
    """The guest change the last turn made, corrected by this reply ("Done: 12 guests (10
    adults, 2 kids)" answered "no sorry just 1": one kid fewer than now; "sorry 2 adults not
    kids": two kids fewer and two adults more; a plain "no", or "jk, keep it at 10" with the
    count before it: the change undone), as sure as values worked out (WORKED_OUT), so it is
    read back; the reading as it is otherwise."""
    if len(changed) != 1 or understanding.concerns:
        return understanding
    made = GuestChange.model_validate(changed[0])
    before = _booked(booking, made.group) - (made.delta or 0) if made.total is None else None
    fix = reader.corrects(text, made, before)
    if fix is None and made.delta is not None and reader.refuses(text):
        fix = GuestChange(delta=-made.delta, group=made.group)  # "no" to "Done": undone
    kept = reader.kept_count(text) if fix is None and made.delta is not None else None
    if kept is not None and made.delta is not None:
        # "jk, keep it at 10": the group's count before the change, or the party's
        if kept == before:
            fix = GuestChange(total=kept, group=made.group)
        elif kept == _booked(booking, "guests") - made.delta:
            fix = GuestChange(delta=-made.delta, group=made.group)
    fixes = (fix,) if fix is not None else reader.regroups(text, made) or ()
    requests = [
        Request(intent="headcount_change", entities=Entities(guests=f), confidence=WORKED_OUT)
        for f in fixes
    ]
    return understanding.model_copy(update={"requests": requests}) if requests else understanding


def _no_chef_missing_before_the_day(
    understanding: Understanding, context: Context
) -> Understanding:
    """The reading less a chef missing when the party is on a later day ("is it 5:30 still?"
    nine days out was answered "I'm so sorry, that should never happen" and handed to the
    team as URGENT): nobody can be waiting for a chef before the day. A message with another
    concern keeps everything, and one with nothing else left asks nothing ("other")."""
    if context.event_date is None or context.chef_due or context.after_event:
        return understanding
    if context.event_date <= context.now.astimezone(ZoneInfo(context.timezone)).date():
        return understanding
    said = "no_show" in understanding.concerns or any(
        r.intent == "no_show" for r in understanding.requests
    )
    if not said or any(c != "no_show" for c in understanding.concerns):
        return understanding
    requests = [r for r in understanding.requests if r.intent != "no_show"]
    return understanding.model_copy(
        update={"requests": requests or [Request(intent="other")], "concerns": ()}
    )


def _followed_up(
    understanding: Understanding,
    topic: str,
    text: str,
    reader: Reader,
    context: Context,
    vocabulary: Vocabulary,
) -> Understanding | None:
    """A money question about the request just made ("can we move it to the 19th?" then "is
    there a fee for that?"), read as one question about that request's `topic` ("is there a
    fee for moving the date"): the booking question it reads as, or an FAQ searched with those
    words, never the request again (it is asked about, not made twice); the reading as it is
    for any other message (None)."""
    words = reader.follows_up(text, topic, understanding)
    if words is None:
        return None
    read = reader.understand(words, context, vocabulary)
    asked = next((r for r in read.requests if r.intent == "booking_question"), None)
    if asked is not None:
        question = asked.model_copy(update={"clause": words})
    else:
        sure = read.requests[0].confidence if read.requests else 0.0
        question = Request(intent="faq", clause=words, confidence=sure)
    return understanding.model_copy(update={"requests": [question]})


def _other_groups_kept(
    understanding: Understanding, proposal: Sequence[dict[str, Any]]
) -> Understanding:
    """A new count for some groups of the guests read back ("Just to confirm: 14 adults and 2
    kids?" answered "yes but make it 15 adults") keeps the other groups read back (15 adults
    and 2 kids), all read back again (WORKED_OUT); the reading as it is when it counts the
    whole party or no guests."""
    said = [
        r
        for r in understanding.requests
        if r.intent == "headcount_change" and r.entities.guests is not None
    ]
    groups = {r.entities.guests.group for r in said if r.entities.guests is not None}
    if not said or "guests" in groups:
        return understanding
    kept = [
        Request.model_validate(p)
        for p in proposal
        if p["intent"] == "headcount_change"
        and p["entities"].get("guests") is not None
        and p["entities"]["guests"].get("group") not in (*groups, "guests")
    ]
    if not kept:
        return understanding
    last = understanding.requests.index(said[-1]) + 1
    requests = [
        *understanding.requests[:last],
        *kept,
        *understanding.requests[last:],
    ]
    requests = [
        r.model_copy(update={"confidence": min(r.confidence, WORKED_OUT)})
        if r.intent == "headcount_change"
        else r
        for r in requests
    ]
    return understanding.model_copy(update={"requests": requests})


def _after_a_yes(
    text: str,
    proposal: Sequence[dict[str, Any]],
    context: Context,
    vocabulary: Vocabulary,
    reader: Reader,
) -> Understanding | None:
    """The requests after a yes that opens a reply to a read-back (`Reader.answered_first`),
    or None: also when they change again what was read back ("yes, and 15 adults"), which
    corrects the values rather than confirming them."""
    rest = reader.answered_first(text)
    if rest is None:
        return None
    more = reader.understand(rest, context, vocabulary)
    proposed = {p["intent"] for p in proposal}
    if any(r.intent in proposed for r in more.requests):
        return None
    requests = [r for r in more.requests if r.intent not in ("greeting", "other")]
    return more.model_copy(update={"requests": requests})


def _confirmed(proposal: Sequence[dict[str, Any]], tone: Tone) -> Understanding:
    """The changes read back or offered, confirmed: applied with exactly their values."""
    return Understanding(
        tone=tone,
        requests=[
            Request.model_validate(
                p | {"confidence": 1.0, "entities": p["entities"] | {"hypothetical": False}}
            )
            for p in proposal
        ],
        source="reader",
    )


async def classify(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    loaded = state["loaded"]
    charter = loaded.charter
    now = runtime.context.clock.now()
    pending: Pending | None = loaded.asked  # type: ignore[assignment]
    booking = loaded.booking
    context = Context(
        now=now,
        timezone=charter.rules.business.timezone,
        pending=pending,
        after_event=booking is not None and booking.event_at <= now,
        chef_due=booking is not None and _chef_due(booking.event_at, now, charter),
        event_date=None
        if booking is None
        else booking.event_at.astimezone(charter.rules.timezone).date(),
        stored_guests=None
        if booking is None
        else {"adults": booking.adults, "kids": booking.kids, "toddlers": booking.toddlers},
    )
    reader = default_reader()
    text = loaded.text
    proposal = loaded.proposal
    # A change only asked about and offered with its quote takes a yes that consents to it.
    offered = any(p["entities"].get("hypothetical") for p in proposal)
    answer_wanted = pending == "confirm_change" and bool(proposal)
    answer = reader.answer(text, consent=offered, read_back=True) if answer_wanted else None
    if answer is None and answer_wanted and reader.asks_its_price(text):
        # "is that extra?" to "Just to confirm: chicken and shrimp?": the read-back asked again
        # with its estimate answers it, never the whole price list
        answer = "noted"
    if answer is None and answer_wanted and reader.acknowledges(text):
        # "ok thanks" to a quote notes the price, to a read-back the values: the change stays
        # on offer ("wait actually ok do it") until the customer says something else.
        answer = "noted"
    vocabulary = Vocabulary.from_charter(charter)
    follow_up = False
    # a whole message that says yes holds nothing after it ("yes please")
    more = (
        _after_a_yes(text, proposal, context, vocabulary, reader)
        if answer_wanted and answer != "yes"
        else None
    )
    if more is not None:
        # "yes and add extra veggies", "yep! also when is the final count due": the values
        # read back are confirmed, and what follows the yes is read as requests of its own
        # (a change among them as sure as it reads: the yes did not answer it).
        confirmed = _confirmed(proposal, more.tone)
        understanding = confirmed.model_copy(
            update={
                "requests": [*confirmed.requests, *more.requests],
                "concerns": more.concerns,
            }
        )
        answer = "yes"
    elif answer == "yes" and proposal:
        # The customer confirmed the values we read back: apply exactly those.
        understanding = _confirmed(proposal, cast(Tone, state["tone"]))  # the yes's tone
    else:
        # Each text of a burst is read on its own (two texts are two sentences, often two
        # requests), then the readings are answered as one.
        texts = [m.body for m in loaded.answered] or [text]
        understanding = combine([reader.understand(t, context, vocabulary) for t in texts])
        understanding = _no_chef_missing_before_the_day(understanding, context)
        # the booking's counts, for a reply that recounts guests read back or just changed
        wanted = answer_wanted or bool(loaded.changed)
        view = bookings.view(booking) if booking is not None and wanted else None
        if loaded.changed and view is not None and not answer_wanted:
            understanding = _corrected(understanding, loaded.changed, text, reader, view)
        question = (
            _followed_up(understanding, loaded.topic, text, reader, context, vocabulary)
            if loaded.topic and not answer_wanted
            else None
        )
        if question is not None:
            understanding, follow_up = question, True
        if answer_wanted:
            recounted, said_again = _recounted(understanding, proposal, text, reader, view)
            if said_again and (not offered or reader.goes_ahead(text)):
                # "yes 14" to "14 adults?"; to a quote, only a yes that consents ("ok 12" to
                # the quote for 12 guests notes the price)
                understanding, answer = recounted, "yes"
            elif not said_again:
                understanding = _other_groups_kept(recounted, proposal)
            if answer is None:
                # "ok add them" to the quote of 3 more kids is that very change; "no dont add
                # them" declines it
                proposed = [Request.model_validate(p) for p in proposal]
                answer = reader.answer_in_words(text, understanding, proposed)
                if answer == "yes":
                    understanding = _confirmed(proposal, understanding.tone)
                elif (
                    answer is None
                    and not understanding.concerns
                    and understanding.intent == "other"
                    and reader.answer(text) is None
                ):
                    # A reply to a read-back that asks for nothing we can read ("hmm let me
                    # check with my husband", a yes worded past our lexicon) keeps the question
                    # open: the values are asked again, never dropped for "could you tell me a
                    # bit more?". A take-back of another request ("nvm keep the date") is
                    # decided as one, and the question asked again after it.
                    answer = "noted"
    details = None
    if booking is None and loaded.inbound is not None:
        # Someone with no booking may be planning one: what they say about it is read too.
        # A bare "Sarah Lee", "Folsom" or "5" answers what their lead still misses.
        missing = leads.view(loaded.lead).missing() if loaded.lead is not None else []
        details = _details(text, missing, context, charter, reader)
    another = (
        booking is not None
        and answer is None
        and not follow_up
        and reader.about_another_party(text)
    )
    when = entities.first_date(rules.fold(text), now, context.timezone) if another else None
    return {
        "reading": Reading(
            understanding,
            confirmation=answer,
            details=details,
            another_party=another,
            another_date=when,
            follow_up=follow_up,
        ),
        "tone": understanding.tone,
        "customer_tone": understanding.tone,
        "topic": reader.subject(understanding) if booking is not None and not answer else None,
    }
