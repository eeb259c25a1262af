"""Scheduler throughput: touchpoints sent per second by 1, 2 and 4 worker processes.

Each touchpoint is a full turn through the agent graph (rules mode, outbound simulated) on the
embedded PostgreSQL. For each worker count the script plans N due confirmations, starts the
workers (the same worker the tests use) and times from their start until every touchpoint is
sent. Prints a table, then the figures as one JSON line.

    .venv/bin/python bench/scheduler.py [--touchpoints 600]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _path  # noqa: F401  (must come first: see bench/_path.py)
import asyncpg
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from knowledge import migrate
from knowledge.db import asyncpg_dsn, ensure_database, make_engine, unit_of_work
from knowledge.infra import embedded
from knowledge.models import AutomatedReminder
from knowledge.seed import load_seed
from tests.helpers.journey_data import due_confirmations

ROOT = Path(__file__).resolve().parents[1]
HELPER = ROOT / "tests" / "helpers" / "scheduler_worker.py"
START = datetime(2026, 6, 10, 19, 0, tzinfo=UTC)  # noon in the business timezone


async def prepare(url: str, count: int) -> None:
    engine = make_engine(url)
    await due_confirmations(
        async_sessionmaker(engine, expire_on_commit=False), count, START, "+1916888"
    )
    await engine.dispose()


async def sent(url: str) -> int:
    engine = make_engine(url, pool_size=1)
    async with async_sessionmaker(engine)() as session:
        n = await session.scalar(select(func.count()).where(AutomatedReminder.status == "sent"))
    await engine.dispose()
    return int(n or 0)


async def run(server: Any, workers: int, count: int) -> float:
    name = f"bench_scheduler_{workers}"
    admin = await asyncpg.connect(asyncpg_dsn(embedded.server_url(server, "postgres")))
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "bench_template"')
    await admin.close()
    url = embedded.server_url(server, name)
    await prepare(url, count)
    procs = []
    for _ in range(workers):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HELPER),
            url,
            START.isoformat(),
            "300",
            "--until-idle",
            "--wait-go",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.stdout is not None
        await proc.stdout.readline()  # READY: imports and connections are not timed
        procs.append(proc)
    started = time.perf_counter()
    for proc in procs:  # all workers start at the same moment
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
    while await sent(url) < count:  # noqa: ASYNC110 (polling the database, not a flag)
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    for proc in procs:
        await proc.wait()
    return count / elapsed


async def main(count: int) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="hibachi-bench-scheduler-"))
    server = embedded.start_server(data_dir)
    template = embedded.server_url(server, "bench_template")
    await ensure_database(template)
    await migrate.upgrade_async(template)
    engine = make_engine(template, pool_size=1)
    async with unit_of_work(async_sessionmaker(engine, expire_on_commit=False)) as session:
        await load_seed(session)
    await engine.dispose()
    figures: dict[str, Any] = {"bench": "scheduler", "touchpoints": count}
    for workers in (1, 2, 4):
        figures[f"per_second_{workers}_workers"] = round(await run(server, workers, count), 1)
    server.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--touchpoints", type=int, default=600)
    args = parser.parse_args()
    result = asyncio.run(main(args.touchpoints))
    for key, value in result.items():
        print(f"{key:26} {value}")
    print(json.dumps(result))
