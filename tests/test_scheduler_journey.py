"""The booking journey runs by itself: each touchpoint once, in order, at its time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.runtime import AgentRuntime
from knowledge.infra.clock import FrozenClock
from knowledge.models import AutomatedReminder, Booking, Customer, Escalation, Message
from knowledge.service import KnowledgeService
from scheduler import flows
from scheduler.planner import plan, within_hours
from scheduler.worker import Worker
from tests.factories import make_booking, make_customer
from tests.helpers.metrics import counted
from tests.rules import seed_rules

D = timedelta(days=1)
PHONE = "+19165550181"
RULES = seed_rules()


async def book(
    session: AsyncSession,
    clock: FrozenClock,
    knowledge: KnowledgeService,
    until: timedelta,
    **kw: Any,
) -> tuple[Customer, Booking]:
    customer = await make_customer(session, name="Ana Ruiz", phone=PHONE)
    booking = await make_booking(
        session, customer, event_at=clock.now() + until, created_at=clock.now(), **kw
    )
    await flows.plan_journey(session, booking, clock.now(), (await knowledge.rules(session)))
    await session.commit()
    return customer, booking


async def sent_kinds(session: AsyncSession, customer: Customer) -> list[str]:
    from knowledge.models import Conversation

    query = (
        select(Message.kind)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.customer_id == customer.id, Message.direction == "outbound")
        .order_by(Message.id)
    )
    return [k or "" for k in (await session.scalars(query)).all()]


async def statuses(session: AsyncSession, booking: Booking) -> dict[str, str]:
    rows = (
        await session.scalars(
            select(AutomatedReminder).where(AutomatedReminder.booking_id == booking.id)
        )
    ).all()
    return {r.reminder_type: r.status for r in rows}


class TestPlanning:
    def test_touchpoints_fall_on_their_days_in_the_business_timezone(self) -> None:
        now = datetime(2026, 6, 1, 17, 0, tzinfo=UTC)  # 10:00 in Sacramento
        event = datetime(2026, 6, 21, 1, 0, tzinfo=UTC)  # Saturday June 20, 18:00 local
        due = {k: v.astimezone(RULES.timezone) for k, v in plan(event, now, RULES).items()}
        assert due["confirmation"].strftime("%m-%d %H:%M") == "06-01 10:00"
        assert due["7_day"].strftime("%m-%d %H:%M") == "06-13 10:00"
        assert due["4_day"].strftime("%m-%d %H:%M") == "06-16 10:00"
        assert due["menu_deadline"].strftime("%m-%d %H:%M") == "06-17 10:00"
        assert due["24_hour"].strftime("%m-%d %H:%M") == "06-19 10:00"
        assert due["post_event"].strftime("%m-%d %H:%M") == "06-21 10:00"

    @pytest.mark.parametrize(
        ("booked", "deadline"),
        [
            ("06-18 12:00", "06-19 09:00"),  # two days out: an hour before the final message
            ("06-17 12:00", "06-18 12:00"),  # a day after booking comes first
            ("06-19 17:00", "06-19 19:00"),  # the day before: two hours' grace
        ],
    )
    def test_a_booking_made_after_the_menu_deadline_gets_a_late_one(
        self, booked: str, deadline: str
    ) -> None:
        event = datetime(2026, 6, 21, 1, 0, tzinfo=UTC)  # June 20, 18:00 local
        now = datetime.strptime(f"2026-{booked}", "%Y-%m-%d %H:%M").replace(tzinfo=RULES.timezone)
        due = plan(event, now.astimezone(UTC), RULES)
        assert due["menu_deadline"].astimezone(RULES.timezone).strftime("%m-%d %H:%M") == deadline

    def test_outside_messaging_hours_waits_for_the_next_opening(self) -> None:
        late = datetime(2026, 6, 2, 5, 30, tzinfo=UTC)  # 22:30 local
        early = datetime(2026, 6, 2, 14, 0, tzinfo=UTC)  # 07:00 local
        inside = datetime(2026, 6, 2, 20, 0, tzinfo=UTC)  # 13:00 local
        opening = datetime(2026, 6, 2, 16, 0, tzinfo=UTC)  # 09:00 local
        assert within_hours(late, RULES) == opening
        assert within_hours(early, RULES) == opening
        assert within_hours(inside, RULES) == inside


class TestJourney:
    async def test_the_whole_journey_day_by_day(
        self,
        worker: Worker,
        runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        customer, booking = await book(session, clock, knowledge, 20 * D)
        sent = counted("hibachi_touchpoints_total", kind="7_day", result="sent")
        late = counted("hibachi_touchpoint_lateness_seconds_count", kind="7_day")
        for _ in range(22):
            await worker.advance(clock, D)
        assert counted("hibachi_touchpoints_total", kind="7_day", result="sent") == sent + 1
        assert counted("hibachi_touchpoint_lateness_seconds_count", kind="7_day") == late + 1
        assert await sent_kinds(session, customer) == [
            "confirmation",
            "7_day",
            "4_day",
            "menu_deadline",
            "24_hour",
            "post_event",
        ]
        # No menu ever came: the deadline stored the default and opened a HIGH case.
        await session.refresh(booking)
        assert booking.proteins == ["chicken", "steak"] and booking.menu_provisional
        case = (
            await session.scalars(select(Escalation).where(Escalation.customer_id == customer.id))
        ).one()
        assert case.priority == "HIGH"
        rating = await runtime.receive(PHONE, "5")
        assert rating.intent == "rating"

    async def test_a_menu_chosen_before_the_fourth_day_means_no_urgent_reminder(
        self,
        worker: Worker,
        runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        customer, booking = await book(session, clock, knowledge, 20 * D)
        await worker.advance(clock, 14 * D)  # past the 7-day message
        answer = await runtime.receive(PHONE, "chicken and shrimp please")
        assert answer.intent == "menu_selection"
        await worker.advance(clock, 8 * D)
        kinds = await sent_kinds(session, customer)
        assert "4_day" in kinds and "menu_deadline" not in kinds
        assert (await statuses(session, booking))["menu_deadline"] == "skipped"
        assert (
            await session.scalars(select(Escalation).where(Escalation.customer_id == customer.id))
        ).first() is None

    async def test_a_new_date_moves_what_has_not_gone_out(
        self, worker: Worker, session: AsyncSession, clock: FrozenClock, knowledge: KnowledgeService
    ) -> None:
        customer, booking = await book(session, clock, knowledge, 20 * D)
        await worker.advance(clock, 1 * D)
        booking.event_at = booking.event_at + 10 * D
        await flows.event_moved(session, booking, clock.now(), RULES)
        await session.commit()
        await worker.advance(clock, 18 * D)  # the old 7-day date passes: nothing goes out
        assert await sent_kinds(session, customer) == ["confirmation"]
        await worker.advance(clock, 5 * D)
        assert (await sent_kinds(session, customer))[-1] == "7_day"

    async def test_a_cancellation_stops_everything(
        self,
        worker: Worker,
        runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        customer, booking = await book(session, clock, knowledge, 20 * D)
        await worker.advance(clock, 1 * D)
        await runtime.receive(PHONE, "we need to cancel the party")
        await runtime.receive(PHONE, "1")
        await worker.advance(clock, 25 * D)
        kinds = await sent_kinds(session, customer)
        assert kinds[0] == "confirmation"
        assert not {"7_day", "4_day", "24_hour", "post_event"} & set(kinds)
        assert set((await statuses(session, booking)).values()) <= {"sent", "cancelled"}

    async def test_an_opted_out_customer_is_suppressed_not_forgotten(
        self,
        worker: Worker,
        runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        customer, booking = await book(session, clock, knowledge, 20 * D)
        await worker.advance(clock, 1 * D)
        await runtime.receive(PHONE, "STOP")
        await worker.advance(clock, 15 * D)
        assert await sent_kinds(session, customer) == ["confirmation"]
        assert (await statuses(session, booking))["7_day"] == "suppressed"

    async def test_messages_wait_for_messaging_hours(
        self, worker: Worker, session: AsyncSession, clock: FrozenClock, knowledge: KnowledgeService
    ) -> None:
        clock.set(datetime(2026, 6, 11, 5, 30, tzinfo=UTC))  # 22:30 in Sacramento
        customer, booking = await book(session, clock, knowledge, 20 * D)
        await worker.run_due()
        assert await sent_kinds(session, customer) == []
        await worker.advance(clock, timedelta(hours=12))
        message = (
            await session.scalars(
                select(AutomatedReminder).where(
                    AutomatedReminder.booking_id == booking.id,
                    AutomatedReminder.reminder_type == "confirmation",
                )
            )
        ).one()
        assert message.sent_at is not None
        assert message.sent_at.astimezone(RULES.timezone).strftime("%H:%M") == "09:00"


class TestRetries:
    async def test_a_failing_turn_is_retried_with_backoff_then_marked_failed(
        self,
        worker: Worker,
        runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
        monkeypatch: Any,
    ) -> None:
        _, booking = await book(session, clock, knowledge, 20 * D)

        async def broken(event: Any) -> Any:
            raise ConnectionError("provider unreachable")

        monkeypatch.setattr(runtime, "handle", broken)
        row = (
            await session.scalars(
                select(AutomatedReminder).where(
                    AutomatedReminder.booking_id == booking.id,
                    AutomatedReminder.reminder_type == "confirmation",
                )
            )
        ).one()
        waits = []
        for _ in range(5):
            before = clock.now()
            await worker.run_due()
            await session.refresh(row)
            if row.status == "failed":
                break
            assert row.status == "pending" and "provider unreachable" in (row.last_error or "")
            waits.append(row.scheduled_at - before)
            clock.set(row.scheduled_at)
        assert row.status == "failed" and row.attempts == 5
        assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
