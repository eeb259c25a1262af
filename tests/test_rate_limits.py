"""Per-phone and per-address limits answer 429 with Retry-After, store nothing for the refused
request, and leave every message accepted before it to be answered."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.inbox import Inbox
from agent.runtime import AgentRuntime
from api.ratelimit import RateLimiter
from knowledge.errors import TooManyRequests
from knowledge.infra.settings import Settings
from knowledge.models import Message
from tests.helpers.metrics import counted
from tests.helpers.twilio import twilio_settings
from tests.test_twilio_webhooks import post, sms


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return twilio_settings(tmp_path, rate_limit_phone_per_minute=3, rate_limit_ip_per_minute=5)


class TestLimiter:
    def test_a_full_minute_refuses_until_the_oldest_request_ages_out(self) -> None:
        now = [1000.0]
        limiter = RateLimiter(3, timer=lambda: now[0])
        for step in range(3):
            now[0] += step
            limiter.check("k", "things")
        with pytest.raises(TooManyRequests) as refused:
            limiter.check("k", "things")
        assert refused.value.details == {"retry_after": 57}  # the first one ages out then
        limiter.check("other", "things")  # keys do not share a window
        now[0] += 60.5
        limiter.check("k", "things")

    def test_zero_means_no_limit(self) -> None:
        limiter = RateLimiter(0)
        for _ in range(1000):
            limiter.check("k", "things")


async def inbound_count(session: AsyncSession) -> int:
    count = await session.scalar(select(func.count()).where(Message.direction == "inbound"))
    return int(count or 0)


class TestPerPhone:
    async def test_the_fourth_message_in_a_minute_is_refused_the_first_three_answered(
        self, client: httpx.AsyncClient, session: AsyncSession, runtime: AgentRuntime
    ) -> None:
        refusals = counted("hibachi_rate_limited_total", limit="phone")
        for n in range(3):
            assert (await post(client, sms(f"question {n}", f"SMLIMIT{n}"))).status_code == 200
        refused = await post(client, sms("one too many", "SMLIMIT3"))
        assert refused.status_code == 429
        assert counted("hibachi_rate_limited_total", limit="phone") == refusals + 1
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["error"]["code"] == "too_many_requests"
        assert await inbound_count(session) == 3
        # Twilio retrying a message we already accepted is not refused and stores nothing.
        assert (await post(client, sms("question 1", "SMLIMIT1"))).status_code == 200
        # Another customer is not affected.
        other = sms("hello", "SMOTHER1", sender="+19165550124")
        assert (await post(client, other)).status_code == 200
        assert await inbound_count(session) == 4
        # The first customer's three texts came before any answer: one burst, one reply.
        assert await Inbox(runtime.sessionmaker, runtime).drain() == 2
        answered = await session.scalar(select(func.count()).where(Message.direction == "outbound"))
        assert answered == 2
        unanswered = await session.scalar(
            select(func.count()).where(
                Message.direction == "inbound", Message.status != "processed"
            )
        )
        assert unanswered == 0


class TestPerAddress:
    async def test_web_chat_is_limited_per_address(self, client: httpx.AsyncClient) -> None:
        token = (await client.post("/api/v1/chat/sessions")).json()["token"]
        codes = []
        for n in range(6):
            response = await client.post(
                "/api/v1/chat/messages",
                json={"text": f"how much do kids cost? {n}"},
                headers={"X-Chat-Token": token},
            )
            codes.append(response.status_code)
        assert codes == [200, 200, 200, 200, 429, 429]  # the session start counted too
