"""What each number and each menu word in a message is for, learned from the corpus.

The rules find the candidates: every count ("14", "another") and every protein or add-on named
(aliases and misspellings included). A learned model then reads each one in its context and
says what it does:

- a count: a new total, more, fewer, or nothing to do with the headcount ("at 6", "2 tables",
  the old count in "18, not 16"), and which group it counts (adults, kids, toddlers, guests);
- a menu word: wanted, going out, or neither (only asked about, refused, "filet is over our
  budget").

Features are the words around the candidate by position and as a bag, the candidate's shape,
the group word next to it, what the rules made of it (a total, more, fewer, refused) and, for a
count or a person, which way the words of its sentence say people move (`ways`: the lexicon's
joining and leaving words): the rules' reading is evidence, and the corpus decides how much it
is worth. Values read against their words are confirmed before they are applied (`at_odds`,
`menu_at_odds`). Training labels come
from the message's labelled entities: a count whose value is a labelled total or change takes
that role, a menu word in the labelled proteins or add-ons is wanted, one in the removed lists
goes out, anything else is nothing.

People named without a number ("my mom and aunt are joining", "uncle ray is a no") are
candidates too, from the language's lexicon: each counts one (or two: "my parents") in its
group, a child's age beside it moving it to kids or little ones; a model reads whether each is
coming, dropping out or neither. Their label is what the message's guest changes leave over once
its counts are matched: "my cousin and her 3 boys" is the 3 counted and the cousin named.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, Literal, cast

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression

from agent.understanding import entities as ent
from agent.understanding.normalise import WORD, Lexicon
from agent.understanding.schema import GuestChange, GuestGroup
from agent.understanding.vocabulary import USUAL_AGES, AgeLimits

COUNT_ROLES: tuple[str, ...] = ("none", "total", "more", "fewer")
GROUPS: tuple[GuestGroup, ...] = ("adults", "kids", "toddlers", "guests")
MENU_ROLES: tuple[str, ...] = ("none", "want", "remove")
PERSON_ROLES: tuple[str, ...] = ("none", "more", "fewer")
C_SLOTS = 4.0

_NUMBER = re.compile(r"\d{1,4}")
_ONE = frozenset({"another", "a", "an"})
_NOT_COUNTS = re.compile(r"^(?:am|pm|th|st|nd|rd|mins?|minutes?|hours?|hrs?|%|:|\$)$")
GROUP_WORD = re.compile(rf"^(?:{ent.GROUP})$")

_AGE_UNIT = re.compile(r"^(?:yrs?|years?|yo|y/o)$")
_MONTHS = re.compile(r"^(?:months?|mos?|mths?)$")
_AGE_WORD = re.compile(r"^(?:age|aged|ages)$")
#: How far after a person's name their age may be said ("my nephew, he's 4").
AGE_REACH = 5

Kind = Literal["count", "protein", "upgrade", "person"]


@dataclass(frozen=True)
class Slot:
    """A candidate: a count or a menu word, where it is, and its value."""

    kind: Kind
    start: int
    token: int  # index of its first token
    end_token: int  # index after its last token
    value: int | str  # the count, or the menu slug
    group: str = "-"  # the group a count names or a person is in, "-" when none is said


@dataclass(frozen=True)
class Tokens:
    words: list[str]
    starts: list[int]

    @classmethod
    def of(cls, text: str) -> Tokens:
        found = list(WORD.finditer(text))
        return cls([m.group(0) for m in found], [m.start() for m in found])

    def index_at(self, position: int) -> int:
        for k, start in enumerate(self.starts):
            if start >= position:
                return k
        return len(self.starts)


def find_slots(
    text: str,
    tokens: Tokens,
    mentions: Iterable[ent.Mention],
    lexicon: Lexicon | None = None,
    limits: AgeLimits = USUAL_AGES,
) -> list[Slot]:
    """Every count, menu word and person named of a normalised message, in order; a child
    named with an age counts in the group the business's age `limits` put them in."""
    slots: list[Slot] = []
    words = tokens.words
    plural = lexicon.plural_people if lexicon else {}
    for k, word in enumerate(words):
        after = words[k + 1] if k + 1 < len(words) else ""
        before = words[k - 1] if k else ""
        if _NUMBER.fullmatch(word):
            clock = before == ":" and k >= 2 and words[k - 2].isdigit()
            # "10/4" is a date and "1/2" a half; "adults 10 / kids 4" lists counts.
            dated = (after == "/" and k + 2 < len(words) and words[k + 2].isdigit()) or (
                before == "/" and k >= 2 and words[k - 2].isdigit()
            )
            if _NOT_COUNTS.match(after) or before == "$" or clock or dated:
                continue  # a time, a price, an hour, a date
            if lexicon and (end := _named_by_age(words, k, lexicon)):
                # "my sister's 4-year-old is coming too": one guest of that age, not 4
                group = limits.group(int(word))
                slots.append(Slot("person", tokens.starts[k], k, end, 1, group))
                continue
            slots.append(_count(tokens, k, int(word), plural))
        elif ent.UNITS.get(word, 0) >= 1:  # "one", "two": small numbers stay words
            slots.append(_count(tokens, k, ent.UNITS[word], plural))
        elif word in _ONE and (GROUP_WORD.match(after) or after in ("extra", "more", "additional")):
            slots.append(_count(tokens, k, 1, plural))
    if lexicon and lexicon.people:
        slots += _people(tokens, lexicon, limits)
    for m in mentions:
        first = tokens.index_at(m.start)
        last = max(first + 1, tokens.index_at(m.end))
        slots.append(Slot(m.kind, m.start, first, last, m.slug))
    slots.sort(key=lambda s: s.start)
    return slots


