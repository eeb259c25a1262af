"""A service process killed (SIGKILL) at each stage of a turn loses nothing and sends nothing
twice after a restart. Twilio is a stand-in on loopback that accepts messages and, like
Twilio, reports their status to the callback URL each send carries.

Stages (named crash points, `knowledge/infra/faults.py`): the inbound message stored but not yet
acknowledged; the turn decided but not committed; the reply accepted by Twilio but the
acceptance not recorded. The touchpoint's "sent" mark commits with its reply in one
transaction, so "before marking sent" is the `turn_decided` case for a scheduled message.

The one window where a duplicate is possible: Twilio accepted a reply, the process died
before recording it, and no status callback reaches us within the sender's grace period
(2 minutes); the reply is then sent again. Every send carries our message id on its callback
URL, so the first callback that does arrive closes the window; it cannot be smaller without
Twilio accepting an idempotency key.

Shown failing once by disabling the mechanism: with the sender's claim query retrying
`sending` rows at once (grace 0), the `reply_sent` case sent the reply twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from knowledge.db import make_engine
from knowledge.models import Message
from tests.conftest import clone_database
from tests.helpers.service import free_port, serve
from tests.helpers.twilio import signed

SID = "AC" + "7" * 32
TOKEN = "crash-points-token"
PHONE = "+19165550199"


class FakeTwilio:
    """Accepts every message, then posts signed status callbacks until one is taken."""

    def __init__(self) -> None:
        self.sends: list[dict[str, str]] = []
        self.port = free_port()
        self.tasks: set[asyncio.Task[None]] = set()
        app = Starlette(
            routes=[
                Route("/2010-04-01/Accounts/{sid}/Messages.json", self.create, methods=["POST"])
            ]
        )
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )

    async def create(self, request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        self.sends.append(form)
        sid = f"SM{len(self.sends):032d}"
        task = asyncio.create_task(self.report(form.get("StatusCallback", ""), sid))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return JSONResponse({"sid": sid, "status": "queued", "account_sid": SID}, 201)

    async def report(self, callback: str, sid: str) -> None:
        if not callback:
            return
        form = {"MessageSid": sid, "MessageStatus": "sent"}
        async with httpx.AsyncClient() as client:
            for _ in range(150):
                await asyncio.sleep(0.2)
                with contextlib.suppress(httpx.TransportError):
                    response = await client.post(callback, **signed(callback, form, TOKEN))
                    if response.is_success:
                        return

    def sends_of(self, message_id: int) -> int:
        return sum(
            1
            for s in self.sends
            if parse_qs(urlparse(s.get("StatusCallback", "")).query).get("mid") == [str(message_id)]
        )


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio()
    task = asyncio.create_task(fake.server.serve())
    while not fake.server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.02)
    yield fake
    fake.server.should_exit = True
    await task
    for pending in list(fake.tasks):
        pending.cancel()


async def post_sms(port: int, sid: str, body: str) -> int:
    path = "/webhooks/twilio/messages"
    url = f"http://127.0.0.1:{port}{path}"
    form = {"MessageSid": sid, "From": PHONE, "To": "+19167408768", "Body": body}
    async with httpx.AsyncClient() as client:
        try:
            response = await client.post(url, **signed(url, form, TOKEN))
        except httpx.TransportError:
            return 0  # the process died before answering
    return response.status_code


@pytest.mark.parametrize("stage", ["inbound_stored", "turn_decided", "reply_sent"])
async def test_a_kill_at_each_stage_loses_nothing_and_sends_once(
    stage: str, pg_server: Any, template_url: str, twilio: FakeTwilio
) -> None:
    url = await clone_database(pg_server, template_url)
    engine = make_engine(url, pool_size=2)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    port = free_port()
    env = {
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM_NUMBER": "+19167408768",
        "TWILIO_API_BASE_URL": f"http://127.0.0.1:{twilio.port}",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    doomed = await serve(url, port, HIBACHI_CRASH_AT=stage, **env)
    try:
        await post_sms(port, "SMCRASHPOINT1", "how much do kids cost?")
        await asyncio.wait_for(doomed.wait(), 30)
        assert doomed.returncode == -signal.SIGKILL, f"{stage} was never reached"

        revived = await serve(url, port, **env)
        try:
            # Twilio retries a webhook that got no answer; the retry must change nothing.
            assert await post_sms(port, "SMCRASHPOINT1", "how much do kids cost?") == 200
            replies: list[Message] = []
            for _ in range(300):
                async with sessions() as session:
                    replies = list(
                        (
                            await session.scalars(
                                select(Message).where(Message.direction == "outbound")
                            )
                        ).all()
                    )
                if replies and all(r.status in ("sent", "delivered") for r in replies):
                    break
                await asyncio.sleep(0.1)
            async with sessions() as session:
                inbound = await session.scalar(
                    select(func.count()).where(Message.direction == "inbound")
                )
        finally:
            revived.send_signal(signal.SIGTERM)
            await revived.wait()
    finally:
        if doomed.returncode is None:
            doomed.kill()
        await engine.dispose()
    assert inbound == 1
    assert len(replies) == 1, [r.body for r in replies]
    assert replies[0].status == "sent"
    assert twilio.sends_of(replies[0].id) == 1
