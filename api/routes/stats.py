"""`GET /api/v1/stats`: the success metrics of a period (computed in `tools.statistics`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import CurrentUser, Knowledge, Session, State
from tools.statistics import Figure, ResolutionTimes, compute

router = APIRouter(prefix="/api/v1", tags=["console"])


class Stats(BaseModel):
    days: int
    since: datetime
    until: datetime
    ai_handled_share: Figure
    escalated_share: Figure
    escalations_by_priority: dict[str, int]
    escalations_by_reason: dict[str, int]
    resolution: list[ResolutionTimes]
    reminder_delivery_rate: Figure
    menu_chosen_by_deadline: Figure
    review_response_rate: Figure
    promoter_share: Figure
    leads: int  # prospects who asked about a party in the period
    quotes_sent: int  # quotes those prospects got (a new quote when the party changed)
    lead_conversion: Figure
    formulas: dict[str, str]


@router.get("/stats")
async def stats(
    _: CurrentUser,
    session: Session,
    state: State,
    knowledge: Knowledge,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Stats:
    """The success metrics of the last `days` days."""
    until = state.clock.now()
    since = until - timedelta(days=days)
    rules = await knowledge.rules(session)
    # The seed's targets (URGENT < 2 h, HIGH < 24 h) are the escalation deadlines.
    targets: dict[str, float] = {
        str(p): float(h) for p, h in rules.escalations.deadline_hours.items()
    }
    figures = await compute(session, since, until, targets)
    formulas = {name: value.formula for name, value in figures.items() if isinstance(value, Figure)}
    return Stats(days=days, since=since, until=until, formulas=formulas, **figures)
