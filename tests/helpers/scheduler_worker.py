"""A scheduler worker process for the crash and concurrency tests.

    python tests/helpers/scheduler_worker.py URL CLOCK_ISO LEASE_SECONDS [--until-idle] [--wait-go]

Runs the real Worker on the database at URL with the clock frozen at CLOCK_ISO (so messaging
hours do not depend on when the test runs). Prints READY once running. With --until-idle it
exits after two empty looks in a row; with --wait-go it starts only when a line arrives on
its standard input (so a benchmark can start several workers at the same moment).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from agent.runtime import AgentRuntime, postgres_checkpointers
from knowledge.db import make_engine
from knowledge.infra.clock import FrozenClock
from knowledge.service import KnowledgeService
from scheduler.worker import Worker


async def main(url: str, moment: str, lease_seconds: float, until_idle: bool, go: bool) -> None:
    engine = make_engine(url, pool_size=4)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    clock = FrozenClock(datetime.fromisoformat(moment))
    knowledge = KnowledgeService(clock=clock)
    async with postgres_checkpointers(url, 2, max_size=4) as savers:
        runtime = AgentRuntime(sessions, knowledge, clock, savers)
        worker = Worker(
            sessions, runtime, knowledge, clock, batch=10, lease=timedelta(seconds=lease_seconds)
        )
        print("READY", flush=True)
        if go:
            await asyncio.to_thread(sys.stdin.readline)
        idle = 0
        while True:
            done = await worker.run_due()
            if until_idle:
                idle = idle + 1 if done == 0 else 0
                if idle >= 2:
                    break
            await asyncio.sleep(0.2)
    await engine.dispose()


if __name__ == "__main__":
    flags = set(sys.argv[4:])
    asyncio.run(
        main(
            sys.argv[1],
            sys.argv[2],
            float(sys.argv[3]),
            "--until-idle" in flags,
            "--wait-go" in flags,
        )
    )
