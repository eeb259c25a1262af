"""Backup and restore: a populated database is dumped with `hibachi backup`, restored into a
new one with `hibachi restore`, and the restored copy holds the same data and runs an
evaluation scenario."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from agent.runtime import AgentRuntime, postgres_checkpointer
from evals.schema import load_scenario
from evals.suite import run_all
from knowledge.db import asyncpg_dsn
from knowledge.infra import embedded
from knowledge.infra.clock import FrozenClock
from knowledge.service import KnowledgeService
from tests.conftest import committed_database
from tests.factories import make_booking, make_customer

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "evals" / "scenarios" / "booking" / "booking-question-address-on-file.yaml"
COUNTED = (
    "customers",
    "customer_addresses",
    "bookings",
    "automated_reminders",
    "conversations",
    "messages",
    "faq_items",
    "business_rules",
    "langgraph.checkpoints",
)


def hibachi(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env={**os.environ, "DATABASE_URL": url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in COUNTED}
    finally:
        await conn.close()


async def test_a_backup_restores_into_a_new_database_that_runs(
    pg_server: Any, template_url: str, tmp_path: Path
) -> None:
    async with committed_database(pg_server, template_url) as (url, sessions):
        clock = FrozenClock(datetime(2026, 6, 10, 15, 0, tzinfo=UTC))
        async with sessions() as session:
            customer = await make_customer(session, name="Dana Lee", phone="+19165550188")
            await make_booking(session, customer, event_at=clock.now() + timedelta(days=20))
            await session.commit()
        async with postgres_checkpointer(url) as saver:
            runtime = AgentRuntime(sessions, KnowledgeService(clock=clock), clock, saver)
            await runtime.receive("+19165550188", "how much do kids cost?")
        before = await counts(url)
        assert before["messages"] == 2 and before["langgraph.checkpoints"] >= 1

        file = tmp_path / "hibachi.dump"
        made = hibachi("backup", str(file), url=url)
        assert made.returncode == 0, made.stderr
        assert "backed up" in made.stdout and file.stat().st_size > 0

        target = embedded.server_url(pg_server, f"hibachi_restored_{os.getpid()}")
        restored = hibachi("restore", str(file), url=target)
        assert restored.returncode == 0, restored.stderr
        assert await counts(target) == before

        # A restore never lands on a database that holds data.
        again = hibachi("restore", str(file), "--into", url, url=target)
        assert again.returncode != 0
        assert "already holds tables" in again.stderr + again.stdout

        # The restored database runs the agent: an evaluation scenario passes on it.
        results = await run_all(target, [(SCENARIO, load_scenario(SCENARIO))])
        assert all(run.passed for r in results for run in r.runs), results


def test_a_missing_backup_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.dump"
    done = hibachi("restore", str(missing), url="postgresql://postgres@127.0.0.1:1/x")
    assert done.returncode != 0
    assert "no such backup file" in done.stderr + done.stdout


@pytest.fixture(autouse=True)
def _no_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
