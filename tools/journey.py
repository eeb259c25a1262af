"""What each proactive touchpoint of a booking's journey says and does, decided from the
booking, the clock and the rules (the scheduler decides *when*; this decides *what*)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from knowledge.charter import Rules, price_label
from knowledge.schemas import AddonView
from tools.policy import (
    DAY,
    BookingView,
    Decision,
    booking_facts,
    escalate,
    join_names,
)


def _menu_facts(rules: Rules, addons: Sequence[AddonView]) -> dict[str, Any]:
    premium = [a for a in addons if a.category == "premium_protein"]
    extras = [a for a in addons if a.category != "premium_protein"]

    def label(a: AddonView) -> str:
        return f"{a.name} +{price_label(a)}"

    return {
        "included_proteins": join_names(rules.menu.included_proteins),
        "proteins_per_person": rules.menu.proteins_per_person,
        "premium_upgrades": "; ".join(label(a) for a in premium),
        "extras": "; ".join(label(a) for a in extras),
        "default_proteins": join_names(rules.menu.default_proteins),
    }


def decide_touchpoint(
    kind: str,
    booking: BookingView,
    *,
    address: str,
    menu_selected: bool,
    now: datetime,
    rules: Rules,
    addons: Sequence[AddonView],
    payload: Mapping[str, Any] | None = None,
) -> Decision:
    """The message (or silence) and actions of one touchpoint."""
    facts = booking_facts(booking, address, rules, addons)
    rule = f"touchpoint:{kind}"
    if kind == "confirmation":
        # Ask for the menu now when the week-before menu request will not come (the event is
        # less than a week away, or that touchpoint's time had already passed at booking).
        later = (payload or {}).get("menu_request_planned")
        ask = not menu_selected and (
            booking.event_at - now < 7 * DAY if later is None else not bool(later)
        )
        facts |= _menu_facts(rules, addons) | {"ask_menu": ask}
        return Decision(
            "reminder",
            "handled",
            "touch_confirmation",
            rule,
            facts,
            pending="menu" if ask else None,
        )
    if kind == "7_day":
        if menu_selected:
            return Decision("reminder", "handled", "touch_7_day_confirm", rule, facts)
        facts |= _menu_facts(rules, addons)
        return Decision("reminder", "handled", "touch_7_day_menu", rule, facts, pending="menu")
    if kind == "4_day":
        if menu_selected:
            return Decision("reminder", "handled", "touch_4_day_confirm", rule, facts)
        facts |= _menu_facts(rules, addons)
        return Decision("reminder", "handled", "touch_4_day_urgent", rule, facts, pending="menu")
    if kind == "menu_deadline":
        if menu_selected:
            return Decision("reminder", "silent", "none", f"{rule}:chosen")
        plan = escalate(
            "HIGH",
            "No menu selection by the deadline",
            "Personal call to confirm the menu",
            now,
            booking.event_at,
            rules,
        )
        facts |= _menu_facts(rules, addons)
        updates = {"proteins": list(rules.menu.default_proteins), "menu_provisional": True}
        return Decision(
            "reminder",
            "escalated",
            "touch_menu_deadline",
            f"{rule}:missing",
            facts,
            plan,
            updates=updates,
        )
    if kind == "24_hour":
        return Decision("reminder", "handled", "touch_24_hour", rule, facts)
    if kind == "on_the_way":
        eta_minutes = int((payload or {}).get("eta_minutes", 30))
        eta = (now + timedelta(minutes=eta_minutes)).astimezone(rules.timezone)
        facts |= {"eta": eta.strftime("%-I:%M %p"), "eta_minutes": eta_minutes}
        return Decision("reminder", "handled", "touch_on_the_way", rule, facts)
    if kind == "arriving":
        return Decision("reminder", "handled", "touch_arriving", rule, facts)
    if kind == "post_event":
        # The day after, the event is logged as held (repeat customers are counted from it).
        done = {"status": "completed"} if booking.status == "confirmed" else {}
        return Decision(
            "reminder",
            "handled",
            "touch_post_event",
            rule,
            facts,
            pending="rating",
            updates=done,
        )
    raise ValueError(f"unknown touchpoint kind '{kind}'")
