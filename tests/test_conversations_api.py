"""The console and the harness read threads and messages through the API."""

from __future__ import annotations

import httpx

from agent.runtime import AgentRuntime


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
