"""Outbound SMS and WhatsApp through the Twilio REST API (mocked with respx): every answer
Twilio can give is handled, and nothing is sent twice."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.infra.clock import FrozenClock
from knowledge.infra.settings import Settings
from knowledge.models import Customer, Message
from knowledge.service import KnowledgeService
from tests.factories import make_conversation, make_customer, make_message
from tests.helpers.metrics import counted
from tests.helpers.twilio import signed
from tools import addresses
from tools.messaging.channels import Outgoing, SendResult, simulated_channels
from tools.messaging.sender import OutboxSender
from tools.messaging.transports import build_transports
from tools.messaging.twilio import TwilioChannel

SID = "AC" + "1" * 32
TOKEN = "sender-token"
BASE = "https://hibachi.example"
API = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        data_dir=tmp_path,
        run_worker=False,
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
        twilio_from_number="+19167408768",
        twilio_whatsapp_from="whatsapp:+19167408768",
        public_base_url=BASE,
    )


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def sender(
    sessionmaker: Any,
    settings: Settings,
    http: httpx.AsyncClient,
    clock: FrozenClock,
    knowledge: KnowledgeService,
) -> OutboxSender:
    twilio = TwilioChannel(settings, http)
    return OutboxSender(
        sessionmaker, build_transports(settings, knowledge, clock, twilio=twilio), clock
    )


async def outbound(session: AsyncSession, channel: str = "sms") -> tuple[Customer, Message]:
    customer = await make_customer(session)
    conversation = await make_conversation(session, customer, channel=channel)
    message = await make_message(
        session,
        conversation,
        direction="outbound",
        author="agent",
        status="pending",
        body="See you Saturday!",
    )
    await session.commit()
    return customer, message


async def report(client: httpx.AsyncClient, message: Message, sid: str, status: str) -> int:
    """Twilio's status callback for one of our sends (its URL names our message)."""
    path = f"/webhooks/twilio/status?mid={message.id}"
    form = {"MessageSid": sid, "MessageStatus": status}
    return (await client.post(path, **signed(BASE + path, form, TOKEN))).status_code


def created(sid: str = "SM100") -> httpx.Response:
    return httpx.Response(201, json={"sid": sid, "status": "queued", "account_sid": SID})


def twilio_error(status: int, code: int) -> httpx.Response:
    return httpx.Response(
        status, json={"code": code, "message": "refused", "more_info": "", "status": status}
    )


