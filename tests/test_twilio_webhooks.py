"""Twilio webhooks, signed with the real RequestValidator: stored once, answered once."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.inbox import Inbox
from agent.runtime import AgentRuntime
from knowledge.infra.settings import Settings
from knowledge.models import Conversation, Customer, Message
from tests.factories import make_conversation, make_customer, make_message
from tests.helpers.twilio import BASE, TOKEN, twilio_settings
from tests.helpers.twilio import signed as sign
from tools import addresses

PHONE = "+19165550123"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return twilio_settings(tmp_path)


def signed(path: str, form: dict[str, str]) -> dict[str, Any]:
    return sign(BASE + path, form, TOKEN)


def sms(body: str, sid: str, sender: str = PHONE, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "+19167408768",
        "Body": body,
        "NumMedia": "0",
        **extra,
    }


async def post(client: httpx.AsyncClient, form: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/webhooks/twilio/messages", **signed("/webhooks/twilio/messages", form)
    )


async def replies(session: AsyncSession, phone: str = PHONE) -> list[Message]:
    query = (
        select(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Customer, Customer.id == Conversation.customer_id)
        .where(Customer.phone == phone, Message.direction == "outbound")
        .order_by(Message.id)
    )
    return list((await session.scalars(query)).all())


class TestInbound:
    async def test_a_signed_sms_is_acknowledged_stored_and_answered(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        runtime: AgentRuntime,
        sessionmaker: Any,
    ) -> None:
        response = await post(client, sms("how much do kids cost?", "SM001"))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/xml")
        assert "<Response/>" in response.text
        assert await Inbox(sessionmaker, runtime).drain() == 1
        [reply] = await replies(session)
        assert "$30" in reply.body and reply.channel == "sms"

    async def test_whatsapp_is_answered_on_whatsapp(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        runtime: AgentRuntime,
        sessionmaker: Any,
    ) -> None:
        form = sms("hi!", "SM002", sender=f"whatsapp:{PHONE}", ProfileName="Mia")
        assert (await post(client, form)).status_code == 200
        await Inbox(sessionmaker, runtime).drain()
        [reply] = await replies(session)
        assert reply.channel == "whatsapp" and "Mia" in reply.body

    async def test_a_replayed_message_sid_gets_no_second_reply(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        runtime: AgentRuntime,
        sessionmaker: Any,
    ) -> None:
        for _ in range(3):
            assert (await post(client, sms("hello", "SM003"))).status_code == 200
        await Inbox(sessionmaker, runtime).drain()
        stored = await session.scalar(
            select(func.count()).where(Message.provider_message_id == "SM003")
        )
        assert stored == 1
        assert len(await replies(session)) == 1

    @pytest.mark.parametrize(
        "headers",
        [{"X-Twilio-Signature": "forged"}, {}],
        ids=["forged", "missing"],
    )
    async def test_a_bad_signature_is_refused_and_nothing_stored(
        self, client: httpx.AsyncClient, session: AsyncSession, headers: dict[str, str]
    ) -> None:
        form = sms("refund me", "SM004")
        response = await client.post(
            "/webhooks/twilio/messages",
            content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        )
        assert response.status_code == 403
        assert (
            await session.scalar(select(func.count()).where(Message.provider_message_id == "SM004"))
            == 0
        )

    async def test_a_body_signed_for_other_fields_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        request = signed("/webhooks/twilio/messages", sms("hi", "SM005"))
        request["content"] = urlencode(sms("give me a refund", "SM005"))
        assert (await client.post("/webhooks/twilio/messages", **request)).status_code == 403

    async def test_stop_start_and_help(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        runtime: AgentRuntime,
        sessionmaker: Any,
    ) -> None:
        inbox = Inbox(sessionmaker, runtime)
        await post(client, sms("STOP", "SM010"))
        await inbox.drain()
        customer = (await session.scalars(select(Customer).where(Customer.phone == PHONE))).one()
        assert await addresses.opted_out(session, customer.id, "sms")
        assert await replies(session) == []
        await post(client, sms("START", "SM011"))
        await post(client, sms("HELP", "SM012"))
        await inbox.drain()
        await inbox.drain()
        bodies = [m.body for m in await replies(session)]
        assert len(bodies) == 2
        assert "(916) 740-8768" in bodies[1]

    @pytest.mark.parametrize(
        ("form", "names"),
        [
            ({"From": PHONE, "Body": "hi"}, "MessageSid"),
            (sms("hi", "SM020", sender="not-a-number"), "From"),
            (sms("hi", "SM021", sender=""), "From"),
        ],
        ids=["no-sid", "bad-from", "empty-from"],
    )
    async def test_bad_input_is_a_clear_4xx(
        self, client: httpx.AsyncClient, form: dict[str, str], names: str
    ) -> None:
        response = await post(client, form)
        assert response.status_code == 422
        assert names in response.json()["error"]["message"]

    async def test_non_utf8_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/webhooks/twilio/messages",
            content=b"Body=\xff\xfe&MessageSid=SM030",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 422

    @pytest.mark.parametrize(
        ("body", "media"),
        [("", "1"), ("x" * 1601, "0"), ("   ", "0")],
        ids=["media", "long", "blank"],
    )
    async def test_odd_messages_still_get_a_sensible_reply(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        runtime: AgentRuntime,
        sessionmaker: Any,
        body: str,
        media: str,
    ) -> None:
        assert (
            await post(client, sms(body, f"SM04{media}{len(body)}", NumMedia=media))
        ).status_code == 200
        await Inbox(sessionmaker, runtime).drain()
        assert len(await replies(session)) == 1

    async def test_an_unknown_number_becomes_a_customer_without_a_booking(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        runtime: AgentRuntime,
        sessionmaker: Any,
    ) -> None:
        stranger = "+19165550999"
        await post(client, sms("please cancel my party", "SM050", sender=stranger))
        await Inbox(sessionmaker, runtime).drain()
        [reply] = await replies(session, stranger)
        assert "couldn't find an upcoming booking" in reply.body


async def sent_message(session: AsyncSession, sid: str) -> Message:
    """An outbound message Twilio has taken, as status callbacks find it."""
    conversation = await make_conversation(session, await make_customer(session))
    message = await make_message(
        session,
        conversation,
        direction="outbound",
        author="agent",
        status="sent",
        provider_message_id=sid,
    )
    await session.commit()
    return message


class TestStatusCallbacks:
    async def test_status_moves_forward_only(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        message = await sent_message(session, "SM900")
        path = "/webhooks/twilio/status"
        for status in ("delivered", "sent", "queued"):
            form = {"MessageSid": "SM900", "MessageStatus": status}
            assert (await client.post(path, **signed(path, form))).status_code == 204
        await session.refresh(message)
        assert message.status == "delivered"

    async def test_a_failure_records_the_error_code(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        message = await sent_message(session, "SM901")
        path = "/webhooks/twilio/status"
        form = {"MessageSid": "SM901", "MessageStatus": "undelivered", "ErrorCode": "30003"}
        assert (await client.post(path, **signed(path, form))).status_code == 204
        await session.refresh(message)
        assert (message.status, message.error_code) == ("undelivered", "30003")


class TestShutdownWithABacklog:
    async def test_a_stop_ends_the_drain_and_leaves_the_rest_stored(
        self, session: AsyncSession, runtime: AgentRuntime
    ) -> None:
        """Was: drain() answered the whole backlog before a shutdown could finish."""
        import asyncio

        for n in range(3):
            customer = await make_customer(session, phone=f"+1916555077{n}")
            conversation = await make_conversation(session, customer)
            await make_message(session, conversation, body="hello")
        await session.commit()
        stop = asyncio.Event()
        stop.set()
        assert await Inbox(runtime.sessionmaker, runtime).drain(stop) == 0
        waiting = await session.scalar(
            select(func.count()).where(Message.direction == "inbound", Message.status == "received")
        )
        assert waiting == 3
        assert await Inbox(runtime.sessionmaker, runtime).drain() == 3
