"""What a running app holds: settings, the database, the knowledge service, the clock."""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.clock import Clock
from knowledge.db import Database
from knowledge.service import KnowledgeService
from knowledge.settings import Settings


@dataclass
class AppState:
    settings: Settings
    database: Database
    knowledge: KnowledgeService
    clock: Clock
