"""Success metrics over a period, each computed from rows with its formula beside it (the
console's stats page and `GET /api/v1/stats` show them)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import (
    AutomatedReminder,
    Conversation,
    Escalation,
    Feedback,
    Lead,
    Message,
)
from knowledge.models.conversations import PRIORITIES, REMINDER_KINDS

HANDED_TO_PROVIDER = ("sent", "delivered", "undelivered", "failed")


class Figure(BaseModel):
    value: float | None  # a share in [0, 1], or hours; None when there is nothing to count
    numerator: float | None = None
    denominator: float | None = None
    formula: str


class ResolutionTimes(BaseModel):
    priority: str
    resolved: int
    average_hours: float | None
    p90_hours: float | None
    target_hours: float | None
    within_target: Figure


def share(part: int, whole: int, formula: str) -> Figure:
    return Figure(
        value=round(part / whole, 4) if whole else None,
        numerator=part,
        denominator=whole,
        formula=formula,
    )


def p90(values: list[float]) -> float | None:
    """The nearest-rank 90th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def _count(session: AsyncSession, query: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


async def compute(
    session: AsyncSession, since: datetime, until: datetime, targets: dict[str, float]
) -> dict[str, Any]:
    in_period = and_(Message.created_at >= since, Message.created_at < until)
    talked = select(Conversation.id).where(
        exists().where(
            Message.conversation_id == Conversation.id,
            Message.direction == "inbound",
            in_period,
        )
    )
    escalated_conversations = talked.where(
        exists().where(
            Escalation.conversation_id == Conversation.id,
            Escalation.created_at >= since,
            Escalation.created_at < until,
        )
    )
    conversations = await _count(session, talked)
    escalated = await _count(session, escalated_conversations)

    period_cases = and_(
        Escalation.created_at >= since,
        Escalation.created_at < until,
        Escalation.status != "merged",  # folded into another case: one problem, one case
    )
    by_priority = dict.fromkeys(PRIORITIES, 0)
    for priority, n in (
        await session.execute(
            select(Escalation.priority, func.count())
            .where(period_cases)
            .group_by(Escalation.priority)
        )
    ).all():
        by_priority[priority] = int(n)
    by_reason = {
        reason: int(n)
        for reason, n in (
            await session.execute(
                select(Escalation.reason, func.count())
                .where(period_cases)
                .group_by(Escalation.reason)
                .order_by(func.count().desc(), Escalation.reason)
            )
        ).all()
    }

    resolution = []
    resolved_rows = (
        await session.execute(
            select(Escalation.priority, Escalation.created_at, Escalation.resolved_at).where(
                Escalation.resolved_at.is_not(None),
                Escalation.resolved_at >= since,
                Escalation.resolved_at < until,
            )
        )
    ).all()
    for priority in reversed(PRIORITIES):
        hours = [
            (resolved - created).total_seconds() / 3600
            for p, created, resolved in resolved_rows
            if p == priority and resolved is not None
        ]
        target = targets.get(priority)
        within = sum(1 for h in hours if target is not None and h < target)
        resolution.append(
            ResolutionTimes(
                priority=priority,
                resolved=len(hours),
                average_hours=round(sum(hours) / len(hours), 2) if hours else None,
                p90_hours=_round(p90(hours)),
                target_hours=target,
                within_target=share(
                    within if target is not None else 0,
                    len(hours) if target is not None else 0,
                    f"{priority} cases resolved in under {target} h / {priority} cases resolved"
                    if target is not None
                    else "no target for this priority",
                ),
            )
        )

    touchpoint_messages = select(Message.id).where(
        Message.direction == "outbound", Message.kind.in_(REMINDER_KINDS), in_period
    )
    handed = await _count(
        session, touchpoint_messages.where(Message.status.in_(HANDED_TO_PROVIDER))
    )
    delivered = await _count(session, touchpoint_messages.where(Message.status == "delivered"))

    deadline_rows = select(AutomatedReminder.id).where(
        AutomatedReminder.reminder_type == "menu_deadline",
        AutomatedReminder.scheduled_at >= since,
        AutomatedReminder.scheduled_at < until,
        AutomatedReminder.last_error.is_(None),
    )
    deadlines = await _count(
        session, deadline_rows.where(AutomatedReminder.status.in_(("sent", "skipped")))
    )
    chosen = await _count(session, deadline_rows.where(AutomatedReminder.status == "skipped"))

    asked = select(AutomatedReminder.booking_id).where(
        AutomatedReminder.reminder_type == "post_event",
        AutomatedReminder.status == "sent",
        AutomatedReminder.sent_at >= since,
        AutomatedReminder.sent_at < until,
    )
    requests = await _count(session, asked)
    answered = await _count(
        session, asked.where(exists().where(Feedback.booking_id == AutomatedReminder.booking_id))
    )
    ratings = select(Feedback.id).where(Feedback.created_at >= since, Feedback.created_at < until)
    rated = await _count(session, ratings)
    promoters = await _count(session, ratings.where(Feedback.review_source.in_(("google", "yelp"))))

    period_leads = select(Lead.id).where(Lead.created_at >= since, Lead.created_at < until)
    leads = await _count(session, period_leads)
    quotes = int(
        await session.scalar(
            select(func.coalesce(func.sum(Lead.quotes_sent), 0)).where(
                Lead.created_at >= since, Lead.created_at < until
            )
        )
        or 0
    )
    booked = await _count(session, period_leads.where(Lead.status == "booked"))

    return {
        "leads": leads,
        "quotes_sent": quotes,
        "lead_conversion": share(
            booked,
            leads,
            "leads from the period that became a booking / leads from the period",
        ),
        "ai_handled_share": share(
            conversations - escalated,
            conversations,
            "conversations with a customer message in the period and no escalation opened in "
            "it / conversations with a customer message in the period",
        ),
        "escalated_share": share(
            escalated,
            conversations,
            "conversations with an escalation opened in the period / conversations with a "
            "customer message in the period",
        ),
        "escalations_by_priority": by_priority,
        "escalations_by_reason": by_reason,
        "resolution": resolution,
        "reminder_delivery_rate": share(
            delivered,
            handed,
            "touchpoint messages delivered / touchpoint messages handed to the provider "
            "(sent, delivered, undelivered or failed; simulated ones are not counted)",
        ),
        "menu_chosen_by_deadline": share(
            chosen,
            deadlines,
            "menu deadlines passed in the period with the menu already chosen (nothing sent) / "
            "menu deadlines passed in the period",
        ),
        "review_response_rate": share(
            answered,
            requests,
            "rating requests sent in the period whose booking got a rating / rating requests "
            "sent in the period",
        ),
        "promoter_share": share(
            promoters,
            rated,
            "ratings in the period sent on to Google or Yelp (4–5 stars) / ratings in the period",
        ),
    }
