"""Finding the things a message names: guest counts, proteins and add-ons, ratings, dates, diets.

Every finder works on the lower-cased text and returns positions, so the caller can order what
it found. The patterns use only bounded repetition (nothing that can backtrack without limit),
start with literal words where they can (see `intents.Cue`), and the guest rules only run when
the text holds one of their key words, so a 10,000-character message costs milliseconds.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dateparser
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from agent.understanding.intents import REST_OF_WORD, Cue, Hits
from agent.understanding.schema import GuestChange, GuestGroup
from agent.understanding.vocabulary import Vocabulary

# --- numbers -------------------------------------------------------------------------------

UNITS: dict[str, int] = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
TENS: dict[str, int] = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
SINGLE = {"a": 1, "an": 1, "another": 1, "dozen": 12, "a dozen": 12, "a couple": 2, "couple": 2}

_by_length = sorted([*UNITS, *TENS], key=len, reverse=True)
_DIGITS = r"(?<![0-9.,])[0-9]{1,5}(?![0-9]|[a-z])"
_TENS_RE = "|".join(TENS)
_ONES_RE = "|".join(k for k in UNITS if 1 <= UNITS[k] <= 9)
#: A count written in digits or words ("14", "fourteen", "twenty-two").
NUMBER = (
    rf"(?:{_DIGITS}|(?:{_TENS_RE})(?:[\s-](?:{_ONES_RE}))?\b|(?:{'|'.join(_by_length)})\b"
    r"|a\s+dozen\b|a\s+couple(?:\s+of)?\b)"
)
#: A count, or a word that means one more of something ("another kid", "an extra adult").
COUNT = rf"(?:{NUMBER}|another\b|an?\b)"


def parse_number(raw: str) -> int | None:
    """The value of a number matched by NUMBER or COUNT (None if it is not one)."""
    words = re.sub(r"[\s-]+", " ", raw.strip().lower())
    words = re.sub(r"\s+of$", "", words)
    if words.isascii() and words.isdigit():
        return int(words)
    if words in SINGLE:
        return SINGLE[words]
    if words in UNITS:
        return UNITS[words]
    parts = words.split(" ")
    if parts[0] in TENS:
        return TENS[parts[0]] + (UNITS.get(parts[1], 0) if len(parts) > 1 else 0)
    return None


# --- guests --------------------------------------------------------------------------------

_GROUPS: dict[GuestGroup, str] = {
    "adults": r"adults?|grown[\s-]?ups?|grownups?|men|women",
    "kids": r"kids?|kiddos?|kiddies|children|child|teens?|teenagers?|little\s+ones",
    "toddlers": r"toddlers?|babies|baby|infants?",
    "guests": r"guests?|people|ppl|persons?|pax|attendees?|folks|friends|relatives|cousins|"
    r"coworkers|co-workers|colleagues|neighbou?rs|family\s+members",
}
GROUP = "(?:" + "|".join(f"(?:{words})" for words in _GROUPS.values()) + r")\b"
_GROUP_OF = [(name, re.compile(rf"(?:{words})$")) for name, words in _GROUPS.items()]
_NOT_PEOPLE = (
    r"(?!\s*(?:min\b|mins\b|minutes?|hours?|hrs?|days?|weeks?|months?|years?|yrs?|pm\b|am\b|%"
    r"|/|:|\$|dollars?|bucks|stars?|degrees?|mph|miles?|lbs?|pounds?|times?|o'?clock))"
)
_N = rf"(?P<n>{NUMBER})"
_C = rf"(?P<n>{COUNT})"
_G = rf"(?P<g>{GROUP})"
_MORE = r"(?:more|extra|additional|new|other)"

_NAMED_TOTAL = 2


@dataclass(frozen=True)
class _GuestRule:
    """sign +1/-1 reads a change, 0 a new total (needing a word that says it is about people
    when no group is named), _NAMED_TOTAL a total after "count", "total", ... The rule only
    runs when the text holds one of its needles (a cheap substring test)."""

    cue: Cue
    sign: int
    needles: tuple[str, ...]
    #: The pattern starts with the count, so it is only tried where a count starts.
    at_count: bool


def _rule(pattern: str, sign: int, *needles: str) -> _GuestRule:
    return _GuestRule(Cue(pattern), sign, needles, pattern.startswith(("(?P<n>", "(?P<n2>")))


#: Where a count may start ("14", "fourteen", "another", "a").
_COUNT_START = Cue(COUNT)


_GUEST_RULES: list[_GuestRule] = [
    # "we'll have 8 kids and 10 adults": a total over two groups
    _rule(
        r"(?:we'?ll\s+(?:now\s+)?have|we\s+will\s+(?:now\s+)?have|we\s+(?:now\s+)?have|"
        r"we'?ve\s+(?:now\s+)?got|we'?re|we\s+are|there\s+will\s+be|"
        r"there'?ll\s+be|it'?ll\s+be|total\s+of|count\s+(?:is|:|to)|total\s+(?:is|:|to))"
        r"(?:\s+(?:now|only|just|probably|looking\s+at|expecting|at|like|about|around)){0,3}\s+"
        rf"{_N}\s+{_G}\s*(?:and|&|\+|,)\s*(?P<n2>{NUMBER})\s+(?P<g2>{GROUP})",
        _NAMED_TOTAL,
        "we",
        "there",
        "it",
        "total",
        "count",
    ),
    # "+4 ppl", "-1 toddler"
    _rule(rf"\+(?<![\w+-]\+)\s?{_N}\s*{_G}", 1, "+"),
    _rule(rf"-(?<![\w+-]-)\s?{_N}\s*{_G}", -1, "-"),
    # "2 more adults", "one more toddler", "seven extra guests", "another 3 kids"
    _rule(rf"{_C}\s+{_MORE}\s+{_G}", 1, "more", "extra", "additional", "new", "other"),
    _rule(rf"(?:extra|another|additional)\s+{_N}\s+{_G}", 1, "extra", "another", "additional"),
    # "add three people", "adding 2 more adults", "add another kid", "add 3 grownups"
    _rule(
        r"(?:add|adding|added|plus|bring(?:ing)?|invite[ds]?|inviting|include|including)"
        rf"\s+(?:(?:the|our)\s+)?{_C}\s+(?:{_MORE}\s+)?{_G}",
        1,
        "add",
        "plus",
        "bring",
        "invit",
        "includ",
    ),
    # "Our neighbours' 2 children will be joining us"
    _rule(rf"{_N}\s+(?:{_MORE}\s+)?{_G}\s+(?:will\s+be\s+|are\s+|is\s+)?joining\b", 1, "joining"),
    # "increase the party by 3"
    _rule(
        r"(?:increase|increasing|raise|bump)\s+(?:(?:it|the|our|my)\s+)?(?:\w+\s+){0,2}"
        rf"by\s+{_N}{_NOT_PEOPLE}\s*(?:{_G})?",
        1,
        "increas",
        "raise",
        "bump",
    ),
    # "one less kid", "3 fewer people"
    _rule(rf"{_C}\s+(?:less|fewer)\s+{_G}", -1, "less", "fewer"),
    # "minus 3 adults", "remove 2 guests", "take off 4 ppl", "lose one adult", "drop 2"
    _rule(
        r"(?:minus|remove|removing|removed|subtract(?:ing)?|take\s+off|taking\s+off|"
        r"lose|losing|lost|drop|dropping|dropped|knock\s+off)"
        rf"\s+(?:(?:the|our)\s+)?{_C}{_NOT_PEOPLE}(?:\s+(?:of\s+(?:the|our)\s+)?{_G})?",
        -1,
        "minus",
        "remov",
        "subtract",
        "tak",
        "los",
        "drop",
        "knock",
    ),
    # "reduce our party by eight guests"
    _rule(
        r"(?:reduce|reducing|lower|lowering|decrease|decreasing|cut)\s+"
        rf"(?:(?:it|the|our|my)\s+)?(?:\w+\s+){{0,2}}by\s+{_N}{_NOT_PEOPLE}\s*(?:{_G})?",
        -1,
        "reduc",
        "lower",
        "decreas",
        "cut",
    ),
    # "take 3 people off"
    _rule(rf"take\s+{_N}\s+(?:{_G}\s+)?off\b", -1, "take"),
    # "Two of the kids can't make it", "2 adults dropped out", "3 of the guys bailed"
    _rule(
        rf"{_N}\s+(?:of\s+(?:the|our|my|them|his|her|their)\s+(?:(?!{GROUP})[a-z'-]+\s+)?)?"
        rf"(?:{_G}\s+)?"
        r"(?:can'?t|cannot|can\s+not|won'?t|will\s+not|aren'?t|are\s+not|couldn'?t|"
        r"are\s+no\s+longer|no\s+longer|dropped|bailed|cancel(?:l?ed)?|backed)\b",
        -1,
        "can",
        "won",
        "will not",
        "aren",
        "are not",
        "couldn",
        "longer",
        "dropped",
        "bailed",
        "backed",
    ),
    # "from 12 to 15 guests"
    _rule(rf"from\s+{NUMBER}\s*(?:{GROUP}\s+)?to\s+{_N}{_NOT_PEOPLE}(?:\s*{_G})?", 0, "from"),
    # "guest count to 18", "final count is 22", "total is gonna be 25", "headcount: 16"
    _rule(
        r"(?:guest\s*count|head\s*count|final\s+count|count|final\s+number|"
        r"number\s+of\s+(?:guests|people)|number|total|party\s+size|group\s+size|rsvps?)"
        r"\s*+(?:is|=|:|to|will\s+be|would\s+be|should\s+be|at|of|now)?"
        r"(?:\s*+(?:gonna\s+be|going\s+to\s+be|now|down\s+to|up\s+to|changed\s+to|be)){0,2}"
        rf"\s*+{_N}{_NOT_PEOPLE}(?:\s*(?:{_G}))?",
        _NAMED_TOTAL,
        "count",
        "number",
        "total",
        "size",
        "rsvp",
    ),
    # "we're gonna be 14", "we r now 30 ppl", "it will now be thirty guests", "we're down to 12"
    _rule(
        r"(?:we'?re|we\s+are|we\s+r|we'?ll\s+be|we\s+will\s+be|we\s+might\s+be|"
        r"we\s+may\s+be|we'?d\s+be|we\s+should\s+be|we'?re\s+gonna\s+be|we\s+are\s+gonna\s+be|"
        r"there'?ll\s+be|there\s+will\s+be|there\s+are|it'?ll\s+be|it\s+will\s+(?:now\s+)?be|"
        r"we\s+will\s+now\s+be|it\s+is\s+now|we\s+are\s+now)"
        r"(?:\s+(?:now|only|just|probably|gonna|going\s+to|be|actually|down\s+to|up\s+to|"
        r"looking\s+at|expecting|at|like|about|around)){0,3}"
        rf"\s+{_N}{_NOT_PEOPLE}(?!\s+(?:more|less|fewer|extra|additional|of\s+the)\b)"
        rf"(?:\s+{_G})?",
        0,
        "we",
        "there",
        "it",
    ),
    # "we'll have 20 guests", "we have 25 people coming"
    _rule(
        r"(?:we'?ll|we\s+will|we'?re\s+gonna|we\s+are\s+going\s+to)\s+(?:now\s+)?have\s+"
        rf"{_N}\s+{_G}",
        0,
        "we",
    ),
    _rule(
        rf"we\s+(?:now\s+)?have\s+{_N}\s+(?:{_G}\s+)?(?:coming|attending|now|total|in\s+total)\b",
        _NAMED_TOTAL,
        "we",
    ),
    # "so add 2", "add 3 to the count"
    _rule(
        rf"add\s+{_N}(?=\s*$|\s*[.!,;]|\s+more\s*(?:$|[.!,;])|\s+(?:please|pls)|"
        r"\s+to\s+(?:the|our)\s+(?:count|party|list|booking|headcount|total))",
        1,
        "add",
    ),
    # "bring it up to 16", "reduce it to 10 people"
    _rule(
        r"(?:bring|bump|take|put|get|increase|raise|lower|reduce|decrease|drop|cut)"
        rf"{REST_OF_WORD}\s+"
        r"(?:(?:it|us|that|things|the\s+\w+|our\s+\w+)\s+)?(?:up\s+|down\s+)?to\s+"
        r"(?:(?:like|about|around|maybe|roughly|approximately|approx|probably)\s+)?"
        rf"{_N}{_NOT_PEOPLE}(?:\s+{_G})?",
        0,
        "bring",
        "bump",
        "take",
        "put",
        "get",
        "increas",
        "raise",
        "lower",
        "reduc",
        "decreas",
        "drop",
        "cut",
    ),
    # "only 9 of us now"
    _rule(rf"(?:only|just|now|be|are|'re|r)\s+{_N}\s+of\s+us\b", 0, "of us"),
    # "only 18 can make it now"
    _rule(
        rf"(?:only|just)\s+{_N}\s+(?:of\s+us\s+)?(?:can|will|are|is)\s+"
        r"(?:make\s+it|come|coming|attend\w*|be\s+(?:there|coming))\b",
        0,
        "only",
        "just",
    ),
    # "we'll be a party of 16"
    _rule(
        r"(?:be|now|we'?re|we\s+are|we'?ll\s+be)\s+(?:a\s+)?(?:party|group|table)\s+of\s+"
        rf"{_N}{_NOT_PEOPLE}",
        _NAMED_TOTAL,
        "party of",
        "group of",
        "table of",
    ),
    # "make it twenty people total"
    _rule(rf"make\s+it\s+{_N}{_NOT_PEOPLE}\s*(?:{_G})?(?:\s+total)?", 0, "make it"),
    # "Eleven people now", "fourteen guests total", "20 people not 12"
    _rule(
        rf"{_N}\s+{_G}\s+(?:now|total|in\s+total|altogether|all\s+together|instead|not)\b",
        0,
        "now",
        "total",
        "together",
        "instead",
        "not",
    ),
    _rule(rf"{_N}\s+(?:total|in\s+total|altogether)\b", 0, "total", "altogether"),
    # a message that is only a count: "fourteen people", "20 guests please"
    _rule(rf"^[\s\"'(]*{_N}\s+{_G}(?:\s+(?:please|pls|now|total))?\W*$", _NAMED_TOTAL, ""),
]
#: Totals written without a group word need a hint that they are about people.
_TOTAL_NEEDS_HINT = re.compile(
    r"\b(?:now|total|down\s+to|up\s+to|instead|guests?|people|ppl|of\s+us|head\s*count|"
    r"count|party|rsvps?)\b"
)
#: "add two adults and one kid": a second change of the same kind, in another group.
_AND_COUNT = re.compile(rf"\s*+,?\s*+(?:and|&|\+|plus)\s+{_N}\s+(?:{_MORE}\s+)?{_G}")
_ONE_WORDS = frozenset({"a", "an", "another"})
#: One more group in a list of totals ("..., 4 kids and 2 toddlers").
_LISTED = re.compile(rf"\s*+(?:,|and|&|\+|n)\s*+(?:and\s+)?{_N}\s+{_G}")


def _listed_totals(text: str, at: int, stop: int, named: set[str]) -> list[GuestFind]:
    """The totals of the groups listed after a total of a group, each group once."""
    out: list[GuestFind] = []
    while (m := _LISTED.match(text, at, stop)) is not None:
        value, group = parse_number(m.group("n")), group_of(m.group("g"))
        if value is None or value > 10_000 or group == "guests" or group in named:
            break
        named.add(group)
        out.append(GuestFind(m.start("n"), GuestChange(total=value, group=group)))
        at = m.end()
    return out


#: A number followed by a noun other than a group word counts that noun, not guests.
_COUNTS_SOMETHING_ELSE = re.compile(
    r"\s+(?!(?:now|total|in|of|instead|not|and|or|but|so|with|including|altogether|all|max|"
    r"maybe|then|for|at|on|this|that|by|if|because|yes|please|pls|or\s+so)\b)[a-z]"
)


def group_of(word: str | None) -> GuestGroup:
    if word:
        for name, pattern in _GROUP_OF:
            if pattern.match(word):
                return name
    return "guests"


@dataclass(frozen=True)
class GuestFind:
    start: int
    change: GuestChange


def find_guests(text: str, start: int = 0, end: int | None = None) -> list[GuestFind]:
    """Every new total or change of guests in text[start:end], in the order written."""
    found: list[GuestFind] = []
    stop = len(text) if end is None else end
    counts: list[int] | None = None
    for rule in _GUEST_RULES:
        if not any(needle in text for needle in rule.needles):
            continue
        sign = rule.sign
        if rule.at_count:
            if counts is None:
                counts = [m.start() for m in _COUNT_START.finditer(text, start, stop)]
            anchored = (rule.cue.regex.match(text, pos, stop) for pos in counts)
            matches: Iterable[re.Match[str] | None] = anchored
        else:
            matches = rule.cue.finditer(text, start, stop)
        for m in matches:
            if m is None:
                continue
            value = parse_number(m.group("n"))
            if value is not None and m.groupdict().get("n2"):
                more = parse_number(m.group("n2"))
                first, second = group_of(m.group("g")), group_of(m.group("g2"))
                if more is not None and "guests" not in (first, second) and first != second:
                    # "14 adults and 2 kids": a new count for each group named
                    found.append(GuestFind(m.start(), GuestChange(total=value, group=first)))
                    found.append(GuestFind(m.start("n2"), GuestChange(total=more, group=second)))
                    found += _listed_totals(text, m.end(), stop, {first, second})
                    continue
                value = None if more is None else value + more
            if value is None or value > 10_000 or (value == 0 and sign != 0):
                continue
            group_word = None if m.groupdict().get("n2") else m.groupdict().get("g")
            if group_word is None and m.group("n").strip() in _ONE_WORDS:
                continue  # "lose a lot" is not a guest
            group = group_of(group_word)
            if sign == _NAMED_TOTAL:
                change = GuestChange(total=value, group=group)
            elif sign == 0:
                if group_word is None and (
                    not _TOTAL_NEEDS_HINT.search(
                        text, max(start, m.start() - 30), min(stop, m.end() + 12)
                    )
                    or _COUNTS_SOMETHING_ELSE.match(text, m.end(), stop)
                ):
                    continue  # "there are 3 steps up to the yard" counts steps
                change = GuestChange(total=value, group=group)
            else:
                change = GuestChange(delta=sign * value, group=group)
            found.append(GuestFind(m.start(), change))
            if change.total is not None and group_word is not None and group != "guests":
                # "we'll be 26 adults and 4 kids and 2 toddlers": each group listed is a total
                found += _listed_totals(text, m.end(), stop, {group})
            if sign in (1, -1) and group_word is not None:
                also = _AND_COUNT.match(text, m.end(), stop)
                extra = parse_number(also.group("n")) if also else None
                if also is not None and extra and extra <= 10_000:
                    grown = GuestChange(delta=sign * extra, group=group_of(also.group("g")))
                    found.append(GuestFind(also.start("n"), grown))
    found.sort(key=lambda f: f.start)
    # one count read by two rules ("we are 26 adults and 4 kids") is one find
    return list(dict.fromkeys(found))


# --- proteins and add-ons ------------------------------------------------------------------

Kind = Literal["protein", "upgrade"]
#: No order names more menu words than this; beyond it a message is noise, and reading every
#: repetition of "chicken" in a 10,000-character paste would only cost time.
MAX_MENTIONS = 100
_EXTRA_WORDS = r"(?:extra|more|double|additional|another)"
#: Ordinary English words a single typo away from a menu word; never read as a protein.
_NOT_FOOD = frozenset(
    (
        "salon",
        "salons",
        "steals",
        "stealth",
        "streak",
        "streaks",
        "filled",
        "filler",
        "fillers",
        "filter",
        "chick",
        "chicks",
        "chicky",
        "pawns",
        "prawny",
        "lobby",
        "lobbies",
        "scallion",
        "scallions",
        "shrimpy",
        "mignonette",
        "sermon",
        "states",
        "sailor",
        "salmonella",
    )
)


_WORD = re.compile(r"[a-z]+")


def _norm_alias(text: str) -> str:
    words = re.sub(r"[\s\-]+", " ", text.strip().lower())
    return re.sub(r"\b(?:more|double|additional|another)\b", "extra", words)


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    kind: Kind
    slug: str


class MenuMatcher:
    """Exact alias matching (with plurals and 'extra'/'more'/'double' as one word) plus
    misspellings within one edit (two for long words) of a protein word."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.lookup: dict[str, tuple[Kind, str]] = {}
        sources: list[tuple[Kind, dict[str, list[str]]]] = [
            ("protein", vocabulary.proteins),
            ("upgrade", vocabulary.upgrades),
        ]
        for kind, table in sources:
            for slug, aliases in table.items():
                for alias in [slug.replace("_", " "), *aliases]:
                    key = _norm_alias(alias)
                    if len(key) >= 3:
                        self.lookup.setdefault(key, (kind, slug))
        alternatives = []
        for key in sorted(self.lookup, key=len, reverse=True):
            words = [_EXTRA_WORDS if w == "extra" else re.escape(w) for w in key.split(" ") if w]
            alternatives.append(r"[\s\-]+".join(words))
        body = "|".join(alternatives) if alternatives else r"(?!x)x"
        self.exact = Cue(rf"(?:{body})(?:e?s)?(?![a-z])")
        fuzzy = {
            k: v[1]
            for k, v in self.lookup.items()
            if v[0] == "protein" and " " not in k and len(k) >= 6 and k.isalpha()
        }
        self.fuzzy_slug = fuzzy
        self.fuzzy_by_initial: dict[str, list[str]] = {}
        for word in sorted(fuzzy):
            self.fuzzy_by_initial.setdefault(word[0], []).append(word)

    def _resolve(self, raw: str) -> tuple[Kind, str] | None:
        key = _norm_alias(raw)
        for candidate in (key, key[:-1], key[:-2]):
            if candidate in self.lookup:
                return self.lookup[candidate]
        return None

    def find(self, text: str) -> list[Mention]:
        """Every protein or add-on named in the lower-cased text, in the order written."""
        found: list[Mention] = []
        taken: set[int] = set()
        resolved: dict[str, tuple[Kind, str] | None] = {}
        for m in self.exact.finditer(text):
            raw = m.group(0)
            if raw not in resolved:
                resolved[raw] = self._resolve(raw)
            hit = resolved[raw]
            if hit is not None:
                found.append(Mention(m.start(), m.end(), hit[0], hit[1]))
                taken.update(range(m.start(), m.end()))
                if len(found) >= MAX_MENTIONS:
                    break
        if self.fuzzy_by_initial:
            seen: dict[str, str | None] = {}
            for m in _WORD.finditer(text):
                word = m.group(0)
                if not 5 <= len(word) <= 14:
                    continue
                if word[0] not in self.fuzzy_by_initial or word in _NOT_FOOD:
                    continue
                if m.start() in taken:
                    continue
                if word not in seen:
                    seen[word] = self._fuzzy(word)
                slug = seen[word]
                if slug is not None:
                    found.append(Mention(m.start(), m.end(), "protein", slug))
                    if len(found) >= 2 * MAX_MENTIONS:
                        break
        found.sort(key=lambda x: x.start)
        return found

    def _fuzzy(self, word: str) -> str | None:
        limit = 1 if len(word) < 9 else 2
        best = process.extractOne(
            word,
            self.fuzzy_by_initial[word[0]],
            scorer=Levenshtein.distance,
            score_cutoff=limit,
        )
        if best is None:
            return None
        return self.fuzzy_slug[best[0]]


