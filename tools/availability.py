"""Whether the business can take a party at a date and time: the bookings already taken and
the chef capacity rule (parties at once, how long each holds a chef, the start times offered)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.charter import Rules
from knowledge.models import Booking

#: How many days either side of a full date the nearest open slots are looked for.
SEARCH_DAYS = 7
OFFERED = 3


@dataclass(frozen=True)
class Availability:
    """The answer for the asked date (and time, if one was given)."""

    day: date
    asked: datetime | None  # the start asked for, local; None when only a date was given
    open: bool  # the asked start (or, for a date alone, some start that day) is free
    #: Open starts: that day's when only a date was asked, else the nearest to the asked one.
    choices: tuple[datetime, ...]


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _free(start: datetime, taken: Sequence[datetime], rules: Rules) -> bool:
    hold = timedelta(hours=float(rules.capacity.party_slot_hours))
    overlapping = sum(1 for t in taken if abs(t - start) < hold)
    return overlapping < rules.capacity.chefs


def _starts(day: date, zone: ZoneInfo, rules: Rules) -> list[datetime]:
    return [datetime.combine(day, _clock(s), zone) for s in rules.capacity.start_times]


def _open_around(
    day: date, taken: Sequence[datetime], now: datetime, rules: Rules
) -> list[datetime]:
    """The open starts still to come within SEARCH_DAYS of the day, in order."""
    days = (day + timedelta(days=offset) for offset in range(-SEARCH_DAYS, SEARCH_DAYS + 1))
    return [
        start
        for d in days
        for start in _starts(d, rules.timezone, rules)
        if start > now and _free(start, taken, rules)
    ]


def check(
    day: date, at: time | None, taken: Sequence[datetime], now: datetime, rules: Rules
) -> Availability:
    """Open or full, and the open starts to offer; `taken` are the starts of the bookings
    around that day (any time zone)."""
    open_starts = _open_around(day, taken, now, rules)
    if at is not None:
        asked = datetime.combine(day, at, rules.timezone)
        if asked > now and _free(asked, taken, rules):
            return Availability(day, asked, True, (asked,))
        others = [s for s in open_starts if s != asked]
        nearest = sorted(others, key=lambda s: (abs(s - asked), s))[:OFFERED]
        return Availability(day, asked, False, tuple(sorted(nearest)))
    that_day = [s for s in open_starts if s.date() == day]
    if that_day:
        return Availability(day, None, True, tuple(that_day))
    nearest = sorted(open_starts, key=lambda s: (abs(s.date() - day), s))[:OFFERED]
    return Availability(day, None, False, tuple(sorted(nearest)))


async def taken_around(
    session: AsyncSession, day: date, rules: Rules, *, excluding: int | None = None
) -> list[datetime]:
    """The start times of the bookings that could hold a chef within the search window (all
    but the booking `excluding`, which is the one being moved)."""
    zone = rules.timezone
    start = datetime.combine(day - timedelta(days=SEARCH_DAYS + 1), time(0), zone)
    end = datetime.combine(day + timedelta(days=SEARCH_DAYS + 2), time(0), zone)
    query = select(Booking.event_at).where(
        Booking.status != "cancelled", Booking.event_at >= start, Booking.event_at < end
    )
    if excluding is not None:
        query = query.where(Booking.id != excluding)
    return list((await session.scalars(query)).all())
