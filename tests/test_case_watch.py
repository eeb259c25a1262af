"""Nobody misses an urgent case: on a controlled clock, an URGENT case nobody claims alerts the
team again at the rule's delay (15 minutes: console and team SMS) and the owner at twice it
(management email, and the owner's mobile when the rule names one); a claim stops it; a
claimed case nearing its deadline reminds its holder. Two worker processes watching at the
same moment make each alert once (a unique index on case, kind and channel)."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from knowledge.db import unit_of_work
from knowledge.models import BusinessRule, Escalation, TeamAlert
from knowledge.users import create_user
from tests.conftest import committed_database
from tests.factories import make_customer

OPENED = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
CONSOLE = "https://console.example"
#: One worker process's watch at a given moment (a frozen clock), printing the alerts it made.
WATCH = """
import asyncio, sys
from datetime import datetime
from sqlalchemy.ext.asyncio import async_sessionmaker
from knowledge.db import Database, make_engine
from knowledge.infra.clock import FrozenClock
from knowledge.service import KnowledgeService
from tools.escalations import watch_cases

async def main(url, at):
    engine = make_engine(url, pool_size=1)
    database = Database(url=url, engine=engine, sessionmaker=async_sessionmaker(engine))
    clock = FrozenClock(datetime.fromisoformat(at))
    print(await watch_cases(database, KnowledgeService(clock=clock), clock, sys.argv[3]))
    await engine.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def watched_by_two_processes(url: str, at: datetime) -> int:
    """Two worker processes watch at the same moment; the alerts both made, added up."""
    runs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WATCH,
            url,
            at.isoformat(),
            CONSOLE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    made = 0
    for run in runs:
        out, err = await run.communicate()
        assert run.returncode == 0, err.decode()[-2000:]
        made += int(out.decode().split()[-1])
    return made


async def alerts(sessions: Any, case_id: int) -> list[tuple[str | None, str, str | None]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(TeamAlert)
            .where(TeamAlert.escalation_id == case_id, TeamAlert.kind.is_not(None))
            .order_by(TeamAlert.id)
        )
        return [(a.kind, a.channel, a.target) for a in rows]


def case(customer_id: int, **fields: Any) -> Escalation:
    return Escalation(
        customer_id=customer_id,
        priority="URGENT",
        reason="Chef not there at start time",
        action_required="Call the chef and the customer",
        deadline=OPENED + timedelta(hours=2),  # URGENT: 2 hours from opening
        status="open",
        **fields,
    )


async def test_an_unclaimed_urgent_case_alerts_the_team_then_the_owner_once(
    pg_server: Any, template_url: str
) -> None:
    async with committed_database(pg_server, template_url, pool_size=2) as (url, sessions):
        async with unit_of_work(sessions) as session:
            customer = await make_customer(session, name="Dana Lee", phone="+19165550181")
            unclaimed, claimed = case(customer.id), case(customer.id)
            kim, _token = await create_user(session, "Kim", "agent")
            session.add_all([unclaimed, claimed])
            await session.flush()
            claimed.assigned_to_id = kim.id
            claimed.status = "in_progress"
            rule = await session.scalar(
                select(BusinessRule).where(BusinessRule.rule_type == "escalations")
            )
            assert rule is not None
            rule.value = {**rule.value, "owner_phone": "+19165550100"}
        team = "+19167408768"

        assert await watched_by_two_processes(url, OPENED + timedelta(minutes=14)) == 0
        assert await alerts(sessions, unclaimed.id) == []

        # At the delay: the team again, once, though two processes watched.
        assert await watched_by_two_processes(url, OPENED + timedelta(minutes=15)) == 2
        again = await alerts(sessions, unclaimed.id)
        assert [(k, c) for k, c, _ in again] == [
            ("unclaimed:URGENT", "console"),
            ("unclaimed:URGENT", "sms"),
        ]
        assert again[1][2] == team
        assert await watched_by_two_processes(url, OPENED + timedelta(minutes=20)) == 0

        # At twice the delay: the owner, by email and on their mobile.
        assert await watched_by_two_processes(url, OPENED + timedelta(minutes=30)) == 2
        owner = (await alerts(sessions, unclaimed.id))[2:]
        assert [(k, c) for k, c, _ in owner] == [("owner:URGENT", "email"), ("owner:URGENT", "sms")]
        assert owner[1][2] == "+19165550100"
        async with sessions() as session:
            email = await session.scalar(
                select(TeamAlert).where(
                    TeamAlert.escalation_id == unclaimed.id, TeamAlert.channel == "email"
                )
            )
            assert email is not None and f"{CONSOLE}/console/escalations/{unclaimed.id}" in (
                email.body
            )

        # The claimed case never alerted as unclaimed; near its deadline its holder is told.
        assert await alerts(sessions, claimed.id) == []
        near = OPENED + timedelta(hours=2) - timedelta(minutes=30)
        assert await watched_by_two_processes(url, near) == 1
        async with sessions() as session:
            reminder = await session.scalar(
                select(TeamAlert).where(TeamAlert.escalation_id == claimed.id)
            )
            assert reminder is not None
            assert (reminder.kind, reminder.channel, reminder.user_id) == (
                "deadline:URGENT",
                "console",
                kim.id,
            )
            assert reminder.subject.startswith("Due in 30 min")


async def test_a_claim_before_the_delay_stops_the_alerts(pg_server: Any, template_url: str) -> None:
    async with committed_database(pg_server, template_url, pool_size=2) as (url, sessions):
        async with unit_of_work(sessions) as session:
            customer = await make_customer(session, name="Lee Park", phone="+19165550182")
            waiting = case(customer.id)
            kim, _token = await create_user(session, "Kim", "agent")
            session.add(waiting)
        async with unit_of_work(sessions) as session:
            held = await session.get(Escalation, waiting.id)
            assert held is not None
            held.assigned_to_id, held.status = kim.id, "in_progress"
        assert await watched_by_two_processes(url, OPENED + timedelta(minutes=45)) == 0
        assert await alerts(sessions, waiting.id) == []