def _named_by_age(words: Sequence[str], k: int, lexicon: Lexicon) -> int:
    """Where a person named by their age ends ("a 4-year-old", "my sisters 6 yr old", "her 3
    yo"), the number at `k`; 0 when the age is not said as the person: as an age ("she is 4
    years old"), or of a person the next word names ("my 7 year old son", "4 year old twins").
    """
    before = words[k - 1] if k else ""
    owner = before.removesuffix("'s").removesuffix("s")
    if not (
        before in _ONE
        or before == "the"
        or before in lexicon.possessives
        or (owner != before and (owner,) in lexicon.people)
    ):
        return 0
    unit = _unit_after(words, k)
    if not _AGE_UNIT.match(unit):
        return 0
    end = k + 2 + (words[k + 1] == "-")  # after the unit
    if unit != "yo":  # "4 year old", "4-year-old"
        old = _unit_after(words, end - 1)
        if old != "old":
            return 0
        end += 1 + (words[end] == "-")
    after = words[end] if end < len(words) else ""
    named = GROUP_WORD.match(after) or after in lexicon.plural_people or (after,) in lexicon.people
    return 0 if named else end


def _count(tokens: Tokens, k: int, value: int, plural: dict[str, str]) -> Slot:
    slot = Slot("count", tokens.starts[k], k, k + 1, value)
    group = _group_near(tokens.words, slot)
    if group == "-":  # "her 3 boys", "two little nephews", "3 of the guys", "two of my cousins"
        reach = k + 4 if k + 1 < len(tokens.words) and tokens.words[k + 1] == "of" else k + 3
        group = next((plural[w] for w in tokens.words[k + 1 : reach] if w in plural), "-")
    return replace(slot, group=group)


def _people(tokens: Tokens, lexicon: Lexicon, limits: AgeLimits) -> list[Slot]:
    """Every person the lexicon names and no number counts ("my uncle", not "2 uncles")."""
    words = tokens.words
    longest = max(len(name) for name in lexicon.people)
    found: list[Slot] = []
    k = 0
    while k < len(words):
        for n in range(min(longest, len(words) - k), 0, -1):
            said = words[k : k + n]
            named = lexicon.people.get(tuple(said))
            if named is None and said[-1].endswith("'s") and _is_said(words, k + n, lexicon):
                # "grandma's coming after all": "'s" is "is" here, not "grandma's kids"
                named = lexicon.people.get((*said[:-1], said[-1][:-2]))
            if named is None:
                continue
            before = words[k - 1] if k else ""
            if not (_NUMBER.fullmatch(before) or before in ent.UNITS):
                group, count = named
                if group != "adults":
                    group = _by_age(words, k + n, limits) or group
                found.append(Slot("person", tokens.starts[k], k, k + n, count, group))
            k += n - 1
            break
        k += 1
    return found


#: Words after a person's "'s" that make it "is": "my mom's not coming", "grandma's in".
_AFTER_IS = frozenset(
    {"not", "also", "now", "gonna", "going", "definitely", "def", "in", "out"}
    | {"here", "able", "unable", "too", "sick", "no", "off"}
)


def _is_said(words: Sequence[str], after: int, lexicon: Lexicon) -> bool:
    """Whether the word after a name's "'s" says what that person does: a word of coming or
    going (the lexicon's `joining`, `leaving`) or one of `_AFTER_IS`. Not one of bringing, nor
    "still": who brings others ("my brother's bringing his 2 boys") or is still coming is
    mostly counted already; "back" is as often a part of the body ("dad's back went out")."""
    if after >= len(words):
        return False
    word = words[after]
    if word in lexicon.bringing:
        return False
    if word in _AFTER_IS or word in lexicon.negations:
        return True
    return any(phrase[0] == word for phrase in (*lexicon.joining, *lexicon.leaving))


def _unit_after(words: Sequence[str], k: int) -> str:
    """The word after the number at `k`, across a hyphen ("a 4-year-old", "18-month-old")."""
    after = words[k + 1] if k + 1 < len(words) else ""
    if after == "-" and k + 2 < len(words):
        return words[k + 2]
    return after


def _by_age(words: Sequence[str], end: int, limits: AgeLimits) -> str | None:
    """The group a child's age said just after their name puts them in ("nephew (4)",
    "niece, she's 9", "the baby, 18 months"), or None when no age is said."""
    for k in range(end, min(len(words), end + AGE_REACH)):
        if not _NUMBER.fullmatch(words[k]):
            continue
        after = _unit_after(words, k)
        before = words[k - 1] if k else ""
        if _MONTHS.match(after):
            return "toddlers"
        said = before.endswith(("'s", "'re")) or before in ("(", "is", "are", "both", "turning")
        if _AGE_UNIT.match(after) or _AGE_WORD.match(before) or said:
            return limits.group(int(words[k]))
    return None


def worked_out(words: Sequence[str], found: Sequence[Slot]) -> bool:
    """Whether a message's guest counts are worked out rather than said: a person named with no
    number ("my uncle is coming"), a count whose group is who they are ("her 3 boys") with no
    age to settle it, or an age that puts a guest in another group than the one said ("3 kids,
    ages 1, 4 and 7": two of them are little ones)."""
    groups = set(ages(words, found_in=found).values())
    said = {s.group for s in found if s.kind == "count"}
    for s in found:
        if s.kind == "person":
            return True
        by_who = s.kind == "count" and s.group != "-" and _group_near(words, s) == "-"
        if by_who and groups != {s.group}:
            return True  # "her 3 boys": kids or grown sons, unless their ages say
    return bool(groups - said)


