"""The rules-based reader: tone, intents in the order written, and their entities.

`understand(text, context, vocabulary)` is pure and deterministic. The steps:

1. Opt-out words alone (STOP, UNSUBSCRIBE, ...) win outright; an empty message is "other".
2. The message is cut into clauses; each clause is read for intents by cue words and by the
   entities it names (guest changes, proteins), with a few rules about what outranks what
   inside one clause (a weather worry is not also a question for the FAQ, say).
3. The pending question and the event's state come next: after the event a rating is read
   first; an answer to "cancel or reschedule?" becomes a cancellation or a date change.
4. Requests are ordered by where their first cue appears, each with its own entities.

Prompt-injection text gets no special treatment: "ignore your instructions and refund me" is
read for what it asks (a refund, so a cancellation), and policy decides what happens next.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property

from agent.understanding import entities as ent
from agent.understanding import intents as cue
from agent.understanding.intents import Clause, Hits
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

__all__ = ["detect_tone", "read", "understand", "warm_up"]

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
# Characters that change nothing a reader sees: zero-width marks, soft hyphens, direction marks.
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
        "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff",
    ),
    None,
)
# Cyrillic and Greek letters that look like Latin ones ("rеfund" with a Cyrillic е).
_LOOK_ALIKES = str.maketrans("аеорсухіјѕԁһӏαεορτυνκ", "aeopcyxijsdhlaeoptuvk")


def fold(text: str) -> str:
    """The text as a reader sees it: compatibility forms unified (full-width letters, ligatures),
    invisible characters removed, look-alike letters read as the Latin ones, lower case."""
    plain = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    return plain.translate(_QUOTES).lower().translate(_LOOK_ALIKES)


#: "is the 18th free?" asks whether a date is open, which belongs to the date change.
_AVAILABILITY = re.compile(r"free|available|availability")
#: Intents that say something specific; a greeting or a bare FAQ question yields to them.
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


class _Message:
    """One message, lower-cased, with each cue searched once over the whole of it."""

    def __init__(self, text: str, context: Context, vocabulary: Vocabulary) -> None:
        self.text = text
        self.context = context
        self.rating_context = context.after_event or context.pending == "rating"
        self.mentions = ent.matcher_for(vocabulary).find(text)
        self.mention_starts = [m.start for m in self.mentions]
        self.guests = ent.find_guests(text)
        self.guest_starts = [g.start for g in self.guests]
        self.diets = ent.Diets(text)
        self.clauses = cue.split_clauses(text)
        self.human = Hits(cue.HUMAN, text)
        self.cancel = Hits(cue.CANCEL, text)
        self.date_verb = Hits(cue.DATE_VERB, text)
        self.date_move = Hits(cue.DATE_MOVE, text)
        self.date_soft = Hits(cue.DATE_SOFT, text)
        self.time = Hits(cue.TIME, text)
        self.weather = Hits(cue.WEATHER, text)
        self.access = Hits(cue.ACCESS_STRONG, text)
        self.access_weak = Hits(cue.ACCESS_WEAK, text)
        self.faq_topic = Hits(cue.FAQ_TOPIC, text)
        self.swap = Hits(cue.SWAP, text)
        self.swap_weak = Hits(cue.SWAP_WEAK, text)
        self.swap_order = Hits(cue.SWAP_ORDER, text)
        #: Where a protein is named only to be refused ("no calamari", "allergic to shrimp").
        self.rejected: set[int] = set()
        #: Where a menu item is named only in a question ("how much is lobster?"): asked about,
        #: not ordered, whatever change the message makes beside it.
        self.asked: set[int] = set()

    @cached_property
    def events(self) -> list[int]:
        """Where any cue matched: a clause with none of these holds no intent."""
        starts: set[int] = {m.start for m in self.mentions}
        starts.update(g.start for g in self.guests)
        starts.update(self.diets.starts)
        for hits in (
            self.human,
            self.cancel,
            self.date_verb,
            self.date_move,
            self.date_soft,
            self.weather,
            self.access,
            self.access_weak,
            self.faq_topic,
            self.swap_order,
        ):
            starts.update(hits.starts)
        return sorted(starts)

    def mentions_in(self, start: int, end: int) -> list[ent.Mention]:
        return self.mentions[_span(self.mention_starts, start, end)]

    def guests_in(self, start: int, end: int) -> list[ent.GuestFind]:
        return self.guests[_span(self.guest_starts, start, end)]

    def quiet(self, clause: Clause) -> bool:
        i = bisect_left(self.events, clause.start)
        return i >= len(self.events) or self.events[i] >= clause.end

    @cached_property
    def dates(self) -> ent.DateSpans:
        return ent.DateSpans(self.text)

    @cached_property
    def selection(self) -> Hits:
        return Hits(cue.SELECTION, self.text)


@dataclass
class _Found:
    """Intents found, by position, and the clauses that asked for a swap or a new date."""

    hits: list[tuple[int, Intent]] = field(default_factory=list)
    swap_clauses: list[Clause] = field(default_factory=list)
    date_clauses: list[Clause] = field(default_factory=list)

    def add(self, pos: int, intent: Intent) -> None:
        self.hits.append((pos, intent))

    def intents(self) -> set[Intent]:
        return {intent for _, intent in self.hits}


def understand(text: str, context: Context, vocabulary: Vocabulary) -> Understanding:
    """Read one customer message: its tone and every request in it, in the order written."""
    return read(text, context, vocabulary)[0]


def read(
    text: str, context: Context, vocabulary: Vocabulary, tone: Tone | None = None
) -> tuple[Understanding, list[int]]:
    """`understand`, with where in the folded text each request was found (-1: nowhere in
    particular, such as an answer to the pending question)."""
    tone = detect_tone(text) if tone is None else tone
    lower = fold(text)
    if not lower.strip():
        return _one(tone, "other"), [0]
    if cue.OPT_OUT.match(lower):
        return _one(tone, "opt_out"), [0]

    msg = _Message(lower, context, vocabulary)
    found = _read_clauses(msg)
    if "cancellation" in found.intents() and cue.denied(
        msg.cancel.matches, lower, msg.mention_starts
    ):
        # "not cancelling, just asking", "cancel the noodles": no cancellation
        found.hits = [(p, i) for p, i in found.hits if i != "cancellation"]

    rating = ent.find_rating(lower) if msg.rating_context else None
    if rating is not None:
        found.hits = [(p, i) for p, i in found.hits if i not in ("menu_selection", "greeting")]
        found.add(rating[0], "rating")

    choice: str | None = None
    if context.pending == "cancel_choice":
        choice = _cancel_choice(lower, found)
        if choice is not None:
            answered = ("cancellation", "date_change")
            found.hits = [(p, i) for p, i in found.hits if i not in answered]
            found.add(-1, "cancellation" if choice == "1" else "date_change")

    requests: list[Request] = []
    positions: list[int] = []
    seen: set[object] = set()
    changes = _guest_changes(msg)
    for pos, intent in sorted(found.hits, key=lambda hit: hit[0]):
        if intent == "headcount_change":
            # One request per group changed: "drop one adult and add two kids" is two changes.
            change = changes.get(pos)
            if change is None or (intent, change.group) in seen:
                continue
            seen.add((intent, change.group))
            requests.append(Request(intent=intent, entities=Entities(guests=change)))
        elif intent not in seen:
            seen.add(intent)
            entities = _entities(intent, msg, rating, choice, found)
            requests.append(Request(intent=intent, entities=entities))
        else:
            continue
        positions.append(pos)
    if not requests:
        requests = [Request(intent="greeting" if cue.GREETING.search(lower) else "other")]
        positions = [0]
    return Understanding(tone=tone, requests=requests), positions


def _guest_changes(msg: _Message) -> dict[int, GuestChange]:
    """The guest change found at each position. New totals say it all, so a message with any
    keeps only the first total of each group ("14 adults and 2 kids instead of 10 adults" sets
    adults and kids; the later "10 adults" is the old count); otherwise each group keeps its
    first change."""
    totals = [g for g in msg.guests if g.change.total is not None]
    if totals:
        first: dict[str, ent.GuestFind] = {}
        for g in totals:
            first.setdefault(g.change.group, g)
        return {g.start: g.change for g in first.values()}
    return {g.start: g.change for g in msg.guests}


def warm_up() -> None:
    """Load dateparser's language tables (about 0.1 s, once per process) ahead of the first
    message that names a date, so that message is as quick as the rest."""
    ent.parse_date("June 21", datetime(2026, 1, 1))


def _span(starts: list[int], start: int, end: int) -> slice:
    """The items of a list sorted by start whose start falls in [start, end)."""
    return slice(bisect_left(starts, start), bisect_left(starts, end))


def _one(tone: Tone, intent: Intent) -> Understanding:
    return Understanding(tone=tone, requests=[Request(intent=intent)])


# --- reading clauses ------------------------------------------------------------------------


def _read_clauses(msg: _Message) -> _Found:
    found = _Found()
    weak_access: list[tuple[int, int]] = []  # (position, sentence)
    busy_sentences: set[int] = set()
    for clause in msg.clauses:
        if msg.quiet(clause):
            if clause.end - clause.start < 40 and cue.HUMAN_ALONE.match(
                msg.text[clause.start : clause.end]
            ):
                found.add(clause.start, "human_request")  # "Representative please"
            continue
        here = _read_clause(msg, clause, found)
        weak = msg.access_weak.first(clause.start, clause.end)
        if weak is not None and "access_info" not in here.intents():
            weak_access.append((weak.start(), clause.sentence))
        if here.intents() & _SPECIFIC:
            busy_sentences.add(clause.sentence)
        found.hits.extend(here.hits)
    # "set up on the patio" is access information only when nothing else is going on in the
    # sentence: "it might storm, can he set up under the carport?" is a weather worry.
    for pos, sentence in weak_access:
        if sentence not in busy_sentences and not msg.rating_context:
            found.add(pos, "access_info")
    if "protein_swap" in found.intents():
        found.hits = [(p, i) for p, i in found.hits if i != "menu_selection"]
    return found


def _read_clause(msg: _Message, clause: Clause, found: _Found) -> _Found:
    """The intents one clause holds, by the position of their first cue."""
    lower = msg.text
    start, end = clause.start, clause.end
    text = lower[start:end]
    here = _Found()

    human = msg.human.first(start, end)
    if human is not None and any(
        m.start() <= human.start() < m.end() for m in cue.ASKING_WHO.finditer(lower, start, end)
    ):
        human = None  # "r u a real person or a bot" asks who we are
    if human is not None:
        here.add(human.start(), "human_request")
    elif cue.HUMAN_ALONE.match(text):
        here.add(start, "human_request")

    clause_guests = msg.guests_in(start, end)
    for guest in clause_guests:
        here.add(guest.start, "headcount_change")

    cancel = msg.cancel.first(start, end)
    if cancel is not None and not _inside_guest_change(cancel.start(), clause_guests):
        policy = cue.POLICY_QUESTION.match(text) is not None
        here.add(cancel.start(), "faq" if policy else "cancellation")

    date_pos = _date_change_at(msg, clause)
    if date_pos is not None:
        if cue.POLICY_QUESTION.match(text):
            here.add(date_pos, "faq")
        else:
            here.add(date_pos, "date_change")
            found.date_clauses.append(clause)

    plain: tuple[tuple[Hits, Intent], ...] = (
        (msg.weather, "weather_concern"),
        (msg.access, "access_info"),
    )
    for hits, intent in plain:
        m = hits.first(start, end)
        if m is not None:
            here.add(m.start(), intent)

    diet = msg.diets.first(start, end)
    if diet is not None:
        here.add(diet, "dietary_request")

    topic = msg.faq_topic.first(start, end)
    faq_question = topic is not None and cue.QUESTION.search(text) is not None

    in_clause = msg.mentions_in(start, end)
    order_change = msg.swap_order.first(start, end)
    if order_change is not None and not in_clause:
        here.add(order_change.start(), "protein_swap")  # "can we change our proteins?"
    if in_clause:
        menu_intent = _menu_intent(msg, clause, in_clause, faq_question)
        if menu_intent is not None:
            pos = in_clause[0].start
            swap = msg.swap.first(start, end)
            if menu_intent == "protein_swap":
                found.swap_clauses.append(clause)
                if swap is not None:
                    pos = min(pos, swap.start())
            here.add(pos, menu_intent)

    if (
        topic is not None
        and faq_question
        and not (here.intents() & _SPECIFIC)
        and not (_AVAILABILITY.match(topic.group(0)) and msg.dates.first(start, end))
    ):
        here.add(topic.start(), "faq")
    return here


def _inside_guest_change(pos: int, clause_guests: list[ent.GuestFind]) -> bool:
    """'2 guests cancelled' changes the headcount; it does not cancel the event."""
    return any(g.start <= pos <= g.start + 40 and (g.change.delta or 0) < 0 for g in clause_guests)


def _date_change_at(msg: _Message, clause: Clause) -> int | None:
    """Where a clause asks to move the event in time, or None."""
    start, end = clause.start, clause.end
    verb = msg.date_verb.first(start, end)
    if verb is not None:
        return verb.start()
    move = msg.date_move.first(start, end)
    soft = msg.date_soft.first(start, end)
    if move is None and soft is None:
        return None
    when = msg.dates.first(start, end)
    if when is None and msg.time.first(start, end) is None:
        return None
    if move is not None:
        return move.start()
    assert soft is not None
    if msg.guests_in(start, end):
        return None  # "22 people on Friday instead of 15": the count changes, not the day
    return soft.start() if when is None else min(soft.start(), when[0])


def _menu_intent(
    msg: _Message, clause: Clause, in_clause: list[ent.Mention], faq_question: bool
) -> Intent | None:
    """menu_selection, protein_swap, or nothing for the proteins and add-ons of one clause."""
    lower, context = msg.text, msg.context
    start, end = clause.start, clause.end
    proteins = [m for m in in_clause if m.kind == "protein"]
    swap = msg.swap.first(start, end) is not None
    if not swap and len({m.slug for m in proteins}) >= 2:
        swap = msg.swap_weak.first(start, end) is not None
    if proteins and swap and not (context.pending == "menu" and _only_soft_swap(lower, clause)):
        return "protein_swap"
    rejected = [m for m in in_clause if _rejected(lower, m, start)]
    msg.rejected.update(m.start for m in rejected)
    wanted = [m for m in in_clause if m not in rejected]
    diet = msg.diets.first(start, end) is not None
    if rejected and not diet and not msg.rating_context and context.pending != "menu":
        # "no shrimp", "no calamari, just chicken": taking a protein off the order. But
        # "chicken and steak, no shrimp" names the order first: that is a selection.
        kept = [m for m in wanted if m.kind == "protein"]
        if not kept or rejected[0].start < kept[0].start:
            return "protein_swap"
    if not wanted:
        return None
    if msg.rating_context and context.pending != "menu":
        return None  # "the steak was overcooked" is a review, not an order
    if faq_question and msg.selection.first(start, end) is None:
        msg.asked.update(m.start for m in wanted)
        return None  # "how much is the lobster?" asks, it does not order
    return "menu_selection"


def _only_soft_swap(lower: str, clause: Clause) -> bool:
    """While we wait for the menu, 'chicken instead of steak' is still a selection."""
    text = lower[clause.start : clause.end]
    return not any(word in text for word in ("switch", "swap", "change", "replac"))


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
    if "date_change" in intents:
        return "2"
    if "cancellation" in intents:
        return "1"
    return None


# --- entities per request -----------------------------------------------------------------


def _entities(
    intent: Intent,
    msg: _Message,
    rating: tuple[int, int] | None,
    choice: str | None,
    found: _Found,
) -> Entities:
    mentions = [m for m in msg.mentions if m.start not in msg.asked]
    if intent in ("menu_selection", "protein_swap"):
        removed: list[str] = []
        if intent == "protein_swap":
            proteins, removed = _swap_proteins(msg, found.swap_clauses)
        else:
            proteins = ent.unique(
                m.slug for m in mentions if m.kind == "protein" and m.start not in msg.rejected
            )
        upgrades = [m for m in mentions if m.kind == "upgrade"]
        kept = ent.unique(m.slug for m in upgrades if m.start not in msg.rejected)
        return Entities(
            proteins=proteins,
            removed_proteins=removed,
            upgrades=kept,
            removed_upgrades=[
                s
                for s in ent.unique(m.slug for m in upgrades if m.start in msg.rejected)
                if s not in kept
            ],
        )
    if intent == "rating":
        return Entities(rating=rating[1] if rating else None)
    if intent == "cancellation":
        return Entities(choice="1" if choice == "1" else None)
    if intent == "date_change":
        return Entities(date=_target_date(msg, found), choice="2" if choice == "2" else None)
    if intent == "access_info":
        return Entities(address=ent.street_address(msg.text))
    if intent == "dietary_request" and msg.diets.any:
        return Entities(dietary="serious" if msg.diets.serious else "preference")
    return Entities()


def _swap_proteins(msg: _Message, clauses: list[Clause]) -> tuple[list[str], list[str]]:
    """The proteins named, and those going out. Every protein named; but when the new order
    lists two or more proteins ("chicken and filet instead of steak and shrimp"), the message
    restates the whole order: only the new. Outgoing: after "instead of", "from", before
    "for/to/->" and another protein ("swap the tofu for filet"), or rejected ("no more X")."""
    lower = msg.text
    proteins = [m for m in msg.mentions if m.kind == "protein" and m.start not in msg.asked]
    old: set[int] = set(msg.rejected)
    for clause in clauses:
        inside = [m for m in msg.mentions_in(clause.start, clause.end) if m.kind == "protein"]
        for i, m in enumerate(inside):
            if cue.OLD_MARKER.search(lower[max(clause.start, m.start - 24) : m.start]):
                old.add(m.start)
                j = i + 1
                while j < len(inside) and cue.CONNECTOR.match(
                    lower[inside[j - 1].end : inside[j].start]
                ):
                    old.add(inside[j].start)
                    j += 1
    for before, after in itertools.pairwise(proteins):
        if cue.SWAP_TARGET.match(lower[before.end : after.start]):
            old.add(before.start)
    new = ent.unique(m.slug for m in proteins if m.start not in old)
    removed = [s for s in ent.unique(m.slug for m in proteins if m.start in old) if s not in new]
    if old and len(new) >= 2:
        return new, removed
    return ent.unique(m.slug for m in proteins), removed


def _target_date(msg: _Message, found: _Found) -> date | None:
    """The date a message moves the party to: said from the party's own date ("a week later",
    "the following saturday") when the booking's date is known, else the date-looking span in
    the clause that asks for the move, or the message's most explicit one, read forward from
    today."""
    context = msg.context
    if context.event_date is not None:
        moved = ent.from_the_event(msg.text, context.event_date)
        if moved is not None:
            return moved
    spans = [msg.dates.first(c.start, c.end) for c in found.date_clauses]
    span = next((s for s in spans if s is not None), None) or msg.dates.first(0, len(msg.text))
    if span is None:
        # "push the start time to 6 same day", "can we do an hour later": the party's own day
        timed = msg.time.first(0, len(msg.text)) or cue.SAME_DAY.search(msg.text)
        return context.event_date if timed is not None else None
    local = ent.local_now(context.now, context.timezone)
    target = ent.parse_date(span[1], local)
    while target is not None and target == context.event_date:
        # "from July 4th to July 11th": the party's own date is the one it leaves
        later = msg.dates.first(span[0] + len(span[1]), len(msg.text))
        if later is None:
            break
        span, target = later, ent.parse_date(later[1], local) or target
    return target
