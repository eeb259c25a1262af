"""Team alerts leave as real email (to a local SMTP server) and SMS (Twilio, mocked)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.runtime import AgentRuntime
from knowledge.infra.clock import FrozenClock
from knowledge.infra.settings import Settings
from knowledge.models import TeamAlert
from tests.factories import make_booking, make_customer
from tools.messaging.alerts import AlertSender
from tools.messaging.twilio import TwilioChannel

SID = "AC" + "2" * 32
API = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
PHONE = "+19165550144"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def alert_settings(tmp_path: Path, port: int | None) -> Settings:
    return Settings(
        env="test",
        data_dir=tmp_path,
        smtp_host="127.0.0.1" if port else None,
        smtp_port=port or 25,
        smtp_from="agent@myhibachi.example",
        twilio_account_sid=SID,
        twilio_auth_token="t",
        twilio_from_number="+19167408768",
        public_base_url="https://hibachi.example",
    )


async def escalate(
    runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock, until: timedelta
) -> None:
    customer = await make_customer(session, name="Rae Kim", phone=PHONE)
    await make_booking(session, customer, event_at=clock.now() + until, reference="MH-ALERT1")
    await session.commit()
    await runtime.receive(PHONE, "we have to cancel the party")


class TestTeamAlerts:
    async def test_a_high_escalation_emails_management(
        self,
        runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        sessionmaker: Any,
        smtp: tuple[Inbox, int],
        tmp_path: Path,
    ) -> None:
        inbox, port = smtp
        await escalate(runtime, session, clock, timedelta(days=2))
        sender = AlertSender(sessionmaker, alert_settings(tmp_path, port), None, clock)
        assert await sender.send_pending() == 1
        [(recipients, email)] = inbox.messages
        assert recipients == ["management@myhibachi.example"]
        assert email["Subject"].startswith("HIGH: Late cancellation")
        body = email.get_payload(decode=True).decode()
        assert "MH-ALERT1" in body and "Rae Kim" in body
        assert "http://127.0.0.1:8000/console/escalations/" in body  # the runtime's console
        status = (
            await session.scalars(select(TeamAlert.status).where(TeamAlert.channel == "email"))
        ).one()
        assert status == "sent"

    async def test_an_urgent_escalation_also_texts_the_team_phone(
        self,
        runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        sessionmaker: Any,
        smtp: tuple[Inbox, int],
        tmp_path: Path,
    ) -> None:
        inbox, port = smtp
        await escalate(runtime, session, clock, timedelta(hours=10))
        settings = alert_settings(tmp_path, port)
        async with httpx.AsyncClient() as http:
            with respx.mock:
                route = respx.post(API).mock(
                    return_value=httpx.Response(201, json={"sid": "SM7", "status": "queued"})
                )
                sender = AlertSender(sessionmaker, settings, TwilioChannel(settings, http), clock)
                assert await sender.send_pending() == 2
        form = parse_qs(route.calls[0].request.content.decode())
        assert form["To"] == ["+19167408768"]
        assert form["Body"][0].startswith("URGENT: booking MH-ALERT1")
        assert len(inbox.messages) == 1

    async def test_without_smtp_an_email_alert_is_simulated(
        self,
        runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        sessionmaker: Any,
        tmp_path: Path,
    ) -> None:
        await escalate(runtime, session, clock, timedelta(days=2))
        sender = AlertSender(sessionmaker, alert_settings(tmp_path, None), None, clock)
        await sender.send_pending()
        status = (
            await session.scalars(select(TeamAlert.status).where(TeamAlert.channel == "email"))
        ).one()
        assert status == "simulated"

    async def test_an_unreachable_mail_server_is_retried_not_lost(
        self,
        runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        sessionmaker: Any,
        tmp_path: Path,
    ) -> None:
        await escalate(runtime, session, clock, timedelta(days=2))
        sender = AlertSender(sessionmaker, alert_settings(tmp_path, free_port()), None, clock)
        await sender.send_pending()
        alert = (await session.scalars(select(TeamAlert).where(TeamAlert.channel == "email"))).one()
        assert alert.status == "pending" and alert.last_error
