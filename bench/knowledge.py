"""Knowledge service speed: charter build cold and cached, and FAQ search latency.

Starts an embedded PostgreSQL in a temporary folder (or uses DATABASE_URL), migrates and seeds
it, then measures. Prints a table, and the figures as one JSON line at the end.

    .venv/bin/python bench/knowledge.py [--rounds 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import _path  # noqa: F401  (must come first: see bench/_path.py)

from knowledge import migrate
from knowledge.db import open_database, unit_of_work
from knowledge.infra.settings import load_settings
from knowledge.seed import load_seed
from knowledge.service import KnowledgeService

QUESTIONS = [
    "how much for children",
    "is the deposit refundable",
    "can you cook inside my garage?",
    "what time will the chef get here",
    "do you have vegan food",
    "what's your wifi password",
]


def ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 4),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 4),
    }


async def main(rounds: int) -> dict[str, object]:
    data_dir = Path(tempfile.mkdtemp(prefix="hibachi-bench-"))
    settings = load_settings(data_dir=data_dir)
    database = await open_database(settings)
    await migrate.upgrade_async(database.url)
    async with unit_of_work(database.sessionmaker) as session:
        await load_seed(session)

    service = KnowledgeService()
    cold: list[float] = []
    cached: list[float] = []
    faq: list[float] = []
    async with database.sessionmaker() as session:
        await service.charter(session)  # warm the connection and statement caches
        for _ in range(rounds):
            service.invalidate()
            start = time.perf_counter()
            await service.charter(session)
            cold.append(time.perf_counter() - start)
        for _ in range(rounds * 10):
            start = time.perf_counter()
            await service.charter(session)
            cached.append(time.perf_counter() - start)
        for i in range(rounds):
            start = time.perf_counter()
            await service.search_faq(session, QUESTIONS[i % len(QUESTIONS)], count_view=False)
            faq.append(time.perf_counter() - start)
    await database.dispose()
    if database.server is not None:
        database.server.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "bench": "knowledge",
        "rounds": rounds,
        "charter_cold": ms(cold),
        "charter_cached": ms(cached),
        "faq_search": ms(faq),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    figures = asyncio.run(main(args.rounds))
    for name in ("charter_cold", "charter_cached", "faq_search"):
        f = figures[name]
        assert isinstance(f, dict)
        print(f"{name:16} p50 {f['p50_ms']:8.4f} ms   p99 {f['p99_ms']:8.4f} ms")
    print(json.dumps(figures))