def at_odds(
    readings: Sequence[SlotReading],
    hints: Sequence[Sequence[str]],
    stored: Mapping[str, int] | None = None,
) -> bool:
    """Whether the guest counts read disagree with each other or with their words: two counts
    of one group both read as changes ("down to 9 adults now, two of them bailed") unless they
    add up from a count the message names or the booking's own (`stored`, by group), or a count
    or person read as coming whose words only say leaving ("3 more ppl bailed"), or the reverse.
    `hints` are each reading's slot hints (with `ways`)."""
    changed: dict[str, list[SlotReading]] = {}
    for r, own in zip(readings, hints, strict=True):
        if r.slot.kind not in ("count", "person") or r.role == "none":
            continue
        if r.slot.kind == "count":
            changed.setdefault(r.group, []).append(r)
        said = {h.split("=", 1)[1] for h in own if h.startswith("way_")}
        if said and said <= {"leave"} and r.role == "more":
            return True
        if said and said <= {"join"} and r.role == "fewer":
            return True
    agree = said_twice(readings, stored)
    return any(len(rs) > 1 and group not in agree for group, rs in changed.items())


def said_twice(
    readings: Sequence[SlotReading], stored: Mapping[str, int] | None = None
) -> dict[str, list[SlotReading]]:
    """The groups whose two counts read as changes say one thing twice: a change and a new total
    that add up from a count the message names (read as no change) or the booking's own
    (`stored`, by group): "one more adult, so 16 instead of 15". Each with its two readings."""
    changed: dict[str, list[SlotReading]] = {}
    for r in readings:
        if r.slot.kind == "count" and r.role != "none":
            changed.setdefault(r.group, []).append(r)
    olds = {int(r.slot.value) for r in readings if r.slot.kind == "count" and r.role == "none"}
    return {
        group: rs
        for group, rs in changed.items()
        if _adds_up(rs, olds | _stored_count(stored or {}, group))
    }


def _stored_count(stored: Mapping[str, int], group: str) -> set[int]:
    """The booking's count of `group` ("guests": all of them), as a set of at most one."""
    if group in stored:
        return {stored[group]}
    return {sum(stored.values())} if group == "guests" and stored else set()


def _adds_up(changes: Sequence[SlotReading], olds: set[int]) -> bool:
    """Whether a change and a new total of one group say the same thing by the message's own
    arithmetic: "one more adult, so 16 instead of 15" (15 + 1 = 16)."""
    if len(changes) != 2:
        return False
    totals = [int(r.slot.value) for r in changes if r.role == "total"]
    moves = [
        int(r.slot.value) * (1 if r.role == "more" else -1)
        for r in changes
        if r.role in ("more", "fewer")
    ]
    return len(totals) == 1 and len(moves) == 1 and totals[0] - moves[0] in olds


def menu_at_odds(
    readings: Sequence[SlotReading], words: Sequence[str], found: Sequence[Slot], lexicon: Lexicon
) -> bool:
    """Whether a menu item is read as wanted though its words turn it down (`refused`): "the
    filet is over our budget, so steak and tofu" read as wanting the filet; or a protein named
    beside wanted ones is read as neither wanted nor taken off though nothing turns it down
    ("we want the stake and the shimp" read as steak alone); or two items both read as wanted
    though the words between them trade one for the other (the lexicon's `trading`: "chicken
    for steak"). (As hints for the learned reader the same words made it no better on
    cross-validation: they are a check.)"""
    wanted = any(r.slot.kind == "protein" and r.role == "want" for r in readings)
    if _traded_both_wanted(readings, words, lexicon):
        return True
    return any(
        (
            r.slot.kind in ("protein", "upgrade")
            and r.role == "want"
            and bool(refused(words, r.slot, found, lexicon))
        )
        or (
            wanted
            and r.slot.kind == "protein"
            and r.role == "none"
            and not refused(words, r.slot, found, lexicon)
        )
        for r in readings
    )


_AGE_LIST = frozenset({",", "and", "&"})
#: Words right before a number that make it an age ("(4)", "she's 12", "both 11").
_SAYING_AGE = frozenset(
    {"(", "both", "turning", "she's", "he's", "they're", "shes", "hes", "theyre"}
)
#: Words between a person named and their age ("my nephew is 13").
_IS = frozenset({"is", "was"})
#: Who is aged by "are" and a number ("they are 7 and 4", "the kids r 5"): never "we are 20".
_ARE = frozenset({"are", "r", "were"})
_AGED_BY_ARE = frozenset({"they", "kids", "children", "boys", "girls", "twins", "kiddos"})
#: Words before a number that make it an age limit ("all under 5": 4 at most).
_UNDER = frozenset({"under", "below"})
#: Words after "N and"/"N or" that make it an age limit ("5 and under": 5 at most).
_OR_UNDER = frozenset({"under", "younger", "below"})
#: The oldest age an age limit names ("under 12"); past it, "under 20" is a count.
_CHILD_AGE = 17
#: Words that give one age to everyone counted ("3 kids, all under 5", "both 4").
_EVERYONE = frozenset({"all", "both"})
#: Words that hedge an age said after those ("they're like 4, 8 and 13").
_HEDGING = frozenset({"like", "about", "around", "roughly", "maybe", "almost", "nearly"})


