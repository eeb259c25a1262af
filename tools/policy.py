"""The business's policy as pure functions: booking + clock + rule values in, a decision out.

Nothing here reads the customer's words: the understanding layer turns them into an intent
and entities, and only those (plus the booking and the clock) decide an outcome. Every amount
or date a reply may quote is in the decision's facts.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from knowledge.charter import Rules, display_phone, price_label
from knowledge.money import format_money, to_money
from knowledge.schemas import AddonView
from tools.messaging.keywords import HELP_WORDS, OPT_IN_WORDS

Outcome = Literal["handled", "escalated", "silent"]
Priority = Literal["LOW", "MEDIUM", "HIGH", "URGENT"]
Notice = Literal["team_sms", "management_email"]

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class BookingView:
    """The parts of a booking that policy reads."""

    reference: str
    event_at: datetime
    created_at: datetime
    adults: int
    kids: int
    toddlers: int
    proteins: tuple[str, ...] = ()
    upgrades: tuple[str, ...] = ()
    status: str = "confirmed"
    reschedule_count: int = 0
    deposit_amount: Decimal = Decimal("0")
    #: Whether the deposit reached us: a balance counts it off either way (it is due before the
    #: day), but a customer is told it was received only when it was.
    deposit_paid: bool = True
    travel_miles: Decimal | None = None

    @property
    def guests(self) -> int:
        return self.adults + self.kids + self.toddlers

    @property
    def deposit_held(self) -> bool:
        """Whether we hold a deposit that a refund would give back."""
        return self.deposit_paid and self.deposit_amount > 0


@dataclass(frozen=True)
class EscalationPlan:
    priority: Priority
    reason: str
    action_required: str
    deadline: datetime
    notify: tuple[Notice, ...] = ()


@dataclass(frozen=True)
class Decision:
    """What to do about one request: outcome, the reply to compose, and what to change."""

    intent: str
    outcome: Outcome
    kind: str  # the reply template to use
    rule: str  # which policy row decided, for the decision trail
    facts: Mapping[str, Any] = field(default_factory=dict)
    escalation: EscalationPlan | None = None
    updates: Mapping[str, Any] = field(default_factory=dict)  # booking fields to set
    pending: str | None = None  # a question the reply asks, answered next turn
    #: What a prospect's turn learned about their party (`tools.leads.FIELDS`), to store.
    lead: Mapping[str, Any] = field(default_factory=dict)
    #: The customer took back what they asked ("nvm keep it"): the conversation's open case
    #: hears of it, and a person decides whether anything is left to do.
    withdraws: bool = False


@dataclass(frozen=True)
class Quote:
    adults: int
    kids: int
    toddlers: int
    food: Decimal
    upgrades: Decimal
    minimum_applied: bool
    travel: Decimal
    total: Decimal
    deposit: Decimal
    balance: Decimal


# ---- shared helpers ---------------------------------------------------------------------


def until_event(booking: BookingView, now: datetime) -> timedelta:
    return booking.event_at - now


def escalation_deadline(
    priority: Priority, now: datetime, event_at: datetime | None, rules: Rules
) -> datetime:
    """Now plus the priority's response time, but never later than the event starts."""
    deadline = now + timedelta(hours=rules.escalations.deadline_hours[priority])
    if event_at is not None and now < event_at < deadline:
        return event_at
    return deadline


def escalate(
    priority: Priority,
    reason: str,
    action: str,
    now: datetime,
    event_at: datetime | None,
    rules: Rules,
    *,
    email: bool = False,
) -> EscalationPlan:
    notify: list[Notice] = []
    if priority == "URGENT":
        notify.append("team_sms")
    if email or priority in ("URGENT", "HIGH"):
        notify.append("management_email")
    return EscalationPlan(
        priority=priority,
        reason=reason,
        action_required=action,
        deadline=escalation_deadline(priority, now, event_at, rules),
        notify=tuple(notify),
    )


def event_facts(booking: BookingView, rules: Rules) -> dict[str, Any]:
    local = booking.event_at.astimezone(rules.timezone)
    return {
        "reference": booking.reference,
        "event_date": local.strftime("%A, %B %-d"),
        "event_time": local.strftime("%-I:%M %p"),
        "phone": display_phone(rules.business.phone),
        "business_name": rules.business.name,
    }


