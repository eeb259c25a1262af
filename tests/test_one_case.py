"""One case per problem: a later message about an open case's problem joins that case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import Booking, Conversation, Customer, Escalation, TeamAlert
from knowledge.users import create_user
from tests.factories import make_booking, make_conversation, make_customer
from tests.rules import seed_rules
from tools.escalations import open_escalation, problem_of
from tools.policy import Priority, escalate

NOW = datetime(2026, 6, 10, 22, 0, tzinfo=UTC)
RULES = seed_rules()


@dataclass
class Thread:
    session: AsyncSession
    customer: Customer
    booking: Booking
    conversation: Conversation

    async def escalate(self, priority: Priority, reason: str, text: str, intent: str) -> Escalation:
        plan = escalate(priority, reason, f"Act on: {reason}", NOW, self.booking.event_at, RULES)
        return await open_escalation(
            self.session,
            plan,
            customer=self.customer,
            booking=self.booking,
            conversation_id=self.conversation.id,
            customer_request=text,
            rules=RULES,
            console_url="http://console",
            problem=problem_of(intent),
        )

    async def cases(self) -> list[Escalation]:
        query = select(Escalation).where(Escalation.customer_id == self.customer.id)
        return list((await self.session.scalars(query.order_by(Escalation.id))).all())

    async def alerts(self, case: Escalation) -> list[TeamAlert]:
        query = select(TeamAlert).where(TeamAlert.escalation_id == case.id)
        return list((await self.session.scalars(query.order_by(TeamAlert.id))).all())


@pytest.fixture
async def thread(session: AsyncSession) -> Thread:
    customer = await make_customer(session, name="Casey Moss", phone="+19165550777")
    booking = await make_booking(session, customer, event_at=NOW + timedelta(days=2))
    conversation = await make_conversation(session, customer)
    return Thread(session, customer, booking, conversation)


class TestOneCasePerProblem:
    async def test_a_repeated_message_joins_the_open_case(self, thread: Thread) -> None:
        first = await thread.escalate(
            "HIGH", "Cancellation request", "cancel please", "cancellation"
        )
        again = await thread.escalate("HIGH", "Cancellation request", "hello??", "cancellation")
        assert again.id == first.id
        [case] = await thread.cases()
        assert case.customer_request == "cancel please\n\nhello??"
        assert case.reason == "Cancellation request"

    async def test_a_more_urgent_message_raises_the_case_and_tells_the_team(
        self, thread: Thread
    ) -> None:
        first = await thread.escalate("HIGH", "Cancellation request", "cancel it", "cancellation")
        high_deadline = first.deadline
        raised = await thread.escalate(
            "URGENT", "Change within 24 hours", "actually move it to tonight", "date_change"
        )
        assert raised.id == first.id
        [case] = await thread.cases()
        assert case.priority == "URGENT"
        assert case.deadline <= high_deadline
        assert case.reason == "Cancellation request; Change within 24 hours"
        updates = [a for a in await thread.alerts(case) if a.subject.startswith("Case updated")]
        assert {a.channel for a in updates} == {"console", "sms", "email"}

    async def test_a_less_urgent_message_keeps_the_priority_and_alerts_only_the_console(
        self, thread: Thread
    ) -> None:
        await thread.escalate("URGENT", "Change within 24 hours", "tonight!!", "date_change")
        await thread.escalate("MEDIUM", "Date change request", "any time is fine", "date_change")
        [case] = await thread.cases()
        assert case.priority == "URGENT"
        updates = [a for a in await thread.alerts(case) if a.subject.startswith("Case updated")]
        assert [a.channel for a in updates] == ["console"]

    async def test_a_different_problem_opens_a_second_case(self, thread: Thread) -> None:
        await thread.escalate("HIGH", "Cancellation request", "cancel please", "cancellation")
        await thread.escalate(
            "MEDIUM", "Serious allergy", "my son is allergic to nuts", "dietary_request"
        )
        assert [c.problem for c in await thread.cases()] == ["booking_change", "dietary"]

    async def test_asking_for_a_person_joins_whatever_case_is_open(self, thread: Thread) -> None:
        await thread.escalate("HIGH", "Complaint", "the chef was rude", "complaint")
        await thread.escalate(
            "LOW", "Customer asked for a person", "let me talk to someone", "human_request"
        )
        assert len(await thread.cases()) == 1

    async def test_the_holder_of_a_case_hears_of_the_message_that_joins_it(
        self, thread: Thread
    ) -> None:
        case = await thread.escalate("HIGH", "Complaint", "the chef was rude", "complaint")
        holder, _token = await create_user(thread.session, "kim-case", "agent")
        case.assigned_to_id, case.status = holder.id, "in_progress"
        await thread.escalate("HIGH", "Complaint", "still waiting on a call", "complaint")
        updates = [a for a in await thread.alerts(case) if a.subject.startswith("Case updated")]
        assert [(a.channel, a.user_id) for a in updates] == [("console", holder.id)]

    async def test_a_resolved_case_is_not_joined(self, thread: Thread) -> None:
        first = await thread.escalate("HIGH", "Cancellation request", "cancel", "cancellation")
        first.status = "resolved"
        second = await thread.escalate("HIGH", "Cancellation request", "cancel", "cancellation")
        assert second.id != first.id