def ages(
    words: Sequence[str],
    counting: bool = False,
    limits: AgeLimits = USUAL_AGES,
    found_in: Sequence[Slot] = (),
) -> dict[int, str]:
    """Every age said ("(4)", "9 years old", "they're 5, 7 and 13", "18 months", "my niece is
    9" with the people `found_in` the message): the index of its number and the group the
    business's age `limits` put a guest of that age in. `counting` leaves out the number after
    a bare "'s" or "'re", which counts the party as often as it ages someone ("we're 20 now")."""
    named = {s.end_token for s in found_in if s.kind == "person"}
    found: dict[int, str] = {}
    listing = False  # the number before was an age: "5, 7 and 13" lists ages
    for k, word in enumerate(words):
        if not _NUMBER.fullmatch(word):
            listing = listing and word in _AGE_LIST
            continue
        after = _unit_after(words, k)
        before = words[k - 1] if k else ""
        hedged = before in _HEDGING and k >= 2 and words[k - 2] in _SAYING_AGE
        said = (
            before in _SAYING_AGE
            or hedged
            or (before.endswith(("'s", "'re")) and not counting)
            or (before in _IS and k - 1 in named)  # "my niece is 9": her age, as `_by_age` reads
            or (before in _ARE and k >= 2 and words[k - 2] in _AGED_BY_ARE)
        )
        child = 0 < int(word) <= _CHILD_AGE  # "under 20 people" counts, "under 5" ages
        if _MONTHS.match(after):
            found[k] = "toddlers"
        elif child and _a_limit(words, k):
            # "all under 5" is 4 at most, "5 and under" 5
            found[k] = limits.group(int(word) - (before in _UNDER))
        elif _AGE_UNIT.match(after) or _AGE_WORD.match(before) or said or listing:
            found[k] = limits.group(int(word))
        else:
            listing = False
            continue
        listing = True
    return found


#: Where the words after a count stop naming its group: "kids to 10 and adults to 20".
_BOUNDARY = frozenset({"and", ",", "/", "+", "&", "plus", ";", ".", "not", "instead"})


#: What stands between a group written as a label and its count.
_LABEL_MARKS = frozenset({":", "="})


def _group_near(words: Sequence[str], slot: Slot) -> str:
    """The group word said with a count: just after it ("10 adults"), never past a boundary or
    another number, before one just before it ("adults 17", "kids to 10"). A group written as
    a label names the count after it ("adults: 12 kids: 4")."""
    k = slot.token
    if k >= 2 and words[k - 1] in _LABEL_MARKS and GROUP_WORD.match(words[k - 2]):
        return ent.group_of(words[k - 2])
    if k >= 1 and GROUP_WORD.match(words[k - 1]) and _labels_next(words, slot.end_token):
        return ent.group_of(words[k - 1])  # "adults 20 kids 6": the next group has its count
    for k in range(slot.end_token, min(len(words), slot.end_token + 3)):
        if words[k] in _BOUNDARY or _NUMBER.fullmatch(words[k]):
            break
        if GROUP_WORD.match(words[k]):
            return ent.group_of(words[k])
    for k in range(slot.token - 1, max(-1, slot.token - 4), -1):
        if GROUP_WORD.match(words[k]):
            return ent.group_of(words[k])
    return "-"


def _labels_next(words: Sequence[str], end: int) -> bool:
    """Whether a group word just after a count is the label of the next count ("20 kids 6")."""
    return (
        end + 1 < len(words)
        and GROUP_WORD.match(words[end]) is not None
        and _NUMBER.fullmatch(words[end + 1]) is not None
    )


#: How many words apart two counts may be and still be read as one said against the other.
_PAIR_REACH = 4


def beside_counts(words: Sequence[str], counts: Sequence[Slot], k: int) -> list[str]:
    """What the message's other counts say of count `k`: whether it comes first or last, and
    the words that join it to the count just before or after ("from 22 to 19", "18 not 16",
    "20 -> 23", "we were twelve, now we're sixteen"), so that the old number of a pair can be
    told from the new one."""
    slot = counts[k]
    if len(counts) == 1:
        return ["cnt_only"]
    out = ["cnt_first" if k == 0 else "cnt_last" if k == len(counts) - 1 else "cnt_middle"]
    for side, other in (
        ("prev", counts[k - 1] if k else None),
        ("next", counts[k + 1] if k + 1 < len(counts) else None),
    ):
        if other is None:
            continue
        lo, hi = (other.end_token, slot.token) if side == "prev" else (slot.end_token, other.token)
        between = words[lo:hi]
        if len(between) > _PAIR_REACH:
            out.append(f"{side}_far")
            continue
        out.append(f"{side}_gap={'_'.join(between) or '-'}")
        out += [f"{side}_by={w}" for w in between]
        if other.group == slot.group:
            out.append(f"{side}_same_group")
        bigger = int(slot.value) > int(other.value)
        out.append(f"{side}_{'smaller' if not bigger else 'bigger'}")
    return out


#: How many words before and after a count or a person named are read for which way people move.
_WAY_BEFORE = 5
_WAY_AFTER = 8
#: How far before a word of moving a negation turns it round ("won't be joining").
_NEGATION_REACH = 3
#: Where the words about one count or person end: a sentence, or a "but" that turns to others.
_WAY_STOPS = frozenset({".", "!", "?", ";", "but"})


def ways(words: Sequence[str], slot: Slot, lexicon: Lexicon) -> list[str]:
    """Which way the words around a count or a person named, in its sentence, say people move
    ("3 more ppl bailed": `way_after=leave`): hints for the learned reader, which the corpus
    weighs. A negation shortly before a word of joining makes it leaving ("can't make it");
    before a word of leaving, it is its own hint ("no one dropped out")."""
    start = slot.token
    while start > 0 and slot.token - start < _WAY_BEFORE and words[start - 1] not in _WAY_STOPS:
        start -= 1
    end = slot.end_token
    while end < len(words) and end - slot.end_token < _WAY_AFTER and words[end] not in _WAY_STOPS:
        end += 1
    out: set[str] = set()
    for side, lo, hi in (("before", start, slot.token), ("after", slot.end_token, end)):
        k = lo
        while k < hi:
            way, size = _way_at(words, k, lexicon)
            if way is None:
                k += 1
                continue
            negated = any(
                w in lexicon.negations for w in words[max(start, k - _NEGATION_REACH) : k]
            )
            if negated:
                way = "leave" if way == "join" else "not_leave"
            out.add(f"way_{side}={way}")
            k += size
    return sorted(out)