_MATCHERS: dict[tuple[tuple[str, tuple[str, ...]], ...], MenuMatcher] = {}


def matcher_for(vocabulary: Vocabulary) -> MenuMatcher:
    """The compiled matcher for a vocabulary (built once per distinct vocabulary)."""
    key = tuple(
        (f"{kind}:{slug}", tuple(aliases))
        for kind, table in (("p", vocabulary.proteins), ("u", vocabulary.upgrades))
        for slug, aliases in table.items()
    )
    matcher = _MATCHERS.get(key)
    if matcher is None:
        if len(_MATCHERS) > 16:
            _MATCHERS.clear()
        matcher = _MATCHERS[key] = MenuMatcher(vocabulary)
    return matcher


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --- ratings -------------------------------------------------------------------------------

_RATING_WORD = r"(?:[1-5]|one|two|three|four|five)"
_STAR = "[⭐★🌟]\ufe0f?"
_RATING_PATTERNS: list[Cue] = [
    # "4/5", "3 out of 5", "four out of five"
    Cue(rf"(?P<n>{_RATING_WORD})(?<![.][1-5])\s*(?:/|out\s+of|outta)\s*(?:5|five)(?![0-9])"),
    # "4 stars", "five stars", "Solid 4 ⭐"
    Cue(rf"(?P<n>{_RATING_WORD})(?<![.][1-5])\s*+-?\s*+(?:stars?\b|{_STAR})"),
    # "rating: 4", "I'd rate it a 4"
    Cue(r"rat(?:e|ing)\s*+(?:is|:|=|it|us|you|them)?\s*+(?:a\s+)?(?P<n>[1-5])(?![0-9])"),
    # "5分"
    Cue(r"(?P<n>[1-5])(?<![0-9.][1-5])\s*分"),
    # "a 4 i guess", "honestly a 2.", "we give you guys a 5!", "gonna say 5", "i'd say it's a 4"
    Cue(
        rf"(?:a|an|solid|give\s+(?:you|u|it|him|them)(?:\s+guys)?(?:\s+a)?|"
        rf"\bsay\s+(?:(?:it's|its|it\s+was)\s+)?(?:a\s+)?)\s*(?<=\s)"
        rf"(?P<n>{_RATING_WORD})(?![0-9/]|[.,][0-9])"
        r"(?!\s*(?:people|ppl|guests|adults|kids|more|less|hours?|hrs?|min|mins|minutes?|pm|am|"
        r"of)\b)\b"
    ),
]
_STARS = re.compile(rf"{_STAR}(?:\s?{_STAR}){{0,9}}")
_LEADING_DIGIT = re.compile(r"^\W{0,3}(?P<n>[1-5])(?![0-9])(?:\s*[.!)]|\s*$|\s+(?![0-9]))")
_ONLY_WORD = re.compile(r"^\W{0,3}(?P<n>one|two|three|four|five)\W{0,5}$")
_RATING_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def _rating_value(raw: str) -> int | None:
    value = int(raw) if raw.isdigit() else _RATING_WORDS.get(raw)
    return value if value is not None and 1 <= value <= 5 else None


