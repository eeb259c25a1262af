"""The loops that run beside the HTTP service (or alone, in `hibachi worker`): the scheduler,
the inbox that answers stored messages, the outbox sender, team alerts, and the shop's mailbox
when email is configured."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import httpx

from agent.inbox import Inbox, announce
from agent.runtime import AgentRuntime
from api.ratelimit import RateLimiter
from knowledge.db import Database
from knowledge.errors import TooManyRequests
from knowledge.infra.clock import Clock
from knowledge.infra.notify import Notifier
from knowledge.infra.settings import Settings
from knowledge.service import KnowledgeService
from scheduler.worker import Worker
from tools.escalations import watch_cases
from tools.messaging.alerts import AlertSender, run_alerts
from tools.messaging.inbound import Stored
from tools.messaging.mailbox import Mailbox, MailboxAddress
from tools.messaging.sender import OutboxSender, run_sender
from tools.messaging.transports import build_transports
from tools.messaging.twilio import TwilioChannel


@asynccontextmanager
async def background_loops(
    settings: Settings,
    database: Database,
    worker: Worker,
    runtime: AgentRuntime,
    knowledge: KnowledgeService,
    clock: Clock,
    *,
    scheduler_wake: asyncio.Event | None = None,
    inbox_wake: asyncio.Event | None = None,
    hints: Notifier | None = None,
    poll_seconds: float = 1.0,
) -> AsyncIterator[None]:
    """Run every background loop until the block exits, then stop them cleanly. `hints`
    carries the inbox's turn notices to web chat requests waiting in other processes."""
    stop = asyncio.Event()
    inbox_wake = inbox_wake or asyncio.Event()
    sessions = database.sessionmaker
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0)) as http:
        twilio = None
        if settings.twilio_account_sid and settings.twilio_auth_token:
            twilio = TwilioChannel(settings, http)
        tasks = [
            asyncio.create_task(
                worker.run_forever(stop, scheduler_wake, poll_seconds=poll_seconds)
            ),
            asyncio.create_task(
                Inbox(
                    sessions,
                    runtime,
                    concurrency=settings.inbox_concurrency,
                    hints=hints,
                    burst_seconds=settings.burst_seconds,
                    shard=settings.shard(),
                ).run_forever(stop, inbox_wake)
            ),
            asyncio.create_task(
                run_alerts(
                    AlertSender(sessions, settings, twilio, clock),
                    stop,
                    watch=partial(
                        watch_cases, database, knowledge, clock, settings.public_base_url
                    ),
                )
            ),
        ]
        transports = build_transports(settings, knowledge, clock, twilio=twilio)
        if transports:
            sender = OutboxSender(sessions, transports, clock)
            tasks.append(asyncio.create_task(run_sender(sender, stop)))
        if settings.email_imap_url:
            wake = inbox_wake

            def stored(message: Stored) -> None:
                if hints is not None and message.message_id is not None:
                    announce(hints, message.message_id)
                wake.set()

            limit = RateLimiter(settings.rate_limit_phone_per_minute, name="email")

            def allow(sender: str) -> bool:
                try:
                    limit.check(sender, "emails from this address")
                except TooManyRequests:
                    return False
                return True

            mailbox = Mailbox(
                MailboxAddress.parse(settings.email_imap_url),
                sessions,
                clock,
                settings.shop_email,
                on_stored=stored,
                allow=allow,
                poll_seconds=settings.email_poll_seconds,
            )
            tasks.append(asyncio.create_task(mailbox.run_forever(stop)))
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
