"""Workers as real processes: one killed mid-batch loses nothing, four share the work exactly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge.db import make_engine
from knowledge.models import AutomatedReminder, Message
from tests.conftest import clone_database
from tests.helpers.journey_data import due_confirmations

ROOT = Path(__file__).resolve().parents[1]
HELPER = ROOT / "tests" / "helpers" / "scheduler_worker.py"
START = datetime(2026, 6, 10, 19, 0, tzinfo=UTC)  # noon in Sacramento: inside messaging hours


async def spawn(url: str, moment: datetime, lease: float, until_idle: bool) -> Any:
    args = [str(HELPER), url, moment.isoformat(), str(lease)]
    if until_idle:
        args.append("--until-idle")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert line.strip() == b"READY", line
    return proc


async def counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            select(AutomatedReminder.status, func.count()).group_by(AutomatedReminder.status)
        )
        by_status = {status: n for status, n in rows.all()}
        sent = await session.scalar(select(func.count()).where(Message.direction == "outbound"))
        keys = await session.scalar(
            select(func.count(func.distinct(Message.idempotency_key))).where(
                Message.direction == "outbound"
            )
        )
    return {**by_status, "messages": sent or 0, "keys": keys or 0}


class TestWorkerCrash:
    async def test_a_worker_killed_mid_batch_leaves_its_claims_to_another(
        self, pg_server: Any, template_url: str
    ) -> None:
        """Fails if claims were never re-taken after their lease (rows stay 'claimed')."""
        url = await clone_database(pg_server, template_url)
        engine = make_engine(url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        await due_confirmations(sessions, 60, START, "+1916777")

        first = await spawn(url, START, lease=2, until_idle=False)
        for _ in range(400):  # kill it while it holds claims it has not finished
            seen = await counts(sessions)
            if seen.get("claimed", 0) > 0 and seen.get("sent", 0) > 0:
                break
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        at_kill = await counts(sessions)
        assert at_kill.get("claimed", 0) > 0, at_kill

        second = await spawn(url, START + timedelta(seconds=3), lease=2, until_idle=True)
        await asyncio.wait_for(second.wait(), 120)
        done = await counts(sessions)
        await engine.dispose()
        assert done.get("sent") == 60, done
        assert done["messages"] == done["keys"] == 60


class TestFourWorkers:
    async def test_two_thousand_touchpoints_each_sent_exactly_once(
        self, pg_server: Any, template_url: str
    ) -> None:
        url = await clone_database(pg_server, template_url)
        engine = make_engine(url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        await due_confirmations(sessions, 2000, START, "+1916777")
        workers = [await spawn(url, START, lease=300, until_idle=True) for _ in range(4)]
        await asyncio.wait_for(asyncio.gather(*(w.wait() for w in workers)), 300)
        done = await counts(sessions)
        await engine.dispose()
        assert [w.returncode for w in workers] == [0, 0, 0, 0]
        assert done.get("sent") == 2000, done
        assert done["messages"] == done["keys"] == 2000
