"""One assembly for everything that runs the product. `build_core` makes what runs turns (the
knowledge service, the agent runtime, the scheduler's worker) from the settings: the HTTP
service (`create_app`), the worker processes (`hibachi worker`), `hibachi chat`, the
evaluation harness and the benches all build theirs there, so none is wired differently.
`assemble` adds what a long-running process needs around it: notifications and the
background loops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.inbox import INBOX_CHANNEL
from agent.llm import build_llm
from agent.runtime import AgentRuntime, postgres_checkpointers
from api.background import background_loops
from knowledge.db import Database
from knowledge.infra import tracing
from knowledge.infra.clock import Clock, SystemClock
from knowledge.infra.notify import Listener, Notifier, invalidation_handlers
from knowledge.infra.settings import Settings
from knowledge.service import KnowledgeService
from scheduler.worker import Worker
from tools.messaging.channels import simulated_channels

#: Checkpointer connection pools per process (a conversation always uses the same one).
SAVERS = 4


#: `build_core`'s default model: the one the settings configure (none without an API key).
FROM_SETTINGS: Any = object()


@dataclass(frozen=True)
class Core:
    """What runs turns: the knowledge service, the agent runtime and the scheduler's worker."""

    knowledge: KnowledgeService
    runtime: AgentRuntime
    worker: Worker


def knowledge_service(settings: Settings, clock: Clock) -> KnowledgeService:
    return KnowledgeService(clock=clock, ttl_seconds=settings.knowledge_cache_ttl_seconds)


def build_core(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    checkpointer: BaseCheckpointSaver[Any] | Sequence[BaseCheckpointSaver[Any]] | None,
    *,
    knowledge: KnowledgeService | None = None,
    llm: Any = FROM_SETTINGS,
) -> Core:
    """The turn's services from the settings: replies are simulated on the channels with no
    transport configured (Twilio for SMS, WhatsApp and web chat, SMTP for email); the LLM is
    the configured one unless `llm` gives the client to use (None: rules only), which lets a
    caller that builds several cores share one client."""
    knowledge = knowledge or knowledge_service(settings, clock)
    runtime = AgentRuntime(
        sessionmaker,
        knowledge,
        clock,
        checkpointer,
        simulated=simulated_channels(settings),
        console_url=settings.public_base_url,
        llm=build_llm(settings) if llm is FROM_SETTINGS else llm,
        llm_timeout=settings.llm_timeout_seconds,
    )
    return Core(knowledge, runtime, Worker(sessionmaker, runtime, knowledge, clock))


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
    process: str | None = None,
) -> AsyncIterator[Services]:
    """Build the services (those handed in are used as they are), listen for the other
    processes' notices (knowledge edits, stored messages, and `listen`'s own channels), and
    with `background` run the scheduler, the inbox, the outbox, team alerts and the mailbox
    until the block exits. A long-running `process` ("api", "worker") is traced when the
    settings name a collector."""
    clock = clock or SystemClock()
    async with AsyncExitStack() as stack:
        ratio = settings.trace_sample_ratio
        if process is not None and tracing.configure(process, settings.otel_endpoint, ratio=ratio):
            tracing.instrument_engine(database.engine)
            stack.callback(tracing.shutdown)  # last: the spans of the stop itself are sent
        if runtime is None:
            savers = await stack.enter_async_context(postgres_checkpointers(database.url, SAVERS))
            core = build_core(settings, database.sessionmaker, clock, savers, knowledge=knowledge)
            # Last, once the turns have stopped: the FAQ views not stored yet.
            stack.push_async_callback(core.runtime.count_views)
        else:  # a runtime handed in (tests) runs as it is
            knowledge = knowledge or knowledge_service(settings, clock)
            core = Core(
                knowledge, runtime, Worker(database.sessionmaker, runtime, knowledge, clock)
            )
        knowledge, runtime = core.knowledge, core.runtime
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
        if background and isinstance(runtime, AgentRuntime):
            # Turns run in this process: what they load is loaded before the first one.
            await runtime.warm_up()
        if background:
            await stack.enter_async_context(
                background_loops(
                    settings,
                    database,
                    core.worker,
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
