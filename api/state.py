"""What a running app holds: settings, the database, the knowledge service, the clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from agent.inbox import TurnWaiters
from api.metrics import Scraper
from api.ratelimit import RateLimiter
from knowledge.db import Database
from knowledge.infra.clock import Clock
from knowledge.infra.notify import Notifier
from knowledge.infra.settings import Settings
from knowledge.service import KnowledgeService
from knowledge.users import SignInRules


@dataclass
class AppState:
    settings: Settings
    database: Database
    knowledge: KnowledgeService
    clock: Clock
    hints: Notifier
    scraper: Scraper
    runtime: Any = None  # agent.runtime.AgentRuntime
    worker_wake: asyncio.Event = field(default_factory=asyncio.Event)
    inbox_wake: asyncio.Event = field(default_factory=asyncio.Event)
    phone_limit: RateLimiter = field(default_factory=lambda: RateLimiter(0))
    ip_limit: RateLimiter = field(default_factory=lambda: RateLimiter(0))
    turns: TurnWaiters = field(default_factory=TurnWaiters)
    workers: Any = None  # api.workers.WorkerProcesses with `hibachi serve --workers N`

    @property
    def sign_in_rules(self) -> SignInRules:
        return SignInRules.of(self.settings)
