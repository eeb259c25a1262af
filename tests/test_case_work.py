"""Working a case with the team: assigning it to a teammate (who is alerted in the console and
gets the thread), notes for each other that never reach the customer, and saved replies kept
with the knowledge (admins edit them, everyone uses them)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge.db import make_engine, unit_of_work
from knowledge.infra.clock import FrozenClock
from knowledge.models import (
    BusinessRuleVersion,
    Conversation,
    Customer,
    Escalation,
    FaqItem,
    Message,
    TeamAlert,
)
from tests.conftest import bearer, clone_database
from tests.factories import make_conversation, make_customer, make_person
from tests.helpers.service import served


async def a_case(session: AsyncSession, clock: FrozenClock) -> tuple[int, int]:
    customer = await make_customer(session, name="Rosa Diaz")
    conversation = await make_conversation(session, customer)
    case = Escalation(
        customer_id=customer.id,
        conversation_id=conversation.id,
        priority="HIGH",
        reason="Cancellation request 3-6 days before the event",
        action_required="Confirm the no-refund policy, offer a reschedule",
        deadline=clock.now() + timedelta(hours=20),
    )
    session.add(case)
    await session.commit()
    return case.id, conversation.id


class TestAssign:
    async def test_an_assigned_teammate_is_alerted_and_holds_the_thread(
        self, client: httpx.AsyncClient, session: AsyncSession, clock: FrozenClock
    ) -> None:
        case_id, conversation_id = await a_case(session, clock)
        lee, lee_token = await make_person(session, "Lee", "agent")
        await session.commit()
        kim = await bearer(session, "Kim", "agent")
        lee_headers = {"Authorization": f"Bearer {lee_token}"}
        response = await client.post(
            f"/api/v1/escalations/{case_id}/assign", json={"user_id": lee.id}, headers=kim
        )
        assert response.status_code == 200, response.text
        assert response.json()["assigned_to"] == "Lee"
        assert response.json()["status"] == "in_progress"
        conversation = await session.get(Conversation, conversation_id, populate_existing=True)
        assert conversation is not None
        assert (conversation.owner, conversation.owner_user_id) == ("human", lee.id)

        mine = (await client.get("/api/v1/me/alerts", headers=lee_headers)).json()
        assert [a["escalation_id"] for a in mine] == [case_id]
        assert mine[0]["subject"].startswith("Kim assigned you a case: HIGH")
        assert (await client.get("/api/v1/me/alerts", headers=kim)).json() == []
        read = await client.post(f"/api/v1/me/alerts/{mine[0]['id']}/read", headers=lee_headers)
        assert read.status_code == 204
        assert (await client.get("/api/v1/me/alerts", headers=lee_headers)).json() == []
        # nobody else marks Lee's alert
        other = await client.post(f"/api/v1/me/alerts/{mine[0]['id']}/read", headers=kim)
        assert other.status_code == 404

        # Held by Lee now: Kim, an agent, cannot take it away; an admin can.
        taken = await client.post(
            f"/api/v1/escalations/{case_id}/assign", json={"user_id": lee.id + 1}, headers=kim
        )
        assert taken.status_code == 403
        admin = await bearer(session, "Ana", "admin")
        teammates = (await client.get("/api/v1/teammates", headers=kim)).json()
        kim_id = next(t["id"] for t in teammates if t["name"] == "Kim")
        moved = await client.post(
            f"/api/v1/escalations/{case_id}/assign", json={"user_id": kim_id}, headers=admin
        )
        assert moved.status_code == 200 and moved.json()["assigned_to"] == "Kim"

    async def test_a_deactivated_person_gets_no_case(
        self, client: httpx.AsyncClient, session: AsyncSession, clock: FrozenClock
    ) -> None:
        case_id, _ = await a_case(session, clock)
        gone, _token = await make_person(session, "Gone", "agent")
        gone.revoked_at = clock.now()
        await session.commit()
        kim = await bearer(session, "Kim", "agent")
        response = await client.post(
            f"/api/v1/escalations/{case_id}/assign", json={"user_id": gone.id}, headers=kim
        )
        assert response.status_code == 404
        assert [t["name"] for t in (await client.get("/api/v1/teammates", headers=kim)).json()] == [
            "Kim"
        ]


class TestNotes:
    async def test_notes_are_on_the_case_and_never_sent(
        self, client: httpx.AsyncClient, session: AsyncSession, clock: FrozenClock
    ) -> None:
        case_id, _ = await a_case(session, clock)
        kim = await bearer(session, "Kim", "agent")
        before = await session.scalar(select(func.count()).select_from(Message))
        alerts_before = await session.scalar(select(func.count()).select_from(TeamAlert))
        for text in ("Called her, voicemail.", "  She wants the 21st instead.  "):
            response = await client.post(
                f"/api/v1/escalations/{case_id}/notes", json={"text": text}, headers=kim
            )
            assert response.status_code == 201
        blank = await client.post(
            f"/api/v1/escalations/{case_id}/notes", json={"text": "   "}, headers=kim
        )
        assert blank.status_code == 422
        thread = (await client.get(f"/api/v1/escalations/{case_id}/thread", headers=kim)).json()
        assert [(n["author"], n["body"]) for n in thread["notes"]] == [
            ("Kim", "Called her, voicemail."),
            ("Kim", "She wants the 21st instead."),
        ]
        assert await session.scalar(select(func.count()).select_from(Message)) == before
        assert await session.scalar(select(func.count()).select_from(TeamAlert)) == alerts_before
        assert all("voicemail" not in m["body"] for m in thread["messages"])
        missing = await client.post(
            "/api/v1/escalations/999999/notes", json={"text": "x"}, headers=kim
        )
        assert missing.status_code == 404


class TestSavedReplies:
    async def test_admins_keep_saved_replies_and_everyone_reads_them(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await bearer(session, "Ana", "admin")
        agent = await bearer(session, "Kim", "agent")
        body = {"title": "Reschedule offer", "body": "Hi {name}, we can move {reference}."}
        refused = await client.post("/api/v1/saved-replies", json=body, headers=agent)
        assert refused.status_code == 403
        created = await client.post("/api/v1/saved-replies", json=body, headers=admin)
        assert created.status_code == 201
        again = await client.post("/api/v1/saved-replies", json=body, headers=admin)
        assert again.status_code == 409
        reply_id = created.json()["id"]
        changed = await client.put(
            f"/api/v1/saved-replies/{reply_id}",
            json={"body": "Hi {name}, happy to move {reference} for you."},
            headers=admin,
        )
        assert changed.status_code == 200
        listed = (await client.get("/api/v1/saved-replies", headers=agent)).json()
        assert [(r["title"], r["body"]) for r in listed] == [
            ("Reschedule offer", "Hi {name}, happy to move {reference} for you.")
        ]
        assert (
            await client.delete(f"/api/v1/saved-replies/{reply_id}", headers=agent)
        ).status_code == 403
        assert (
            await client.delete(f"/api/v1/saved-replies/{reply_id}", headers=admin)
        ).status_code == 204
        assert (await client.get("/api/v1/saved-replies", headers=agent)).json() == []
        empty = await client.post(
            "/api/v1/saved-replies", json={"title": "x", "body": "  "}, headers=admin
        )
        assert empty.status_code == 422


class TestTryIt:
    """ "Try it": the answer a new customer would get with an unsaved edit; nothing is saved or
    sent, and the live agent's knowledge is unchanged."""

    async def test_an_unsaved_price_and_faq_are_answered_and_nothing_is_kept(
        self, pg_server: Any, template_url: str, tmp_path: Path
    ) -> None:
        url = await clone_database(pg_server, template_url)
        engine = make_engine(url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with unit_of_work(sessions) as session:
            _ana, token = await make_person(session, "Ana", "admin")
            _kim, agent_token = await make_person(session, "Kim", "agent")
        admin = {"Authorization": f"Bearer {token}"}

        async def counts() -> tuple[int, int, int, int]:
            async with sessions() as session:
                return tuple(  # type: ignore[return-value]
                    [
                        int(await session.scalar(select(func.count()).select_from(m)) or 0)
                        for m in (Customer, Message, FaqItem, BusinessRuleVersion)
                    ]
                )

        try:
            async with (
                served(url, "--no-worker") as base,
                httpx.AsyncClient(base_url=base, timeout=60) as client,
            ):
                rules = (await client.get("/api/v1/business-rules", headers=admin)).json()
                pricing = next(r for r in rules if r["rule_type"] == "pricing")
                before = await counts()
                tried = await client.post(
                    "/api/v1/knowledge/try",
                    json={
                        "question": "how much per adult?",
                        "rule_id": pricing["id"],
                        "rule": {"value": pricing["value"] | {"adult_price": 65}},
                    },
                    headers=admin,
                )
                assert tried.status_code == 200, tried.text
                assert "$65" in tried.json()["reply"] and tried.json()["outcome"] == "handled"
                faq = {
                    "question": "Do you bring music or a DJ?",
                    "answer": "No music from us, but the chef's show is the entertainment.",
                    "keywords": "dj music speaker playlist",
                    "category": "event",
                }
                tried = await client.post(
                    "/api/v1/knowledge/try",
                    json={"question": "do you guys bring a dj?", "faq": faq},
                    headers=admin,
                )
                assert "chef's show is the entertainment" in tried.json()["reply"]
                assert await counts() == before  # nothing kept
                plain = await client.post(
                    "/api/v1/knowledge/try", json={"question": "how much per adult?"}, headers=admin
                )
                assert "$55" in plain.json()["reply"]  # the live price, unchanged
                refused = await client.post(
                    "/api/v1/knowledge/try",
                    json={"question": "hi"},
                    headers={"Authorization": f"Bearer {agent_token}"},
                )
                assert refused.status_code == 403
        finally:
            await engine.dispose()
