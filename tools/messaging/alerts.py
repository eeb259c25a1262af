"""Delivering team alerts: an SMS to the team phone, an email to management.

Alerts are rows written in the turn that opened the escalation; this delivers committed ones.
Console alerts are read in the console and are not sent anywhere. Without Twilio or SMTP
settings an alert is marked `simulated`, so a laptop runs the whole product.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage

import aiosmtplib
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge.db import unit_of_work
from knowledge.infra.clock import Clock
from knowledge.infra.loops import pause
from knowledge.infra.settings import Settings
from knowledge.models import TeamAlert
from tools.messaging.twilio import TwilioChannel

log = structlog.get_logger(__name__)

_CLAIM = text(
    """
    UPDATE team_alerts AS a SET attempts = a.attempts + 1
    WHERE a.id IN (
        SELECT id FROM team_alerts
        WHERE status = 'pending' AND channel IN ('sms', 'email')
          AND (last_error IS NULL OR created_at + make_interval(secs => 30 * power(2, attempts))
               <= :now)
        ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
    )
    RETURNING a.id
    """
)


class AlertSender:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        twilio: TwilioChannel | None,
        clock: Clock,
        *,
        max_attempts: int = 5,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.twilio = twilio
        self.clock = clock
        self.max_attempts = max_attempts

    async def send_pending(self, limit: int = 20) -> int:
        async with unit_of_work(self.sessionmaker) as session:
            ids = list(await session.scalars(_CLAIM, {"now": self.clock.now(), "limit": limit}))
        for alert_id in ids:
            await self._deliver(alert_id)
        return len(ids)

    async def _deliver(self, alert_id: int) -> None:
        async with unit_of_work(self.sessionmaker) as session:
            alert = await session.get(TeamAlert, alert_id, with_for_update=True)
            assert alert is not None
            try:
                status = await self._send(alert)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                alert.last_error = f"{type(exc).__name__}: {exc}"[:500]
                if alert.attempts >= self.max_attempts:
                    alert.status = "failed"
                log.warning("team alert not delivered", alert=alert_id, error=alert.last_error)
                return
            alert.status = status
            alert.sent_at = self.clock.now()
            alert.last_error = None

    async def _send(self, alert: TeamAlert) -> str:
        if alert.channel == "sms":
            if self.twilio is None or not alert.target:
                return "simulated"
            result = await self.twilio.send(to=alert.target, channel="sms", body=alert.body)
            if result.sid is None:
                raise OSError(f"twilio refused the team SMS ({result.error_code})")
            return "sent"
        if not self.settings.smtp_host or not alert.target:
            return "simulated"
        email = EmailMessage()
        email["From"] = self.settings.smtp_from
        email["To"] = alert.target
        email["Subject"] = alert.subject
        email.set_content(alert.body)
        await aiosmtplib.send(
            email,
            hostname=self.settings.smtp_host,
            port=self.settings.smtp_port,
            username=self.settings.smtp_username,
            password=self.settings.smtp_password,
            start_tls=self.settings.smtp_starttls,
            timeout=10,
        )
        return "sent"


async def run_alerts(
    sender: AlertSender,
    stop: asyncio.Event,
    poll_seconds: float = 2.0,
    *,
    watch: Callable[[], Awaitable[int]] | None = None,
    watch_seconds: float = 30.0,
) -> None:
    """Send the pending alerts every `poll_seconds`; every `watch_seconds`, first make the
    alerts that watched cases are due (`watch`: tools.escalations.watch in a transaction)."""
    watched_at = -watch_seconds
    while not stop.is_set():
        try:
            if watch is not None and time.monotonic() - watched_at >= watch_seconds:
                watched_at = time.monotonic()
                made = await watch()
                if made:
                    log.info("cases alerted again", alerts=made)
            await sender.send_pending()
        except Exception as exc:  # keep alerting through database blips
            log.error("alert loop error", error=str(exc)[:200])
        await pause(stop, None, poll_seconds)
