"""The console and the harness read threads and messages through the API."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from agent.runtime import AgentRuntime
from tests.factories import make_customer
from tools import addresses, bookings


class TestConversations:
    async def test_a_customers_threads_and_messages(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        runtime: AgentRuntime,
    ) -> None:
        result = await runtime.receive("+19165550131", "how much do kids cost?")
        threads = await client.get(
            "/api/v1/conversations", params={"phone": "(916) 555-0131"}, headers=agent_headers
        )
        assert threads.status_code == 200
        [thread] = threads.json()
        assert thread["id"] == result.conversation_id and thread["channel"] == "sms"
        listed = await client.get(
            f"/api/v1/conversations/{thread['id']}/messages", headers=agent_headers
        )
        rows = listed.json()
        assert [(m["direction"], m["author"]) for m in rows] == [
            ("inbound", "customer"),
            ("outbound", "agent"),
        ]
        assert rows[1]["status"] == "simulated"
        assert rows[1]["meta"]["intent"] == "faq"

    async def test_needs_a_token_and_a_real_phone(
        self, client: httpx.AsyncClient, agent_headers: dict[str, str]
    ) -> None:
        assert (
            await client.get("/api/v1/conversations", params={"phone": "+19165550131"})
        ).status_code == 401
        bad = await client.get(
            "/api/v1/conversations", params={"phone": "12"}, headers=agent_headers
        )
        assert bad.status_code == 422
        missing = await client.get("/api/v1/conversations/999999/messages", headers=agent_headers)
        assert missing.status_code == 404

    async def test_an_email_customers_threads_are_found_by_address(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
    ) -> None:
        customer = await make_customer(session, phone=None, email="ana@example.com")
        await addresses.remember(session, customer.id, "email", "ana@example.com")
        thread = await bookings.get_or_create_conversation(session, customer.id, "email")
        await session.commit()
        found = await client.get(
            "/api/v1/conversations", params={"email": "Ana@Example.com"}, headers=agent_headers
        )
        assert [(t["id"], t["channel"]) for t in found.json()] == [(thread.id, "email")]
        neither = await client.get("/api/v1/conversations", headers=agent_headers)
        assert neither.status_code == 422
        garbled = await client.get(
            "/api/v1/conversations", params={"email": "ana\x00@x"}, headers=agent_headers
        )
        assert garbled.status_code == 422
