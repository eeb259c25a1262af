"""Queries on planned touchpoints (`automated_reminders`); callers own the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import AutomatedReminder

FINISHED = ("sent", "skipped", "failed", "cancelled", "suppressed")


@dataclass(frozen=True)
class Claim:
    id: int
    booking_id: int | None  # None for a prospect's follow-up, which names a lead
    kind: str
    due_at: datetime
    attempts: int
    lead_id: int | None = None


async def upsert_plan(
    session: AsyncSession, booking_id: int, due: dict[str, datetime], now: datetime
) -> None:
    """Store the planned touchpoints once (unique per booking and kind); a touchpoint already
    in the past when planned is recorded as skipped, except the confirmation."""
    for kind, due_at in due.items():
        past = kind != "confirmation" and due_at <= now
        await session.execute(
            insert(AutomatedReminder)
            .values(
                booking_id=booking_id,
                reminder_type=kind,
                scheduled_at=due_at,
                status="skipped" if past else "pending",
                attempts=0,
                last_error="already past when planned" if past else None,
            )
            .on_conflict_do_nothing(index_elements=["booking_id", "reminder_type"])
        )


async def replan(
    session: AsyncSession, booking_id: int, due: dict[str, datetime], now: datetime
) -> None:
    """Move the touchpoints that have not gone out to a new timeline (a new event date)."""
    rows = (
        await session.scalars(
            select(AutomatedReminder).where(AutomatedReminder.booking_id == booking_id)
        )
    ).all()
    by_kind = {row.reminder_type: row for row in rows}
    for kind, due_at in due.items():
        if kind == "confirmation":
            continue
        row = by_kind.get(kind)
        if row is None:
            await upsert_plan(session, booking_id, {kind: due_at}, now)
        elif row.status in ("pending", "skipped", "suppressed"):
            row.scheduled_at = due_at
            row.status = "pending" if due_at > now else "skipped"
            row.attempts = 0
    await session.flush()


async def cancel_pending(session: AsyncSession, booking_id: int) -> None:
    await session.execute(
        update(AutomatedReminder)
        .where(
            AutomatedReminder.booking_id == booking_id,
            AutomatedReminder.status.in_(("pending", "claimed")),
        )
        .values(status="cancelled")
    )


_CLAIM = text(
    """
    UPDATE automated_reminders AS r
    SET status = 'claimed', claimed_at = :now, attempts = r.attempts + 1
    WHERE r.id IN (
        SELECT id FROM automated_reminders
        WHERE (status = 'pending' AND scheduled_at <= :now)
           OR (status = 'claimed' AND claimed_at < :expired)
        ORDER BY scheduled_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING r.id, r.booking_id, r.reminder_type, r.scheduled_at, r.attempts, r.lead_id
    """
)


async def claim_due(
    session: AsyncSession, now: datetime, limit: int, lease: timedelta
) -> list[Claim]:
    """Claim due touchpoints (and ones whose claim outlived its lease: the worker died)."""
    rows = await session.execute(_CLAIM, {"now": now, "expired": now - lease, "limit": limit})
    claims = [Claim(*row) for row in rows.all()]
    return sorted(claims, key=lambda c: (c.due_at, c.id))


async def next_due(session: AsyncSession, until: datetime) -> datetime | None:
    """When the earliest pending touchpoint falls due, if it is not after `until`."""
    query = (
        select(AutomatedReminder.scheduled_at)
        .where(AutomatedReminder.status == "pending", AutomatedReminder.scheduled_at <= until)
        .order_by(AutomatedReminder.scheduled_at)
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def retry_later(
    session: AsyncSession, reminder_id: int, error: str, at: datetime, *, give_up: bool
) -> None:
    await session.execute(
        update(AutomatedReminder)
        .where(AutomatedReminder.id == reminder_id, AutomatedReminder.status == "claimed")
        .values(
            status="failed" if give_up else "pending",
            scheduled_at=at,
            last_error=error[:500],
        )
    )


async def postpone(session: AsyncSession, reminder_id: int, at: datetime) -> None:
    """Back to pending at a later time without counting an attempt (outside messaging hours)."""
    await session.execute(
        update(AutomatedReminder)
        .where(AutomatedReminder.id == reminder_id)
        .values(
            status="pending",
            scheduled_at=at,
            attempts=AutomatedReminder.attempts - 1,
        )
    )
