"""The console's actions on a booking: cancel and reschedule on the policy's live terms, shown
before anyone confirms; cancelling stops the journey and tells the customer; a move re-plans the
journey; the deposit refund the policy gave is recorded; every action is in the history with the
person who did it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.runtime import AgentRuntime
from knowledge.infra.clock import FrozenClock
from knowledge.models import (
    ApiUser,
    AutomatedReminder,
    Booking,
    BookingHistory,
    Customer,
    Message,
)
from knowledge.service import KnowledgeService
from scheduler import flows
from tests.factories import make_booking, make_customer

D, H = timedelta(days=1), timedelta(hours=1)


async def booked(
    session: AsyncSession,
    clock: FrozenClock,
    knowledge: KnowledgeService,
    until: timedelta,
    booked_ago: timedelta = 30 * D,
    **overrides: Any,
) -> Booking:
    """A committed booking `until` from now, made `booked_ago`, with its journey planned."""
    customer = await make_customer(session, name="Dana Lee")
    booking = await make_booking(
        session,
        customer,
        event_at=clock.now() + until,
        created_at=clock.now() - booked_ago,
        **overrides,
    )
    await flows.plan_journey(session, booking, clock.now(), await knowledge.rules(session))
    await session.commit()
    return booking


async def edit_rule(
    client: httpx.AsyncClient, headers: dict[str, str], rule_type: str, **values: Any
) -> None:
    """Change a live rule through the admin API, as an owner does in the knowledge pages."""
    rules = (await client.get("/api/v1/business-rules", headers=headers)).json()
    rule = next(r for r in rules if r["rule_type"] == rule_type)
    response = await client.put(
        f"/api/v1/business-rules/{rule['id']}",
        json={"value": {**rule["value"], **values}},
        headers=headers,
    )
    assert response.status_code == 200, response.text


async def touchpoints(session: AsyncSession, booking_id: int) -> dict[str, AutomatedReminder]:
    rows = await session.scalars(
        select(AutomatedReminder)
        .where(AutomatedReminder.booking_id == booking_id)
        .execution_options(populate_existing=True)
    )
    return {r.reminder_type: r for r in rows}


async def messages(session: AsyncSession, kind: str) -> list[Message]:
    return list((await session.scalars(select(Message).where(Message.kind == kind))).all())


async def user_id(session: AsyncSession, name: str) -> int:
    found = await session.scalar(select(ApiUser.id).where(ApiUser.name == name))
    assert found is not None
    return found


class TestCancellationTerms:
    """The preview says what cancelling now does, from the live cancellation rule."""

    async def test_ten_days_out_the_deposit_comes_back_in_full(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        booking = await booked(session, clock, knowledge, 10 * D)
        response = await client.get(
            f"/api/v1/bookings/{booking.id}/cancellation", headers=agent_headers
        )
        assert response.status_code == 200, response.text
        terms = response.json()
        assert terms["refund"] is True
        assert (terms["refund_amount"], terms["deposit_kept"]) == ("100.00", "0.00")
        assert (terms["refund_full_days"], terms["late_cancel_days"]) == (7, 3)
        assert terms["time_to_event"] == "10 days"
        assert terms["rule"] == "cancellation:staff:refund"
        assert "at least 7 days before" in terms["why"]
        assert "refunded in full" in terms["message"]
        assert terms["channel"] == "sms"

    async def test_five_days_out_the_deposit_is_kept_and_a_reschedule_offered(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        booking = await booked(session, clock, knowledge, 5 * D)
        terms = (
            await client.get(f"/api/v1/bookings/{booking.id}/cancellation", headers=agent_headers)
        ).json()
        assert terms["refund"] is False
        assert (terms["refund_amount"], terms["deposit_kept"]) == ("0.00", "100.00")
        assert terms["late"] is False and terms["reschedule_offered"] is True
        assert terms["reschedule"] == {
            "free": False,
            "fee": "100.00",
            "reschedule_fee": "100.00",
            "free_reschedule_hours": 48,
        }
        assert "less than 7 days before" in terms["why"]
        assert "$100 rescheduling fee" in terms["why"]
        assert "non-refundable" in terms["message"]

    async def test_twelve_hours_out_is_a_late_cancellation(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        booking = await booked(session, clock, knowledge, 12 * H)
        terms = (
            await client.get(f"/api/v1/bookings/{booking.id}/cancellation", headers=agent_headers)
        ).json()
        assert (terms["refund"], terms["late"], terms["reschedule_offered"]) == (
            False,
            True,
            False,
        )
        assert terms["time_to_event"] == "12 hours"
        assert terms["rule"] == "cancellation:staff:late"
        assert "less than 3 days before" in terms["why"]

    async def test_the_terms_follow_the_rule_as_the_owner_edits_it(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        booking = await booked(session, clock, knowledge, 5 * D)
        await edit_rule(client, admin_headers, "cancellation", refund_full_days=4)
        terms = (
            await client.get(f"/api/v1/bookings/{booking.id}/cancellation", headers=admin_headers)
        ).json()
        assert terms["refund"] is True and terms["refund_full_days"] == 4
        assert "at least 4 days before" in terms["why"]

    async def test_looking_changes_nothing(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        booking = await booked(session, clock, knowledge, 10 * D)
        await client.get(f"/api/v1/bookings/{booking.id}/cancellation", headers=agent_headers)
        await session.refresh(booking)
        assert booking.status == "confirmed"
        assert await messages(session, "cancel_confirmed") == []


class TestCancel:
    async def test_cancelling_stops_the_journey_tells_the_customer_and_writes_history(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        booking = await booked(session, clock, knowledge, 10 * D)
        before = await touchpoints(session, booking.id)
        assert before["7_day"].status == "pending"
        response = await client.post(
            f"/api/v1/bookings/{booking.id}/cancel", json={"refund": True}, headers=agent_headers
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["booking"]["status"] == "cancelled"
        assert result["booking"]["deposit_refund_due"] is True
        assert {t["status"] for t in result["booking"]["touchpoints"]} == {"cancelled"}
        after = await touchpoints(session, booking.id)
        assert {r.status for r in after.values()} == {"cancelled"}

        sent = await messages(session, "cancel_confirmed")
        assert [m.id for m in sent] == [result["message_id"]]
        assert sent[0].direction == "outbound" and sent[0].channel == "sms"
        assert sent[0].status == "simulated"  # no transport in tests; queued in the outbox
        assert booking.reference in sent[0].body and "refunded in full" in sent[0].body
        assert sent[0].meta["decisions"][0]["rule"] == "cancellation:staff:refund"

        entry = (
            await session.scalars(
                select(BookingHistory).where(BookingHistory.booking_id == booking.id)
            )
        ).one()
        assert entry.action == "cancelled"
        assert entry.user_id == await user_id(session, "test-agent")
        assert entry.created_at == clock.now()
        assert entry.details["refund"] is True
        assert entry.details["message_id"] == sent[0].id
        assert set(entry.details["touchpoints_cancelled"]) == set(before)
        assert result["entry"]["user_name"] == "test-agent"

    async def test_a_second_cancel_is_refused_and_sends_nothing_more(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        booking = await booked(session, clock, knowledge, 5 * D)
        path = f"/api/v1/bookings/{booking.id}/cancel"
        assert (await client.post(path, headers=agent_headers)).status_code == 200
        again = await client.post(path, headers=agent_headers)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "conflict"
        assert "already cancelled" in again.json()["error"]["message"]
        assert len(await messages(session, "cancel_confirmed_no_refund")) == 1
        preview = await client.get(
            f"/api/v1/bookings/{booking.id}/cancellation", headers=agent_headers
        )
        assert preview.status_code == 409

    async def test_a_refund_the_policy_no_longer_gives_is_not_confirmed(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        """The preview said "refund" a minute before the window closed; the click came after."""
        booking = await booked(session, clock, knowledge, 7 * D + timedelta(minutes=1))
        path = f"/api/v1/bookings/{booking.id}"
        assert (await client.get(f"{path}/cancellation", headers=agent_headers)).json()["refund"]
        clock.advance(timedelta(minutes=2))
        response = await client.post(f"{path}/cancel", json={"refund": True}, headers=agent_headers)
        assert response.status_code == 409
        assert "no refund" in response.json()["error"]["message"]
        await session.refresh(booking)
        assert booking.status == "confirmed"

    async def test_a_party_that_took_place_cannot_be_cancelled(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
    ) -> None:
        booking = await make_booking(session, event_at=clock.now() - D)
        await session.commit()
        response = await client.post(f"/api/v1/bookings/{booking.id}/cancel", headers=agent_headers)
        assert response.status_code == 409
        assert "already taken place" in response.json()["error"]["message"]


class TestReschedule:
    async def test_the_fee_shown_first_comes_from_the_live_rule(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        booking = await booked(session, clock, knowledge, 10 * D)
        new_at = (booking.event_at + 10 * D).isoformat()
        path = f"/api/v1/bookings/{booking.id}/reschedule"
        terms = (await client.get(path, params={"event_at": new_at}, headers=admin_headers)).json()
        assert terms["terms"]["free"] is False and terms["terms"]["fee"] == "100.00"
        assert "rescheduling fee of $100" in terms["why"]
        await edit_rule(client, admin_headers, "rescheduling", reschedule_fee=150)
        terms = (await client.get(path, params={"event_at": new_at}, headers=admin_headers)).json()
        assert terms["terms"]["fee"] == "150.00"
        assert "$150 rescheduling fee" in terms["message"]

    async def test_the_first_move_within_the_window_is_free(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        booking = await booked(session, clock, knowledge, 10 * D, booked_ago=2 * H)
        terms = (
            await client.get(
                f"/api/v1/bookings/{booking.id}/reschedule",
                params={"event_at": (booking.event_at + D).isoformat()},
                headers=agent_headers,
            )
        ).json()
        assert terms["terms"] == {
            "free": True,
            "fee": "0.00",
            "reschedule_fee": "100.00",
            "free_reschedule_hours": 48,
        }
        assert "within 48 hours of booking" in terms["why"]

    async def test_applying_it_moves_the_journey_tells_the_customer_and_writes_history(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        booking = await booked(session, clock, knowledge, 10 * D)
        old_at = booking.event_at
        before = await touchpoints(session, booking.id)
        old_7_day = before["7_day"].scheduled_at
        new_at = old_at + 14 * D
        response = await client.post(
            f"/api/v1/bookings/{booking.id}/reschedule",
            json={"event_at": new_at.isoformat(), "fee": "100.00"},
            headers=agent_headers,
        )
        assert response.status_code == 200, response.text
        view = response.json()["booking"]
        assert datetime.fromisoformat(view["event_at"]) == new_at
        assert view["reschedule_count"] == 1 and view["status"] == "confirmed"
        after = await touchpoints(session, booking.id)
        assert after["7_day"].status == "pending"
        assert after["7_day"].scheduled_at - old_7_day == 14 * D

        sent = await messages(session, "reschedule_confirmed")
        assert len(sent) == 1
        assert "$100 rescheduling fee" in sent[0].body
        entry = (
            await session.scalars(
                select(BookingHistory).where(BookingHistory.booking_id == booking.id)
            )
        ).one()
        assert entry.action == "rescheduled"
        assert entry.user_id == await user_id(session, "test-agent")
        assert datetime.fromisoformat(entry.details["from"]) == old_at
        assert datetime.fromisoformat(entry.details["to"]) == new_at
        assert (entry.details["fee"], entry.details["free"]) == ("100.00", False)

        # The booking has moved once: the next move is never free.
        again = await client.get(
            f"/api/v1/bookings/{booking.id}/reschedule",
            params={"event_at": (new_at + D).isoformat()},
            headers=agent_headers,
        )
        assert again.json()["terms"]["free"] is False
        assert "moved before (1 time)" in again.json()["why"]

    async def test_a_time_that_has_passed_is_refused(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        booking = await booked(session, clock, knowledge, 10 * D)
        response = await client.post(
            f"/api/v1/bookings/{booking.id}/reschedule",
            json={"event_at": (clock.now() - H).isoformat()},
            headers=agent_headers,
        )
        assert response.status_code == 422
        assert "that time has passed" in response.json()["error"]["message"]
        await session.refresh(booking)
        assert booking.reschedule_count == 0

    async def test_a_time_every_chef_is_taken_is_refused_with_open_times(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        booking = await booked(session, clock, knowledge, 10 * D)
        full = booking.event_at + 7 * D
        for _ in range(2):  # the seed has two chefs
            await make_booking(session, event_at=full)
        await session.commit()
        response = await client.get(
            f"/api/v1/bookings/{booking.id}/reschedule",
            params={"event_at": full.isoformat()},
            headers=agent_headers,
        )
        assert response.status_code == 409
        error = response.json()["error"]
        assert "is not available" in error["message"] and "Open nearby" in error["message"]
        assert error["details"]["choices"]
        moved = await client.post(
            f"/api/v1/bookings/{booking.id}/reschedule",
            json={"event_at": full.isoformat()},
            headers=agent_headers,
        )
        assert moved.status_code == 409

    async def test_a_party_moved_by_an_hour_does_not_block_itself(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        """One chef is free an hour later: the other party then and this one's own old slot
        would be two, but this party leaves its old slot as it moves."""
        booking = await booked(session, clock, knowledge, 10 * D)
        await make_booking(session, event_at=booking.event_at + 2 * H)
        await session.commit()
        response = await client.get(
            f"/api/v1/bookings/{booking.id}/reschedule",
            params={"event_at": (booking.event_at + H).isoformat()},
            headers=agent_headers,
        )
        assert response.status_code == 200, response.text

    async def test_a_cancelled_booking_cannot_be_moved(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        booking = await booked(session, clock, knowledge, 10 * D, status="cancelled")
        response = await client.post(
            f"/api/v1/bookings/{booking.id}/reschedule",
            json={"event_at": (booking.event_at + D).isoformat()},
            headers=agent_headers,
        )
        assert response.status_code == 409


class TestDepositRefunded:
    async def test_the_refund_the_policy_gave_is_recorded_once(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        admin_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        booking = await booked(session, clock, knowledge, 10 * D)
        base = f"/api/v1/bookings/{booking.id}"
        await client.post(f"{base}/cancel", headers=agent_headers)
        response = await client.post(f"{base}/deposit-refunded", headers=admin_headers)
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["booking"]["deposit_refunded_at"] is not None
        assert result["entry"]["action"] == "deposit_refunded"
        assert result["entry"]["details"]["amount"] == "100.00"
        told = await messages(session, "deposit_refunded")
        assert len(told) == 1 and "$100 deposit" in told[0].body

        again = await client.post(f"{base}/deposit-refunded", headers=admin_headers)
        assert again.status_code == 409 and "already marked" in again.json()["error"]["message"]

        history = (await client.get(f"{base}/history", headers=agent_headers)).json()
        assert [(h["action"], h["user_name"]) for h in history] == [
            ("cancelled", "test-agent"),
            ("deposit_refunded", "test-admin"),
        ]

    async def test_no_refund_can_be_recorded_when_the_policy_gave_none(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        booking = await booked(session, clock, knowledge, 5 * D)
        base = f"/api/v1/bookings/{booking.id}"
        assert (
            await client.post(f"{base}/deposit-refunded", headers=agent_headers)
        ).status_code == 409
        await client.post(f"{base}/cancel", headers=agent_headers)
        response = await client.post(f"{base}/deposit-refunded", headers=agent_headers)
        assert response.status_code == 409
        assert "the policy gave none" in response.json()["error"]["message"]

    async def test_a_customer_who_cancels_by_text_leaves_the_refund_due_in_the_history(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
        runtime: AgentRuntime,
    ) -> None:
        """The agent's own cancellation (the customer's "1") is the case staff then work: the
        refund it promised waits to be recorded."""
        booking = await booked(session, clock, knowledge, 10 * D)
        view = (await client.get(f"/api/v1/bookings/{booking.id}", headers=agent_headers)).json()
        assert view["deposit_refund_due"] is False
        customer = await session.get(Customer, booking.customer_id)
        assert customer is not None and customer.phone
        asked = await runtime.receive(customer.phone, "I need to cancel my party")
        assert asked.pending == "cancel_choice"
        chose = await runtime.receive(customer.phone, "1")
        assert "cancellation:confirmed" in chose.rules
        view = (await client.get(f"/api/v1/bookings/{booking.id}", headers=agent_headers)).json()
        assert view["status"] == "cancelled" and view["deposit_refund_due"] is True
        history = (
            await client.get(f"/api/v1/bookings/{booking.id}/history", headers=agent_headers)
        ).json()
        assert [(h["action"], h["user_name"], h["details"]["refund"]) for h in history] == [
            ("cancelled", None, True)
        ]
        recorded = await client.post(
            f"/api/v1/bookings/{booking.id}/deposit-refunded", headers=agent_headers
        )
        assert recorded.status_code == 200, recorded.text
