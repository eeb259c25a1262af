"""What is waiting right now, for the operator's metrics: messages owed an answer, replies not
sent yet, touchpoints past their time, open and overdue cases. Each query reads a partial
index that holds only waiting rows, so it costs the same however long the history is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# One round trip; each part reads its own partial index (ix_messages_unprocessed_inbound,
# ix_messages_outbox, ix_automated_reminders_due, ix_escalations_open_queue).
_WAITING = text(
    """
    SELECT 'inbox' AS what, channel AS kind, count(*) AS n,
           EXTRACT(EPOCH FROM :now - min(created_at))::float8 AS oldest
    FROM messages WHERE direction = 'inbound' AND status = 'received' GROUP BY channel
    UNION ALL
    SELECT 'outbox', channel, count(*), EXTRACT(EPOCH FROM :now - min(created_at))::float8
    FROM messages WHERE direction = 'outbound' AND status IN ('pending', 'sending')
    GROUP BY channel
    UNION ALL
    SELECT 'touchpoints', reminder_type, count(*),
           EXTRACT(EPOCH FROM :now - min(scheduled_at))::float8
    FROM automated_reminders WHERE status = 'pending' AND scheduled_at <= :now
    GROUP BY reminder_type
    UNION ALL
    SELECT 'cases', priority, count(*), NULL FROM escalations
    WHERE status IN ('open', 'in_progress') GROUP BY priority
    UNION ALL
    SELECT 'unclaimed', priority, count(*), EXTRACT(EPOCH FROM :now - min(created_at))::float8
    FROM escalations WHERE status = 'open' AND assigned_to_id IS NULL GROUP BY priority
    UNION ALL
    SELECT 'overdue', priority, count(*), NULL FROM escalations
    WHERE status IN ('open', 'in_progress') AND deadline < :now GROUP BY priority
    """
)


@dataclass(frozen=True)
class Waiting:
    """Counts by channel, touchpoint kind or priority; `oldest` in seconds by the same keys."""

    inbox: dict[str, int] = field(default_factory=dict)
    inbox_oldest: dict[str, float] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)
    outbox_oldest: dict[str, float] = field(default_factory=dict)
    touchpoints_due: dict[str, int] = field(default_factory=dict)
    touchpoints_oldest: dict[str, float] = field(default_factory=dict)
    cases_open: dict[str, int] = field(default_factory=dict)
    cases_unclaimed: dict[str, int] = field(default_factory=dict)
    cases_unclaimed_oldest: dict[str, float] = field(default_factory=dict)
    cases_overdue: dict[str, int] = field(default_factory=dict)


async def waiting(session: AsyncSession, now: datetime) -> Waiting:
    """Everything waiting at `now`."""
    found = Waiting()
    counts = {
        "inbox": (found.inbox, found.inbox_oldest),
        "outbox": (found.outbox, found.outbox_oldest),
        "touchpoints": (found.touchpoints_due, found.touchpoints_oldest),
        "cases": (found.cases_open, None),
        "unclaimed": (found.cases_unclaimed, found.cases_unclaimed_oldest),
        "overdue": (found.cases_overdue, None),
    }
    for what, kind, n, oldest in (await session.execute(_WAITING, {"now": now})).all():
        count, ages = counts[what]
        count[kind] = int(n)
        if ages is not None and oldest is not None:
            ages[kind] = max(0.0, float(oldest))
    return found
