"""A prospect's conversation as policy: the itemised quote from live prices, the answer about
availability, what is still needed to book, and the prefilled booking link once it is all in.
Pure functions: the lead as known so far, the place and the calendar in; a decision out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from knowledge.charter import Rules
from knowledge.money import format_money, to_money
from knowledge.schemas import AddonView
from tools.availability import Availability
from tools.policy import BookingView, Decision, event_facts, join_names, quote

#: What the business needs to book a party, in the order the agent asks for it (the reply
#: template words each one).
NEEDED = ("event_date", "event_time", "guests", "place", "name", "contact")


@dataclass(frozen=True)
class LeadView:
    """What is known of the prospect's party, merged over the conversation."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    event_date: date | None = None
    event_time: time | None = None
    adults: int | None = None
    kids: int | None = None
    toddlers: int | None = None
    zip_code: str | None = None
    place: str | None = None  # where the party is, as we found it ("Folsom, CA 95630")
    travel_miles: Decimal | None = None
    upgrades: tuple[str, ...] = field(default=())

    @property
    def guests(self) -> int:
        return (self.adults or 0) + (self.kids or 0) + (self.toddlers or 0)

    def missing(self) -> list[str]:
        known = {
            "event_date": self.event_date is not None,
            "event_time": self.event_time is not None,
            "guests": self.guests > 0,
            "place": self.zip_code is not None or self.travel_miles is not None,
            "name": bool(self.name),
            "contact": bool(self.phone or self.email),
        }
        return [k for k in NEEDED if not known[k]]


def _clock(moment: datetime | time) -> str:
    return moment.strftime("%-I:%M %p").replace(":00 ", " ")


def _day(day: date) -> str:
    return day.strftime("%A, %B %-d")


def quote_lines(
    lead: LeadView, rules: Rules, addons: Sequence[AddonView]
) -> tuple[list[str], Decimal]:
    """The quote, one line per item (the party minimum among them when it applies), and its
    total."""
    p = rules.pricing
    adults, kids, toddlers = lead.adults or 0, lead.kids or 0, lead.toddlers or 0
    q = quote(adults, kids, toddlers, lead.upgrades, rules, addons, Decimal("0"), lead.travel_miles)
    lines = []
    if adults:
        amount = format_money(adults * p.adult_price)
        plural = "s" if adults != 1 else ""
        lines.append(f"{adults} adult{plural} × {format_money(p.adult_price)} = {amount}")
    if kids:
        each = format_money(p.child_price)
        lines.append(
            f"{kids} kid{'s' if kids != 1 else ''} × {each} = {format_money(kids * p.child_price)}"
        )
    if toddlers:
        price = "free" if not p.toddler_price else format_money(toddlers * p.toddler_price)
        lines.append(f"{toddlers} age {p.toddler_max_age} and under: {price}")
    if q.minimum_applied:
        lines.append(f"party minimum {format_money(p.party_minimum)} applies")
    by_slug = {a.slug: a for a in addons}
    eaters = adults + kids
    for slug in lead.upgrades:
        addon = by_slug.get(slug)
        if addon is None:
            continue
        if addon.unit == "per_person":
            total = format_money(addon.price * eaters)
            lines.append(f"{addon.name} {eaters} × {format_money(addon.price)} = {total}")
        else:
            lines.append(f"{addon.name} {format_money(addon.price)}")
    free = rules.travel.travel_free_miles
    if lead.travel_miles is not None:
        miles = lead.travel_miles
        where = f"{lead.place} ({miles:.0f} mi)"
        if q.travel:
            over = miles - free
            lines.append(
                f"travel to {where}: {over:.0f} mi past the free {free} × "
                f"{format_money(rules.travel.travel_fee_per_mile)} = {format_money(q.travel)}"
            )
        else:
            lines.append(f"travel to {where}: free")
    return lines, to_money(q.total)


