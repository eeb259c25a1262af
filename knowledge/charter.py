"""The business charter: every live value the agent needs for a turn, as one frozen object."""

from __future__ import annotations

from datetime import date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from knowledge.money import format_money
from knowledge.schemas import (
    AddonView,
    BusinessValues,
    CancellationValues,
    CapacityValues,
    ChangesValues,
    DepositValues,
    EscalationValues,
    EventValues,
    LeadValues,
    MenuValues,
    OfferView,
    PricingValues,
    ReschedulingValues,
    ReviewValues,
    TravelValues,
    WebChatValues,
    WhatsappValues,
)


class Rules(BaseModel):
    """The structured values of every known rule type, validated."""

    model_config = ConfigDict(frozen=True)

    business: BusinessValues
    pricing: PricingValues
    deposit: DepositValues
    travel: TravelValues
    menu: MenuValues
    cancellation: CancellationValues
    rescheduling: ReschedulingValues
    changes: ChangesValues
    event: EventValues
    reviews: ReviewValues
    escalations: EscalationValues
    whatsapp: WhatsappValues
    capacity: CapacityValues
    leads: LeadValues
    web_chat: WebChatValues

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.business.timezone)


class PolicyText(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule_type: str
    title: str
    content: str


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


class Charter(BaseModel):
    """Pricing, policies, add-ons and today's offers, as the agent sees them this turn."""

    model_config = ConfigDict(frozen=True, ignored_types=(cached_property,))

    rules: Rules
    policies: list[PolicyText]
    addons: list[AddonView]
    offers: list[OfferView]
    today: date
    built_at: datetime

    def addon(self, slug: str) -> AddonView | None:
        return next((a for a in self.addons if a.slug == slug), None)

    def policy(self, rule_type: str) -> PolicyText | None:
        return next((p for p in self.policies if p.rule_type == rule_type), None)

    @cached_property
    def facts(self) -> dict[str, str]:
        """Named, formatted values that FAQ answers and replies may quote."""
        r = self.rules
        premium = [a for a in self.addons if a.category == "premium_protein"]
        extras = [a for a in self.addons if a.category != "premium_protein"]
        facts: dict[str, str] = {
            "business_name": r.business.name,
            "phone": display_phone(r.business.phone),
            "booking_url": str(r.business.booking_url),
            "adult_price": format_money(r.pricing.adult_price),
            "child_price": format_money(r.pricing.child_price),
            "toddler_price": format_money(r.pricing.toddler_price),
            "child_age_range": r.pricing.child_age_range.replace("-", " to "),
            "toddler_max_age": str(r.pricing.toddler_max_age),
            "party_minimum": format_money(r.pricing.party_minimum),
            "party_minimum_adults": str(
                -(-r.pricing.party_minimum // r.pricing.adult_price) if r.pricing.adult_price else 0
            ),
            "deposit_amount": format_money(r.deposit.deposit_amount),
            "travel_free_miles": str(r.travel.travel_free_miles),
            "travel_fee_per_mile": format_money(r.travel.travel_fee_per_mile),
            "proteins_per_person": str(r.menu.proteins_per_person),
            "included_proteins": _join(r.menu.included_proteins),
            "default_proteins": _join(r.menu.default_proteins),
            "menu_deadline_days": str(r.menu.menu_deadline_days),
            "refund_full_days": str(r.cancellation.refund_full_days),
            "late_cancel_days": str(r.cancellation.late_cancel_days),
            "free_reschedule_hours": str(r.rescheduling.free_reschedule_hours),
            "reschedule_fee": format_money(r.rescheduling.reschedule_fee),
            "headcount_free_change_days": str(r.changes.headcount_free_change_days),
            "duration_minutes": str(r.event.duration_minutes),
            "extended_duration_guests": str(r.event.extended_duration_guests),
            "arrival_lead_minutes": r.event.arrival_lead_minutes.replace("-", " to "),
            "payment_methods": _join(r.event.payment_methods),
            "premium_upgrades": _join([f"{a.name} (+{price_label(a)})" for a in premium]),
            "extras": _join([f"{a.name} (+{price_label(a)})" for a in extras]),
        }
        for addon in self.addons:
            facts[f"addon_{addon.slug}"] = format_money(addon.price)
        return facts


def price_label(addon: AddonView) -> str:
    suffix = "/person" if addon.unit == "per_person" else ""
    return f"{format_money(addon.price)}{suffix}"


def display_phone(e164: str) -> str:
    """(916) 740-8768 for North American numbers, the E.164 form otherwise."""
    if e164.startswith("+1") and len(e164) == 12:
        digits = e164[2:]
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return e164
