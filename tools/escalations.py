"""Opening an escalation: the case row, and the alerts that tell the team about it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.charter import Rules
from knowledge.models import Booking, Customer, Escalation, TeamAlert
from tools.policy import EscalationPlan


async def open_escalation(
    session: AsyncSession,
    plan: EscalationPlan,
    *,
    customer: Customer,
    booking: Booking | None,
    conversation_id: int | None,
    customer_request: str | None,
    rules: Rules,
    console_url: str,
) -> Escalation:
    """Store the case and queue its alerts (console always; SMS and email as the plan says)."""
    escalation = Escalation(
        booking_id=booking.id if booking else None,
        customer_id=customer.id,
        conversation_id=conversation_id,
        priority=plan.priority,
        reason=plan.reason,
        customer_request=customer_request,
        action_required=plan.action_required,
        deadline=plan.deadline,
        status="open",
    )
    session.add(escalation)
    await session.flush()
    who = customer.name or customer.phone or f"customer {customer.id}"
    ref = f"booking {booking.reference}" if booking else "no booking"
    link = f"{console_url.rstrip('/')}/console/escalations/{escalation.id}"
    subject = f"{plan.priority}: {plan.reason} ({ref})"
    body = f"{who}, {ref}. {plan.reason}. Action: {plan.action_required}. {link}"
    alerts = [TeamAlert(escalation_id=escalation.id, channel="console", subject=subject, body=body)]
    if "team_sms" in plan.notify:
        alerts.append(
            TeamAlert(
                escalation_id=escalation.id,
                channel="sms",
                target=rules.business.team_phone,
                subject=subject,
                body=f"{plan.priority}: {ref} - {plan.reason}. {link}"[:320],
            )
        )
    if "management_email" in plan.notify:
        alerts.append(
            TeamAlert(
                escalation_id=escalation.id,
                channel="email",
                target=rules.business.management_email,
                subject=subject,
                body=body,
            )
        )
    session.add_all(alerts)
    await session.flush()
    return escalation