def booking_link(lead: LeadView, rules: Rules) -> str:
    """The booking page with what the prospect told us filled in."""
    params: dict[str, str] = {}
    if lead.name:
        params["name"] = lead.name
    if lead.event_date:
        params["date"] = lead.event_date.isoformat()
    if lead.event_time:
        params["time"] = lead.event_time.strftime("%H:%M")
    for key in ("adults", "kids", "toddlers"):
        value = getattr(lead, key)
        if value:
            params[key] = str(value)
    if lead.zip_code:
        params["zip"] = lead.zip_code
    elif lead.place:
        params["city"] = lead.place
    if lead.phone:
        params["phone"] = lead.phone
    if lead.email:
        params["email"] = lead.email
    base = str(rules.business.booking_url)
    return f"{base}{'&' if '?' in base else '?'}{urlencode(params)}" if params else base


def availability_facts(found: Availability | None) -> dict[str, Any]:
    if found is None:
        return {"availability": ""}
    choices = [
        _clock(c) if c.date() == found.day else f"{_day(c.date())} at {_clock(c)}"
        for c in found.choices
    ]
    if found.asked is not None:
        state = "open" if found.open else "full"
        asked = f"{_day(found.day)} at {_clock(found.asked)}"
    else:
        state = "day_open" if found.open else "day_full"
        asked = _day(found.day)
    return {"availability": state, "asked_slot": asked, "choices": join_names(choices, "or")}


def decide_lead(
    lead: LeadView,
    *,
    rules: Rules,
    addons: Sequence[AddonView],
    available: Availability | None,
    show_quote: bool,
    show_availability: bool,
    unknown_place: str | None = None,
    new_lead: bool = False,
    named_now: bool = False,
) -> Decision:
    """The reply to a prospect: the quote when the party's size (or place or upgrades) is new,
    whether the date is open, then either what is still needed or the booking link."""
    missing = lead.missing()
    quoting = show_quote and lead.guests > 0
    facts: dict[str, Any] = {
        "guests": lead.guests,
        "show_quote": quoting,
        "new_lead": new_lead and not quoting and not show_availability,
        "thank_name": (lead.name or "").split(" ")[0] if named_now else "",
        "travel_free_miles": rules.travel.travel_free_miles,
        "travel_fee_per_mile": format_money(rules.travel.travel_fee_per_mile),
        "unknown_place": unknown_place or "",
        "deposit_amount": format_money(rules.deposit.deposit_amount),
        **availability_facts(available if show_availability else None),
    }
    #: What the lead stores of this reply: the quote's total when a quote goes out.
    stored: dict[str, Any] = {}
    if lead.guests > 0:
        lines, total = quote_lines(lead, rules, addons)
        facts |= {
            "quote_lines": "; ".join(lines),
            "quote_total": format_money(total),
            "travel_known": lead.travel_miles is not None,
        }
        if quoting:
            stored["quote_total"] = total
    full = available is not None and not available.open
    if full:
        facts |= availability_facts(available)  # until another time is chosen, say it again
    if missing or full:
        asked = [m for m in missing if not (full and m in ("event_date", "event_time"))]
        facts |= {"asked": asked}
        return Decision(
            "quote", "handled", "lead_quote", "lead:collect", facts, pending="lead", lead=stored
        )
    facts |= {"booking_link": booking_link(lead, rules), "asked": []}
    return Decision("quote", "handled", "lead_quote", "lead:link", facts, lead=stored)


def decide_follow_up(lead: LeadView, quote_total: Decimal | None, rules: Rules) -> Decision:
    """The one message the day after a quote to a prospect who has not booked."""
    facts = {
        "event_date": _day(lead.event_date) if lead.event_date else "",
        "guests": lead.guests,
        "quote_total": format_money(quote_total) if quote_total is not None else "",
        "booking_link": booking_link(lead, rules),
        "deposit_amount": format_money(rules.deposit.deposit_amount),
    }
    return Decision(
        "reminder", "handled", "touch_lead_follow_up", "touchpoint:lead_follow_up", facts
    )


def decide_another_party(
    booking: BookingView, available: Availability | None, rules: Rules
) -> Decision:
    """A customer with a booking asks about another party: whether the date they name is open
    (`available`, None when they named none), and where to book it. The party booked stays
    as it is."""
    facts = (
        event_facts(booking, rules)
        | availability_facts(available)
        | {
            "booking_url": str(rules.business.booking_url),
            "deposit_amount": format_money(rules.deposit.deposit_amount),
        }
    )
    return Decision("other", "handled", "another_party", "another_party:availability", facts)