_OUT_OF_TEN = Cue(r"(?P<n>10|[0-9])(?<![.][0-9])\s*/\s*10(?![0-9])")


def find_rating(text: str) -> tuple[int, int] | None:
    """(position, stars 1-5) for a rating written any common way, or None."""
    m = _OUT_OF_TEN.search(text)
    if m is not None:
        return m.start(), max(1, min(5, (int(m.group("n")) + 1) // 2))
    for pattern in _RATING_PATTERNS:
        m = pattern.search(text)
        if m is not None:
            value = _rating_value(m.group("n"))
            if value is not None:
                return m.start(), value
    m = _STARS.search(text)
    if m is not None:
        return m.start(), min(len(re.findall(_STAR, m.group(0))), 5)
    for anchored in (_LEADING_DIGIT, _ONLY_WORD):
        lead = anchored.match(text)
        if lead is not None:
            value = _rating_value(lead.group("n"))
            if value is not None:
                return lead.start("n"), value
    return None


# --- dates ---------------------------------------------------------------------------------

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WEEKDAYS = (
    r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|"
    r"sat(?:urday)?|sun(?:day)?)"
)
_ORDINAL = r"(?:[12][0-9]|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_WEEKDAY_FULL = {
    "mon": "monday",
    "tue": "tuesday",
    "tues": "tuesday",
    "wed": "wednesday",
    "thu": "thursday",
    "thur": "thursday",
    "thurs": "thursday",
    "fri": "friday",
    "sat": "saturday",
    "sun": "sunday",
}
#: Date-looking spans, most explicit first; only the chosen span goes to dateparser.
_DATE_PATTERNS: list[Cue] = [
    Cue(rf"{_MONTHS}\s+{_ORDINAL}\b(?:,?\s+20[0-9]{{2}}\b)?"),
    Cue(rf"(?:the\s+)?{_ORDINAL}\s+of\s+{_MONTHS}(?![a-z])"),
    Cue(
        r"(?:1[0-2]|0?[1-9])(?<![0-9/][0-9])/(?:[12][0-9]|3[01]|0?[1-9])(?:/(?:20)?[0-9]{2})?"
        r"(?![0-9/])"
    ),
    Cue(rf"(?:{_WEEKDAYS},?\s+)?the\s+(?:[12][0-9]|3[01]|0?[1-9])(?:st|nd|rd|th)\b"),
    Cue(rf"(?:the\s+)?{_WEEKDAYS}\s+after\s+next\b"),
    Cue(rf"(?:(?:next|this|coming)\s+)?{_WEEKDAYS}\b(?!\s*-)"),
    Cue(r"(?:tomorrow|today|tonight|next\s+week(?:end)?|next\s+month)\b"),
]


class DateSpans:
    """The date-looking spans of a message, found once and then looked up clause by clause."""

    def __init__(self, text: str) -> None:
        self._hits = [Hits(pattern, text) for pattern in _DATE_PATTERNS]

    def first(self, start: int, end: int) -> tuple[int, str] | None:
        """The most explicit date-looking span in [start, end): (position, span)."""
        for hits in self._hits:
            m = hits.first(start, end)
            if m is not None:
                return m.start(), m.group(0)
        return None


def first_date(text: str, now: datetime, timezone: str) -> date | None:
    """The most explicit date a message names (folded text), read from the business's local
    clock, preferring the future; None when it names none."""
    span = DateSpans(text).first(0, len(text))
    return None if span is None else parse_date(span[1], local_now(now, timezone))


def local_now(now: datetime, timezone: str) -> datetime:
    """The clock as a naive local time in the business's time zone."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    if now.tzinfo is None:
        return now
    return now.astimezone(zone).replace(tzinfo=None)


_AFTER_NEXT = re.compile(rf"^(?:the\s+)?(?P<weekday>{_WEEKDAYS})\s+after\s+next")
_DAY_ONLY = re.compile(rf"^(?:(?P<weekday>{_WEEKDAYS}),?\s+)?the\s+(?P<day>[0-9]{{1,2}})")
_WEEKDAY_INDEX = {
    name: i
    for i, name in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
}


def _day_of_month(day: int, today: date, weekday: int | None) -> date | None:
    """The next date on or after today with that day of the month (and weekday, if named)."""
    year, month = today.year, today.month
    first: date | None = None
    for _ in range(13):
        if day <= calendar.monthrange(year, month)[1]:
            candidate = date(year, month, day)
            if candidate >= today:
                if weekday is None or candidate.weekday() == weekday:
                    return candidate
                first = first or candidate
        month, year = (1, year + 1) if month == 12 else (month + 1, year)
    return first


_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "couple": 2}
_HOW_MANY = r"(?P<n>a|an|one|two|three|four|a\s+couple(?:\s+of)?|[1-4])"
_LATER = r"(?:later|after|back)"
_EARLIER = r"(?:earlier|before|sooner|up|forward)"
#: What a "day after" or "weekend before" said of something other than the party names.
_NAMED_AFTER = (
    r"\s+(?:tomorrow|today|tonight|\w+day|christmas|thanksgiving|new\s+year|labor|memorial|"
    r"easter|halloween|the|this|that|next|\d)"
)
#: Dates said from the party's own date ("a week later", "push it back 2 weeks", "the
#: following saturday", "the day before"): moved from the booking, not from today.
_FROM_THE_EVENT = Cue(
    rf"(?:{_HOW_MANY}\s+(?P<unit>weeks?|days?)\s+(?P<dir>{_LATER}|{_EARLIER})"
    rf"|(?:push|move|bump|pushed|moved|bumped)\s+(?:it|us|the\s+party|the\s+date|things|"
    rf"everything)?\s*(?P<dir2>back|out|up|forward)\s+(?:by\s+)?{_HOW_MANY.replace('<n>', '<n2>')}"
    rf"\s+(?P<unit2>weeks?|days?)"
    rf"|(?:the\s+)?(?:following|next)\s+(?P<weekday>{_WEEKDAYS})\s+(?:after|instead)\b"
    rf"|(?:the\s+)?following\s+(?P<weekday2>{_WEEKDAYS})\b"
    rf"|(?:the\s+)?(?P<weekday3>{_WEEKDAYS})\s+after(?!\s+next)(?!\s+\d)\b"
    rf"|the\s+(?P<day>day|week(?:end)?)\s+(?P<dir3>after|before)\b(?!{_NAMED_AFTER})"
    rf"|(?:the\s+)?(?:following|next)\s+(?P<day2>day|week(?:end)?)\s+(?:after|instead)\b"
    rf"|(?:the\s+)?following\s+(?P<day3>day|week(?:end)?)\b)"
)


def from_the_event(text: str, event: date) -> date | None:
    """The date a message moves the party to when it says it from the party's own date ("can
    we do a week later?", "push it back 2 weeks", "the following saturday" for a party on a
    Wednesday is the Saturday after it), else None."""
    m = _FROM_THE_EVENT.search(text)
    if m is None:
        return None
    g = m.groupdict()
    n_said, unit, way = g["n"] or g["n2"], g["unit"] or g["unit2"], g["dir"] or g["dir2"]
    if n_said is not None and unit is not None and way is not None:
        words = n_said.split()
        key = words[-2] if words[-1] == "of" else words[-1]  # "a couple of": couple
        n = int(key) if key.isdigit() else _COUNTS[key]
        sign = -1 if re.fullmatch(_EARLIER, way) else 1
        return event + sign * timedelta(days=n * (7 if unit.startswith("week") else 1))
    name = g["weekday"] or g["weekday2"] or g["weekday3"]
    if name is not None:
        weekday = _WEEKDAY_INDEX[_WEEKDAY_FULL.get(name, name)]
        return event + timedelta(days=(weekday - event.weekday() - 1) % 7 + 1)
    day = g["day"] or g["day2"] or g["day3"]
    sign = -1 if g["dir3"] == "before" else 1
    if day == "day":
        return event + sign * timedelta(days=1)
    if day == "weekend":  # the Saturday of the weekend after (or before) the party
        saturday = event + timedelta(days=(5 - event.weekday()) % 7)
        return saturday + sign * timedelta(days=7 if saturday == event or sign < 0 else 0)
    return event + sign * timedelta(days=7)


def parse_date(span: str, base: datetime) -> date | None:
    """A date from a short span, relative to base, preferring the future."""
    cleaned = "".join(_WEEKDAY_FULL.get(w, w) for w in re.split(r"(\W+)", span))
    only_day = _DAY_ONLY.match(cleaned)
    if only_day is not None:
        # "the 5th" or "friday the 19th": dateparser would read a small number as a month.
        name = only_day.group("weekday")
        weekday = _WEEKDAY_INDEX.get(_WEEKDAY_FULL.get(name, name)) if name else None
        return _day_of_month(int(only_day.group("day")), base.date(), weekday)
    after_next = _AFTER_NEXT.match(cleaned)
    if after_next is not None:
        # "the Saturday after next": the one a week after the next Saturday (never today).
        name = after_next.group("weekday")
        weekday = _WEEKDAY_INDEX[_WEEKDAY_FULL.get(name, name)]
        today = base.date()
        return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1 + 7)
    if cleaned == "next month":
        return None  # a month is not a date
    if cleaned == "tonight":
        return base.date()
    try:
        parsed = dateparser.parse(
            cleaned,
            languages=["en"],
            settings={
                "PREFER_DATES_FROM": "future",
                "RELATIVE_BASE": base,
                "DATE_ORDER": "MDY",
                "RETURN_AS_TIMEZONE_AWARE": False,
            },
        )
    except Exception:  # dateparser raises assorted errors on odd input
        return None
    if not isinstance(parsed, datetime):
        return None
    result = parsed.date()
    if result < base.date() - timedelta(days=1):
        return None
    return result


# --- dietary -------------------------------------------------------------------------------

_SERIOUS = Cue(
    r"(?:allerg\w*|anaphyla\w*|epi-?pens?|celiac|coeliac|medical\w*|medically|doctor'?s?|"
    r"diabet\w*|pregnan\w*|intoleran\w*|kosher|halal|certified|certification)\b"
)
_AVOIDED = r"(?:eat|have)\s+(?:any\s+)?(?:pork|beef|red\s+meat|meat|fish|seafood|dairy|eggs?|nuts)"
_PREFERENCE = Cue(
    r"(?:vegetarians?|vegans?|pescatarians?|plant[\s-]based|gluten[\s-]?free|gluten|"
    r"dairy[\s-]?free|dairy|no\s+pork|pork[\s-]free|no\s+red\s+meat|no\s+beef|no\s+meat|"
    r"no\s+msg|msg|no\s+butter|low[\s-](?:sodium|salt|sugar|carb)|sodium|sugary|keto|"
    r"shellfish|peanuts?|tree\s+nuts?|spicy|spice|nut[\s-]free|nuts?\s+free|sesame|fully\s+cooked|"
    r"nothing\s+rare|a\s+diet|her\s+diet|his\s+diet|my\s+diet|their\s+diet|our\s+diet|"
    r"diet\s+(?:restriction|need)s?|dietary\s+(?:restriction|need)s?|"
    rf"can'?t\s+{_AVOIDED}|cannot\s+{_AVOIDED}|doesn'?t\s+{_AVOIDED}|don'?t\s+{_AVOIDED}|"
    rf"won'?t\s+{_AVOIDED}|cross[\s-]contamination)\b"
)


class Diets:
    """The dietary needs of a message, found once and then looked up clause by clause."""

    def __init__(self, text: str) -> None:
        self._serious = Hits(_SERIOUS, text)
        self._preference = Hits(_PREFERENCE, text)
        self.starts = self._serious.starts + self._preference.starts
        self.serious = bool(self._serious.matches)
        self.any = self.serious or bool(self._preference.matches)

    def first(self, start: int, end: int) -> int | None:
        """Where the first dietary need in [start, end) is named, or None."""
        found = [h.first(start, end) for h in (self._serious, self._preference)]
        starts = [m.start() for m in found if m is not None]
        return min(starts) if starts else None


# --- street addresses ------------------------------------------------------------------------

_STREET_SUFFIX = (
    r"(?:st|street|ave|avenue|rd|road|dr|drive|ln|lane|blvd|boulevard|ct|court|way|pl|place|"
    r"cir|circle|pkwy|parkway|hwy|highway|ter|terrace|trl|trail|loop|sq|square)"
)
#: A house number, up to four words of street name ("W. 5th", "Harbor", "Old Oak"), a street
#: suffix, and the city after it when one word or two follow a comma or a space.
_STREET = re.compile(
    r"(?<![\w$:/.])(?P<n>\d{1,6})\s+(?P<name>(?:[a-z0-9][a-z0-9.'-]*\s+){0,3}?(?:[a-z][a-z0-9.'-]*|\d+(?:st|nd|rd|th)))"
    r"\s+(?P<suffix>" + _STREET_SUFFIX + r")\b\.?(?P<city>,?\s+[a-z][a-z]+(?:\s+[a-z][a-z]+)?)?",
    re.IGNORECASE,
)
_CITY_STOP = frozenset({"and", "but", "so", "the", "for", "if", "pls", "please", "thanks", "thx"})


def street_address(text: str) -> str | None:
    """The first street address a message gives ("45 Pine St Folsom", "85 Harbor Way"), as
    written, or None: a house number, a street name and its kind (St, Ave, Way...)."""
    m = _STREET.search(text)
    if m is None:
        return None
    end = m.end("suffix") + (1 if text[m.end("suffix") : m.end("suffix") + 1] == "." else 0)
    city = m.group("city")
    if city:
        words = city.strip(" ,").split()
        kept = []
        for word in words:
            if word.lower() in _CITY_STOP:
                break
            kept.append(word)
        if kept:
            end = m.start("city") + city.index(kept[-1]) + len(kept[-1])
    return text[m.start() : end]


_STREET_WORD = re.compile(r"[a-z0-9]+")


def same_street(said: str, booked: str) -> bool:
    """Whether an address said is the one booked: the same house number and the last word of
    the street name ("5th" of "W. 5th"), whatever the street kind or city is written as."""
    a, b = _STREET.search(said), _STREET.search(booked)
    if a is None or b is None:
        return False
    name_a = _STREET_WORD.findall(a.group("name").lower())
    name_b = _STREET_WORD.findall(b.group("name").lower())
    return a.group("n") == b.group("n") and name_a[-1:] == name_b[-1:]
