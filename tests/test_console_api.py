"""The console's API: the escalation queue, taking over a thread and handing it back, who may
do what, the concurrent-claim race, and the success metrics against a hand-counted fixture."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.runtime import AgentRuntime
from knowledge.db import make_engine
from knowledge.errors import Conflict
from knowledge.infra.clock import FrozenClock
from knowledge.models import (
    ApiUser,
    AutomatedReminder,
    Conversation,
    Escalation,
    Feedback,
    Message,
)
from knowledge.users import create_user
from tests.conftest import bearer, clone_database
from tests.factories import make_booking, make_conversation, make_customer, make_message
from tests.helpers.metrics import counted
from tools import escalations as cases

D = timedelta(days=1)
H = timedelta(hours=1)


async def cancel_two_days_out(
    session: AsyncSession, runtime: AgentRuntime, clock: FrozenClock, phone: str
) -> int:
    customer = await make_customer(session, name="Dana Lee", phone=phone)
    await make_booking(session, customer, event_at=clock.now() + 2 * D, adults=12)
    await session.commit()
    result = await runtime.receive(phone, "we need to cancel, family emergency")
    assert result.outcome == "escalated"
    return result.escalation_ids[0]


class TestQueue:
    async def test_open_cases_most_urgent_first_with_time_left(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        agent_headers: dict[str, str],
        clock: FrozenClock,
    ) -> None:
        customer = await make_customer(session)
        booking = await make_booking(session, customer)
        conversation = await make_conversation(session, customer)
        now = clock.now()
        for priority, deadline in (("LOW", 5 * D), ("URGENT", -H), ("HIGH", 3 * H)):
            session.add(
                Escalation(
                    customer_id=customer.id,
                    booking_id=booking.id,
                    conversation_id=conversation.id,
                    priority=priority,
                    reason=f"{priority} case",
                    action_required="call",
                    deadline=now + deadline,
                    status="open",
                )
            )
        await session.commit()
        listed = (await client.get("/api/v1/escalations", headers=agent_headers)).json()
        assert [e["priority"] for e in listed] == ["URGENT", "HIGH", "LOW"]
        assert listed[0]["overdue"] is True and listed[0]["seconds_left"] == -3600
        assert listed[1]["overdue"] is False and listed[1]["booking_reference"] == booking.reference
        overdue = await client.get(
            "/api/v1/escalations", params={"overdue": True}, headers=agent_headers
        )
        assert [e["priority"] for e in overdue.json()] == ["URGENT"]
        high = await client.get(
            "/api/v1/escalations", params={"priority": "HIGH"}, headers=agent_headers
        )
        assert [e["reason"] for e in high.json()] == ["HIGH case"]


class TestTakeover:
    async def test_claim_silences_the_agent_reply_goes_out_resolve_hands_back(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        runtime: AgentRuntime,
        clock: FrozenClock,
    ) -> None:
        kim = await bearer(session, "Kim", "agent")
        case = await cancel_two_days_out(session, runtime, clock, "+19165550161")
        taken = counted("hibachi_escalation_first_action_seconds_count", priority="HIGH")
        claimed = await client.post(f"/api/v1/escalations/{case}/claim", headers=kim)
        assert claimed.status_code == 200
        # The time to the first human action is observed once, at the claim.
        assert (
            counted("hibachi_escalation_first_action_seconds_count", priority="HIGH") == taken + 1
        )
        assert (claimed.json()["status"], claimed.json()["assigned_to"]) == ("in_progress", "Kim")

        quiet = await runtime.receive("+19165550161", "hello? anyone there?")
        assert quiet.outcome == "silent" and quiet.reply is None

        sent = await client.post(
            f"/api/v1/escalations/{case}/reply",
            json={"text": "Hi Dana, I'm so sorry. Calling you in 5 minutes."},
            headers=kim,
        )
        assert sent.status_code == 200
        body = sent.json()
        assert body["author"] == "human" and body["status"] == "simulated"
        assert body["body"].endswith("– Kim") and body["channel"] == "sms"

        thread = (await client.get(f"/api/v1/escalations/{case}/thread", headers=kim)).json()
        assert thread["owner"] == "human" and thread["owner_name"] == "Kim"
        authors = [(m["direction"], m["author"]) for m in thread["messages"]]
        assert authors == [
            ("inbound", "customer"),
            ("outbound", "agent"),
            ("inbound", "customer"),
            ("outbound", "human"),
        ]
        assert thread["messages"][1]["meta"]["intent"] == "cancellation"
        assert thread["booking"]["touchpoints"] is not None

        before = await session.scalar(select(Message.id).order_by(Message.id.desc()).limit(1))
        resolved = await client.post(
            f"/api/v1/escalations/{case}/resolve", json={"notes": "moved to July"}, headers=kim
        )
        assert resolved.json()["status"] == "resolved"
        after = await session.scalar(select(Message.id).order_by(Message.id.desc()).limit(1))
        assert after == before  # resolving sends nothing

        back = await runtime.receive("+19165550161", "thanks! what time do you arrive?")
        assert back.outcome != "silent" and back.reply

    async def test_release_returns_the_thread_to_the_agent(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        runtime: AgentRuntime,
        clock: FrozenClock,
    ) -> None:
        kim = await bearer(session, "Kim", "agent")
        case = await cancel_two_days_out(session, runtime, clock, "+19165550162")
        await client.post(f"/api/v1/escalations/{case}/claim", headers=kim)
        released = await client.post(f"/api/v1/escalations/{case}/release", headers=kim)
        assert (released.json()["status"], released.json()["assigned_to"]) == ("open", None)
        answer = await runtime.receive("+19165550162", "how much is lobster?")
        assert answer.reply and "$" in answer.reply


class TestPermissions:
    async def test_every_console_route_needs_a_token(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        routes = [
            ("GET", "/api/v1/escalations"),
            ("GET", "/api/v1/escalations/stream"),
            ("GET", "/api/v1/escalations/1"),
            ("GET", "/api/v1/escalations/1/thread"),
            ("POST", "/api/v1/escalations/1/claim"),
            ("POST", "/api/v1/escalations/1/release"),
            ("POST", "/api/v1/escalations/1/resolve"),
            ("POST", "/api/v1/escalations/1/reply"),
            ("GET", "/api/v1/stats"),
            ("PATCH", "/api/v1/bookings/1"),
        ]
        for method, path in routes:
            response = await client.request(method, path, json={})
            assert response.status_code == 401, (method, path)
            assert response.json()["error"]
            forged = await client.request(
                method, path, json={}, headers={"Authorization": "Bearer not-a-real-token-at-all"}
            )
            assert forged.status_code == 401, (method, path)

    async def test_agents_work_cases_but_only_admins_edit_knowledge(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        agent_headers: dict[str, str],
        admin_headers: dict[str, str],
    ) -> None:
        edits = [
            ("POST", "/api/v1/menu/addons", {"slug": "x", "name": "X", "price": 1}),
            ("PUT", "/api/v1/menu/addons/1", {"price": 1}),
            ("DELETE", "/api/v1/faqs/1", None),
            ("PUT", "/api/v1/business-rules/1", {"content": "x"}),
            ("POST", "/api/v1/offers", {"title": "x"}),
        ]
        for method, path, body in edits:
            refused = await client.request(method, path, json=body, headers=agent_headers)
            assert refused.status_code == 403, (method, path)
        assert (await client.get("/api/v1/menu/addons", headers=agent_headers)).status_code == 200
        assert (await client.get("/api/v1/stats", headers=agent_headers)).status_code == 200

    async def test_a_case_held_by_someone_else(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        runtime: AgentRuntime,
        clock: FrozenClock,
        admin_headers: dict[str, str],
    ) -> None:
        kim = await bearer(session, "Kim", "agent")
        lee = await bearer(session, "Lee", "agent")
        case = await cancel_two_days_out(session, runtime, clock, "+19165550163")
        assert (await client.post(f"/api/v1/escalations/{case}/claim", headers=kim)).is_success
        taken = await client.post(f"/api/v1/escalations/{case}/claim", headers=lee)
        assert taken.status_code == 409 and "Kim" in taken.json()["error"]["message"]
        for action in ("release", "resolve"):
            refused = await client.post(
                f"/api/v1/escalations/{case}/{action}", json={}, headers=lee
            )
            assert refused.status_code == 403, action
        reply = await client.post(
            f"/api/v1/escalations/{case}/reply", json={"text": "hi"}, headers=lee
        )
        assert reply.status_code == 409
        # an admin may close a case someone else holds
        closed = await client.post(
            f"/api/v1/escalations/{case}/resolve", json={"notes": "done"}, headers=admin_headers
        )
        assert closed.status_code == 200
        again = await client.post(f"/api/v1/escalations/{case}/claim", headers=kim)
        assert again.status_code == 409 and "resolved" in again.json()["error"]["message"]

    async def test_a_reply_must_say_something_and_cases_must_exist(
        self, client: httpx.AsyncClient, agent_headers: dict[str, str]
    ) -> None:
        missing = await client.post("/api/v1/escalations/999999/claim", headers=agent_headers)
        assert missing.status_code == 404
        empty = await client.post(
            "/api/v1/escalations/999999/reply", json={"text": ""}, headers=agent_headers
        )
        assert empty.status_code == 422


class TestClaimRace:
    async def test_two_agents_claiming_at_once_exactly_one_wins(
        self, pg_server: Any, template_url: str
    ) -> None:
        url = await clone_database(pg_server, template_url)
        engine = make_engine(url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        try:
            async with sessions() as session:
                customer = await make_customer(session)
                conversation = await make_conversation(session, customer)
                kim, _ = await create_user(session, "Kim", "agent")
                lee, _ = await create_user(session, "Lee", "agent")
                escalation = Escalation(
                    customer_id=customer.id,
                    conversation_id=conversation.id,
                    priority="URGENT",
                    reason="test",
                    action_required="call",
                    deadline=datetime.now(UTC) + H,
                )
                session.add(escalation)
                await session.commit()
                case_id, conversation_id = escalation.id, conversation.id
            for _round in range(10):
                async with sessions() as session:
                    row = await session.get(Escalation, case_id)
                    assert row is not None
                    row.status, row.assigned_to_id = "open", None
                    await session.commit()

                async def attempt(user: ApiUser) -> str:
                    async with sessions() as session:
                        try:
                            await cases.claim(session, case_id, user, datetime.now(UTC))
                            await asyncio.sleep(0.01)  # hold the row a moment
                            await session.commit()
                            return user.name
                        except Conflict as exc:
                            await session.rollback()
                            return f"refused: {exc.message}"

                outcomes = await asyncio.gather(attempt(kim), attempt(lee))
                winners = [o for o in outcomes if not o.startswith("refused")]
                assert len(winners) == 1, outcomes
                [loser] = [o for o in outcomes if o.startswith("refused")]
                assert winners[0] in loser
                async with sessions() as session:
                    conversation_row = await session.get(Conversation, conversation_id)
                    assert conversation_row is not None and conversation_row.owner == "human"
        finally:
            await engine.dispose()


# ---- metrics -----------------------------------------------------------------------------

NOW = datetime(2026, 6, 30, 19, 0, tzinfo=UTC)


async def metrics_fixture(session: AsyncSession) -> None:
    """50 conversations in the last 30 days (and 5 older ones that must not count).

    Hand count, for GET /api/v1/stats?days=30 at NOW:
    - 12 of the 50 conversations had an escalation opened in the period: AI-handled 38/50.
    - escalations in the period (a case merged into another not counted): URGENT 3, HIGH 4,
      MEDIUM 3, LOW 2; reasons: cancellation 5,
      no menu 4, low rating 3.
    - resolved: URGENT after 1 h, 1.5 h, 3 h (avg 1.83, p90 3.0, under 2 h: 2 of 3);
      HIGH after 2, 10, 20, 30 h (avg 15.5, p90 30.0, under 24 h: 3 of 4); MEDIUM after 48 h.
    - touchpoint messages handed to Twilio: 14 delivered, 3 sent, 2 undelivered, 1 failed →
      14/20; 5 simulated, 2 pending and 4 delivered ordinary replies are not counted.
    - menu deadlines: 6 passed with the menu chosen, 2 without → 6/8 (one planned too late
      and one still pending are not counted).
    - rating requests sent: 10, bookings that answered: 6 → 6/10; ratings 5, 5, 4, 4 went to
      Google, 3 and 1 stayed internal → 4/6.
    """
    reasons = (
        ["Cancellation request"] * 5 + ["No menu selection by deadline"] * 4 + ["Low rating"] * 3
    )
    priorities = ["URGENT"] * 3 + ["HIGH"] * 4 + ["MEDIUM"] * 3 + ["LOW"] * 2
    resolved_after = [1.0, 1.5, 3.0, 2.0, 10.0, 20.0, 30.0, 48.0, None, None, None, None]
    conversations = []
    for n in range(55):
        customer = await make_customer(session, phone=f"+1916777{n:04d}")
        conversation = await make_conversation(session, customer)
        old = n >= 50
        when = NOW - (40 * D if old else (n % 29 + 1) * D)
        await make_message(session, conversation, created_at=when, status="processed")
        conversations.append((customer, conversation, when))
    for i in range(12):
        customer, conversation, when = conversations[i]
        opened = when + H
        after = resolved_after[i]
        session.add(
            Escalation(
                customer_id=customer.id,
                conversation_id=conversation.id,
                priority=priorities[i],
                reason=reasons[i],
                action_required="call",
                deadline=opened + 2 * H,
                created_at=opened,
                status="resolved" if after is not None else "open",
                resolved_at=opened + timedelta(hours=after) if after is not None else None,
            )
        )
    await session.flush()
    first_customer, first_conversation, first_when = conversations[0]
    kept = (
        await session.scalars(
            select(Escalation).where(Escalation.conversation_id == first_conversation.id)
        )
    ).one()
    session.add(  # folded into the case above: one problem, counted once
        Escalation(
            customer_id=first_customer.id,
            conversation_id=first_conversation.id,
            priority="URGENT",
            reason="Cancellation request",
            action_required="call",
            deadline=first_when + 3 * H,
            created_at=first_when + 2 * H,
            status="merged",
            merged_into_id=kept.id,
        )
    )
    old_customer, old_conversation, old_when = conversations[50]
    session.add(
        Escalation(
            customer_id=old_customer.id,
            conversation_id=old_conversation.id,
            priority="URGENT",
            reason="Cancellation request",
            action_required="call",
            deadline=old_when + H,
            created_at=old_when,
        )
    )
    sent_statuses = ["delivered"] * 14 + ["sent"] * 3 + ["undelivered"] * 2 + ["failed"]
    others = ["simulated"] * 5 + ["pending"] * 2
    for i, status in enumerate(sent_statuses + others):
        _c, conversation, when = conversations[20 + i % 20]
        await make_message(
            session,
            conversation,
            direction="outbound",
            author="agent",
            kind="7_day",
            body="reminder",
            status=status,
            created_at=when,
        )
    for i in range(4):
        _c, conversation, when = conversations[i]
        await make_message(
            session,
            conversation,
            direction="outbound",
            author="agent",
            kind="faq",
            body="answer",
            status="delivered",
            created_at=when,
        )
    bookings = []
    for i in range(10):
        customer, _conv, _when = conversations[30 + i]
        bookings.append(
            await make_booking(session, customer, event_at=NOW - (i + 2) * D, adults=10)
        )
    deadlines = ["skipped"] * 6 + ["sent"] * 2
    for i, status in enumerate(deadlines):
        session.add(
            AutomatedReminder(
                booking_id=bookings[i].id,
                reminder_type="menu_deadline",
                scheduled_at=NOW - (i + 3) * D,
                status=status,
            )
        )
    session.add(
        AutomatedReminder(
            booking_id=bookings[8].id,
            reminder_type="menu_deadline",
            scheduled_at=NOW - 5 * D,
            status="skipped",
            last_error="already past when planned",
        )
    )
    session.add(
        AutomatedReminder(
            booking_id=bookings[9].id,
            reminder_type="menu_deadline",
            scheduled_at=NOW - 2 * D,
            status="pending",
        )
    )
    for i, booking in enumerate(bookings):
        session.add(
            AutomatedReminder(
                booking_id=booking.id,
                reminder_type="post_event",
                scheduled_at=NOW - (i + 1) * D,
                sent_at=NOW - (i + 1) * D,
                status="sent",
            )
        )
    for booking, rating in zip(bookings[:6], (5, 5, 4, 4, 3, 1), strict=True):
        session.add(
            Feedback(
                booking_id=booking.id,
                rating=rating,
                review_source="google" if rating >= 4 else "internal",
                escalated_to_human=rating < 4,
                created_at=NOW - D,
            )
        )
    await session.commit()


class TestStats:
    async def test_figures_match_the_hand_count(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        agent_headers: dict[str, str],
        clock: FrozenClock,
    ) -> None:
        clock.set(NOW)
        await metrics_fixture(session)
        response = await client.get("/api/v1/stats", params={"days": 30}, headers=agent_headers)
        assert response.status_code == 200
        stats = response.json()
        assert stats["ai_handled_share"]["numerator"] == 38
        assert stats["ai_handled_share"]["denominator"] == 50
        assert stats["ai_handled_share"]["value"] == pytest.approx(0.76)
        assert stats["escalated_share"]["value"] == pytest.approx(0.24)
        assert stats["escalations_by_priority"] == {"LOW": 2, "MEDIUM": 3, "HIGH": 4, "URGENT": 3}
        assert stats["escalations_by_reason"] == {
            "Cancellation request": 5,
            "No menu selection by deadline": 4,
            "Low rating": 3,
        }
        times = {r["priority"]: r for r in stats["resolution"]}
        assert times["URGENT"]["average_hours"] == pytest.approx(1.83)
        assert times["URGENT"]["p90_hours"] == pytest.approx(3.0)
        assert times["URGENT"]["target_hours"] == 2
        assert times["URGENT"]["within_target"]["value"] == pytest.approx(0.6667)
        assert times["HIGH"]["average_hours"] == pytest.approx(15.5)
        assert times["HIGH"]["p90_hours"] == pytest.approx(30.0)
        assert times["HIGH"]["within_target"]["value"] == pytest.approx(0.75)
        assert times["MEDIUM"]["resolved"] == 1 and times["MEDIUM"]["average_hours"] == 48
        assert times["LOW"]["resolved"] == 0 and times["LOW"]["average_hours"] is None
        assert stats["reminder_delivery_rate"]["value"] == pytest.approx(0.7)
        assert stats["reminder_delivery_rate"]["denominator"] == 20
        assert stats["menu_chosen_by_deadline"]["value"] == pytest.approx(0.75)
        assert stats["review_response_rate"]["value"] == pytest.approx(0.6)
        assert stats["promoter_share"]["value"] == pytest.approx(0.6667)
        for name in ("ai_handled_share", "reminder_delivery_rate", "promoter_share"):
            assert (
                stats["formulas"][name] == stats[name]["formula"]
                and " / " in stats[name]["formula"]
            )

    async def test_an_empty_period_says_nothing_rather_than_zero(
        self, client: httpx.AsyncClient, agent_headers: dict[str, str], clock: FrozenClock
    ) -> None:
        clock.set(datetime(2031, 1, 1, tzinfo=UTC))
        stats = (await client.get("/api/v1/stats?days=1", headers=agent_headers)).json()
        assert stats["reminder_delivery_rate"]["value"] is None
        assert stats["reminder_delivery_rate"]["denominator"] == 0
        bad = await client.get("/api/v1/stats?days=0", headers=agent_headers)
        assert bad.status_code == 422
