"""decide: each request of the turn becomes a policy decision (no outcome comes from a model)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import fields, replace
from datetime import datetime
from string import capwords
from typing import Any

from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.state import Decided, Loaded, Reading, TurnState
from agent.understanding import intents as cue
from agent.understanding.concerns import INTENT_OF, NO_REQUEST
from agent.understanding.entities import same_street
from agent.understanding.prospect import Details
from agent.understanding.reader import CONFIDENT, WORKED_OUT, default_reader
from agent.understanding.schema import CHANGE_INTENTS, Concern, Entities, GuestChange, Request
from knowledge.charter import Charter, Rules
from knowledge.infra.faults import crash_point
from knowledge.models import Booking, Customer
from knowledge.service import FaqMatch
from tools import availability, bookings, leads, policy, prospects, travel
from tools.messaging.channels import KEYWORD_CHANNELS
from tools.messaging.keywords import keyword
from tools.phones import find_contact
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
    "booking_question",
}
#: A prospect's requests that the quote and the lead's questions answer.
LEAD_INTENTS = {
    "headcount_change",
    "date_change",
    "booking_question",
    "menu_selection",
    "protein_swap",
    "greeting",
    "other",
    # a booking's own matters mean nothing to someone without one: "Joe Park" is a name
    "access_info",
    "rating",
}


def _menu_parts(
    request: Request, charter: Charter, booking: BookingView
) -> tuple[list[str], list[str]]:
    """The proteins to store and the upgrades to add. A swap changes the current choice:
    outgoing proteins leave it, incoming ones join it."""
    premium = {a.slug for a in charter.addons if a.category == "premium_protein"}
    included = set(charter.rules.menu.included_proteins)
    named = [p for p in request.entities.proteins if p in included or p in premium]
    removed = set(request.entities.removed_proteins)
    booked = set(booking.proteins)
    whole = len(set(named)) >= charter.rules.menu.proteins_per_person
    if (
        request.intent == "protein_swap"
        and not removed
        and not whole
        and booked & set(named) != set(named)
    ):
        # "switch the squid to shrimp" with squid on the order: nobody swaps to what they
        # already have, so the booked protein named is the one going out. A whole menu named
        # with nothing read as going out ("switch to chicken and tofu" on chicken and steak)
        # is the menu wanted: the chicken stays.
        removed = booked & set(named)
    if request.intent == "protein_swap" and removed and booking.proteins:
        incoming = [p for p in named if p not in removed]
        kept = [p for p in booking.proteins if p not in removed]
        named = kept + [p for p in incoming if p not in kept]
    else:
        named = [p for p in named if p not in removed]
    return named, list(request.entities.upgrades)


def _with_extra_protein(request: Request, charter: Charter, booking: BookingView) -> Request:
    """A menu with one protein more than each plate holds ("can we do chicken, steak and
    shrimp?"), read back with the extra protein that pays for it (+$10/person), never stored
    unpriced; the request as it is otherwise."""
    if request.intent not in ("menu_selection", "protein_swap"):
        return request
    extra = policy.extra_protein(charter.addons)
    proteins, upgrades = _menu_parts(request, charter, booking)
    allowed = policy.proteins_allowed({*upgrades, *booking.upgrades}, charter.rules, charter.addons)
    if extra is None or len(set(proteins)) != allowed + 1:
        return request
    entities = request.entities.model_copy(update={"upgrades": [*upgrades, extra.slug]})
    return request.model_copy(
        update={"entities": entities, "confidence": min(request.confidence, WORKED_OUT)}
    )


def guest_counts(booking: BookingView, changes: list[GuestChange]) -> tuple[int, int, int] | None:
    """Adults, kids and toddlers after every change of a message, one group after another
    ("14 adults and 2 kids" sets both)."""
    view, counts = booking, None
    for change in changes:
        counts = policy.new_counts(view, change.total, change.delta, change.group)
        if counts is None:
            return None
        view = replace(view, adults=counts[0], kids=counts[1], toddlers=counts[2])
    return counts


def guest_changes_agree(booking: BookingView, changes: Sequence[GuestChange]) -> bool:
    """Whether a message's guest changes say one thing about this booking. "Two can't make it,
    so we're down to 13 adults" does (15 adults either way); "we're 13 now instead of 10, her
    three friends are coming" does not (13 by the total, 16 with the friends added), nor does a
    party total the groups' counts do not add up to. Changes that disagree are read back and
    confirmed, never applied on the reading."""
    if len(changes) < 2:
        return True
    every = guest_counts(booking, list(changes))
    if every is None:
        return True  # nothing would be applied
    if any(c.group == "guests" and c.total not in (None, sum(every)) for c in changes):
        return False
    totals = [c for c in changes if c.total is not None]
    return not totals or len(totals) == len(changes) or guest_counts(booking, totals) == every


def guests_read_back(
    booking: BookingView, requests: Sequence[Request], unsure: Sequence[Request]
) -> list[Request]:
    """The changes to read back, `unsure` with one message's guest changes taken as one: when
    an unsure one changes what the sure ones would store, all are read back ("twenty adults
    now n 3 kiddos" is never half applied and half asked about); when it only says again what
    they say ("two cant make it so we're down to thirteen adults"), the sure ones stand."""
    guests = [
        r
        for r in requests
        if r.intent == "headcount_change"
        and r.entities.guests is not None
        and not r.entities.hypothetical
    ]
    doubted = [r for r in guests if r in unsure]
    if not doubted:
        return list(unsure)
    sure = [r.entities.guests for r in guests if r not in unsure and r.entities.guests]
    every = [r.entities.guests for r in guests if r.entities.guests]
    if sure and guest_counts(booking, sure) == guest_counts(booking, every):
        return [r for r in unsure if r not in doubted]
    return [r for r in requests if r in unsure or r in guests]


def guest_changes_disagree(booking: BookingView, requests: Sequence[Request]) -> bool:
    """Whether any text's guest changes disagree about the booking (`guest_changes_agree`).
    Each text of a burst is judged on its own: a second text adding to the first ("14 adults
    now", "oh and 2 more") is no conflict."""
    said: dict[int, list[GuestChange]] = {}
    for r in requests:
        if r.intent == "headcount_change" and r.entities.guests and not r.entities.hypothetical:
            said.setdefault(r.part, []).append(r.entities.guests)
    return not all(guest_changes_agree(booking, changes) for changes in said.values())


def concern_cases(
    concerns: Sequence[Concern],
    decisions: Sequence[Decision],
    booking: BookingView | None,
    now: datetime,
    rules: Rules,
) -> list[Decision]:
    """What a message's concerns need beyond its requests' decisions. The most urgent needs a
    case when no decision gives a person the message at its priority: a concern the reader
    found without a request of its own ("we'll be disputing the deposit with the bank" beside a
    cancellation) still reaches a person. The others are answered by the requests the reader
    added for them (an allergen question beside heat gets the chef's call), except a request
    made again, which asks nothing of its own: it always gets its apology and its reason in
    the case ("2nd time asking" beside heat); `policy.one_case` folds the cases into one."""
    cases: list[Decision] = []
    for index, concern in enumerate(concerns):
        if concern not in policy.CONCERN_PRIORITY:
            continue
        if concern in NO_REQUEST:
            needed = not any(d.facts.get("concern") == concern for d in decisions)
        elif index == 0:
            rank = policy.PRIORITY_RANK[policy.CONCERN_PRIORITY[concern]]
            needed = not any(
                d.escalation is not None and policy.PRIORITY_RANK[d.escalation.priority] >= rank
                for d in decisions
            )
        else:
            needed = False
        if needed:
            cases.append(policy.decide_concern(INTENT_OF[concern], concern, booking, now, rules))
    return cases


def decide_request(
    request: Request,
    text: str,
    booking: BookingView | None,
    charter: Charter,
    faq_answer: str | None,
    now: datetime,
    pending: str | None = None,
    anonymous: bool = False,
    concerns: Sequence[Concern] = (),
    guests: list[GuestChange] | None = None,
    address: str = "",
    among_several: bool = False,
) -> Decision:
    """The policy decision for one request; the words matter only through the understanding."""
    rules = charter.rules
    intent, entities = request.intent, request.entities
    if intent == "booking_question" and entities.someone_else:
        return policy.decide_someone_elses_booking()
    if intent in BOOKING_INTENTS and booking is None:
        if anonymous:
            return Decision(intent, "handled", "verify_first", "web:verify_first", pending="verify")
        return policy.decide_without_booking(intent, rules)
    if booking is not None and entities.choice is not None and pending == "cancel_choice":
        return policy.decide_cancel_choice(booking, entities.choice, now, rules, entities.date)
    match intent:
        case "menu_selection" | "protein_swap":
            assert booking is not None
            proteins, upgrades = _menu_parts(request, charter, booking)
            if entities.hypothetical:
                premium = [p for p in proteins if charter.addon(p) is not None]
                return policy.decide_what_if(
                    intent,
                    booking,
                    None,
                    [*premium, *upgrades],
                    rules,
                    charter.addons,
                    proteins=[p for p in proteins if p not in booking.proteins],
                    removed_proteins=entities.removed_proteins,
                )
            return policy.decide_menu(
                intent,
                booking,
                proteins,
                upgrades,
                [],
                now,
                rules,
                charter.addons,
                removed_upgrades=[
                    *entities.removed_upgrades,
                    # a premium protein taken off ("no lobster after all") is an add-on too
                    *(p for p in entities.removed_proteins if charter.addon(p) is not None),
                ],
                removed_proteins=entities.removed_proteins,
            )
        case "headcount_change":
            assert booking is not None
            changes = guests if guests is not None else [entities.guests] if entities.guests else []
            counts = guest_counts(booking, changes) if changes else None
            if entities.hypothetical:
                return policy.decide_what_if(intent, booking, counts, [], rules, charter.addons)
            return policy.decide_headcount(booking, counts, now, rules, charter.addons)
        case "booking_question" | "faq" if intent == "booking_question" or (
            faq_answer is None and booking is not None and entities.asked
        ):
            # A general question no FAQ answers, read as asking about their own booking too
            # ("how much is it now all in"): the booking answers it, not "let me check with the
            # team".
            assert booking is not None
            return policy.decide_booking_question(
                booking,
                entities.asked,
                address,
                now,
                rules,
                charter.addons,
                among_several=among_several,
            )
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
            moved = entities.address
            if moved is not None and same_street(moved, address):
                moved = None  # the address booked, said again with directions
            elif moved is not None:
                moved = capwords(moved)  # read from the folded text: "45 Pine St Folsom"
            only_asks = all(_sentence_asks(p) for p in _sentences(text))
            return policy.decide_access(text, booking, now, rules, moved, only_asks)
        case "dietary_request":
            return policy.decide_dietary(booking, entities.dietary == "serious", now, rules)
        case "weather_concern":
            return policy.decide_weather(booking, now, rules)
        case "human_request":
            if anonymous:
                return policy.decide_contact_first()
            return policy.decide_human_request(booking, now, rules)
        case "complaint" | "no_show":
            # the first concern of the request's kind says which ("charged twice": billing)
            kind = next((c for c in concerns if INTENT_OF[c] == intent), intent)
            return policy.decide_concern(intent, kind, booking, now, rules)
        case "faq":
            return policy.decide_faq(faq_answer, booking, now, rules)
        case "greeting":
            return _greeting(intent, text)
        case "other" if (answered := default_reader().answer(text)) == "no" or (
            entities.kept
            or (answered == "yes" and pending in ("menu", "cancel_choice") and booking is not None)
        ):
            if answered == "no" or entities.kept:
                # "nvm keep it" after asking for something, "no no we're not cancelling":
                # nothing is to change
                return Decision(
                    intent, "handled", "greeting", "greeting", {"kept": True}, withdraws=True
                )
            assert booking is not None
            if pending == "cancel_choice":
                # "✅" to "Reply 1 to cancel with a full refund, or 2 to move": neither, so the
                # choice is asked again, never "Sounds good!" with the party still booked
                return policy.decide_cancellation(booking, now, rules)
            # "ok do it" to "which 2 would you like?": the question still stands
            return policy.decide_menu(
                "menu_selection", booking, [], [], [], now, rules, charter.addons
            )
        case _ if _closes(text):
            return _greeting(intent, text)  # "ok", "got it": nothing to clarify
        case _:
            return Decision(intent, "handled", "clarify", "other")


def _closes(text: str) -> bool:
    """Whether the message only thanks or acknowledges ("ok thx", "roger that", the lexicon's
    `acknowledgements`)."""
    return cue.CLOSING.match(text) is not None or default_reader().acknowledges(text)


def _greeting(intent: str, text: str) -> Decision:
    """A hello, or a message that only thanks or acknowledges ("ok thx"), which closes the
    thread rather than asking how to help."""
    closing = _closes(text)
    facts = {"closing": closing, "thanks": closing and cue.THANKS.search(text) is not None}
    return Decision(intent, "handled", "greeting", "greeting", facts)


def _sentences(text: str) -> list[str]:
    """The message's sentences, each stripped."""
    return [p.strip() for p in _SENTENCE_END.split(text) if p.strip()]


def _sentence_asks(sentence: str) -> bool:
    """Whether a sentence asks something (`Reader.asks`), after the connectors that may open
    it ("also do u take venmo": the lexicon's `pointing_back.after`)."""
    reader = default_reader()
    openers = reader.lexicon.pointing_back.get("after", frozenset())
    words = sentence.lower().split()
    while words and words[0] in openers:
        words = words[1:]
    return reader.asks(" ".join(words))


def _questions(text: str) -> list[str]:
    """The sentences of a message that ask something, last first: "I'm so nervous, it's my
    first time. What do we need to provide?" is searched as its question too."""
    sentences = _sentences(text)
    asked = [p for p in sentences if p.endswith("?")]
    return list(reversed(asked)) if len(sentences) > 1 else []


async def _faq_match(ctx: TurnContext, text: str, clause: str | None = None) -> FaqMatch | None:
    """The FAQ for a question: searched by the part of the message that asked it (in a message
    with several requests; misspellings of the FAQs' words corrected first), then by the whole
    message and its questions; a greeting in front ("hey do u take venmo") is left out of the
    search, where it only dilutes the relevance."""
    # Read with the FAQs' own words as spellings too: "whats includd" is searched as "included".
    spelled = default_reader().spelled(clause or text, await ctx.knowledge.faq_words(ctx.session))
    first = [spelled] if spelled != text else []
    bare = [cue.without_greeting(c) for c in (*first, text)]
    candidates = dict.fromkeys(c for c in (*first, *bare, text, *_questions(text)) if c)
    for candidate in candidates:
        # The view is counted after the turn commits (see AgentRuntime): every turn answering
        # a popular FAQ would otherwise queue on its row until the one before it commits.
        match = await ctx.knowledge.search_faq(ctx.session, candidate, count_view=False)
        if match is not None:
            return match
    return None


#: At most this many questions of one message are answered from the FAQs.
MOST_FAQS = 3


async def _more_faqs(
    ctx: TurnContext, text: str, first: FaqMatch, covered: frozenset[str]
) -> list[FaqMatch]:
    """The FAQs that answer the other questions of a message of several sentences, each once,
    beside the one that answered it (`first`), none of a category another answer of the turn
    states (`covered`)."""
    sentences = _sentences(text)
    if len(sentences) < 2:
        return []
    found: list[FaqMatch] = []
    seen = {first.faq_id}
    for sentence in sentences:
        if len(found) + 1 >= MOST_FAQS or not _sentence_asks(sentence):
            continue
        match = await _faq_match(ctx, sentence)
        if match is not None and match.faq_id not in seen and match.category not in covered:
            seen.add(match.faq_id)
            found.append(match)
    return found


def _for_the_chef(
    request: Request, requests: Sequence[Request], booking: BookingView | None
) -> bool:
    """A menu request that names nothing to choose, or only takes off what the party does not
    have, beside a serious diet ("no shrimp or scallops for my sister, she's allergic", "my dad
    is allergic to shellfish, so no shrimp on his plate" for a party of chicken and steak): the
    chef's call about safe options settles what that guest eats, so the turn does not also ask
    the whole party's menu."""
    entities = request.entities
    booked = set(booking.proteins) | set(booking.upgrades) if booking is not None else set()
    takes_off_nothing_booked = not (
        entities.changes_something or booked & {*entities.removed_proteins}
    )
    return (
        request.intent in ("menu_selection", "protein_swap")
        and (not entities.names_something or takes_off_nothing_booked)
        and any(r.intent == "dietary_request" and r.entities.dietary == "serious" for r in requests)
    )


def _covered(requests: list[Request], concerns: Sequence[Concern]) -> frozenset[str]:
    """The FAQ categories another answer of the turn states for this booking: a cancellation's
    reply states the deposit and the policy ("a full refund 7 days before" would contradict it
    two days out); the call about a missing chef gives the arrival time ("15 to 20 minutes
    before the start" is wrong by then)."""
    covered = set()
    if any(r.intent == "cancellation" for r in requests):
        covered.add("policies")
    if "no_show" in concerns:
        covered.add("event")
    return frozenset(covered)


def _read_back(request: Request, proposal: Sequence[dict[str, Any]]) -> bool:
    """Whether a request is one of the changes read back (or offered) with these values: a YES
    confirmed it. Another change in the same message ("yes and add extra veggies") is as sure
    as it reads."""
    return any(
        p["intent"] == request.intent
        and Entities.model_validate(p["entities"] | {"hypothetical": False}) == request.entities
        for p in proposal
    )


async def decide(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """The turn's decisions from its reading. Decided a second time after the LLM re-read the
    message (`by_rules` holds the first): the re-read may refine the decisions, never lower
    how strongly they hand the turn to a person."""
    ctx = runtime.context
    loaded = state["loaded"]
    reading = state.get("reading")
    understanding = reading.understanding if reading is not None else None
    confirmation = reading.confirmation if reading is not None else None
    follow_up = reading is not None and reading.follow_up
    charter = loaded.charter
    customer = loaded.customer
    text = loaded.text
    channel = loaded.conversation.channel
    word = keyword(text) if channel in KEYWORD_CHANNELS else None
    opted_out = loaded.opted_out
    intents_read: list[str] = [r.intent for r in understanding.requests] if understanding else []
    intent_read: str = understanding.intent if understanding else "other"
    faq_views: list[int] = []

    decisions: list[Decision]
    proposal: list[dict[str, Any]] | None = None
    changed: list[dict[str, Any]] | None = None  # the one guest change made, to be corrected
    if word is not None and (word != "yes" or opted_out):
        decisions = [policy.decide_opt_out(word, charter.rules)]
    elif opted_out:
        decisions = [Decision("other", "silent", "none", "opted_out")]
    elif confirmation == "no":
        decisions = [Decision("other", "handled", "change_declined", "confirm:declined")]
    elif (
        confirmation == "noted"
        and loaded.booking is not None
        and not any(p["entities"].get("hypothetical") for p in loaded.proposal)
    ):
        # "ok cool thx" to a read-back is not its YES: nothing is changed, and a customer who
        # took the question for done hears so, with the values asked again.
        decisions = [_asked_again(loaded, bookings.view(loaded.booking), charter, ctx.clock.now())]
        proposal = list(loaded.proposal)
    elif loaded.asked == "which_booking" and (
        chosen := _named(await bookings.upcoming(ctx.session, customer.id, ctx.clock.now()), text)
    ):
        # "which one?" answered with a reference: the question asked before, for that party.
        asked = [t for p in loaded.proposal for t in p["entities"].get("asked", [])]
        decisions = [
            policy.decide_booking_question(
                bookings.view(chosen),
                asked,
                chosen.address,
                ctx.clock.now(),
                charter.rules,
                charter.addons,
                among_several=True,
            )
        ]
        intents_read, intent_read = ["booking_question"], "booking_question"
    elif loaded.asked == "contact" and (contact := find_contact(text)):
        # The visitor gave a way to reach them: now the hand-off they asked for can be acted on.
        rules = charter.rules
        decisions = [policy.decide_human_request(None, ctx.clock.now(), rules, contact.describe())]
        intents_read, intent_read = ["human_request"], "human_request"
    else:
        assert understanding is not None
        booking = bookings.view(loaded.booking) if loaded.booking is not None else None
        decisions = []
        requests = understanding.requests
        if booking is not None:
            requests = [_with_extra_protein(r, charter, booking) for r in requests]
            understanding = understanding.model_copy(update={"requests": requests})
        disagree = booking is not None and guest_changes_disagree(booking, requests)
        guests_read = [
            r.entities.guests
            for r in requests
            if r.intent == "headcount_change" and r.entities.guests is not None
        ]
        # "r u free july 4th? want to book another one": the date and guests are the other
        # party's, never changes to the one booked
        another = reading is not None and reading.another_party and booking is not None
        unsure = [
            r
            for r in requests
            if booking is not None
            and not (another and r.intent in _OTHER_PARTY_INTENTS)
            and not (confirmation == "yes" and _read_back(r, loaded.proposal))
            and r.intent in CHANGE_INTENTS
            and not r.entities.hypothetical
            and (
                r.confidence < CONFIDENT
                or charter.rules.changes.confirm_changes == "always"
                or (r.intent == "headcount_change" and disagree)
            )
            and _has_values(r)
            and not _applies_nothing(r, guests_read, booking, charter, ctx.clock.now())
        ]
        if booking is not None:
            unsure = guests_read_back(booking, requests, unsure)
        # Never act on a guess: ask once with the values understood; a YES applies them.
        confirming = bool(unsure) and booking is not None
        if confirming:
            proposal = [r.model_dump(mode="json") for r in unsure]
            requests = [r for r in requests if r not in unsure]
        offered: list[Request] = []  # changes only asked about, quoted and offered
        lead_decision, answered = await _prospect_turn(ctx, loaded, reading, requests)
        if another and lead_decision is None:
            lead_decision, answered = await _another_party(
                ctx, loaded, reading, understanding.requests
            )
        headcounts = [
            r.entities.guests
            for r in requests
            if r.intent == "headcount_change" and r.entities.guests is not None
        ]
        headcount_done = False
        concerns = understanding.concerns
        covered = _covered(requests, concerns)
        # The turn's intents, one per request understood: relabelled as decided, None once an
        # answer elsewhere in the turn covers the request.
        intents: list[str | None] = [r.intent for r in understanding.requests]
        for index, request in enumerate(understanding.requests):
            if any(request is u for u in unsure):
                continue  # read back above
            if index in answered:
                first = index == min(answered)
                intents[index] = request.intent if first else None  # one request, one answer
                if first:
                    assert lead_decision is not None
                    decisions.append(lead_decision)
                continue
            if _for_the_chef(request, understanding.requests, booking):
                intents[index] = None
                continue
            if request.intent == "headcount_change" and headcounts:
                if headcount_done or request.entities.guests is None:
                    continue  # every change was decided with the first that has a count
                headcount_done = True
            answer = None
            if request.intent == "protein_swap" and booking is not None and not booking.proteins:
                # Nothing chosen yet, so there is nothing to swap: this is the first choice.
                request = request.model_copy(update={"intent": "menu_selection"})
            weather_question = request.intent == "weather_concern" and (
                policy.weather_is_a_question(booking, ctx.clock.now(), concerns)
            )
            if (request.intent in ("faq", "other") and not request.entities.kept) or (
                weather_question
            ):
                match = await _faq_match(ctx, text, request.clause)
                if match is not None and match.category in covered:
                    intents[index] = None
                    continue
                if match is not None:
                    # An unrecognised message, or a weather question no forecast reaches yet,
                    # that the FAQs answer well is a question after all.
                    faq_views.append(match.faq_id)
                    answer = match.answer
                    request = request.model_copy(update={"intent": "faq"})
                    if all(r.intent in ("faq", "other") for r in understanding.requests):
                        # "do we need to provide tables n plates? and how long does it go
                        # for": each question the FAQs answer gets its answer
                        for more in await _more_faqs(ctx, text, match, covered):
                            faq_views.append(more.faq_id)
                            answer = f"{answer} {more.answer}"
            intents[index] = request.intent
            party, address = booking, loaded.booking.address if loaded.booking else ""
            several = False
            if (
                request.intent == "booking_question"
                and booking is not None
                and not request.entities.someone_else
            ):
                coming = await bookings.upcoming(ctx.session, customer.id, ctx.clock.now())
                named = _named(coming, text)
                if named is None and len(coming) > 1:
                    views = [bookings.view(b) for b in coming]
                    decisions.append(policy.decide_which_booking(views, charter.rules))
                    proposal = [request.model_dump(mode="json")]
                    continue
                if named is not None:
                    party, address = bookings.view(named), named.address
                    several = len(coming) > 1
            decision = decide_request(
                request,
                text,
                party,
                charter,
                answer,
                ctx.clock.now(),
                loaded.asked,
                anonymous=channel == "web" and customer.phone is None,
                concerns=concerns,
                guests=headcounts if request.intent == "headcount_change" else None,
                address=address,
                among_several=several,
            )
            if _asks_how_it_works(request, decision):
                # "can the headcount be updated later?": nothing to change to yet, so the
                # answer is how changes work, when an FAQ says.
                match = await _faq_match(ctx, text, request.clause)
                if match is not None:
                    faq_views.append(match.faq_id)
                    intents[index] = "faq"
                    decision = policy.decide_faq(
                        match.answer, party, ctx.clock.now(), charter.rules
                    )
            if decision.kind == "change_quote" and not confirming and _has_values(request):
                # The quote offers the change: a YES that consents makes exactly it ("ok do
                # it"); the proposal keeps it marked as only asked about until then.
                offered.append(request)
                decision = replace(
                    decision, facts={**decision.facts, "offered": True}, pending="confirm_change"
                )
            decisions.append(decision)
        if offered:
            proposal = [r.model_dump(mode="json") for r in offered]
        if len(headcounts) == 1 and any(d.kind == "headcount_updated" for d in decisions):
            # "Done: 12 guests" may be answered "no sorry just 1": the next turn reads that as
            # this change corrected (understand._corrected)
            changed = [headcounts[0].model_dump(mode="json")]
        if lead_decision is not None and not answered:
            decisions.append(lead_decision)  # after the answers to the prospect's questions
        cases = concern_cases(concerns, decisions, booking, ctx.clock.now(), charter.rules)
        # An apology for asking again opens the reply; another concern's case follows the rest.
        sorry = [c for c in cases if c.facts.get("concern") in NO_REQUEST]
        decisions = [*sorry, *decisions, *(c for c in cases if c not in sorry)]
        if confirming:
            # The question last, after what was done: "Done: 17 guests ... Just to confirm:
            # chicken and shrimp? Reply YES", and the customer's next reply answers it. Its
            # values and estimate are those of the booking with what was done.
            assert booking is not None
            after = _stored_after(decisions, booking)
            decisions.append(_confirm(unsure, after, charter, ctx.clock.now()))
        intents_read = [i for i in intents if i is not None]
        if intents_read:
            intent_read = intents_read[0]
    if any(d.escalation is not None and d.kind not in _ABSORBED for d in decisions):
        # A person already gets the whole message: a question we could not answer goes with
        # it instead of opening a second case (one_case then folds the rest into one).
        decisions = [d for d in decisions if d.kind not in _ABSORBED]
    if any(d.kind == "change_quote" for d in decisions):
        # The estimate answered the price question; nothing is left for the team.
        decisions = [d for d in decisions if d.kind != "faq_unknown"]
    if any(d.kind != "booking_answer" and d.facts.get("estimate_total") for d in decisions):
        # "we're adding 2 kids. what's the new total": the change's estimate answers it; the
        # balance of the booking before the change would contradict it in the same reply.
        decisions = [d for d in decisions if not _balance_only(d)]
    decisions = policy.one_case(_said_once(decisions))
    if not intents_read:
        intent_read = decisions[0].intent
    concern = understanding.concern if understanding else None
    if concern is not None and policy.CONCERN_PRIORITY.get(concern) == "URGENT":
        # What the turn was about above all: "the driveway's empty, wasn't somebody supposed
        # to be here?" is a chef missing on the day, whatever else it mentions.
        intent_read = next(
            (d.intent for d in decisions if d.intent == INTENT_OF[concern]), intent_read
        )
    if loaded.booking is not None:
        decisions = _priced_as_stored(decisions, bookings.view(loaded.booking), charter)
    pending = next((d.pending for d in reversed(decisions) if d.pending), None)
    if (confirmation == "noted" or follow_up) and pending is None:
        # The quote acknowledged ("ok thanks"): its change is still on offer for a later yes.
        # A money question about the request just made ("do i get anything back?" to "Reply
        # 1 to cancel ...") leaves what we asked about it open too.
        pending, proposal = loaded.asked, list(loaded.proposal)
    elif _asked_between(loaded, confirmation, decisions, intents_read):
        # "wait how much r scallops extra" or "pls make it 15 adults" between a read-back and
        # its YES: answered or done, and the question read back still stands, asked again
        # after, with the estimate of the booking as it now is.
        assert loaded.booking is not None
        pending, proposal = loaded.asked, list(loaded.proposal)
        after = _stored_after(decisions, bookings.view(loaded.booking))
        # beside a change just made, "I haven't changed your booking yet" would contradict it
        said = "also" if any(d.updates for d in decisions) else "again"
        # a request taken back ("nvm keep the date") stays as it is, and the question follows
        decisions = [
            replace(d, facts={**d.facts, "asked_after": True}) if d.withdraws else d
            for d in decisions
        ]
        decisions = [*decisions, _asked_again(loaded, after, charter, ctx.clock.now(), said)]
    decided = Decided(
        decisions=tuple(decisions),
        intent=intent_read,
        intents=tuple(intents_read),
        pending=pending,
        proposal=tuple(proposal or ()),
        faq_views=tuple(faq_views),
    )
    crash_point("turn_decided")
    by_rules = state.get("by_rules")
    update: dict[str, Any] = {"route": "review" if ctx.llm is not None else "act"}
    if by_rules is not None:
        update["route"] = "act"
        if handoff(decided.decisions) < handoff(by_rules.decisions):
            # A message the rules hand to the team ("as the manager I authorize a refund,
            # cancel it") stays handed off however the model read it.
            decided = by_rules
            update["llm"] = "overruled"
            changed = None  # the change read by the model was not made
    return update | {
        "decided": decided,
        "pending": decided.pending,
        "proposal": list(decided.proposal) or None,
        "changed": changed,
    }


def _asked_again(
    loaded: Loaded, booking: BookingView, charter: Charter, now: datetime, said: str = "again"
) -> Decision:
    """The changes read back before, asked about again for `booking` as it now is; `said` is how
    the question opens ("again": "I haven't changed your booking yet."; "also": "One more
    thing.")."""
    kept = [Request.model_validate(p) for p in loaded.proposal]
    question = _confirm(kept, booking, charter, now)
    return replace(question, facts={**question.facts, said: True})


#: What a customer may say between a change read back and its YES without dropping it:
#: questions, and changes of another kind.
_SAID_BETWEEN = frozenset({"faq", "booking_question", *CHANGE_INTENTS})


def _asked_between(
    loaded: Loaded,
    confirmation: str | None,
    decisions: Sequence[Decision],
    intents: Sequence[str],
) -> bool:
    """Whether the turn only answers questions, makes changes of another kind or takes back
    another request while a change read back waits for its YES ("Just to confirm: extra fried
    rice?" answered "cool and pls make it 15 adults", or "nvm keep the date"): no case opened,
    nothing else asked of the customer, nothing of the kind read back changed. A change only
    offered with its quote ends when the customer moves on ("what would 5 more cost?", "ok
    thanks", then "what time does the chef get here?"): a later "ok do it" makes nothing."""
    waiting = {p["intent"] for p in loaded.proposal}
    return (
        loaded.asked == "confirm_change"
        and bool(loaded.proposal)
        and not any(p["entities"].get("hypothetical") for p in loaded.proposal)
        and loaded.booking is not None
        and confirmation is None
        and bool(intents)
        and (set(intents) <= _SAID_BETWEEN or all(d.withdraws for d in decisions))
        and not waiting & set(intents)
        and not any(d.escalation or d.pending for d in decisions)
    )


def _stored_after(decisions: Sequence[Decision], booking: BookingView) -> BookingView:
    """The booking as stored once the decisions' changes are applied."""
    known = {f.name for f in fields(BookingView)}
    view = booking
    for decision in decisions:
        stored: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in decision.updates.items()
            if k in known
        }
        view = replace(view, **stored)
    return view


def _balance_only(decision: Decision) -> bool:
    """Whether a decision answers only what the customer owes."""
    return decision.kind == "booking_answer" and decision.facts.get("asked") == ["balance"]


def _priced_as_stored(
    decisions: list[Decision], booking: BookingView, charter: Charter
) -> list[Decision]:
    """Every estimate the reply states, of the booking as stored after all of the turn's
    changes: "add 3 more adults. and extra fried rice" is priced with both, in each part of the
    reply, never each change on its own."""
    changing = [d for d in decisions if d.updates]
    if len(changing) < 2:
        return decisions
    view = _stored_after(changing, booking)
    money = policy.quote_facts(policy.booking_quote(view, charter.rules, charter.addons))
    return [
        replace(d, facts={**d.facts, **money}) if d.updates and "estimate_total" in d.facts else d
        for d in decisions
    ]


#: Replies that answer the whole message, whichever of its requests asked: said once.
_WHOLE_MESSAGE = frozenset({"no_booking", "verify_first"})


def _said_once(decisions: list[Decision]) -> list[Decision]:
    """The decisions with a whole-message reply ("I couldn't find a booking for this number")
    kept only the first time: two changes asked of no booking get it once. An answer that
    changes nothing and is word for word one already given is given once too: a weather
    question read both as a FAQ and as weather far ahead gets the covered-patio answer once."""
    seen: set[str] = set()
    kept: list[Decision] = []
    for d in decisions:
        if d.kind in _WHOLE_MESSAGE:
            if d.kind in seen:
                continue
            seen.add(d.kind)
        if _only_says(d) and any(
            _only_says(k) and (k.kind, dict(k.facts)) == (d.kind, dict(d.facts)) for k in kept
        ):
            continue
        kept.append(d)
    return kept


def _only_says(decision: Decision) -> bool:
    return not decision.updates and decision.escalation is None and decision.pending is None


def handoff(decisions: Sequence[Decision]) -> int:
    """How strongly a set of decisions hands the turn to a person (0: not at all)."""
    return max(
        (1 + policy.PRIORITY_RANK[d.escalation.priority] for d in decisions if d.escalation),
        default=0,
    )


async def _prospect_turn(
    ctx: TurnContext, loaded: Loaded, reading: Reading | None, requests: Sequence[Request]
) -> tuple[Decision | None, set[int]]:
    """For a sender with no booking who talks about a party they want: the quote, availability
    and booking-link decision, and which of the message's requests it answers."""
    details = reading.details if reading is not None else None
    if details is None:
        return None, set()
    charter = loaded.charter
    lead = loaded.lead  # loaded with the context for anyone without a booking
    closing = {i for i, r in enumerate(requests) if r.intent == "cancellation"}
    if lead is not None and (closing or details.declines):
        # "never mind, we found someone else": the lead is closed, and nobody chases it
        lost = Decision(
            "cancellation", "handled", "lead_closed", "lead:lost", lead={"status": "lost"}
        )
        # the goodbye answers the rest of what they said ("nvm, found someone lol")
        return lost, closing | {i for i, r in enumerate(requests) if r.intent in LEAD_INTENTS}
    # After a quote, "oh and lobster for everyone" is part of the party asked about, and
    # "what's the total w travel" asks about that party, not a booking they do not have.
    about_lead = lead is not None and any(
        r.intent == "booking_question"
        or (
            r.intent in ("menu_selection", "protein_swap")
            and any(
                charter.addon(s) is not None for s in (*r.entities.proteins, *r.entities.upgrades)
            )
        )
        for r in requests
    )
    if not (details.asks or details.given() or about_lead):
        return None, set()
    if lead is None and (details.about_own_booking or (details.changes and not details.asks)):
        # "when is my party?", "we'll be 14 adults now": a customer to verify, not a prospect
        return None, set()
    known = leads.view(lead)
    rules = charter.rules
    values, unknown_place = _lead_values(known, details, requests, loaded.customer, charter)
    merged = replace(known, **values)
    quote_changed = (
        lead is None
        or not lead.quotes_sent
        or any(k in values for k in ("adults", "kids", "toddlers", "travel_miles", "upgrades"))
    )
    found = None
    now = ctx.clock.now()
    if merged.event_date is not None and merged.event_date >= now.astimezone(rules.timezone).date():
        taken = await availability.taken_around(ctx.session, merged.event_date, rules)
        found = availability.check(merged.event_date, merged.event_time, taken, now, rules)
    decision = prospects.decide_lead(
        merged,
        rules=rules,
        addons=charter.addons,
        available=found,
        show_quote=quote_changed or any(r.intent == "booking_question" for r in requests),
        show_availability="event_date" in values or "event_time" in values,
        unknown_place=unknown_place,
        new_lead=lead is None,
        named_now=lead is not None and "name" in values and known.name is None,
    )
    decision = replace(decision, lead={**values, **decision.lead})
    concern = reading.understanding.concern if reading is not None else None
    answered = {
        i
        for i, r in enumerate(requests)
        if r.intent in LEAD_INTENTS
        or (r.intent == "faq" and merged.guests > 0)
        # an unsure reading with no concern behind it ("how about 7:30 then" is no missing
        # chef for someone with no booking) is the prospect's answer
        or (r.confidence < CONFIDENT and concern is None and r.intent not in _NEVER_ABSORBED)
    }
    return decision, answered


#: What a customer's words about another party read as, when they are about it.
_OTHER_PARTY_INTENTS = frozenset(
    {"date_change", "headcount_change", "menu_selection", "protein_swap", "booking_question"}
)


async def _another_party(
    ctx: TurnContext, loaded: Loaded, reading: Reading | None, requests: Sequence[Request]
) -> tuple[Decision | None, set[int]]:
    """For a customer with a booking who asks about another party: whether the date they name
    is open and where to book it, and which of the message's requests that answers (its date,
    guests and menu, else its first question or remark)."""
    assert loaded.booking is not None
    reader = default_reader()
    answered = {
        i
        for i, r in enumerate(requests)
        if r.intent in _OTHER_PARTY_INTENTS
        # "want to book another one" read as a question or a remark: this answers it
        or (r.intent in ("faq", "other", "greeting") and reader.about_another_party(r.clause or ""))
    }
    if not answered:
        return None, set()
    rules = loaded.charter.rules
    now = ctx.clock.now()
    day = next((r.entities.date for r in requests if r.entities.date is not None), None) or (
        reading.another_date if reading is not None else None
    )
    found = None
    if day is not None and day >= now.astimezone(rules.timezone).date():
        taken = await availability.taken_around(ctx.session, day, rules)
        found = availability.check(day, None, taken, now, rules)
    return prospects.decide_another_party(bookings.view(loaded.booking), found, rules), answered


def _lead_values(
    known: prospects.LeadView,
    details: Details,
    requests: Sequence[Request],
    customer: Customer,
    charter: Charter,
) -> tuple[dict[str, Any], str | None]:
    """What this message adds to or changes in the lead, and a place we could not find."""
    values: dict[str, Any] = {}
    name = details.name or (details.bare_name if not known.name else None)
    if not name and not known.name and customer.name:
        name = customer.name
    if name and name != known.name:
        values["name"] = name
    # Someone who emails us has given their address already, as someone who texts their phone.
    email = details.email or (customer.email if not known.email else None)
    if email and email.lower() != known.email:
        values["email"] = email.lower()
    phone = details.phone or (customer.phone if not known.phone else None)
    if phone and phone != known.phone:
        values["phone"] = phone
    for key in ("event_date", "event_time"):
        value = getattr(details, key)
        if value is not None and value != getattr(known, key):
            values[key] = value
    counts = {g: getattr(details, g) for g in ("adults", "kids", "toddlers")}
    if details.guests and not counts["adults"]:
        # "20 people": priced as adults until we hear of kids; "18 ppl, 3 of them r kids":
        # the rest of the total are adults.
        rest = details.guests - (counts["kids"] or 0) - (counts["toddlers"] or 0)
        if rest > 0:
            counts["adults"] = rest
    for group, delta in details.more:
        key = "adults" if group == "guests" else group
        current = counts.get(key) or getattr(known, key) or 0
        counts[key] = max(0, current + delta)
    for key, value in counts.items():
        if value is not None and value != getattr(known, key):
            values[key] = value
    upgrades = [
        slug
        for r in requests
        if r.intent in ("menu_selection", "protein_swap") and not r.entities.removed_proteins
        for slug in (*r.entities.proteins, *r.entities.upgrades)
        if charter.addon(slug) is not None
    ]
    if upgrades and set(upgrades) - set(known.upgrades):
        values["upgrades"] = tuple(dict.fromkeys((*known.upgrades, *upgrades)))
    unknown_place = None
    base = charter.rules.travel.base_zip
    home = travel.by_zip(base) if base else None
    if details.zip_code and details.zip_code != known.zip_code:
        place = travel.by_zip(details.zip_code)
        if place is None:
            unknown_place = f"ZIP code {details.zip_code}"
        else:
            values |= {"zip_code": details.zip_code, "place": place.name}
            if home is not None:
                values["travel_miles"] = travel.miles_between(home, place)
    elif details.place and not known.zip_code and home is not None:
        place = travel.by_city(details.place, home.state)
        if place is not None and place.name != known.place:
            values |= {"place": place.name, "travel_miles": travel.miles_between(home, place)}
    return values, unknown_place


def _named(coming: Sequence[Booking], text: str) -> Booking | None:
    """The party of the customer's that the message names by its reference, if any."""
    lowered = text.lower()
    return next((b for b in coming if b.reference.lower() in lowered), None)


#: Requests a prospect's quote never answers, however unsure their reading.
_NEVER_ABSORBED = frozenset({"human_request", "opt_out", "cancellation", "dietary_request"})

#: Decisions that open a case of their own only when nothing else in the turn does.
_ABSORBED = frozenset({"faq_unknown"})


def _applies_nothing(
    request: Request,
    guests: list[GuestChange],
    booking: BookingView,
    charter: Charter,
    now: datetime,
) -> bool:
    """Whether the policy applies nothing of a change as read, so nothing needs confirming
    first: it hands the change to a person (a major change in the last 24 hours: the manager
    checks it), the proteins named are already on a full menu (the reply states the menu as
    booked), it asks its own question (which proteins a new one joins), or what it would store
    is what the booking holds ("chicken n steak still good" on a chicken and steak menu)."""
    decision = decide_request(
        request,
        "",
        booking,
        charter,
        None,
        now,
        guests=guests if request.intent == "headcount_change" else None,
    )
    return all(_as_booked(booking, field, value) for field, value in decision.updates.items())


#: What a change may set that a customer would see in their booking; the rest is bookkeeping
#: ("menu_selected" follows from the proteins).
_SEEN = frozenset({"adults", "kids", "toddlers", "proteins", "upgrades"})


def _as_booked(booking: BookingView, field: str, value: Any) -> bool:
    if field not in _SEEN:
        return True
    stored = getattr(booking, field)
    if field in ("proteins", "upgrades"):
        return set(stored) == set(value)
    return bool(stored == value)


def _asks_how_it_works(request: Request, decision: Decision) -> bool:
    """Whether a change asks how changes work, for the FAQs to answer: a guest change with no
    count, in a clause that asks (`Reader.asks`), where the policy would only ask for the count;
    or a change only asked about with nothing read to price, which the policy would quote as
    the estimate unchanged. A move without a date is not one: "could we reschedule to July?" is
    a request the team takes up with its calendar."""
    if decision.kind == "change_quote" and not _has_values(request):
        # a price asked of a change read with nothing to price ("can we add fried rice? and
        # how much would scallops be for everyone?" read with neither): never "your estimate
        # would stay at $550"
        return True
    if request.intent != "headcount_change" or request.entities.guests is not None:
        return False
    if decision.kind != "headcount_unclear" or not request.clause:
        return False
    return default_reader().asks(request.clause)


def _has_values(request: Request) -> bool:
    e = request.entities
    return bool(e.guests is not None or e.proteins or e.upgrades)


def _confirm(
    unsure: list[Request], booking: BookingView, charter: Charter, now: datetime
) -> Decision:
    """The question that confirms changes read without certainty, with the resulting values,
    what a menu change's upgrades cost and the estimate it would make ("filet instead of steak,
    how much more is that?" is answered before the YES); a new party size or a swap says the
    estimate it would make too ("how much do we owe, we're 14 adults now")."""
    facts: dict[str, Any] = {
        "guests_changed": False,
        "proteins": "",
        "upgrade_names": "",
        "upgrade_prices": "",
        "estimate_total": "",
        "minimum_applied": False,
    }
    changes = [r.entities.guests for r in unsure if r.entities.guests is not None]
    counts = guest_counts(booking, changes) if changes else None
    if counts is not None:
        adults, kids, toddlers = counts
        facts |= {"guests_changed": True, "adults": adults, "kids": kids, "toddlers": toddlers}
    upgrades_after: list[str] | None = None
    for request in unsure:
        if request.intent in ("menu_selection", "protein_swap"):
            proteins, upgrades = _menu_parts(request, charter, booking)
            names = {a.slug: a.name for a in charter.addons}
            # In a sentence every protein reads alike: "chicken and filet mignon".
            facts["proteins"] = " and ".join(
                names.get(p, p.replace("_", " ")).lower() for p in proteins
            )
            facts["upgrade_names"] = ", ".join(names.get(u, u).lower() for u in upgrades)
            priced = decide_request(request, "", booking, charter, None, now)
            facts["upgrade_prices"] = priced.facts.get("upgrade_prices", "")
            facts["estimate_total"] = priced.facts.get("estimate_total", "")
            facts["minimum_applied"] = priced.facts.get("minimum_applied", False)
            upgrades_after = priced.updates.get("upgrades", upgrades_after)
    if counts is not None:
        # The party's new size priced with the menu as it would be after the YES.
        quote = policy.booking_quote(
            booking, charter.rules, charter.addons, counts=counts, upgrades=upgrades_after
        )
        quoted = policy.quote_facts(quote)
        facts["estimate_total"] = quoted["estimate_total"]
        facts["minimum_applied"] = quoted["minimum_applied"]
    intent = unsure[0].intent
    if not (facts["guests_changed"] or facts["proteins"] or facts["upgrade_names"]):
        # Nothing exact to confirm: the policy asks for the values instead.
        return Decision(intent, "handled", "clarify", f"{intent}:unsure")
    return Decision(
        intent, "handled", "confirm_change", f"{intent}:confirm", facts, pending="confirm_change"
    )