#: How far before and after a menu item the words that turn it down are read.
_REFUSE_BEFORE = 3
_REFUSE_AFTER = 8
#: Where the words before a menu item stop being about it ("chicken out, steak in").
_CLAUSE_STOPS = _WAY_STOPS | {",", "and", "&", "+", "so", "then", "instead", "also", "plus"}


def refused(words: Sequence[str], slot: Slot, found: Sequence[Slot], lexicon: Lexicon) -> list[str]:
    """On which sides the words about a menu item turn it down (`refused_before`,
    `refused_after`; none: an empty list): a refusing word or a negation just before it in its
    clause ("no shrimp", "dump the tofu"), or a refusing word after it in its sentence ("lobster
    is over our budget", "calamari was a mistake"), never past another menu item. A check on
    what the learned reader reads (`menu_at_odds`)."""
    menu = {
        k for s in found if s.kind in ("protein", "upgrade") for k in range(s.token, s.end_token)
    }
    out: list[str] = []
    start = slot.token
    while (
        start > 0
        and slot.token - start < _REFUSE_BEFORE
        and words[start - 1] not in _CLAUSE_STOPS
        and start - 1 not in menu
    ):
        start -= 1
    before = words[start : slot.token]
    if (
        any(w in lexicon.negations for w in before)
        or says(before, lexicon.refusing)
        or _refused_with(words, slot, found, lexicon)
    ):
        out.append("refused_before")
    end = slot.end_token
    while (
        end < len(words)
        and end - slot.end_token < _REFUSE_AFTER
        and words[end] not in _WAY_STOPS - {"but"}
        and end not in menu
    ):
        end += 1
    if says(words[slot.end_token : end], lexicon.refusing):
        out.append("refused_after")
    return out


def _traded_both_wanted(
    readings: Sequence[SlotReading], words: Sequence[str], lexicon: Lexicon
) -> bool:
    """Whether two menu items side by side are both read as wanted though only a word of
    trading stands between them: one of them goes."""
    menu = sorted(
        (r for r in readings if r.slot.kind in ("protein", "upgrade")), key=lambda r: r.slot.token
    )
    return any(
        a.role == b.role == "want"
        and tuple(words[a.slot.end_token : b.slot.token]) in lexicon.trading
        for a, b in itertools.pairwise(menu)
    )


#: Words that carry a refusal along a list of menu items ("no shrimp/scallops/lobster", "no
#: shrimp or scallops"); a comma or "and" does not ("no shrimp, chicken and steak").
_REFUSAL_CARRIES = frozenset({"/", "or", "nor"})


def _refused_with(
    words: Sequence[str], slot: Slot, found: Sequence[Slot], lexicon: Lexicon
) -> bool:
    """Whether the menu item just before this one, joined to it by "/", "or" or "nor" alone,
    is turned down by the words before it."""
    k = slot.token
    while k > 0 and words[k - 1] in _REFUSAL_CARRIES:
        k -= 1
    if k == slot.token:
        return False
    previous = next(
        (s for s in found if s.kind in ("protein", "upgrade") and s.end_token == k), None
    )
    return previous is not None and "refused_before" in refused(words, previous, found, lexicon)


def taken_back(words: Sequence[str], slot: Slot, found: Sequence[Slot], lexicon: Lexicon) -> bool:
    """Whether the customer takes a menu item back: words of correcting follow it, and another
    menu item follows them with no word of adding between ("stake and shrimp, oh wait no, make
    that steak and calamari")."""
    return any(
        _corrected_between(words, slot.end_token, s.token, lexicon)
        for s in found
        if s.kind in ("protein", "upgrade") and s.token > slot.token
    )


def _corrected_between(words: Sequence[str], start: int, end: int, lexicon: Lexicon) -> bool:
    """Whether the words from `start` to `end` take back what came before them: words of
    correcting (the lexicon's `correcting`), the last said there, with no word of adding
    (`adding`) after them ("steak and shrimp. wait, can we also add lobster" takes nothing
    back)."""
    last = None
    for k in range(start, end):
        size = _phrase_at(words, k, lexicon.correcting)
        if size and k + size <= end:
            last = k + size
    return last is not None and not lexicon.adding.intersection(words[last:end])


def recounted(
    words: Sequence[str], readings: Sequence[SlotReading], lexicon: Lexicon
) -> tuple[list[SlotReading], bool]:
    """The readings with each count the customer takes back left out, and whether one was: a
    count followed, before any other count, by words of correcting, then by a count of the same
    group (or of none said) with no word of adding between ("14 adults, sorry typo, 16 adults";
    "12 adults n 3 kids... no wait 4 kids" takes back the 3 only). The count that corrects it
    takes its role, and its group where none is said, when its own words give none ("make it 20
    adults. actually scratch that, 22" is 22 adults in all)."""
    out = list(readings)
    counts = sorted((r for r in readings if r.slot.kind == "count"), key=lambda r: r.slot.token)
    for before, after in itertools.pairwise(counts):
        if (
            before.role == "none"
            or before not in out
            or not _corrects(words, before, after, lexicon)
        ):
            continue
        new = after
        if after.role == "none":
            new = replace(new, role=before.role, role_probability=before.role_probability)
        if after.slot.group == "-":
            new = replace(new, group=before.group, group_probability=before.group_probability)
        out = [new if r is after else r for r in out if r is not before]
    return out, len(out) < len(readings)


