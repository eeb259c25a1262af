"""Two service processes receive one customer's two quick messages (one each): the messages are
answered in the order they were sent, and the second sees the booking change of the first.

Shown failing once by disabling the mechanism: with the inbox taking the newest waiting
message instead of the oldest per conversation, "2 more adults" was answered first and the
booking ended at 14 adults instead of 16.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from knowledge.db import make_engine, unit_of_work
from knowledge.models import Booking, Message
from tests.conftest import clone_database
from tests.factories import make_booking, make_customer
from tests.helpers.service import free_port, serve
from tests.helpers.twilio import signed

TOKEN = "two-process-token"
PHONE = "+19165550188"


async def post_sms(client: httpx.AsyncClient, port: int, sid: str, body: str) -> int:
    path = "/webhooks/twilio/messages"
    form = {"MessageSid": sid, "From": PHONE, "To": "+19167408768", "Body": body}
    url = f"http://127.0.0.1:{port}{path}"
    response = await client.post(url, **signed(url, form, TOKEN))
    return response.status_code


class TestTwoProcesses:
    async def test_a_customers_quick_messages_are_answered_in_order(
        self, pg_server: Any, template_url: str
    ) -> None:
        url = await clone_database(pg_server, template_url)
        engine = make_engine(url, pool_size=2)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with unit_of_work(sessions) as session:
            customer = await make_customer(session, name="Lou Park", phone=PHONE)
            booking = await make_booking(
                session,
                customer,
                event_at=datetime.now(UTC) + timedelta(days=20),
                adults=10,
                kids=0,
            )
            booking_id = booking.id
        ports = [free_port(), free_port()]
        # The first process only acknowledges (its message waits in the inbox); the second
        # receives the later message and must answer the earlier one first.
        services = [
            await serve(
                url,
                port,
                *flags,
                TWILIO_AUTH_TOKEN=TOKEN,
                PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            )
            for port, flags in zip(ports, (["--no-worker"], []), strict=True)
        ]
        try:
            async with httpx.AsyncClient() as client:
                first = await post_sms(client, ports[0], "SMORDER1", "we will be 14 adults now")
                second = await post_sms(
                    client, ports[1], "SMORDER2", "oh and add 2 more adults please"
                )
            assert (first, second) == (200, 200)
            replies: list[Message] = []
            for _ in range(200):
                async with sessions() as session:
                    replies = list(
                        (
                            await session.scalars(
                                select(Message)
                                .where(Message.direction == "outbound")
                                .order_by(Message.id)
                            )
                        ).all()
                    )
                if sum(len(r.meta.get("answered", [])) for r in replies) >= 2:
                    break
                await asyncio.sleep(0.1)
            async with sessions() as session:
                stored = await session.get(Booking, booking_id)
                inbound = (
                    await session.scalars(
                        select(Message).where(Message.direction == "inbound").order_by(Message.id)
                    )
                ).all()
        finally:
            for service in services:
                service.send_signal(signal.SIGTERM)
            for service in services:
                await service.wait()
            await engine.dispose()
        assert [m.status for m in inbound] == ["processed", "processed"]
        # Each message answered once, in order: separately, or as one burst when the second
        # came before the first was answered.
        assert sorted(i for r in replies for i in r.meta["answered"]) == [m.id for m in inbound]
        assert stored is not None and stored.adults == 16
        assert "16" in replies[-1].body
        if len(replies) == 2:
            assert "14" in replies[0].body
