"""One assembly for every process that runs the product: the HTTP service (`create_app`) and
the worker (`hibachi worker`) build their knowledge service, agent runtime, notifications and
background loops here, from the settings, so the two can never be wired differently."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from agent.inbox import INBOX_CHANNEL
from agent.runtime import AgentRuntime, postgres_checkpointers
from api.background import background_loops
from knowledge.db import Database
from knowledge.infra.clock import Clock, SystemClock
from knowledge.infra.notify import Listener, Notifier, invalidation_handlers
from knowledge.infra.settings import Settings
from knowledge.service import KnowledgeService

#: Checkpointer connection pools per process (a conversation always uses the same one).
SAVERS = 4


@dataclass
class Services:
    """What a running process holds besides its database."""

    settings: Settings
    database: Database
    knowledge: KnowledgeService
    clock: Clock
    runtime: AgentRuntime
    hints: Notifier  # tells other processes what this one did (a stored message, a turn)
    inbox_wake: asyncio.Event = field(default_factory=asyncio.Event)
    worker_wake: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def assemble(
    settings: Settings,
    database: Database,
    *,
    clock: Clock | None = None,
    knowledge: KnowledgeService | None = None,
    runtime: AgentRuntime | None = None,
    background: bool = True,
    listen: dict[str, Callable[[str], None]] | None = None,
    poll_seconds: float = 1.0,
) -> AsyncIterator[Services]:
    """Build the services (those handed in are used as they are), listen for the other
    processes' notices (knowledge edits, stored messages, and `listen`'s own channels), and
    with `background` run the scheduler, the inbox, the outbox, team alerts and the mailbox
    until the block exits."""
    clock = clock or SystemClock()
    async with AsyncExitStack() as stack:
        knowledge = knowledge or KnowledgeService(
            clock=clock, ttl_seconds=settings.knowledge_cache_ttl_seconds
        )
        if runtime is None:
            savers = await stack.enter_async_context(postgres_checkpointers(database.url, SAVERS))
            runtime = AgentRuntime.from_settings(
                settings, database.sessionmaker, knowledge, clock, savers
            )
        hints = Notifier(database.url)
        stack.push_async_callback(hints.stop)
        services = Services(settings, database, knowledge, clock, runtime, hints)
        handlers = invalidation_handlers(knowledge.invalidate)
        handlers.update(listen or {})
        if background:
            handlers[INBOX_CHANNEL] = lambda _payload: services.inbox_wake.set()

        def reconnected() -> None:  # anything announced while disconnected was missed
            knowledge.invalidate()
            services.inbox_wake.set()

        listener = Listener(database.url, handlers, reconnected)
        await listener.start()
        stack.push_async_callback(listener.stop)
        if background:
            await stack.enter_async_context(
                background_loops(
                    settings,
                    database,
                    runtime,
                    knowledge,
                    clock,
                    scheduler_wake=services.worker_wake,
                    inbox_wake=services.inbox_wake,
                    hints=hints,
                    poll_seconds=poll_seconds,
                )
            )
        yield services