def _corrects(
    words: Sequence[str], before: SlotReading, after: SlotReading, lexicon: Lexicon
) -> bool:
    """Whether the count `after` corrects the count `before`: words of correcting between them
    (`_corrected_between`), and the two counts may be of one group."""
    first, second = before.slot, after.slot
    return _corrected_between(words, first.end_token, second.token, lexicon) and (
        "-" in (first.group, second.group) or first.group == second.group
    )


def says(words: Sequence[str], phrases: frozenset[tuple[str, ...]]) -> bool:
    """Whether one of the phrases (tuples of tokens) is said in the words."""
    return any(_phrase_at(words, k, phrases) for k in range(len(words)))


def opens_with(words: Sequence[str], phrases: frozenset[tuple[str, ...]]) -> bool:
    """Whether the words open with one of the phrases (tuples of tokens)."""
    return bool(_phrase_at(words, 0, phrases))


def _way_at(words: Sequence[str], k: int, lexicon: Lexicon) -> tuple[str | None, int]:
    """The word of moving that starts at token `k` (the longest phrase), and its length."""
    leaving = _phrase_at(words, k, lexicon.leaving)
    joining = _phrase_at(words, k, lexicon.joining)
    if leaving or joining:
        return ("leave", leaving) if leaving >= joining else ("join", joining)
    return None, 1


@cache
def _longest(phrases: frozenset[tuple[str, ...]]) -> int:
    return max(map(len, phrases), default=0)


def _phrase_at(words: Sequence[str], k: int, phrases: frozenset[tuple[str, ...]]) -> int:
    """How many tokens the longest of the phrases starting at token `k` has (0: none), however
    long a language's phrases are."""
    for size in range(min(_longest(phrases), len(words) - k), 0, -1):
        if tuple(words[k : k + size]) in phrases:
            return size
    return 0


def slot_features(words: Sequence[str], slot: Slot, hints: Iterable[str]) -> dict[str, float]:
    """The evidence about one candidate (see the module's docstring)."""
    f: dict[str, float] = {f"kind={slot.kind}": 1.0}
    for d in range(1, 5):
        k = slot.token - d
        f[f"L{d}={words[k] if k >= 0 else '^'}"] = 1.0
    for d in range(0, 4):
        k = slot.end_token + d
        f[f"R{d + 1}={words[k] if k < len(words) else '$'}"] = 1.0
    if slot.token >= 2:
        f[f"L21={words[slot.token - 2]}_{words[slot.token - 1]}"] = 1.0
    lo, hi = max(0, slot.token - 7), min(len(words), slot.end_token + 6)
    for k in range(lo, hi):
        if not slot.token <= k < slot.end_token:
            f[f"w={words[k]}"] = 0.5
    if slot.kind == "count":
        value = int(slot.value)
        f[f"size={min(value, 5) if value < 10 else (10 if value < 30 else 30)}"] = 1.0
        f[f"group={slot.group}"] = 1.0
    elif slot.kind == "person":
        f[f"person={'_'.join(words[slot.token : slot.end_token])}"] = 1.0
        f[f"group={slot.group}"] = 1.0
        f[f"pair={slot.value}"] = 1.0
    else:
        f[f"slug={slot.value}"] = 1.0
    f["first"] = float(slot.token == 0)
    for hint in hints:
        f[hint] = 1.0
    return f


@dataclass(frozen=True)
class SlotReading:
    slot: Slot
    role: str
    role_probability: float
    group: GuestGroup = "guests"
    group_probability: float = 1.0

    @property
    def confidence(self) -> float:
        counts_people = self.slot.kind in ("count", "person") and self.role != "none"
        return self.role_probability * (self.group_probability if counts_people else 1.0)


class _Head:
    """One multinomial regression over a DictVectorizer's features, read without
    scikit-learn's per-call checks."""

    def __init__(self, vocabulary: dict[str, int], classes: Sequence[str], model: Any) -> None:
        self.vocabulary = vocabulary
        self.classes = list(classes)
        weights = np.zeros((len(vocabulary), len(classes)), dtype=np.float32)
        bias = np.full(len(classes), -10.0, dtype=np.float32)
        coef = model.coef_
        if coef.shape[0] == 1:  # two classes: scikit-learn keeps one row, for the second
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-model.intercept_[0] / 2, model.intercept_[0] / 2])
        else:
            intercept = model.intercept_
        for row, label in enumerate(model.classes_):
            weights[:, int(label)] = coef[row]
            bias[int(label)] = intercept[row]
        self.weights, self.bias = weights, bias

    def probabilities(self, features: dict[str, float]) -> np.ndarray:
        scores = self.bias.copy()
        for name, value in features.items():
            index = self.vocabulary.get(name)
            if index is not None:
                scores += value * self.weights[index]
        p = np.exp(scores - scores.max())
        return np.asarray(p / p.sum())


class SlotModel:
    def __init__(
        self, count_role: _Head, group: _Head, menu_role: _Head, person_role: _Head | None
    ) -> None:
        self.count_role = count_role
        self.group = group
        self.menu_role = menu_role
        self.person_role = person_role

    def read(
        self, words: Sequence[str], slots: Sequence[Slot], hints: Sequence[Sequence[str]]
    ) -> list[SlotReading]:
        readings = []
        for slot, own in zip(slots, hints, strict=True):
            features = slot_features(words, slot, own)
            if slot.kind == "count":
                p = self.count_role.probabilities(features)
                g = self.group.probabilities(features)
                readings.append(
                    SlotReading(
                        slot,
                        COUNT_ROLES[int(p.argmax())],
                        float(p.max()),
                        GROUPS[int(g.argmax())],
                        float(g.max()),
                    )
                )
            elif slot.kind == "person":
                if self.person_role is None:
                    continue
                p = self.person_role.probabilities(features)
                group = cast(GuestGroup, slot.group)
                readings.append(
                    SlotReading(slot, PERSON_ROLES[int(p.argmax())], float(p.max()), group)
                )
            else:
                p = self.menu_role.probabilities(features)
                readings.append(SlotReading(slot, MENU_ROLES[int(p.argmax())], float(p.max())))
        return readings