def join_names(items: Sequence[str], last: str = "and") -> str:
    """ "chicken, steak and filet mignon": slugs as words, joined as a sentence says them
    ("cash, Zelle or card" with `last="or"`)."""
    items = [i.replace("_", " ") for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def booking_facts(
    booking: BookingView, address: str, rules: Rules, addons: Sequence[AddonView]
) -> dict[str, Any]:
    """Everything a message about the booking may say of it, from the booking and live rules."""
    q = booking_quote(booking, rules, addons)
    return event_facts(booking, rules) | {
        "address": address,
        "guests": booking.guests,
        "adults": booking.adults,
        "kids": booking.kids,
        "toddlers": booking.toddlers,
        "deposit_amount": format_money(booking.deposit_amount),
        "deposit_paid": booking.deposit_paid,
        "proteins": join_names(list(booking.proteins)) or "not chosen yet",
        "upgrades": join_names(list(booking.upgrades)) or "none",
        "balance_due": format_money(q.balance),
        "payment_methods": join_names(rules.event.payment_methods),
        "duration_minutes": rules.event.duration_minutes,
        "extended_duration_guests": rules.event.extended_duration_guests,
        "arrival_lead_minutes": rules.event.arrival_lead_minutes.replace("-", " to "),
        "included_items": "; ".join(rules.menu.included_items),
        "customer_provides": "; ".join(rules.menu.customer_provides),
        "agreement_url": str(rules.business.agreement_url),
        "menu_deadline_days": rules.menu.menu_deadline_days,
        "minor_headcount_delta": rules.changes.minor_headcount_delta,
        "phone": display_phone(rules.business.phone),
    }


def free_reschedule(booking: BookingView, now: datetime, rules: Rules) -> bool:
    """Whether moving the date now is free: the booking's first move, asked within the live
    `free_reschedule_hours` after it was made."""
    window = timedelta(hours=rules.rescheduling.free_reschedule_hours)
    return booking.reschedule_count == 0 and now - booking.created_at <= window


def reschedule_fee(booking: BookingView, now: datetime, rules: Rules) -> Decimal:
    """What moving the date costs now: nothing when it is free, else the live fee."""
    if free_reschedule(booking, now, rules):
        return to_money(0)
    return to_money(rules.rescheduling.reschedule_fee)


def _reschedule_terms(booking: BookingView, now: datetime, rules: Rules) -> dict[str, Any]:
    free = free_reschedule(booking, now, rules)
    return {
        "free_reschedule": free,
        "free_reschedule_hours": rules.rescheduling.free_reschedule_hours,
        "reschedule_fee": format_money(rules.rescheduling.reschedule_fee),
    }


def quote(
    adults: int,
    kids: int,
    toddlers: int,
    upgrades: Sequence[str],
    rules: Rules,
    addons: Sequence[AddonView],
    deposit: Decimal,
    travel_miles: Decimal | None = None,
) -> Quote:
    """The estimate for a party: per-guest prices, upgrades, party minimum, travel, deposit."""
    p = rules.pricing
    food = adults * p.adult_price + kids * p.child_price + toddlers * p.toddler_price
    eaters = adults + kids
    by_slug = {a.slug: a for a in addons}
    extra = Decimal("0")
    for slug in upgrades:
        addon = by_slug.get(slug)
        if addon is not None:
            extra += addon.price * (eaters if addon.unit == "per_person" else 1)
    minimum_applied = food < p.party_minimum
    food = max(food, p.party_minimum)
    travel = Decimal("0")
    if travel_miles is not None and travel_miles > rules.travel.travel_free_miles:
        travel = (travel_miles - rules.travel.travel_free_miles) * rules.travel.travel_fee_per_mile
    total = to_money(food + extra + travel)
    return Quote(
        adults=adults,
        kids=kids,
        toddlers=toddlers,
        food=to_money(food),
        upgrades=to_money(extra),
        minimum_applied=minimum_applied,
        travel=to_money(travel),
        total=total,
        deposit=to_money(deposit),
        balance=to_money(max(total - deposit, Decimal("0"))),
    )


def booking_quote(
    booking: BookingView,
    rules: Rules,
    addons: Sequence[AddonView],
    *,
    counts: tuple[int, int, int] | None = None,
    upgrades: Sequence[str] | None = None,
) -> Quote:
    """The booking's estimate, optionally with new guest counts or upgrades."""
    adults, kids, toddlers = counts or (booking.adults, booking.kids, booking.toddlers)
    return quote(
        adults,
        kids,
        toddlers,
        booking.upgrades if upgrades is None else upgrades,
        rules,
        addons,
        booking.deposit_amount,
        booking.travel_miles,
    )


def quote_facts(q: Quote) -> dict[str, Any]:
    """What a reply says of a quote, as it says it: `estimate_total` ("$1,245"),
    `balance_due`, `minimum_applied`."""
    return {
        "estimate_total": format_money(q.total),
        "balance_due": format_money(q.balance),
        "minimum_applied": q.minimum_applied,
    }


# ---- headcount --------------------------------------------------------------------------


def new_counts(
    booking: BookingView, total: int | None, delta: int | None, group: str
) -> tuple[int, int, int] | None:
    """Adults, kids and toddlers after a change; None if the change makes no sense."""
    adults, kids, toddlers = booking.adults, booking.kids, booking.toddlers
    if total is not None:
        if group == "kids":
            kids = total
        elif group == "toddlers":
            toddlers = total
        elif group == "adults":
            adults = total
        else:
            adults = total - kids - toddlers
            if adults < 0:
                adults, kids, toddlers = total, 0, 0
    elif delta is not None:
        if group == "kids":
            kids += delta
        elif group == "toddlers":
            toddlers += delta
        else:
            adults += delta
    else:
        return None
    if min(adults, kids, toddlers) < 0 or adults + kids + toddlers < 1:
        return None
    return adults, kids, toddlers


def decide_headcount(
    booking: BookingView,
    counts: tuple[int, int, int] | None,
    now: datetime,
    rules: Rules,
    addons: Sequence[AddonView],
) -> Decision:
    facts = event_facts(booking, rules)
    if counts is None:
        return Decision(
            "headcount_change", "handled", "headcount_unclear", "headcount:unclear", facts
        )
    adults, kids, toddlers = counts
    new_total = adults + kids + toddlers
    change = abs(new_total - booking.guests)
    facts |= {
        "old_guests": booking.guests,
        "new_guests": new_total,
        "adults": adults,
        "kids": kids,
        "toddlers": toddlers,
    }
    updates = {"adults": adults, "kids": kids, "toddlers": toddlers}
    t = until_event(booking, now)
    c = rules.changes
    free_change = t >= c.headcount_free_change_days * DAY
    allowed = max(c.minor_headcount_delta, booking.guests * c.major_headcount_pct // 100)
    urgent = t < c.change_window_hours * HOUR
    # The seed's final-day stage: minor adjustments are still the agent's, even inside the
    # last 24 hours; only major ones (more than the minor threshold) go to a manager.
    if free_change or change <= allowed:
        q = booking_quote(booking, rules, addons, counts=(adults, kids, toddlers))
        return Decision(
            "headcount_change",
            "handled",
            "headcount_updated",
            "headcount:T>=3d" if free_change else "headcount:minor",
            facts | quote_facts(q),
            updates=updates,
        )
    priority: Priority = "URGENT" if urgent else "HIGH"
    plan = escalate(
        priority,
        f"Guest count change from {booking.guests} to {new_total} "
        f"{'within 24 hours' if urgent else 'inside the final days'}",
        "Call the customer to approve the new guest count and adjust the bill",
        now,
        booking.event_at,
        rules,
    )
    return Decision(
        "headcount_change",
        "escalated",
        "manager_will_call",
        f"headcount:major:{priority}",
        facts,
        plan,
    )


def decide_what_if(
    intent: str,
    booking: BookingView,
    counts: tuple[int, int, int] | None,
    upgrades: Sequence[str],
    rules: Rules,
    addons: Sequence[AddonView],
    proteins: Sequence[str] = (),
    removed_proteins: Sequence[str] = (),
) -> Decision:
    """A change only asked about: the estimate it would give, and nothing changed. A menu
    change is named in the reply ("With shrimp instead of steak your estimate would stay at
    $720"), `proteins` being those it brings in and `removed_proteins` those it takes off."""
    facts = event_facts(booking, rules)
    added = [s for s in upgrades if s not in booking.upgrades]
    q = booking_quote(
        booking,
        rules,
        addons,
        counts=counts,
        upgrades=[*booking.upgrades, *added] if added else None,
    )
    now_q = booking_quote(booking, rules, addons)
    adults, kids, toddlers = counts or (booking.adults, booking.kids, booking.toddlers)
    by_slug = {a.slug: a for a in addons}
    facts |= quote_facts(q) | {
        "adults": adults,
        "kids": kids,
        "toddlers": toddlers,
        "new_guests": adults + kids + toddlers,
        "guests_changed": counts is not None,
        # In a sentence: "With salmon your estimate would be ...".
        "upgrade_names": ", ".join(by_slug[s].name.lower() for s in added if s in by_slug),
        "menu_change": _names(proteins, by_slug)
        + (f" instead of {_names(removed_proteins, by_slug)}" if removed_proteins else ""),
        "same_total": q.total == now_q.total,
        "current_total": format_money(now_q.total),
        "difference": format_money(q.total - now_q.total),
    }
    return Decision(intent, "handled", "change_quote", f"{intent}:what_if", facts)


# ---- menu -------------------------------------------------------------------------------


def decide_menu(
    intent: str,
    booking: BookingView,
    proteins: Sequence[str],
    upgrades: Sequence[str],
    unknown: Sequence[str],
    now: datetime,
    rules: Rules,
    addons: Sequence[AddonView],
    removed_upgrades: Sequence[str] = (),
    removed_proteins: Sequence[str] = (),
) -> Decision:
    """Store protein choices and upgrades before the event, quoting what the upgrades cost.
    `proteins` is the menu wanted; `removed_proteins` what the customer took off to get it."""
    facts = event_facts(booking, rules) | {
        "included_proteins": ", ".join(rules.menu.included_proteins),
        "proteins_per_person": rules.menu.proteins_per_person,
    }
    if until_event(booking, now) <= timedelta(0):
        return Decision(intent, "handled", "event_passed", "menu:after_event", facts)
    dropped = [s for s in removed_upgrades if s in booking.upgrades]
    if unknown or not (proteins or upgrades or dropped):
        facts |= {"unknown": ", ".join(unknown)}
        return Decision(intent, "handled", "menu_ask", "menu:unclear", facts, pending="menu")
    final_day = until_event(booking, now) < rules.changes.change_window_hours * HOUR
    # Inside the last 24 hours a protein swap is a minor adjustment (the seed's final-day
    # stage); new upgrades change what the chef brings, so a manager confirms them.
    if final_day and (upgrades or not proteins):
        plan = escalate(
            "URGENT",
            "Menu change within 24 hours",
            "Call the customer and the chef: confirm what can still change for this event",
            now,
            booking.event_at,
            rules,
        )
        return Decision(intent, "escalated", "manager_will_call", "menu:URGENT", facts, plan)
    by_slug = {a.slug: a for a in addons}
    chosen = list(dict.fromkeys(proteins))
    needed = rules.menu.proteins_per_person
    booked = list(booking.proteins)
    plate = proteins_allowed({*upgrades, *booking.upgrades}, rules, addons)
    fresh = [p for p in chosen if p not in booked]
    if plate > len(booked) >= needed and fresh and not removed_proteins:
        # the extra protein's own: "shrimp" to "which other one would you like?" joins the two
        chosen = [*booked, *fresh]
    if chosen and len(chosen) < needed:
        # Fewer proteins than each guest gets: the menu never drops below them. Named ones
        # already on a full menu change nothing ("steak n chicken is fine" read as chicken);
        # a new one is added to a menu still being chosen, and on a full one the customer is
        # asked which it replaces.
        # A booked protein taken off with none in its place ("no more steak") asks for the
        # pair, a protein named but not booked first in the example.
        taken_off = [p for p in booked if p in removed_proteins and p not in chosen]
        if len(booked) >= needed and set(chosen) <= set(booked) and not taken_off:
            chosen = []
        elif len(booked) >= needed:
            others = [p for p in removed_proteins if p not in booked] if taken_off else booked
            example = [*chosen, *(p for p in others if p not in chosen)][:needed]
            if len(example) < needed:
                spare = [p for p in rules.menu.included_proteins if p not in (*booked, *example)]
                example += spare[: needed - len(example)]
            facts |= {
                "partial": _names(chosen, by_slug),
                "removing": _names(taken_off, by_slug),
                "stored_proteins": _names(booked, by_slug),
                "example": _names(example, by_slug),
            }
            # Add-ons named beside the proteins ("… and extra noodles too") are added now;
            # only the proteins wait for the answer.
            added = [u for u in upgrades if u in by_slug and u not in booking.upgrades]
            short: dict[str, Any] = {}
            if added or dropped:
                short["upgrades"] = _upgrades_after(booking, dropped, added)
                facts["added_upgrades"] = ", ".join(by_slug[u].name.lower() for u in added)
            return Decision(
                intent, "handled", "menu_ask", "menu:short", facts, updates=short, pending="menu"
            )
        else:
            chosen = list(dict.fromkeys([*booked, *chosen]))
    if len(chosen) > plate:
        # More proteins than each guest gets ("adults want steak n lobster, kids just chicken
        # and shrimp"): the party has one menu, so the customer is asked which to keep, never
        # given every one named unpriced.
        extra = extra_protein(addons)
        facts |= {
            "too_many": True,
            "partial": _listed(chosen, by_slug),
            "stored_proteins": _names(booked, by_slug),
            "example": _names(chosen[:needed], by_slug),
            "extra_protein": f"{extra.name.lower()} (+{price_label(extra)})" if extra else "",
        }
        return Decision(intent, "handled", "menu_ask", "menu:too_many", facts, pending="menu")
    extras = list(dict.fromkeys([*(p for p in chosen if p in by_slug), *upgrades]))
    priced = [f"{by_slug[s].name} +{price_label(by_slug[s])}" for s in extras if s in by_slug]
    updates: dict[str, Any] = {}
    if chosen:
        updates["proteins"] = chosen
        updates["menu_selected"] = len(chosen) >= needed
        updates["menu_provisional"] = False
    if extras or dropped:
        updates["upgrades"] = _upgrades_after(booking, dropped, [s for s in extras if s in by_slug])
    q = booking_quote(booking, rules, addons, upgrades=updates.get("upgrades"))
    # with the extra protein every plate holds one more, still to be named
    plate_after = proteins_allowed(updates.get("upgrades", booking.upgrades), rules, addons)
    facts |= {
        "proteins": ", ".join(p.replace("_", " ") for p in chosen),
        "upgrade_prices": "; ".join(priced),
        "removed": ", ".join(by_slug[s].name for s in dropped if s in by_slug),
        # In a sentence every protein reads alike: "chicken and salmon", not "chicken and Salmon".
        "stored_proteins": _names(chosen or booked, by_slug),
        "plate_proteins": plate_after,
        "missing_proteins": max(0, plate_after - len(chosen or booked)),
        "stored_upgrades": ", ".join(
            by_slug[s].name.lower()  # in a sentence: "with extra fried rice"
            for s in updates.get("upgrades", booking.upgrades)
            if s in by_slug and by_slug[s].category != "premium_protein"
        ),
    }
    facts["unchanged"] = set(updates.get("proteins", booked)) == set(booked) and set(
        updates.get("upgrades", booking.upgrades)
    ) == set(booking.upgrades)
    facts |= quote_facts(q)
    pending = "menu" if facts["missing_proteins"] else None
    return Decision(
        intent, "handled", "menu_saved", f"{intent}:saved", facts, updates=updates, pending=pending
    )


def extra_protein(addons: Sequence[AddonView]) -> AddonView | None:
    """The add-on that puts one more protein on every plate (the "Third protein"): an extra
    charged per person."""
    return next((a for a in addons if a.category == "extra" and a.unit == "per_person"), None)


def proteins_allowed(upgrades: Iterable[str], rules: Rules, addons: Sequence[AddonView]) -> int:
    """How many proteins each plate holds with these add-ons: the menu's, and one more with
    the extra protein."""
    extra = extra_protein(addons)
    return rules.menu.proteins_per_person + int(extra is not None and extra.slug in upgrades)


def _listed(proteins: Sequence[str], by_slug: dict[str, AddonView]) -> str:
    """Proteins as a list says them: "steak, lobster, chicken and shrimp"."""
    names = _each_name(proteins, by_slug)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _upgrades_after(
    booking: BookingView, dropped: Sequence[str], added: Sequence[str]
) -> list[str]:
    """The add-ons a menu change stores: the booking's, less those taken off, with the new."""
    return sorted({*(u for u in booking.upgrades if u not in dropped), *added})


def _names(proteins: Sequence[str], by_slug: dict[str, AddonView]) -> str:
    """Proteins as a sentence says them alike: "chicken and salmon", not "chicken and Salmon"."""
    return " and ".join(_each_name(proteins, by_slug))


def _each_name(proteins: Sequence[str], by_slug: dict[str, AddonView]) -> list[str]:
    return [(by_slug[p].name if p in by_slug else p.replace("_", " ")).lower() for p in proteins]


# ---- date change and cancellation -------------------------------------------------------


def decide_date_change(
    booking: BookingView, now: datetime, rules: Rules, target: date | None = None
) -> Decision:
    t = until_event(booking, now)
    urgent = t < rules.changes.change_window_hours * HOUR
    priority: Priority = "URGENT" if urgent else "MEDIUM"
    facts = event_facts(booking, rules) | _reschedule_terms(booking, now, rules)
    # a new start time on the party's own day: no new date, so no reschedule terms to quote
    same_day = target == booking.event_at.astimezone(rules.timezone).date()
    if target is not None and not same_day:
        facts["target_date"] = target.strftime("%A, %B %-d")
    what, action = (
        ("Start time change request", "Check the chef's schedule that day and confirm the time")
        if same_day
        else (
            "Date change request",
            "Check the calendar, confirm the new date and apply the reschedule terms",
        )
    )
    plan = escalate(
        priority,
        what + (" within 24 hours of the event" if urgent else ""),
        action,
        now,
        booking.event_at,
        rules,
    )
    kind = (
        "manager_will_call"
        if urgent
        else "time_change_request"
        if same_day
        else "reschedule_request"
    )
    rule = f"date_change:time:{priority}" if same_day else f"date_change:{priority}"
    return Decision("date_change", "escalated", kind, rule, facts, plan)


def refund_due(booking: BookingView, now: datetime, rules: Rules) -> bool:
    """Whether cancelling now gives the deposit back in full: the event is at least the live
    `refund_full_days` away."""
    return until_event(booking, now) >= rules.cancellation.refund_full_days * DAY


def decide_cancellation(booking: BookingView, now: datetime, rules: Rules) -> Decision:
    t = until_event(booking, now)
    c = rules.cancellation
    facts = event_facts(booking, rules) | {
        "deposit_amount": format_money(booking.deposit_amount),
        "deposit_paid": booking.deposit_paid,
        "refund_full_days": c.refund_full_days,
    }
    if refund_due(booking, now, rules):
        return Decision(
            "cancellation",
            "handled",
            "cancel_options",
            "cancellation:T>=7d",
            facts,
            pending="cancel_choice",
        )
    if t >= c.late_cancel_days * DAY:
        plan = escalate(
            "HIGH",
            "Cancellation request 3-6 days before the event",
            "Confirm the no-refund policy, offer a reschedule, process the cancellation",
            now,
            booking.event_at,
            rules,
        )
        return Decision(
            "cancellation",
            "escalated",
            "cancel_no_refund_reschedule",
            "cancellation:3d<=T<7d",
            facts | _reschedule_terms(booking, now, rules) | {"sorry": True},
            plan,
        )
    urgent = t < rules.changes.change_window_hours * HOUR
    priority: Priority = "URGENT" if urgent else "HIGH"
    plan = escalate(
        priority,
        "Late cancellation request" + (" within 24 hours" if urgent else " (<3 days)"),
        "Personal call: discuss the options with empathy and confirm the no-refund policy",
        now,
        booking.event_at,
        rules,
    )
    rule = "cancellation:T<24h" if urgent else "cancellation:24h<=T<3d"
    # the deposit is lost: the reply opens with sorry, never "no need to worry"
    return Decision("cancellation", "escalated", "cancel_late", rule, facts | {"sorry": True}, plan)


def decide_cancel_choice(
    booking: BookingView, choice: str, now: datetime, rules: Rules, target: date | None = None
) -> Decision:
    """The answer to 'reply 1 to cancel with a refund, 2 to reschedule', checked again now; a
    reschedule to the date the answer names (`target`: "2, can we do july 18?")."""
    if choice == "2":
        return decide_date_change(booking, now, rules, target)
    if not refund_due(booking, now, rules):
        return decide_cancellation(booking, now, rules)  # the refund window closed meanwhile
    deposit = format_money(booking.deposit_amount)
    facts = event_facts(booking, rules) | {
        "deposit_amount": deposit,
        "deposit_paid": booking.deposit_paid,
    }
    held = booking.deposit_held
    plan = escalate(
        "MEDIUM",
        "Cancellation confirmed: " + ("refund the deposit" if held else "no deposit received"),
        f"Refund the {deposit} deposit in full"
        if held
        else "Check that no deposit came in; nothing is owed back",
        now,
        None,
        rules,
    )
    return Decision(
        "cancellation",
        "escalated",
        "cancel_confirmed",
        "cancellation:confirmed",
        facts,
        plan,
        updates={"status": "cancelled", "deposit_refund_due": held},
    )


def decide_staff_cancellation(booking: BookingView, now: datetime, rules: Rules) -> Decision:
    """A person cancels the booking from the console, on the policy as it stands now: inside the
    refund window the deposit comes back in full (what the customer's own "1" gets), later it is
    kept; a reschedule is what the policy offers instead, except inside the late-cancellation
    days. The facts are what the console shows before anyone confirms, and what the customer
    is told."""
    t = until_event(booking, now)
    c = rules.cancellation
    refund = refund_due(booking, now, rules) and booking.deposit_held
    late = t < c.late_cancel_days * DAY
    facts = (
        event_facts(booking, rules)
        | _reschedule_terms(booking, now, rules)
        | {
            "deposit_amount": format_money(booking.deposit_amount),
            "deposit_paid": booking.deposit_paid,
            "refund_full_days": c.refund_full_days,
            "late_cancel_days": c.late_cancel_days,
            "refund": refund,
            "late": late,
            "reschedule_offered": not late,
        }
    )
    updates: dict[str, Any] = {"status": "cancelled"}
    if refund:
        updates["deposit_refund_due"] = True
        return Decision(
            "cancellation",
            "handled",
            "cancel_confirmed",
            "cancellation:staff:refund",
            facts,
            updates=updates,
        )
    rule = "cancellation:staff:late" if late else "cancellation:staff:no_refund"
    return Decision(
        "cancellation", "handled", "cancel_confirmed_no_refund", rule, facts, updates=updates
    )


def decide_staff_reschedule(
    booking: BookingView, new_at: datetime, now: datetime, rules: Rules
) -> Decision:
    """A person moves the booking to `new_at` from the console, on the live reschedule terms as
    they stand before the move (its first move within the window after booking is free, any
    other costs the fee); the deposit carries over to the new date."""
    before = event_facts(booking, rules)
    terms = _reschedule_terms(booking, now, rules)
    facts = (
        event_facts(replace(booking, event_at=new_at), rules)
        | terms
        | {
            "old_date": before["event_date"],
            "old_time": before["event_time"],
            "fee": format_money(reschedule_fee(booking, now, rules)),
            "deposit_amount": format_money(booking.deposit_amount),
        }
    )
    rule = "date_change:staff:" + ("free" if terms["free_reschedule"] else "fee")
    return Decision(
        "date_change",
        "handled",
        "reschedule_confirmed",
        rule,
        facts,
        updates={"event_at": new_at},
    )


def decide_deposit_refunded(booking: BookingView, rules: Rules) -> Decision:
    """The refund the policy gave is made: the customer hears so (the cancellation message
    promised the team would confirm it)."""
    facts = event_facts(booking, rules) | {"deposit_amount": format_money(booking.deposit_amount)}
    return Decision(
        "cancellation", "handled", "deposit_refunded", "cancellation:staff:refunded", facts
    )


# ---- after the event --------------------------------------------------------------------


def decide_rating(booking: BookingView, rating: int, now: datetime, rules: Rules) -> Decision:
    b = rules.business
    facts = event_facts(booking, rules) | {
        "rating": rating,
        "google_review_url": str(b.google_review_url),
        "yelp_review_url": str(b.yelp_review_url),
        "feedback_form_url": str(b.feedback_form_url),
    }
    if rating >= rules.reviews.promoter_min_rating:
        return Decision(
            "rating",
            "handled",
            "rating_thanks",
            "rating:promoter",
            facts,
            updates={"feedback": rating, "promoter": True},
        )
    facts["review_links"] = rules.reviews.review_links_for_low_ratings
    plan = escalate(
        "HIGH",
        f"Customer gave a {rating}-star rating",
        "Personal follow-up call to address the concerns",
        now,
        None,
        rules,
        email=True,
    )
    return Decision(
        "rating",
        "escalated",
        "rating_apology",
        "rating:low",
        facts,
        plan,
        updates={"feedback": rating},
    )


# ---- everything else --------------------------------------------------------------------


def decide_dietary(
    booking: BookingView | None, serious: bool, now: datetime, rules: Rules
) -> Decision:
    facts: dict[str, Any] = event_facts(booking, rules) if booking else {}
    if serious:
        plan = escalate(
            "MEDIUM",
            "Dietary need: allergy, medical or certification",
            "Chef consultation call about safe preparation",
            now,
            booking.event_at if booking else None,
            rules,
        )
        return Decision(
            "dietary_request", "escalated", "dietary_chef_call", "dietary:serious", facts, plan
        )
    facts["suggested_proteins"] = "tofu"
    return Decision("dietary_request", "handled", "dietary_preference", "dietary:preference", facts)


#: How far ahead a weather forecast means anything: a rain question about a party further out
#: is a plan question the FAQs answer, not a safety call.
FORECAST_HORIZON = timedelta(days=7)
#: Concerns that make a weather message a safety call however far off the party is.
UNSAFE_WEATHER: frozenset[str] = frozenset({"unsafe_weather", "safety"})


def weather_is_a_question(
    booking: BookingView | None, now: datetime, concerns: Collection[str] = ()
) -> bool:
    """Whether a weather message is a general question for the FAQs ("what's the plan if it
    rains?") rather than a manager's call: no party of the customer's is inside the forecast's
    reach, and it reports nothing unsafe."""
    far = booking is None or booking.event_at - now > FORECAST_HORIZON
    return far and UNSAFE_WEATHER.isdisjoint(concerns)


def decide_weather(booking: BookingView | None, now: datetime, rules: Rules) -> Decision:
    """Weather that is not a general question (see `weather_is_a_question`, answered from the
    FAQs as one) is a safety question for a manager."""
    facts: dict[str, Any] = event_facts(booking, rules) if booking else {}
    plan = escalate(
        "URGENT",
        "Weather or unsafe cooking space",
        "Assess the setup and weather with the customer; reschedule if unsafe",
        now,
        booking.event_at if booking else None,
        rules,
    )
    return Decision("weather_concern", "escalated", "weather_safety", "weather:URGENT", facts, plan)


PRIORITY_RANK: Mapping[str, int] = {"LOW": 0, "MEDIUM": 1, "HIGH": 2, "URGENT": 3}
#: The seed's escalation table for what a person must handle whatever else a message asks: a
#: chef missing on the day, illness or injury after the event and unsafe conditions are urgent;
#: billing disputes, complaints and legal threats are high; an allergy is a chef's call.
CONCERN_PRIORITY: Mapping[str, Priority] = {
    "no_show": "URGENT",
    "illness": "URGENT",
    "injury": "URGENT",
    "unsafe_weather": "URGENT",
    "safety": "URGENT",
    "billing": "HIGH",
    "legal": "HIGH",
    "complaint": "HIGH",
    "unanswered": "HIGH",
    "allergy": "MEDIUM",
}
_CONCERN_CASE: Mapping[str, tuple[str, str]] = {
    "no_show": (
        "Chef not there on the day",
        "Call the customer now and reach the chef; give an arrival time",
    ),
    "illness": (
        "Food illness reported after the event",
        "Call the customer now; record what was served and who is affected",
    ),
    "injury": (
        "Injury reported at the event",
        "Call the customer now; find out what happened and who was hurt",
    ),
    "billing": (
        "Billing dispute",
        "Check the payments on the booking and call the customer back",
    ),
    "legal": (
        "Legal threat or payment dispute",
        "Management to review the booking and respond personally",
    ),
    "complaint": (
        "Complaint",
        "Personal call to hear the customer out and resolve it",
    ),
    "unanswered": (
        "Customer asked again after no reply",
        "Answer the customer personally today and check that what they asked for is done",
    ),
    "safety": (
        "Possibly urgent: read the message now",
        "Read the customer's message and call them back at once if it is urgent",
    ),
}


def decide_concern(
    intent: str, concern: str, booking: BookingView | None, now: datetime, rules: Rules
) -> Decision:
    """A case for a person at the concern's priority; the reply says who will act and when."""
    priority = CONCERN_PRIORITY.get(concern, "HIGH")
    reason, action = _CONCERN_CASE.get(concern, _CONCERN_CASE["complaint"])
    plan = escalate(
        priority,
        reason,
        action,
        now,
        booking.event_at if booking and concern != "no_show" else None,
        rules,
        email=True,
    )
    facts: dict[str, Any] = (event_facts(booking, rules) if booking else {}) | {
        "phone": display_phone(rules.business.phone),
        "concern": concern,
        "urgent": priority == "URGENT",
    }
    return Decision(intent, "escalated", "concern_escalated", f"{concern}:{priority}", facts, plan)


def one_case(decisions: Sequence[Decision]) -> list[Decision]:
    """A message is one problem for the team: when several of its requests need a person, the
    most urgent case carries them all (every reason and action, the earliest deadline, every
    notice, the most urgent reason first); each request still gets its own part of the reply."""
    cases = [(d, d.escalation) for d in decisions if d.escalation is not None]
    if len(cases) < 2:
        return list(decisions)
    lead, first = max(cases, key=lambda c: PRIORITY_RANK[c[1].priority])
    plans = sorted((plan for _, plan in cases), key=lambda p: -PRIORITY_RANK[p.priority])
    merged = replace(
        first,
        reason="; ".join(dict.fromkeys(p.reason for p in plans)),
        action_required="; ".join(dict.fromkeys(p.action_required for p in plans)),
        deadline=min(p.deadline for p in plans),
        notify=tuple(dict.fromkeys(n for p in plans for n in p.notify)),
    )
    return [
        replace(d, escalation=merged if d is lead else None) if d.escalation else d
        for d in decisions
    ]


def decide_contact_first() -> Decision:
    """A web visitor nobody knows asks for a person: a case nobody can act on helps no one, so
    the agent first asks for a name and a phone number or email address."""
    return Decision(
        "human_request", "handled", "contact_first", "web:contact_first", pending="contact"
    )


def decide_human_request(
    booking: BookingView | None, now: datetime, rules: Rules, contact: str | None = None
) -> Decision:
    soon = (
        booking is not None and until_event(booking, now) < rules.changes.change_window_hours * HOUR
    )
    priority: Priority = "URGENT" if soon else "MEDIUM"
    plan = escalate(
        priority,
        "Customer asked for a person",
        f"Call or message {contact} back" if contact else "Call or message the customer back",
        now,
        booking.event_at if booking else None,
        rules,
    )
    facts: dict[str, Any] = (event_facts(booking, rules) if booking else {}) | {
        "phone": display_phone(rules.business.phone),
    }
    return Decision(
        "human_request",
        "escalated",
        "human_will_reach_out",
        f"human_request:{priority}",
        facts | {"deadline": plan.deadline},
        plan,
    )


def decide_faq(
    answer: str | None, booking: BookingView | None, now: datetime, rules: Rules
) -> Decision:
    if answer is not None:
        return Decision("faq", "handled", "faq_answer", "faq:match", {"answer": answer})
    plan = escalate(
        "LOW",
        "Question the knowledge base could not answer",
        "Answer the customer's question and consider adding an FAQ",
        now,
        booking.event_at if booking else None,
        rules,
    )
    return Decision("faq", "escalated", "faq_unknown", "faq:no_match", {}, plan)


def decide_access(
    text: str,
    booking: BookingView,
    now: datetime,
    rules: Rules,
    new_address: str | None = None,
    only_asks: bool = False,
) -> Decision:
    """Parking, gate codes and directions are kept on the booking for the chef. A new party
    address (`new_address`, not the one booked) is kept too and goes to the team (MEDIUM): a
    person updates the booking and the travel fee it may change, and confirms with the
    customer; until then every message still names the address booked. A message that only
    asks ("where should the chef park?", `only_asks`) tells the chef nothing: it is kept
    nowhere, and the customer is asked what works best for them."""
    if only_asks and new_address is None:
        return Decision(
            "access_info",
            "handled",
            "access_asked",
            "access_info:asked",
            event_facts(booking, rules),
        )
    updates = {"access_notes": text.strip()}
    if new_address is None:
        return Decision(
            "access_info",
            "handled",
            "access_saved",
            "access_info:saved",
            {"reference": booking.reference},
            updates=updates,
        )
    plan = escalate(
        "MEDIUM",
        f"New party address: {new_address}",
        "Update the party address, check the travel fee it may change, and confirm with the "
        "customer",
        now,
        booking.event_at,
        rules,
    )
    facts = event_facts(booking, rules) | {"new_address": new_address, "deadline": plan.deadline}
    return Decision(
        "access_info",
        "escalated",
        "address_change",
        "access_info:new_address",
        facts,
        plan,
        updates=updates,
    )


def decide_opt_out(word: str, rules: Rules) -> Decision:
    """STOP-style words switch a channel off (silently); START-style words switch it back on."""
    if word in OPT_IN_WORDS:
        return Decision(
            "opt_out",
            "handled",
            "opted_in",
            "opt_out:opt_in",
            {"business_name": rules.business.name},
            updates={"opted_out": False},
        )
    if word in HELP_WORDS:
        return Decision(
            "opt_out",
            "handled",
            "help",
            "opt_out:help",
            {"business_name": rules.business.name, "phone": display_phone(rules.business.phone)},
        )
    return Decision("opt_out", "silent", "none", "opt_out:stop", {}, updates={"opted_out": True})


def arrival_leads(rules: Rules) -> tuple[timedelta, timedelta]:
    """How long before the start the chef arrives, at the latest and at the earliest: the live
    rule written as "15-20" minutes (or one number)."""
    minutes = [int(m) for m in re.findall(r"\d+", rules.event.arrival_lead_minutes)] or [0]
    return timedelta(minutes=min(minutes)), timedelta(minutes=max(minutes))


def arrival_window(booking: BookingView, rules: Rules) -> tuple[str, str]:
    """When the chef gets to the party: the start less the live arrival lead."""
    shortest, longest = arrival_leads(rules)
    start = booking.event_at.astimezone(rules.timezone)
    return (start - longest).strftime("%-I:%M %p"), (start - shortest).strftime("%-I:%M %p")


def decide_booking_question(
    booking: BookingView,
    asked: Sequence[str],
    address: str,
    now: datetime,
    rules: Rules,
    addons: Sequence[AddonView],
    *,
    among_several: bool = False,
) -> Decision:
    """A question about the customer's own booking, answered from it: the date and time, the
    address, the guests, the menu, the reference, when the chef arrives, the balance due on the
    day and how to pay it, and what is still needed (the menu, by its deadline). For a customer
    with several parties the answer says which party it is about. A payment the customer says
    they made ("paid") goes to the team (LOW) to be found and recorded."""
    earliest, latest = arrival_window(booking, rules)
    menu_due = booking.event_at - timedelta(days=rules.menu.menu_deadline_days)
    asked = list(asked) or ["details"]
    plan = None
    if "paid" in asked:
        # "i paid the balance by zelle already": nobody here can see the payment yet, so a
        # person finds it and records it; the reply says what the booking shows until then
        # (the balance, once, with the payment) rather than the balance as owed.
        asked = [t for t in asked if t not in ("balance", "details")]
        plan = escalate(
            "LOW",
            "Customer reports a payment",
            "Find the payment, record it on the booking, and confirm with the customer",
            now,
            booking.event_at,
            rules,
        )
    facts = booking_facts(booking, address, rules, addons) | {
        "asked": asked,
        "arrival_from": earliest,
        "arrival_to": latest,
        "menu_missing": not booking.proteins,
        "menu_due": menu_due.astimezone(rules.timezone).strftime("%A, %B %-d"),
        "menu_overdue": menu_due <= now,
        "proteins_per_person": rules.menu.proteins_per_person,
        "payment_choices": join_names(rules.event.payment_methods, last="or"),
        "among_several": among_several,
    }
    return Decision(
        "booking_question",
        "escalated" if plan is not None else "handled",
        "booking_answer",
        "booking_question:" + "+".join(asked),
        facts,
        plan,
    )


def decide_someone_elses_booking() -> Decision:
    """A question about another person's party: a booking's details go only to its customer."""
    return Decision("booking_question", "handled", "booking_private", "booking_question:private")


def decide_which_booking(bookings: Sequence[BookingView], rules: Rules) -> Decision:
    """A question about "my booking" from a customer with several to come: which one?"""
    parties = [event_facts(b, rules) for b in bookings]
    listed = join_names([f"{p['reference']} on {p['event_date']}" for p in parties])
    facts = {"count": len(parties), "parties": listed}
    return Decision(
        "booking_question",
        "handled",
        "which_booking",
        "booking_question:which",
        facts,
        pending="which_booking",
    )


def decide_without_booking(intent: str, rules: Rules) -> Decision:
    """A booking request from someone with no upcoming booking: say so, and how to book."""
    return Decision(
        intent,
        "handled",
        "no_booking",
        "no_booking",
        {
            "booking_url": str(rules.business.booking_url),
            "phone": display_phone(rules.business.phone),
        },
    )
