"""A second process for the cross-process invalidation test.

It warms its own KnowledgeService cache (with a TTL of an hour, so only a NOTIFY can refresh
it), prints READY, then polls the cached charter until the lobster price changes and prints
the moment it saw the change.
"""

from __future__ import annotations

import asyncio
import sys
import time

from sqlalchemy.ext.asyncio import async_sessionmaker

from knowledge.db import make_engine
from knowledge.infra.notify import Listener, invalidation_handlers
from knowledge.service import KnowledgeService


async def main(url: str) -> None:
    engine = make_engine(url, pool_size=2)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    service = KnowledgeService(ttl_seconds=3600)
    listener = Listener(url, invalidation_handlers(service.invalidate), service.invalidate)
    await listener.start()

    async def lobster() -> str:
        async with sessions() as session:
            addon = (await service.charter(session)).addon("lobster")
            assert addon is not None
            return str(addon.price)

    first = await lobster()
    print(f"READY {first}", flush=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        price = await lobster()
        if price != first:
            print(f"CHANGED {price} {time.time():.6f} misses={service.misses}", flush=True)
            break
        await asyncio.sleep(0.01)
    else:
        print("TIMEOUT", flush=True)
    await listener.stop()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