def _fit(rows: Sequence[dict[str, float]], labels: Sequence[int], classes: Sequence[str]) -> _Head:
    vectoriser = DictVectorizer()
    x = vectoriser.fit_transform(rows)
    model = LogisticRegression(C=C_SLOTS, max_iter=3000, class_weight="balanced")
    model.fit(x, list(labels))
    return _Head(dict(vectoriser.vocabulary_), classes, model)


def count_labels(
    slots: Sequence[Slot], guests: Sequence[dict[str, Any]], said_ages: Container[int] = ()
) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """Each count's role and group by the labelled guest changes (matched by value, in order),
    and the labelled changes no count carries. While some labelled change is left over, a count
    that matches none may be part of it ("4 of them plus a husband" is 5): its role is unknown
    ("?"), not "none", unless it is an age (its token in `said_ages`: "adding my niece, she's
    12"), which counts nobody."""
    left = list(guests)
    out: list[tuple[str, str]] = []
    for slot in slots:
        match = None
        for label in left:
            if label.get("total") == slot.value:
                match = ("total", label)
                break
            delta = label.get("delta")
            if delta is not None and abs(delta) == slot.value:
                match = ("more" if delta > 0 else "fewer", label)
                break
        if match is None:
            out.append(("none", "guests"))
        else:
            left.remove(match[1])
            out.append((match[0], match[1].get("group", "guests")))
    if left:
        out = [
            ("?", group) if role == "none" and slot.token not in said_ages else (role, group)
            for slot, (role, group) in zip(slots, out, strict=True)
        ]
    return out, left


def person_labels(people: Sequence[Slot], left: Sequence[dict[str, Any]]) -> list[str]:
    """Each person's role by the labelled guest changes no count carries: a person in the group
    of a change (or any, for "guests") is coming or going while the change has room."""
    room = [
        [label.get("group", "guests"), label["delta"]]
        for label in left
        if label.get("delta") is not None
    ]
    out = []
    for slot in people:
        role = "none"
        for entry in room:
            group, delta = entry
            if group in (slot.group, "guests") and abs(delta) >= int(slot.value):
                role = "more" if delta > 0 else "fewer"
                entry[1] = delta - int(slot.value) if delta > 0 else delta + int(slot.value)
                break
        out.append(role)
    return out


def menu_label(slot: Slot, entities: dict[str, Any]) -> str:
    wanted = {*entities.get("proteins", []), *entities.get("upgrades", [])}
    gone = {*entities.get("removed_proteins", []), *entities.get("removed_upgrades", [])}
    if slot.value in gone and slot.value not in wanted:
        return "remove"
    return "want" if slot.value in wanted else "none"


def train_slots(
    examples: Sequence[
        tuple[Sequence[str], Sequence[Slot], Sequence[Sequence[str]], dict[str, Any], bool, bool]
    ],
) -> SlotModel | None:
    """Fit the three heads from (words, slots, hints per slot, labelled entities, whether the
    label asks for a headcount change, whether its menu words' roles are labelled) per
    message."""
    count_rows: list[dict[str, float]] = []
    count_y: list[int] = []
    group_rows: list[dict[str, float]] = []
    group_y: list[int] = []
    menu_rows: list[dict[str, float]] = []
    menu_y: list[int] = []
    person_rows: list[dict[str, float]] = []
    person_y: list[int] = []
    for words, slots, hints, labelled, headcount, menu_known in examples:
        # Counts and people are read only in a message that changes the headcount: learn their
        # roles there, not from "how much for 20 people?" or a party "for 20 on the 5th".
        counts = [
            (s, h) for s, h in zip(slots, hints, strict=True) if s.kind == "count" and headcount
        ]
        guests = labelled.get("guests") or []
        guests = guests if isinstance(guests, list) else [guests]
        said_ages = ages(words, counting=True, found_in=slots)
        roles, left = count_labels([s for s, _ in counts], guests, said_ages)
        people = [
            (s, h) for s, h in zip(slots, hints, strict=True) if s.kind == "person" and headcount
        ]
        for (slot, own), role in zip(
            people, person_labels([s for s, _ in people], left), strict=True
        ):
            person_rows.append(slot_features(words, slot, own))
            person_y.append(PERSON_ROLES.index(role))
        for (slot, own), (role, group) in zip(counts, roles, strict=True):
            if role == "?":
                continue
            features = slot_features(words, slot, own)
            count_rows.append(features)
            count_y.append(COUNT_ROLES.index(role))
            if role != "none":
                group_rows.append(features)
                group_y.append(GROUPS.index(group))
        for slot, own in zip(slots, hints, strict=True):
            if slot.kind in ("protein", "upgrade") and menu_known:
                menu_rows.append(slot_features(words, slot, own))
                menu_y.append(MENU_ROLES.index(menu_label(slot, labelled)))
    if len(set(count_y)) < 2 or len(set(group_y)) < 2 or len(set(menu_y)) < 2:
        return None
    return SlotModel(
        _fit(count_rows, count_y, COUNT_ROLES),
        _fit(group_rows, group_y, GROUPS),
        _fit(menu_rows, menu_y, MENU_ROLES),
        _fit(person_rows, person_y, PERSON_ROLES) if len(set(person_y)) > 1 else None,
    )


#: How far after a count its people's ages may come ("3 kids r coming too, theyre 2 5 and 9").
_AGES_REACH = 8


