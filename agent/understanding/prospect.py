"""What a prospect tells us about the party they want: date, start time, guests, place, name
and contact, read from one message. The lead flow merges what each message adds, so a detail
given once is never asked for again. Cue words are data (`data/<language>/prospect.yaml`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time
from functools import cache
from pathlib import Path

import yaml

from agent.understanding.entities import (
    GROUP,
    NUMBER,
    DateSpans,
    group_of,
    local_now,
    parse_date,
    parse_number,
)
from tools.phones import find_contact, without_contact

DATA = Path(__file__).resolve().parent / "data"
_ZIP = re.compile(r"(?<![$\d.,-])\b(\d{5})(?:-\d{4})?\b(?![.,]?\d)")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
#: A distance or a time after a number: "we're 40 mi out" or "25 min away" counts no guests.
_UNITS = r"(?:mi|miles?|km|kms|kilomet\w*|mins?|minutes?|hrs?|hours?)\b"
#: "20 people", "15 hungry adults", "2 more kids", "3 of them are kids"; "a party of 12",
#: "table for 8".
_COUNT = re.compile(
    rf"(?P<n>{NUMBER})\s+(?:of\s+(?:them|those|us|which)\s+(?:are|r|re|will\s+be)\s+)?"
    rf"(?P<more>(?:more|extra|additional|other)\s+)?(?:[a-z]+\s+)?(?P<g>{GROUP})"
    rf"|(?:(?:party|group|crowd|headcount|count)\s+(?:of|is|will\s+be|:)"
    rf"|(?:book|booking|reserve|reservation|quote|estimate|price|cost|hibachi|dinner|party)\s+for"
    rf"|we\s+are|we.re|we\s+r|we.ll\s+be|there.ll\s+be|there\s+will\s+be|expecting)"
    rf"\s+(?:about\s+|around\s+|like\s+|maybe\s+)?(?P<pn>{NUMBER})"
    rf"(?!\s*(?:pm|am|:|/|\$|dollars|{_UNITS}|st\b|nd\b|rd\b|th\b|o.clock))"
    rf"(?!\s+(?:more\s+|extra\s+)?(?:[a-z]+\s+)?{GROUP})"  # "quote for 15 adults": a group's count
)


@dataclass(frozen=True)
class Cues:
    inquiry: tuple[re.Pattern[str], ...]
    own_booking: tuple[re.Pattern[str], ...]
    changes: tuple[re.Pattern[str], ...]
    declines: tuple[re.Pattern[str], ...]
    place_before: re.Pattern[str]
    time: re.Pattern[str]
    name_cues: tuple[re.Pattern[str], ...]
    lower_name_cues: tuple[re.Pattern[str], ...]  # the same, names in any case
    not_names: frozenset[str]


@cache
def cues(language: str = "en") -> Cues:
    data = yaml.safe_load((DATA / language / "prospect.yaml").read_text(encoding="utf-8"))
    return Cues(
        inquiry=tuple(re.compile(p) for p in data["inquiry"]),
        own_booking=tuple(re.compile(p) for p in data["own_booking"]),
        changes=tuple(re.compile(p) for p in data["changes"]),
        declines=tuple(re.compile(p) for p in data["declines"]),
        place_before=re.compile(data["place_before"]),
        time=re.compile(data["time"]),
        name_cues=tuple(re.compile(p) for p in data["name_cues"]),
        lower_name_cues=tuple(
            re.compile(p.replace("[A-Z][a-z", "[A-Za-z][a-z"), re.IGNORECASE)
            for p in data["name_cues"]
        ),
        not_names=frozenset(data["not_names"]),
    )


@dataclass(frozen=True)
class Details:
    """Everything a message says about the party wanted; None (or empty) when not said."""

    name: str | None = None  # said outright ("my name is Sarah Lee", "this is Mike")
    #: A message that is only a name, when the last reply asked for one: fills an empty name.
    bare_name: str | None = None
    email: str | None = None
    phone: str | None = None  # E.164
    event_date: date | None = None
    event_time: time | None = None
    adults: int | None = None
    kids: int | None = None
    toddlers: int | None = None
    guests: int | None = None  # a total with no group named ("20 people")
    #: Signed changes to the counts already known ("2 more kids"), by group.
    more: tuple[tuple[str, int], ...] = ()
    zip_code: str | None = None
    place: str | None = None  # a city as written, when no ZIP code was given
    asks: bool = False  # the message asks about a new party (a quote, a date, booking)
    about_own_booking: bool = False  # "my party", "our booking": a customer, not a prospect
    changes: bool = False  # "now", "instead", "move it": changing something already booked
    declines: bool = False  # "nvm, we found someone else": no party after all

    def given(self) -> list[str]:
        """The details the message states."""
        skip = {"asks", "about_own_booking", "changes", "declines"}
        return [f.name for f in fields(self) if f.name not in skip and getattr(self, f.name)]


#: A lone small number ("prob 5"): the start time, when that is what we asked for.
_BARE_HOUR = re.compile(rf"^\D*?\b(?P<bh>1[0-2]|[1-9])\b(?!\s+(?:more\s+)?{GROUP})\D*$")


def _time(normalised: str, language: str, bare: bool = False) -> time | None:
    m = cues(language).time.search(normalised)
    if m is None and bare:
        m = _BARE_HOUR.match(normalised)
    if m is None:
        return None
    if m.groupdict().get("noon"):
        return time(12, 0)
    if m.groupdict().get("hh"):
        return time(int(m.group("hh")), int(m.group("mm")))
    if m.groupdict().get("h"):
        hour, minute = int(m.group("h")), int(m.group("m") or 0)
        pm = m.group("ap").startswith("p")
    else:  # a bare hour: "at 6" is an evening party, "at 11" a late morning
        said = m.groupdict()
        hour = int(said.get("ish") or said.get("ch") or said["bh"])
        minute = int(said.get("cm") or said.get("bm") or 0)
        pm = hour < 10 or hour == 12
    if pm and hour != 12:
        hour += 12
    if not pm and hour == 12:
        hour = 0
    return time(hour, minute)


def _place(normalised: str, cities: frozenset[str], whole: bool, language: str) -> str | None:
    """A city of the business's state named after a place word ("a party in Folsom"), or the
    whole message when it is only a city (the answer to "which city?")."""
    words = normalised.strip(" .!?").split()
    if whole and 0 < len(words) <= 4:
        name = " ".join(w.strip(",.") for w in words if w.strip(",.") not in ("ca", "california"))
        if name in cities:
            return name
    for m in cues(language).place_before.finditer(normalised):
        after = normalised[m.end() :].split()
        for size in (3, 2, 1):
            name = " ".join(w.strip(",.!?") for w in after[:size])
            if len(after) >= size and name in cities:
                return name
    return None


def _name(raw: str, language: str, asked: bool = False) -> str | None:
    c = cues(language)
    patterns = c.lower_name_cues if asked else c.name_cues
    for pattern in patterns:
        m = pattern.search(raw)
        if m is not None:
            words = m.group("name").split()
            if words[0].lower() in c.not_names:
                continue
            kept = [w.capitalize() for w in words if w.lower() not in c.not_names]
            return " ".join(kept) if kept else None
    return None


def _bare_name(raw: str, language: str) -> str | None:
    """The answer to "what name should I put it under?": one to three words and nothing else,
    not the words of a reply ("perfect", "sounds good": `not_names`)."""
    c = cues(language)
    words = _WORD.findall(raw)
    bare = re.sub(r"[\s.,!'-]", "", raw)
    lowered = [w.lower() for w in words]
    if not 0 < len(words) <= 3 or not bare.isalpha() or set(lowered) & c.not_names:
        return None
    return " ".join(w.capitalize() if w.islower() else w for w in words)


def _counts(normalised: str) -> dict[str, object]:
    """Guest counts by group ("15 adults and 4 kids"), a total with no group ("a party of 12"),
    and additions to what was said before ("2 more kids")."""
    found: dict[str, object] = {}
    more: list[tuple[str, int]] = []
    for m in _COUNT.finditer(normalised):
        value = parse_number(m.group("n") or m.group("pn"))
        if value is None or not 0 < value <= 10_000:
            continue
        group = group_of(m.group("g")) if m.group("g") else "guests"
        if m.group("more"):
            more.append((group, value))
        else:
            found.setdefault(group, value)
    if more:
        found["more"] = tuple(more)
    return found


def read(
    raw: str,
    normalised: str,
    now: datetime,
    timezone: str,
    cities: frozenset[str],
    *,
    answering: Iterable[str] = (),
    language: str = "en",
) -> Details:
    """The details one message gives. `answering` names the details the last reply asked for:
    a bare "Folsom" or "Sarah Lee" then fills them."""
    c = cues(language)
    asked = set(answering)
    contact = find_contact(raw)
    rest = without_contact(raw)
    zips = _ZIP.findall(rest)
    day = None
    spans = DateSpans(normalised)
    span = spans.first(0, len(normalised))
    if span is not None:
        day = parse_date(span[1], local_now(now, timezone))
    counts = _counts(_ZIP.sub(" ", normalised))
    details = Details(
        email=contact.email,
        phone=contact.phone,
        event_date=day,
        # a lone number is the start time only when the guests are not asked for too
        event_time=_time(normalised, language, "event_time" in asked and "guests" not in asked),
        zip_code=zips[0] if zips else None,
        place=None if zips else _place(normalised, cities, "place" in asked, language),
        asks=any(p.search(normalised) for p in c.inquiry),
        about_own_booking=any(p.search(normalised) for p in c.own_booking),
        changes=any(p.search(normalised) for p in c.changes),
        declines=any(p.search(normalised) for p in c.declines),
    )
    details = replace(details, **counts)  # type: ignore[arg-type]
    named = _name(rest, language, asked="name" in asked)
    # "Jen Park, jen@example.com" answers two questions: the name is what the contact leaves.
    others = [g for g in details.given() if g not in ("email", "phone")]
    alone = "name" in asked and named is None and not others
    bare = _bare_name(rest.strip(" ,;-"), language) if alone else None
    return replace(details, name=named, bare_name=bare)
