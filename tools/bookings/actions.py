"""What a person does to a booking from the console, decided by the policy from the live rules:
cancel it (the refund or not, and why), move it to a new date (the fee, and whether the date is
free), and record the deposit refund the policy gave. Each has terms to show before anyone
confirms, and each writes a line of the booking's history.

Telling the customer and re-planning the journey are the caller's (`scheduler.flows`): tools
reach neither the agent nor the scheduler.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.charter import Rules
from knowledge.errors import Conflict, InvalidInput
from knowledge.models import Booking, BookingHistory, Customer
from knowledge.money import format_money, to_money
from tools import availability, bookings, policy
from tools.bookings import history
from tools.bookings.schemas import (
    CancellationPreview,
    HistoryEntry,
    ReschedulePreview,
    RescheduleTerms,
)
from tools.policy import Decision


def span(delta: timedelta) -> str:
    """A stretch of time as the console says it: "9 days 23 hours", "12 hours", "40 minutes"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)

    def unit(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    if days:
        return unit(days, "day") + (f" {unit(hours, 'hour')}" if hours else "")
    if hours:
        return unit(hours, "hour")
    return unit(minutes, "minute")


def _still_to_come(booking: Booking, now: datetime) -> None:
    """Only a party still to come can be cancelled or moved."""
    if booking.status == "cancelled":
        raise Conflict(f"booking {booking.reference} is already cancelled")
    if booking.status == "completed" or booking.event_at <= now:
        raise Conflict(f"the party of booking {booking.reference} has already taken place")


def _terms(booking: Booking, now: datetime, rules: Rules) -> RescheduleTerms:
    view = bookings.view(booking)
    return RescheduleTerms(
        free=policy.free_reschedule(view, now, rules),
        fee=policy.reschedule_fee(view, now, rules),
        reschedule_fee=to_money(rules.rescheduling.reschedule_fee),
        free_reschedule_hours=rules.rescheduling.free_reschedule_hours,
    )


def _reschedule_why(booking: Booking, terms: RescheduleTerms, now: datetime) -> str:
    hours = terms.free_reschedule_hours
    if terms.free:
        return (
            f"The booking's first move, asked {span(now - booking.created_at)} after it was "
            f"made: free (within {hours} hours of booking). The deposit carries over."
        )
    because = (
        f"it has been moved before ({booking.reschedule_count} time"
        f"{'' if booking.reschedule_count == 1 else 's'})"
        if booking.reschedule_count
        else f"it was booked {span(now - booking.created_at)} ago, more than {hours} hours"
    )
    return (
        f"The rescheduling fee of {format_money(terms.fee)} applies: {because}. "
        "The deposit carries over to the new date."
    )


# ---- cancel -------------------------------------------------------------------------------


def cancellation(booking: Booking, now: datetime, rules: Rules) -> Decision:
    """The policy's decision on cancelling the booking now (Conflict if it cannot be)."""
    _still_to_come(booking, now)
    return policy.decide_staff_cancellation(bookings.view(booking), now, rules)


def cancellation_preview(
    booking: Booking,
    decision: Decision,
    now: datetime,
    rules: Rules,
    *,
    channel: str,
    message: str | None,
) -> CancellationPreview:
    """The decision as the console shows it: refund or not, why, and the alternative."""
    facts = decision.facts
    deposit = to_money(booking.deposit_amount)
    refund = bool(facts["refund"])
    left = span(booking.event_at - now)
    terms = _terms(booking, now, rules)
    c = rules.cancellation
    if refund:
        why = (
            f"The party is {left} away: at least {c.refund_full_days} days before, so the "
            f"{format_money(deposit)} deposit is refunded in full."
        )
    elif facts["late"]:
        why = (
            f"The party is {left} away: less than {c.late_cancel_days} days before, a late "
            f"cancellation. The {format_money(deposit)} deposit is non-refundable, and the "
            "policy asks management to call the customer personally."
        )
    else:
        instead = (
            f"free (their first move within {terms.free_reschedule_hours} hours of booking)"
            if terms.free
            else f"for the {format_money(terms.fee)} rescheduling fee, the deposit carried over"
        )
        why = (
            f"The party is {left} away: less than {c.refund_full_days} days before, so the "
            f"{format_money(deposit)} deposit is non-refundable. The policy offers a "
            f"reschedule instead, {instead}."
        )
    return CancellationPreview(
        booking_id=booking.id,
        reference=booking.reference,
        event_at=booking.event_at,
        as_of=now,
        time_to_event=left,
        refund=refund,
        deposit_amount=deposit,
        refund_amount=deposit if refund else to_money(0),
        deposit_kept=to_money(0) if refund else deposit,
        refund_full_days=c.refund_full_days,
        late_cancel_days=c.late_cancel_days,
        late=bool(facts["late"]),
        rule=decision.rule,
        why=why,
        reschedule_offered=bool(facts["reschedule_offered"]),
        reschedule=terms,
        channel=channel,
        message=message,
    )


def expect_refund(decision: Decision, expected: bool | None) -> None:
    """The person confirmed what the preview showed; if the policy now answers otherwise (the
    refund window closed meanwhile, a rule changed), nothing is done."""
    if expected is not None and bool(decision.facts["refund"]) != expected:
        now_says = "a full refund" if decision.facts["refund"] else "no refund"
        raise Conflict(
            f"the policy now gives {now_says}, not what the preview showed: look at the "
            "cancellation terms again before confirming"
        )


async def cancel(
    session: AsyncSession,
    booking: Booking,
    customer: Customer,
    decision: Decision,
    preview: CancellationPreview,
    now: datetime,
    *,
    user_id: int,
) -> BookingHistory:
    """Cancel the booking as the decision says (the same change a customer's own cancellation
    makes: its pending touchpoints are cancelled) and write it to the history."""
    pending = [
        t.reminder_type
        for t in await bookings.touchpoints(session, booking.id)
        if t.status == "pending"
    ]
    await bookings.apply(session, decision.updates, customer=customer, booking=booking, now=now)
    details: dict[str, Any] = {
        "rule": decision.rule,
        "why": preview.why,
        "refund": preview.refund,
        "refund_amount": str(preview.refund_amount),
        "deposit_amount": str(preview.deposit_amount),
        "time_to_event": preview.time_to_event,
        "touchpoints_cancelled": pending,
    }
    return await history.record(session, booking.id, "cancelled", details, now, user_id=user_id)


# ---- reschedule ---------------------------------------------------------------------------


async def reschedule(
    session: AsyncSession, booking: Booking, new_at: datetime, now: datetime, rules: Rules
) -> Decision:
    """The policy's decision on moving the booking to `new_at`: refused (422) for a time in
    the past, (409) for a booking that cannot move or a time the chefs are all taken."""
    _still_to_come(booking, now)
    if new_at.tzinfo is None:
        raise InvalidInput("event_at: give a time zone, e.g. 2026-06-20T18:00:00-07:00")
    if new_at <= now:
        raise InvalidInput("event_at: that time has passed; choose a date and time to come")
    if new_at == booking.event_at:
        raise InvalidInput("event_at: that is the party's date and time already")
    local = new_at.astimezone(rules.timezone)
    taken = await availability.taken_around(session, local.date(), rules, excluding=booking.id)
    found = availability.check(local.date(), local.time(), taken, now, rules)
    if not found.open:
        choices = [c.strftime("%a %b %-d at %-I:%M %p") for c in found.choices]
        offer = f" Open nearby: {'; '.join(choices)}." if choices else ""
        raise Conflict(
            f"event_at: {local.strftime('%A, %B %-d at %-I:%M %p')} is not available: every "
            f"chef has a party then ({rules.capacity.chefs} at a time).{offer}",
            details={"choices": [c.isoformat() for c in found.choices]},
        )
    return policy.decide_staff_reschedule(bookings.view(booking), new_at, now, rules)


def reschedule_preview(
    booking: Booking,
    decision: Decision,
    now: datetime,
    rules: Rules,
    *,
    channel: str,
    message: str | None,
) -> ReschedulePreview:
    terms = _terms(booking, now, rules)
    return ReschedulePreview(
        booking_id=booking.id,
        reference=booking.reference,
        event_at=booking.event_at,
        new_event_at=decision.updates["event_at"],
        as_of=now,
        reschedule_count=booking.reschedule_count,
        terms=terms,
        rule=decision.rule,
        why=_reschedule_why(booking, terms, now),
        channel=channel,
        message=message,
    )


def expect_fee(preview: ReschedulePreview, expected: Decimal | None) -> None:
    """As `expect_refund`, for the fee of a move."""
    if expected is not None and to_money(expected) != preview.terms.fee:
        raise Conflict(
            f"the rescheduling fee is now {format_money(preview.terms.fee)}, not what the "
            "preview showed: look at the terms again before confirming"
        )


async def record_move(
    session: AsyncSession,
    booking: Booking,
    moved_from: datetime,
    preview: ReschedulePreview,
    now: datetime,
    *,
    user_id: int,
) -> BookingHistory:
    """Write the move to the booking's history (the caller has moved it and its journey)."""
    details: dict[str, Any] = {
        "rule": preview.rule,
        "why": preview.why,
        "from": moved_from.isoformat(),
        "to": booking.event_at.isoformat(),
        "free": preview.terms.free,
        "fee": str(preview.terms.fee),
    }
    return await history.record(session, booking.id, "rescheduled", details, now, user_id=user_id)


# ---- the deposit refund -------------------------------------------------------------------


def deposit_refund(booking: Booking, rules: Rules) -> Decision:
    """Whether the refund can be recorded as made: only one the policy gave, and only once."""
    if booking.deposit_refunded_at is not None:
        raise Conflict(f"the deposit of booking {booking.reference} is already marked refunded")
    if not booking.deposit_refund_due:
        raise Conflict(
            f"no refund is due on booking {booking.reference}: the policy gave none (only a "
            "booking cancelled inside the refund window gets its deposit back)"
        )
    return policy.decide_deposit_refunded(bookings.view(booking), rules)


async def mark_deposit_refunded(
    session: AsyncSession, booking: Booking, now: datetime, *, user_id: int
) -> BookingHistory:
    """Record the refund as made and write it to the history."""
    booking.deposit_refunded_at = now
    details = {"amount": str(to_money(booking.deposit_amount))}
    return await history.record(
        session, booking.id, "deposit_refunded", details, now, user_id=user_id
    )


# ---- history ------------------------------------------------------------------------------


def entry_view(entry: BookingHistory, user_name: str | None) -> HistoryEntry:
    return HistoryEntry(
        id=entry.id,
        action=entry.action,
        at=entry.created_at,
        user_id=entry.user_id,
        user_name=user_name,
        details=dict(entry.details or {}),
    )


async def history_of(session: AsyncSession, booking_id: int) -> list[HistoryEntry]:
    """The booking's history, oldest first, with who acted."""
    return [entry_view(e, name) for e, name in await history.of(session, booking_id)]