def _aged(slot: Slot, words: Sequence[str], said_ages: dict[int, str]) -> dict[str, int]:
    """How many of a count each age group takes, when one age each is said soon after it in
    the same sentence, else {}: "2 more kids, ages 4 and 9" is a little one and a kid."""
    value = int(slot.value)
    found: list[str] = []
    everyone = False  # "3 kids, all under 5": one age for them all
    for k in range(slot.end_token, min(len(words), slot.end_token + _AGES_REACH + value)):
        if words[k] in (".", "!", "?", ";"):
            break
        if k in said_ages:
            found.append(said_ages[k])
            everyone = everyone or _a_limit(words, k)  # "3 kids 5 and under"
        elif found and _NUMBER.fullmatch(words[k]):
            return {}  # another count after the ages
        elif not found and words[k] in _EVERYONE:
            everyone = True
    if everyone and len(found) == 1:
        return {found[0]: value}
    if len(found) != value:
        return {}
    return {group: found.count(group) for group in dict.fromkeys(found)}


#: The groups a child's age puts them in.
_CHILD_GROUPS = frozenset({"kids", "toddlers"})


def _a_limit(words: Sequence[str], k: int) -> bool:
    """Whether the age at `k` is a limit, so everyone counted is that young ("under 5", "5 and
    under")."""
    return (k > 0 and words[k - 1] in _UNDER) or (
        k + 2 < len(words) and words[k + 1] in ("and", "or") and words[k + 2] in _OR_UNDER
    )


def guest_changes(
    readings: Sequence[SlotReading],
    words: Sequence[str] = (),
    limits: AgeLimits = USUAL_AGES,
    stored: Mapping[str, int] | None = None,
) -> list[tuple[int, GuestChange, float]]:
    """The guest changes the counts make, one per group (the count read surest wins: of "was
    12, now 16" or "3 more, so 24 total", the one the words around it mark), then the people
    named coming or going in a group no count changes, added up; each with where and how sure.
    A change and a new total of one group that add up from a count the message names or the
    booking's own (`stored`, by group) say one thing twice ("one more adult, so 16 instead of
    15"): the total, unsure only if both readings are wrong, for either leaves the same party.
    A count of people coming or going whose ages follow, one age each ("3 kids r coming,
    theyre 2 5 and 9"), counts each in the group their age puts them in, as sure as it is read
    as coming or going, with the people named in a group only ages filled ("my sister, her
    husband and their 3 kids, 4, 8 and 13" is three adults, a kid and a little one). `words`:
    the message's tokens, to find the ages; `limits`: the business's age groups."""
    changes: list[tuple[int, GuestChange, float]] = []
    seen: set[str] = set()
    aged: dict[str, int] = {}  # a group only ages put people in: where its change is in changes
    best: dict[str, SlotReading] = {}
    for r in readings:
        counts = r.slot.kind == "count" and r.role != "none"
        if counts and (r.group not in best or r.role_probability > best[r.group].role_probability):
            best[r.group] = r
    twice = said_twice(readings, stored)
    said_ages = ages(words, counting=True, limits=limits, found_in=[r.slot for r in readings])
    for r in best.values():
        seen.add(r.group)
        value = int(r.slot.value)
        if r.group in twice:
            both = twice[r.group]
            total = next(c for c in both if c.role == "total")
            sure = 1 - math.prod(1 - c.confidence for c in both)
            changes.append(
                (total.slot.start, GuestChange(total=int(total.slot.value), group=r.group), sure)
            )
            continue
        by_age = _aged(r.slot, words, said_ages)
        if r.role == "total":
            if (
                by_age
                and r.group in _CHILD_GROUPS
                and by_age.keys() <= _CHILD_GROUPS
                and not (by_age.keys() - {r.group}) & best.keys()
            ):
                # "5 kids all under 5": the ages, not the word for the group, say where they go
                for group, n in by_age.items():
                    new = GuestChange(total=n, group=cast(GuestGroup, group))
                    changes.append((r.slot.start, new, r.role_probability))
                seen.update(by_age)
                continue
            changes.append((r.slot.start, GuestChange(total=value, group=r.group), r.confidence))
            continue
        sign = 1 if r.role == "more" else -1
        if by_age and not (set(by_age) - {r.group}) & set(best):
            for group, n in by_age.items():
                change = GuestChange(delta=sign * n, group=cast(GuestGroup, group))
                if group != r.group:
                    aged[group] = len(changes)
                # the ages, not the words for the group, say where each one goes
                changes.append((r.slot.start, change, r.role_probability))
            seen.update(by_age)
            continue
        changes.append((r.slot.start, GuestChange(delta=sign * value, group=r.group), r.confidence))
    named: dict[str, tuple[int, int, float]] = {}  # group: where first named, change, how sure
    for r in readings:
        if r.slot.kind != "person" or r.role == "none" or (r.group in seen and r.group not in aged):
            continue
        step = int(r.slot.value) if r.role == "more" else -int(r.slot.value)
        where, delta, sure = named.get(r.group, (r.slot.start, 0, 1.0))
        named[r.group] = (where, delta + step, min(sure, r.confidence))
    for group, (where, delta, sure) in named.items():
        if group in aged:
            # "my sister and her husband, and their 3 kids (4, 8 and 13)": the 13-year-old and
            # the two named are three adults
            k = aged[group]
            start, change, was = changes[k]
            step = (change.delta or 0) + delta
            changes[k] = (
                min(start, where),
                GuestChange(delta=step, group=change.group),
                min(was, sure),
            )
        elif delta:
            changes.append((where, GuestChange(delta=delta, group=cast(GuestGroup, group)), sure))
    changes = [c for c in changes if c[1].delta != 0]
    changes.sort(key=lambda c: c[0])
    return changes