class TestSending:
    @respx.mock
    async def test_an_sms_goes_out_once_with_a_status_callback(
        self, sender: OutboxSender, session: AsyncSession
    ) -> None:
        customer, message = await outbound(session)
        route = respx.post(API).mock(return_value=created())
        assert await sender.send_pending() == 1
        assert await sender.send_pending() == 0
        await session.refresh(message)
        assert (message.status, message.provider_message_id) == ("queued", "SM100")
        form = parse_qs(route.calls[0].request.content.decode())
        assert form["To"] == [customer.phone] and form["From"] == ["+19167408768"]
        assert form["StatusCallback"] == [f"{BASE}/webhooks/twilio/status?mid={message.id}"]

    @pytest.mark.parametrize("failure", [httpx.Response(503), twilio_error(429, 20429)])
    async def test_busy_or_broken_twilio_is_retried_with_backoff(
        self, sender: OutboxSender, session: AsyncSession, clock: FrozenClock, failure: Any
    ) -> None:
        _, message = await outbound(session)
        retries = counted("hibachi_outbox_retries_total", channel="sms")
        with respx.mock:
            route = respx.post(API).mock(side_effect=[failure, failure, created("SM200")])
            await sender.send_pending()
            await session.refresh(message)
            assert message.status == "pending"
            assert message.next_attempt_at == clock.now() + timedelta(seconds=30)
            assert await sender.send_pending() == 0  # not before its time
            clock.advance(timedelta(seconds=30))
            await sender.send_pending()
            clock.advance(timedelta(seconds=60))
            await sender.send_pending()
        await session.refresh(message)
        assert (message.status, message.provider_message_id, route.call_count) == (
            "queued",
            "SM200",
            3,
        )
        assert counted("hibachi_outbox_retries_total", channel="sms") == retries + 2

    @respx.mock
    async def test_an_unsubscribed_recipient_records_the_opt_out(
        self, sender: OutboxSender, session: AsyncSession
    ) -> None:
        customer, message = await outbound(session)
        respx.post(API).mock(return_value=twilio_error(400, 21610))
        await sender.send_pending()
        await session.refresh(message)
        assert (message.status, message.error_code) == ("failed", "21610")
        assert await addresses.opted_out(session, customer.id, "sms")

    @respx.mock
    async def test_an_invalid_number_fails_without_retry(
        self, sender: OutboxSender, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, message = await outbound(session)
        route = respx.post(API).mock(return_value=twilio_error(400, 21211))
        failed = counted("hibachi_messages_sent_total", channel="sms", status="failed")
        await sender.send_pending()
        clock.advance(timedelta(hours=1))
        await sender.send_pending()
        await session.refresh(message)
        assert (message.status, message.error_code, route.call_count) == ("failed", "21211", 1)
        assert counted("hibachi_messages_sent_total", channel="sms", status="failed") == failed + 1

    async def test_a_lost_answer_is_matched_by_the_callback_and_never_resent(
        self,
        sender: OutboxSender,
        session: AsyncSession,
        clock: FrozenClock,
        client: httpx.AsyncClient,
    ) -> None:
        _, message = await outbound(session)
        with respx.mock:
            route = respx.post(API).mock(side_effect=httpx.ReadTimeout("no answer"))
            await sender.send_pending()
            await session.refresh(message)
            assert message.status == "sending"
            # Twilio did take it: its first status callback names our message.
            assert await report(client, message, "SM300", "sent") == 204
            clock.advance(timedelta(minutes=10))
            await sender.send_pending()
        await session.refresh(message)
        assert (message.status, message.provider_message_id, route.call_count) == (
            "sent",
            "SM300",
            1,
        )

    async def test_a_lost_answer_without_a_callback_is_sent_again_after_the_grace(
        self, sender: OutboxSender, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, message = await outbound(session)
        with respx.mock:
            route = respx.post(API).mock(
                side_effect=[httpx.ConnectTimeout("down"), created("SM400")]
            )
            await sender.send_pending()
            assert await sender.send_pending() == 0  # within the grace period
            clock.advance(timedelta(minutes=2))
            await sender.send_pending()
        await session.refresh(message)
        assert (message.status, message.provider_message_id, route.call_count) == (
            "queued",
            "SM400",
            2,
        )

    async def test_a_send_that_never_gets_an_answer_fails_after_five_tries(
        self, sender: OutboxSender, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, message = await outbound(session)
        with respx.mock:
            route = respx.post(API).mock(side_effect=httpx.ConnectTimeout("down"))
            for _ in range(7):
                await sender.send_pending()
                clock.advance(timedelta(minutes=2))
        await session.refresh(message)
        assert (message.status, message.attempts, route.call_count) == ("failed", 5, 5)


class TestTransports:
    """Every channel leaves through one seam: the registered transport prepares a message inside
    the sender's session and its send runs after; a channel with none is simulated."""

    class Recording:
        def __init__(self) -> None:
            self.prepared: list[tuple[int, str]] = []
            self.sent: list[int] = []

        async def prepare(
            self, session: AsyncSession, message: Message, conversation: Any, customer: Customer
        ) -> Outgoing:
            self.prepared.append((message.id, customer.phone or ""))

            async def send() -> SendResult:
                self.sent.append(message.id)
                return SendResult(sid=f"X{message.id}", status="queued")

            return Outgoing(send, note="carried by the test transport")

    async def test_a_registered_transport_carries_its_channel(
        self, sessionmaker: Any, session: AsyncSession, clock: FrozenClock
    ) -> None:
        customer, message = await outbound(session)
        transport = self.Recording()
        sender = OutboxSender(sessionmaker, {"sms": transport}, clock)
        assert await sender.send_pending() == 1
        assert transport.prepared == [(message.id, customer.phone)]
        assert transport.sent == [message.id]
        await session.refresh(message)
        assert (message.status, message.provider_message_id) == ("queued", f"X{message.id}")
        assert message.meta["delivery_note"] == "carried by the test transport"

    async def test_a_channel_with_no_transport_is_simulated(
        self, sessionmaker: Any, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, message = await outbound(session, channel="whatsapp")
        transport = self.Recording()
        assert await OutboxSender(sessionmaker, {"sms": transport}, clock).send_pending() == 1
        await session.refresh(message)
        assert message.status == "simulated" and transport.prepared == []

    def test_only_configured_channels_get_a_transport(
        self, settings: Settings, knowledge: KnowledgeService, clock: FrozenClock, tmp_path: Path
    ) -> None:
        email_only = Settings(env="test", data_dir=tmp_path, smtp_host="127.0.0.1")  # type: ignore[call-arg]
        assert set(build_transports(email_only, knowledge, clock, twilio=None)) == {"email"}
        assert simulated_channels(email_only) == {"sms", "whatsapp", "web"}
        assert simulated_channels(settings) == {"email"}
        with pytest.raises(ValueError, match="Twilio client"):
            build_transports(settings, knowledge, clock, twilio=None)


class TestWhatsAppWindow:
    async def _whatsapp(
        self, session: AsyncSession, clock: FrozenClock, last_inbound: timedelta | None
    ) -> tuple[Customer, Message]:
        customer = await make_customer(session)
        conversation = await make_conversation(session, customer, channel="whatsapp")
        if last_inbound is not None:
            conversation.last_inbound_at = clock.now() - last_inbound
        message = await make_message(
            session,
            conversation,
            direction="outbound",
            author="agent",
            status="pending",
            kind="7_day",
            body="Your party is one week away!",
            meta={
                "decisions": [
                    {"facts": {"event_date": "Saturday, June 20", "event_time": "6:00 PM"}}
                ]
            },
        )
        await session.commit()
        return customer, message

    def sender(
        self,
        sessionmaker: Any,
        settings: Settings,
        http: httpx.AsyncClient,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> OutboxSender:
        twilio = TwilioChannel(settings, http)
        return OutboxSender(
            sessionmaker, build_transports(settings, knowledge, clock, twilio=twilio), clock
        )

    @respx.mock
    async def test_inside_the_window_free_text_goes_by_whatsapp(
        self,
        sessionmaker: Any,
        settings: Settings,
        http: httpx.AsyncClient,
        clock: FrozenClock,
        knowledge: Any,
        session: AsyncSession,
    ) -> None:
        customer, _ = await self._whatsapp(session, clock, timedelta(hours=3))
        route = respx.post(API).mock(return_value=created())
        await self.sender(sessionmaker, settings, http, clock, knowledge).send_pending()
        form = parse_qs(route.calls[0].request.content.decode())
        assert form["To"] == [f"whatsapp:{customer.phone}"] and "Body" in form
        assert form["From"] == ["whatsapp:+19167408768"]

    @respx.mock
    async def test_outside_the_window_without_a_template_falls_back_to_sms(
        self,
        sessionmaker: Any,
        settings: Settings,
        http: httpx.AsyncClient,
        clock: FrozenClock,
        knowledge: Any,
        session: AsyncSession,
    ) -> None:
        customer, message = await self._whatsapp(session, clock, timedelta(days=3))
        route = respx.post(API).mock(return_value=created())
        await self.sender(sessionmaker, settings, http, clock, knowledge).send_pending()
        form = parse_qs(route.calls[0].request.content.decode())
        assert form["To"] == [customer.phone] and form["From"] == ["+19167408768"]
        await session.refresh(message)
        assert "no WhatsApp template for '7_day'" in message.meta["delivery_note"]

    @respx.mock
    async def test_outside_the_window_an_approved_template_is_used(
        self,
        sessionmaker: Any,
        settings: Settings,
        http: httpx.AsyncClient,
        clock: FrozenClock,
        knowledge: Any,
        session: AsyncSession,
    ) -> None:
        from knowledge import repository as repo
        from knowledge.schemas import RuleUpdate

        rule = await repo.rule_by_type(session, "whatsapp")
        assert rule is not None
        template = {"content_sid": "HX" + "a" * 32, "variables": ["event_date", "event_time"]}
        value = {"session_window_hours": 24, "templates": {"7_day": template}}
        await knowledge.update_rule(session, rule.id, RuleUpdate(value=value), actor="kim")
        customer, _ = await self._whatsapp(session, clock, None)
        route = respx.post(API).mock(return_value=created())
        await self.sender(sessionmaker, settings, http, clock, knowledge).send_pending()
        form = parse_qs(route.calls[0].request.content.decode())
        assert form["To"] == [f"whatsapp:{customer.phone}"]
        assert form["ContentSid"] == ["HX" + "a" * 32] and "Body" not in form
        assert json.loads(form["ContentVariables"][0]) == {
            "1": "Saturday, June 20",
            "2": "6:00 PM",
        }


class TestTwilioOutage:
    async def test_two_minutes_of_failures_then_one_delivery(
        self,
        sender: OutboxSender,
        session: AsyncSession,
        clock: FrozenClock,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
    ) -> None:
        """Twilio answers 5xx, 429, connection errors and timeouts for two minutes of clock
        time: the message is retried with backoff, goes out once when Twilio recovers, and the
        console's thread shows it retrying, then delivered.

        Shown failing once by disabling the mechanism: with the sender's retry branch taken
        out, the first failure marked the message failed and it was never seen retrying."""
        _, message = await outbound(session)
        started = clock.now()
        failures: list[httpx.Response | Exception] = [
            httpx.Response(503),
            twilio_error(429, 20429),
            httpx.ConnectError("refused"),
            httpx.Response(500),
            httpx.ConnectTimeout("no connection"),
        ]
        tried: list[str] = []

        def twilio(request: httpx.Request) -> httpx.Response:
            if clock.now() - started < timedelta(minutes=2):
                failure = failures[len(tried) % len(failures)]
                tried.append(type(failure).__name__)
                if isinstance(failure, Exception):
                    raise failure
                return failure
            tried.append("created")
            return created("SM777")

        thread = f"/api/v1/conversations/{message.conversation_id}/messages"
        seen_retrying = False
        with respx.mock:
            respx.post(API).mock(side_effect=twilio)
            for _ in range(72):  # six minutes in five-second steps
                await sender.send_pending()
                shown = (await client.get(thread, headers=agent_headers)).json()[-1]
                if shown["status"] == "pending" and shown["attempts"] > 0:
                    seen_retrying = True
                    assert shown["next_attempt_at"] is not None
                clock.advance(timedelta(seconds=5))
        assert seen_retrying
        assert tried.count("created") == 1 and len(tried) >= 3
        await session.refresh(message)
        assert (message.status, message.provider_message_id) == ("queued", "SM777")
        assert await report(client, message, "SM777", "delivered") == 204
        shown = (await client.get(thread, headers=agent_headers)).json()[-1]
        assert (shown["status"], shown["attempts"], shown["next_attempt_at"]) == (
            "delivered",
            len(tried),
            None,
        )
