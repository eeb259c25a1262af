"""The rules-based reader: tone, intents in the order written, and their entities.

`understand(text, context, vocabulary)` is pure and deterministic. The steps:

1. Opt-out words alone (STOP, UNSUBSCRIBE, ...) win outright; an empty message is "other".
2. The message is cut into clauses; each clause is read for intents by cue words and by the
   entities it names (guest changes, proteins), with a few rules about what outranks what
   inside one clause (a weather worry is not also a question for the FAQ, say).
3. The pending question and the event's state come next: after the event a rating is read
   first; an answer to "cancel or reschedule?" becomes a cancellation or a date change.
4. Requests are ordered by where their first cue appears, each with its own entities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from agent.understanding import entities as ent
from agent.understanding import intents as cue
from agent.understanding.intents import Clause
from agent.understanding.schema import (
    Context,
    Entities,
    GuestChange,
    Intent,
    Request,
    Tone,
    Understanding,
)
from agent.understanding.tone import detect_tone
from agent.understanding.vocabulary import Vocabulary

__all__ = ["detect_tone", "understand"]

#: "is the 18th free?" asks whether a date is open, which belongs to the date change.
_AVAILABILITY = re.compile(r"free|available|availability")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
#: Intents that say something specific; a greeting or a bare question yields to them.
_SPECIFIC: frozenset[Intent] = frozenset(
    {
        "menu_selection",
        "protein_swap",
        "headcount_change",
        "date_change",
        "cancellation",
        "rating",
        "dietary_request",
        "weather_concern",
        "access_info",
        "human_request",
    }
)


@dataclass
class _Found:
    """What one clause (or the message) says: intents by position, and the clause they came from."""

    hits: list[tuple[int, Intent]] = field(default_factory=list)
    swap_clauses: list[Clause] = field(default_factory=list)
    date_clauses: list[Clause] = field(default_factory=list)

    def add(self, pos: int, intent: Intent) -> None:
        self.hits.append((pos, intent))

    def intents(self) -> set[Intent]:
        return {intent for _, intent in self.hits}


def understand(text: str, context: Context, vocabulary: Vocabulary) -> Understanding:
    """Read one customer message: its tone and every request in it, in the order written."""
    tone = detect_tone(text)
    lower = text.translate(_QUOTES).lower()
    if not lower.strip():
        return _one(tone, "other")
    if cue.OPT_OUT.match(lower):
        return Understanding(tone=tone, requests=[Request(intent="opt_out")])

    matcher = ent.matcher_for(vocabulary)
    mentions = matcher.find(lower)
    guests = ent.find_guests(lower)
    rating_context = context.after_event or context.pending == "rating"
    found = _read_clauses(lower, mentions, guests, context, rating_context)

    rating = ent.find_rating(lower) if rating_context else None
    if rating is not None:
        found.hits = [(p, i) for p, i in found.hits if i not in ("menu_selection", "greeting")]
        found.add(rating[0], "rating")

    choice: str | None = None
    if context.pending == "cancel_choice":
        choice = _cancel_choice(lower, found)
        if choice is not None:
            keep = ("cancellation", "date_change", "greeting", "faq")
            found.hits = [(p, i) for p, i in found.hits if i not in keep]
            found.add(-1, "cancellation" if choice == "1" else "date_change")

    order: list[Intent] = []
    for _, intent in sorted(found.hits, key=lambda hit: hit[0]):
        if intent not in order:
            order.append(intent)
    if any(i in _SPECIFIC or i == "faq" for i in order):
        order = [i for i in order if i != "greeting"]
    if not order:
        order = ["greeting"] if cue.GREETING.search(lower) else ["other"]

    requests = [
        Request(
            intent=intent,
            entities=_entities(intent, lower, mentions, guests, rating, choice, found, context),
        )
        for intent in order
    ]
    return Understanding(tone=tone, requests=requests)


def _one(tone: Tone, intent: Intent) -> Understanding:
    return Understanding(tone=tone, requests=[Request(intent=intent)])


# --- reading clauses ------------------------------------------------------------------------


def _read_clauses(
    lower: str,
    mentions: list[ent.Mention],
    guests: list[ent.GuestFind],
    context: Context,
    rating_context: bool,
) -> _Found:
    found = _Found()
    weak_access: list[tuple[int, int]] = []  # (position, sentence)
    busy_sentences: set[int] = set()
    for clause in cue.split_clauses(lower):
        here = _read_clause(lower, clause, mentions, guests, context, rating_context, found)
        weak = cue.ACCESS_WEAK.search(lower, clause.start, clause.end)
        if weak is not None and "access_info" not in here.intents():
            weak_access.append((weak.start(), clause.sentence))
        if here.intents() & _SPECIFIC:
            busy_sentences.add(clause.sentence)
        found.hits.extend(here.hits)
    for pos, sentence in weak_access:
        if sentence not in busy_sentences and not rating_context:
            found.add(pos, "access_info")
    if "protein_swap" in found.intents():
        found.hits = [(p, i) for p, i in found.hits if i != "menu_selection"]
    return found


def _read_clause(
    lower: str,
    clause: Clause,
    mentions: list[ent.Mention],
    guests: list[ent.GuestFind],
    context: Context,
    rating_context: bool,
    found: _Found,
) -> _Found:
    """The intents one clause holds, by the position of their first cue."""
    start, end = clause.start, clause.end
    text = lower[start:end]
    here = _Found()

    def first(pattern_pos: int | None, intent: Intent) -> None:
        if pattern_pos is not None:
            here.add(pattern_pos, intent)

    human = cue.HUMAN.search(lower, start, end)
    if human is not None:
        here.add(human.start(), "human_request")
    elif cue.HUMAN_ALONE.match(text):
        here.add(start, "human_request")

    in_clause = [m for m in mentions if start <= m.start < end]
    clause_guests = [g for g in guests if start <= g.start < end]
    if clause_guests:
        here.add(clause_guests[0].start, "headcount_change")

    cancel = cue.CANCEL.search(lower, start, end)
    if cancel is not None and not _inside_guest_change(cancel.start(), clause_guests, lower):
        if cue.POLICY_QUESTION.match(text):
            here.add(cancel.start(), "faq")
        else:
            here.add(cancel.start(), "cancellation")

    date_pos = _date_change_at(lower, clause)
    if date_pos is not None and cue.POLICY_QUESTION.match(text):
        here.add(date_pos, "faq")
    elif date_pos is not None:
        here.add(date_pos, "date_change")
        found.date_clauses.append(clause)

    weather = cue.WEATHER.search(lower, start, end)
    first(weather.start() if weather else None, "weather_concern")

    access = cue.ACCESS_STRONG.search(lower, start, end)
    first(access.start() if access else None, "access_info")

    diet = ent.find_dietary(lower, start, end)
    first(diet[0] if diet else None, "dietary_request")

    question = cue.QUESTION.search(text) is not None
    topic = cue.FAQ_TOPIC.search(lower, start, end)
    faq_question = question and topic is not None

    if in_clause:
        menu_intent = _menu_intent(lower, clause, in_clause, context, rating_context, faq_question)
        if menu_intent is not None:
            pos = in_clause[0].start
            swap = cue.SWAP.search(lower, start, end)
            if menu_intent == "protein_swap" and swap is not None:
                pos = min(pos, swap.start())
                found.swap_clauses.append(clause)
            here.add(pos, menu_intent)

    if (
        topic is not None
        and faq_question
        and not (here.intents() & _SPECIFIC)
        and not (_AVAILABILITY.match(topic.group(0)) and ent.find_date_span(lower, start, end))
    ):
        here.add(topic.start(), "faq")
    return here


def _inside_guest_change(pos: int, clause_guests: list[ent.GuestFind], lower: str) -> bool:
    """'2 guests cancelled' changes the headcount; it does not cancel the event."""
    return any(g.start <= pos <= g.start + 40 and (g.change.delta or 0) < 0 for g in clause_guests)


def _date_change_at(lower: str, clause: Clause) -> int | None:
    """Where a clause asks to move the event in time, or None."""
    start, end = clause.start, clause.end
    verb = cue.DATE_VERB.search(lower, start, end)
    if verb is not None:
        return verb.start()
    when = ent.find_date_span(lower, start, end)
    time = cue.TIME.search(lower, start, end)
    if when is None and time is None:
        return None
    move = cue.DATE_MOVE.search(lower, start, end)
    if move is not None:
        return move.start()
    soft = cue.DATE_SOFT.search(lower, start, end)
    if soft is not None:
        return soft.start() if when is None else min(soft.start(), when[0])
    return None


def _menu_intent(
    lower: str,
    clause: Clause,
    in_clause: list[ent.Mention],
    context: Context,
    rating_context: bool,
    faq_question: bool,
) -> Intent | None:
    """menu_selection, protein_swap, or nothing for the proteins and add-ons of one clause."""
    start, end = clause.start, clause.end
    proteins = [m for m in in_clause if m.kind == "protein"]
    swap = cue.SWAP.search(lower, start, end) is not None
    if not swap and len({m.slug for m in proteins}) >= 2:
        swap = cue.SWAP_WEAK.search(lower, start, end) is not None
    if proteins and swap and not (context.pending == "menu" and _only_soft_swap(lower, clause)):
        return "protein_swap"
    wanted = [m for m in in_clause if not _rejected(lower, m, start)]
    if not wanted:
        # "no shrimp" takes a protein off the order, unless it is a diet ("allergic to shrimp").
        if proteins and ent.find_dietary(lower, start, end) is None and not rating_context:
            return "protein_swap"
        return None
    if rating_context and context.pending != "menu":
        return None
    if faq_question and cue.SELECTION.search(lower, start, end) is None:
        return None
    return "menu_selection"


def _only_soft_swap(lower: str, clause: Clause) -> bool:
    """While we wait for the menu, 'chicken instead of steak' is still a selection."""
    text = lower[clause.start : clause.end]
    return cue.SWAP.search(text) is not None and not any(
        word in text for word in ("switch", "swap", "change", "replac")
    )


def _rejected(lower: str, mention: ent.Mention, floor: int) -> bool:
    before = lower[max(floor, mention.start - 24) : mention.start]
    return cue.REJECTED.search(before) is not None


# --- answers to the pending question ----------------------------------------------------------


def _cancel_choice(lower: str, found: _Found) -> str | None:
    """'1' (cancel) or '2' (reschedule) when the message answers the cancel question."""
    if "human_request" in found.intents():
        return None
    lead = cue.CHOICE_LEAD.match(lower)
    if lead is not None:
        raw = lead.group("d") or lead.group("w")
        return "1" if raw in ("1", "one") else "2"
    if cue.QUESTION_START.match(lower):
        return None
    picked = cue.CHOICE_ANY.search(lower)
    if picked is not None:
        return "1" if picked.group("c") in ("1", "one") else "2"
    intents = found.intents()
    if "date_change" in intents or cue.DATE_VERB.search(lower):
        return "2"
    if "cancellation" in intents:
        return "1"
    return None


# --- entities per request -----------------------------------------------------------------


def _entities(
    intent: Intent,
    lower: str,
    mentions: list[ent.Mention],
    guests: list[ent.GuestFind],
    rating: tuple[int, int] | None,
    choice: str | None,
    found: _Found,
    context: Context,
) -> Entities:
    if intent == "menu_selection":
        return Entities(
            proteins=ent.unique(m.slug for m in mentions if m.kind == "protein"),
            upgrades=ent.unique(m.slug for m in mentions if m.kind == "upgrade"),
        )
    if intent == "protein_swap":
        return Entities(
            proteins=_swap_proteins(lower, mentions, found.swap_clauses),
            upgrades=ent.unique(m.slug for m in mentions if m.kind == "upgrade"),
        )
    if intent == "headcount_change":
        change: GuestChange | None = guests[0].change if guests else None
        return Entities(guests=change)
    if intent == "rating":
        return Entities(rating=rating[1] if rating else None)
    if intent == "cancellation":
        return Entities(choice="1" if choice == "1" else None)
    if intent == "date_change":
        return Entities(date=_target_date(lower, found, context), choice="2" if choice else None)
    if intent == "dietary_request":
        diet = ent.find_dietary(lower)
        if diet is None:
            return Entities()
        return Entities(dietary="serious" if diet[1] else "preference")
    return Entities()


def _swap_proteins(lower: str, mentions: list[ent.Mention], clauses: list[Clause]) -> list[str]:
    """Every protein named; but when the new order lists two or more proteins ("chicken and
    filet instead of steak and shrimp"), the message restates the whole order: only the new."""
    proteins = [m for m in mentions if m.kind == "protein"]
    old: set[int] = set()
    for clause in clauses:
        inside = [m for m in proteins if clause.start <= m.start < clause.end]
        for i, m in enumerate(inside):
            if cue.OLD_MARKER.search(lower[max(clause.start, m.start - 24) : m.start]):
                old.add(id(m))
                j = i + 1
                while j < len(inside) and cue.CONNECTOR.match(
                    lower[inside[j - 1].end : inside[j].start]
                ):
                    old.add(id(inside[j]))
                    j += 1
    new = ent.unique(m.slug for m in proteins if id(m) not in old)
    if old and len(new) >= 2:
        return new
    return ent.unique(m.slug for m in proteins)


def _target_date(lower: str, found: _Found, context: Context) -> date | None:
    spans = [ent.find_date_span(lower, c.start, c.end) for c in found.date_clauses]
    span = next((s for s in spans if s is not None), None) or ent.find_date_span(lower)
    if span is None:
        return None
    return ent.parse_date(span[1], ent.local_now(context.now, context.timezone))
