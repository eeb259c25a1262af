"""Proactive turns through the same graph: touchpoints, operational events, human replies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.runtime import AgentRuntime
from agent.state import TurnEvent
from knowledge.infra.clock import FrozenClock
from knowledge.models import ApiUser, AutomatedReminder, Booking, Customer, Escalation, Message
from tests.factories import make_booking, make_customer
from tools import addresses, bookings

D = timedelta(days=1)
PHONE = "+19165550161"


async def setup(
    session: AsyncSession, clock: FrozenClock, until: timedelta, **kw: Any
) -> tuple[Customer, Booking, int]:
    customer = await make_customer(session, name="Sam Park", phone=PHONE)
    booking = await make_booking(
        session, customer, event_at=clock.now() + until, address="88 Elm St, Davis, CA", **kw
    )
    conversation = await bookings.get_or_create_conversation(session, customer.id, "sms")
    await session.commit()
    return customer, booking, conversation.id


async def touch(
    runtime: AgentRuntime,
    session: AsyncSession,
    booking: Booking,
    conversation_id: int,
    kind: str,
    **payload: Any,
) -> tuple[Any, AutomatedReminder]:
    reminder = AutomatedReminder(
        booking_id=booking.id,
        reminder_type=kind,
        scheduled_at=runtime.clock.now(),
        status="claimed",
    )
    session.add(reminder)
    await session.commit()
    event = TurnEvent(
        kind="reminder",
        conversation_id=conversation_id,
        reminder_id=reminder.id,
        payload={"touchpoint": kind, "booking_id": booking.id, **payload},
    )
    result = await runtime.handle(event)
    await session.refresh(reminder)
    return result, reminder


class TestTouchpoints:
    async def test_confirmation_recaps_the_booking(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, booking, conversation_id = await setup(session, clock, 20 * D)
        result, reminder = await touch(runtime, session, booking, conversation_id, "confirmation")
        assert result.reply is not None
        for fact in ("88 Elm St", "$100", "12 guests", "myhibachi.example/agreement"):
            assert fact in result.reply
        assert "pick 2 proteins" not in result.reply
        assert (reminder.status, reminder.message_id) == ("sent", result.reply_message_id)

    async def test_confirmation_under_a_week_out_asks_for_the_menu_and_takes_the_answer(
        self,
        runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr("agent.nodes.decide.CONFIDENT", 0.0)  # the answer, not the gate
        _, booking, conversation_id = await setup(session, clock, 5 * D)
        result, _ = await touch(runtime, session, booking, conversation_id, "confirmation")
        assert result.reply is not None and "pick 2 proteins" in result.reply
        answer = await runtime.receive(PHONE, "shrimp and tofu")
        assert answer.intent == "menu_selection"
        await session.refresh(booking)
        assert booking.proteins == ["shrimp", "tofu"]

    async def test_seven_days_asks_for_proteins_with_current_upgrade_prices(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, booking, conversation_id = await setup(session, clock, 7 * D)
        result, _ = await touch(runtime, session, booking, conversation_id, "7_day")
        assert result.reply is not None
        assert "Lobster +$15/person" in result.reply and "gate codes" in result.reply

    async def test_seven_days_with_a_menu_confirms_instead(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, booking, conversation_id = await setup(
            session, clock, 7 * D, proteins=["chicken", "steak"], menu_selected=True
        )
        result, _ = await touch(runtime, session, booking, conversation_id, "7_day")
        assert result.reply is not None
        assert "chicken and steak" in result.reply and "Lobster" not in result.reply

    async def test_four_days_without_a_menu_names_the_default(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, booking, conversation_id = await setup(session, clock, 4 * D)
        result, _ = await touch(runtime, session, booking, conversation_id, "4_day")
        assert result.reply is not None
        assert "by tomorrow" in result.reply and "chicken and steak" in result.reply

    async def test_menu_deadline_with_a_menu_sends_nothing(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, booking, conversation_id = await setup(
            session, clock, 3 * D, proteins=["shrimp", "steak"], menu_selected=True
        )
        result, reminder = await touch(runtime, session, booking, conversation_id, "menu_deadline")
        assert (result.reply, result.outcome, reminder.status) == (None, "silent", "skipped")

    async def test_menu_deadline_without_a_menu_escalates_with_the_default_menu(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        customer, booking, conversation_id = await setup(session, clock, 3 * D)
        result, _ = await touch(runtime, session, booking, conversation_id, "menu_deadline")
        assert result.outcome == "escalated"
        assert result.reply is not None and "call you" in result.reply
        await session.refresh(booking)
        assert (booking.proteins, booking.menu_provisional) == (["chicken", "steak"], True)
        case = (
            await session.scalars(select(Escalation).where(Escalation.customer_id == customer.id))
        ).one()
        assert case.priority == "HIGH"

    async def test_day_before_states_the_balance(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, booking, conversation_id = await setup(session, clock, 1 * D, adults=10, kids=2)
        result, _ = await touch(runtime, session, booking, conversation_id, "24_hour")
        assert result.reply is not None
        assert "Balance due: $510" in result.reply  # 10 x $55 + 2 x $30 - $100 deposit

    async def test_an_opted_out_channel_is_suppressed_not_dropped(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        customer, booking, conversation_id = await setup(session, clock, 7 * D)
        await addresses.set_opted_out(session, customer.id, "sms", True)
        await session.commit()
        result, reminder = await touch(runtime, session, booking, conversation_id, "7_day")
        assert (result.reply, reminder.status) == (None, "suppressed")

    async def test_a_replayed_touchpoint_is_not_sent_twice(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, booking, conversation_id = await setup(session, clock, 20 * D)
        _, reminder = await touch(runtime, session, booking, conversation_id, "confirmation")
        again = await runtime.handle(
            TurnEvent(
                kind="reminder",
                conversation_id=conversation_id,
                reminder_id=reminder.id,
                payload={"touchpoint": "confirmation", "booking_id": booking.id},
            )
        )
        assert again.skipped == "duplicate"
        sent = await session.scalar(
            select(func.count()).where(
                Message.conversation_id == conversation_id, Message.direction == "outbound"
            )
        )
        assert sent == 1

    async def test_after_the_event_a_rating_request_is_answered_by_a_number(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, booking, conversation_id = await setup(session, clock, -1 * D)
        result, _ = await touch(runtime, session, booking, conversation_id, "post_event")
        assert result.reply is not None and "1 (poor) to 5" in result.reply
        rating = await runtime.receive(PHONE, "4")
        assert (rating.intent, rating.outcome) == ("rating", "handled")


class TestOperationalEvents:
    async def test_chef_departed_tells_the_customer_the_eta(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, booking, conversation_id = await setup(session, clock, 2 * timedelta(hours=1))
        result = await runtime.handle(
            TurnEvent(
                kind="operational",
                conversation_id=conversation_id,
                payload={
                    "touchpoint": "on_the_way",
                    "booking_id": booking.id,
                    "eta_minutes": 25,
                    "id": f"on_the_way:{booking.id}",
                },
            )
        )
        # The clock is 15:00 in Sacramento, so 25 minutes out is 3:25 PM.
        assert result.reply is not None and "3:25 PM" in result.reply


class TestHumanReplies:
    async def test_a_human_reply_goes_out_as_written_and_signed_by_them(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, _, conversation_id = await setup(session, clock, 10 * D)
        kim = ApiUser(name="kim-h", role="agent", token_hash="h" * 64)
        session.add(kim)
        await session.commit()
        result = await runtime.handle(
            TurnEvent(
                kind="agent_action",
                conversation_id=conversation_id,
                text="Hi Sam, this is Kim from the office.",
                payload={"action": "reply", "user_id": kim.id, "id": "action-1"},
            )
        )
        message = await session.get(Message, result.reply_message_id)
        assert message is not None
        assert (message.author, message.author_user_id, message.body) == (
            "human",
            kim.id,
            "Hi Sam, this is Kim from the office.",
        )
