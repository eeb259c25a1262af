"""Whole turns through the graph, on real PostgreSQL, in rules mode."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.nodes.decide import MOST_FAQS, _asks_how_it_works, _said_once
from agent.runtime import PRUNE_EVERY_TURNS, AgentRuntime
from agent.state import KEPT, TurnEvent
from agent.understanding.schema import Entities, Request
from knowledge import repository as repo
from knowledge.infra.clock import FrozenClock
from knowledge.models import (
    ApiUser,
    AutomatedReminder,
    Booking,
    Customer,
    Escalation,
    Feedback,
    Message,
    TeamAlert,
)
from knowledge.schemas import AddonUpdate
from knowledge.service import KnowledgeService
from tests.factories import make_booking, make_customer
from tools import addresses, bookings
from tools.outbox import record_inbound
from tools.policy import Decision

D, H = timedelta(days=1), timedelta(hours=1)
PHONE = "+19165550101"


async def customer_with_booking(
    session: AsyncSession, clock: FrozenClock, until: timedelta, **kw: Any
) -> tuple[Customer, Booking]:
    customer = await make_customer(session, name="Dana Lee", phone=PHONE)
    fields: dict[str, Any] = {
        "event_at": clock.now() + until,
        "created_at": clock.now() - 30 * D,
        "adults": 12,
        "kids": 3,
    }
    booking = await make_booking(session, customer, **{**fields, **kw})
    await session.commit()
    return customer, booking


async def escalations(session: AsyncSession, customer: Customer) -> list[Escalation]:
    query = select(Escalation).where(Escalation.customer_id == customer.id).order_by(Escalation.id)
    return list((await session.scalars(query)).all())


class TestCancellation:
    async def test_two_days_out_is_non_refundable_and_escalated_high(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        customer, _ = await customer_with_booking(session, clock, 2 * D)
        result = await runtime.receive(PHONE, "hey we need to cancel, family emergency")
        assert (result.intent, result.outcome) == ("cancellation", "escalated")
        assert result.reply is not None and "non-refundable" in result.reply
        assert "full refund" not in result.reply.lower()
        [case] = await escalations(session, customer)
        assert case.priority == "HIGH"
        assert case.customer_request == "hey we need to cancel, family emergency"
        alerts = (
            await session.scalars(select(TeamAlert).where(TeamAlert.escalation_id == case.id))
        ).all()
        assert {a.channel for a in alerts} == {"console", "email"}

    async def test_refund_question_is_answered_next_turn_even_after_a_restart(
        self,
        runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        sessionmaker: Any,
        knowledge: KnowledgeService,
        checkpointer: Any,
    ) -> None:
        customer, booking = await customer_with_booking(session, clock, 10 * D)
        session.add(
            AutomatedReminder(
                booking_id=booking.id, reminder_type="7_day", scheduled_at=clock.now() + 3 * D
            )
        )
        await session.commit()
        first = await runtime.receive(PHONE, "I need to cancel our party")
        assert first.outcome == "handled"
        assert first.reply is not None and "Reply 1" in first.reply

        restarted = AgentRuntime(sessionmaker, knowledge, clock, checkpointer)
        second = await restarted.receive(PHONE, "1")
        assert (second.intent, second.outcome) == ("cancellation", "escalated")
        await session.refresh(booking)
        assert booking.status == "cancelled"
        [case] = await escalations(session, customer)
        assert case.priority == "MEDIUM"
        reminder = (
            await session.scalars(
                select(AutomatedReminder).where(AutomatedReminder.booking_id == booking.id)
            )
        ).one()
        assert reminder.status == "cancelled"


class TestSeveralRequests:
    async def test_menu_and_headcount_in_one_message(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, booking = await customer_with_booking(session, clock, 10 * D)
        result = await runtime.receive(PHONE, "chicken and steak, and we're 14 adults now")
        assert result.intents[:2] == ["menu_selection", "headcount_change"]
        assert result.intent == "menu_selection"
        assert result.outcome == "handled"
        await session.refresh(booking)
        assert booking.proteins == ["chicken", "steak"] and booking.menu_selected
        assert booking.adults == 14


class TestHumanOwnership:
    async def test_agent_stays_silent_and_tells_the_owner(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        customer, _ = await customer_with_booking(session, clock, 10 * D)
        kim = ApiUser(name="kim", role="agent", token_hash="k" * 64)
        session.add(kim)
        await session.flush()
        conversation = await bookings.get_or_create_conversation(session, customer.id, "sms")
        conversation.owner, conversation.owner_user_id = "human", kim.id
        await session.commit()
        result = await runtime.receive(PHONE, "are you there??")
        assert (result.outcome, result.reply, result.skipped) == ("silent", None, "human_owned")
        outbound = await session.scalar(
            select(func.count()).where(
                Message.conversation_id == conversation.id, Message.direction == "outbound"
            )
        )
        assert outbound == 0
        alert = (await session.scalars(select(TeamAlert).where(TeamAlert.user_id == kim.id))).one()
        assert "are you there" in alert.body


class TestIdempotency:
    async def test_a_replayed_event_sends_no_second_reply(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        customer, _ = await customer_with_booking(session, clock, 10 * D)
        conversation = await bookings.get_or_create_conversation(session, customer.id, "sms")
        inbound = await record_inbound(session, conversation, "how much for kids?")
        await session.commit()
        event = TurnEvent(
            kind="customer_message", conversation_id=conversation.id, message_id=inbound.id
        )
        first = await runtime.handle(event)
        again = await runtime.handle(event)
        assert first.reply is not None
        assert again.skipped == "duplicate" and again.reply is None
        replies = await session.scalar(
            select(func.count()).where(
                Message.conversation_id == conversation.id, Message.direction == "outbound"
            )
        )
        assert replies == 1


class TestNoBooking:
    async def test_booking_requests_get_how_to_book_and_faqs_still_work(
        self, runtime: AgentRuntime
    ) -> None:
        stranger = "+19165550199"
        result = await runtime.receive(stranger, "I want to cancel my party")
        assert result.reply is not None
        assert "couldn't find an upcoming booking" in result.reply
        faq = await runtime.receive(stranger, "how much do kids cost?")
        assert faq.intent == "faq" and faq.reply is not None and "$30" in faq.reply

    async def test_changes_to_a_party_we_cannot_find_are_no_quote_and_said_once(
        self, runtime: AgentRuntime
    ) -> None:
        """Adding "3 more" and a swap speak of a party already booked: a number with no booking is
        told so once, not quoted for 3 guests as a new party."""
        result = await runtime.receive(
            "+19165550198", "need 2 add 3 more ppl to sat party + swap the shrimp 4 steak"
        )
        assert result.reply is not None
        assert result.reply.count("couldn't find an upcoming booking") == 1
        assert "quote" not in result.reply.lower() and "$" not in result.reply

    def test_the_same_answer_read_twice_is_given_once(self) -> None:
        """A weather question far ahead read both as a FAQ and as weather, each answered from the
        same FAQ: the answer is said once. Changes and cases are never folded this way."""
        patio = {"answer": "The chef can cook under a covered patio."}
        first = Decision("faq", "handled", "faq_answer", "faq:match", patio)
        again = Decision("weather_concern", "handled", "faq_answer", "faq:match", dict(patio))
        other = Decision("faq", "handled", "faq_answer", "faq:match", {"answer": "Cash is fine."})
        change = Decision("headcount_change", "handled", "saved", "x", {}, updates={"adults": 3})
        assert _said_once([first, again, other]) == [first, other]
        assert _said_once([change, change]) == [change, change]


class TestOptOut:
    async def test_stop_silences_the_channel_until_start(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        customer, _ = await customer_with_booking(session, clock, 10 * D)
        stop = await runtime.receive(PHONE, "STOP")
        assert (stop.outcome, stop.reply) == ("silent", None)
        assert await addresses.opted_out(session, customer.id, "sms")
        assert not await addresses.opted_out(session, customer.id, "whatsapp")  # one channel
        ignored = await runtime.receive(PHONE, "how much for kids?")
        assert ignored.reply is None
        back = await runtime.receive(PHONE, "START")
        assert back.reply is not None
        assert not await addresses.opted_out(session, customer.id, "sms")

    async def test_help_gives_the_business_name_and_phone(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        await customer_with_booking(session, clock, 10 * D)
        result = await runtime.receive(PHONE, "HELP")
        assert result.reply is not None
        assert "My Hibachi" in result.reply and "(916) 740-8768" in result.reply


class TestRatings:
    async def test_five_stars_gets_review_links_and_a_promoter(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        customer, booking = await customer_with_booking(session, clock, -1 * D)
        result = await runtime.receive(PHONE, "⭐⭐⭐⭐⭐")
        assert (result.intent, result.outcome) == ("rating", "handled")
        assert result.reply is not None and "yelp" in result.reply.lower()
        await session.refresh(customer)
        assert customer.is_promoter
        rating = (
            await session.scalars(select(Feedback.rating).where(Feedback.booking_id == booking.id))
        ).one()
        assert rating == 5

    async def test_two_stars_escalates_and_still_offers_public_links(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        customer, _ = await customer_with_booking(session, clock, -1 * D)
        result = await runtime.receive(PHONE, "2")
        assert (result.intent, result.outcome) == ("rating", "escalated")
        assert result.reply is not None and "feedback" in result.reply.lower()
        assert "g.page" in result.reply
        [case] = await escalations(session, customer)
        assert case.priority == "HIGH"


class TestLiveKnowledge:
    async def test_a_price_change_reaches_the_next_answer(
        self,
        runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
    ) -> None:
        await customer_with_booking(session, clock, 10 * D)
        before = await runtime.receive(PHONE, "what upgrades do you offer?")
        assert before.reply is not None and "Lobster (+$15/person)" in before.reply
        lobster = await repo.addon_by_slug(session, "lobster")
        assert lobster is not None
        await knowledge.update_addon(session, lobster.id, AddonUpdate(price=Decimal("18")))
        await session.commit()
        after = await runtime.receive(PHONE, "what upgrades do you offer?")
        assert after.reply is not None and "Lobster (+$18/person)" in after.reply


class TestRepeatCustomers:
    async def test_a_returning_customer_is_welcomed_back(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        customer, _ = await customer_with_booking(session, clock, 10 * D)
        await make_booking(session, customer, event_at=clock.now() - 200 * D, status="completed")
        await session.commit()
        result = await runtime.receive(PHONE, "hi!")
        assert result.reply is not None and "back" in result.reply.lower()


class TestCheckpointSize:
    async def test_state_stays_small_after_a_hundred_turns(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock, checkpointer: Any
    ) -> None:
        await customer_with_booking(session, clock, 30 * D)
        long = "we are so excited for the party, " * 30
        result = None
        for i in range(100):
            result = await runtime.receive(PHONE, f"{long} question {i}: how much for kids?")
        assert result is not None
        config = {"configurable": {"thread_id": f"conversation-{result.conversation_id}"}}
        saved = await checkpointer.aget_tuple(config)
        size = len(checkpointer.serde.dumps_typed(saved.checkpoint)[1])
        assert saved.checkpoint["channel_values"]["turns"] == 100
        assert size < 256 * 1024, size
        # Older checkpoints are pruned as the conversation goes on; storage stays flat.
        kept = [c async for c in checkpointer.alist(config)]
        assert len(kept) <= PRUNE_EVERY_TURNS

    async def test_versions_are_counters_and_read_across_the_saver_s_long_form(
        self,
        sessionmaker: Any,
        knowledge: KnowledgeService,
        session: AsyncSession,
        clock: FrozenClock,
        checkpointer: Any,
        monkeypatch: Any,
    ) -> None:
        """A conversation carried on by LangGraph's stock saver (51-character versions) and
        ours (counters) in turn: the question asked under one is answered under the other."""
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        monkeypatch.setattr("agent.nodes.decide.CONFIDENT", 1.01)  # every change read back
        stock = AsyncPostgresSaver(checkpointer.conn)
        ours = AgentRuntime(sessionmaker, knowledge, clock, checkpointer)
        theirs = AgentRuntime(sessionmaker, knowledge, clock, stock)
        _, booking = await customer_with_booking(session, clock, 30 * D)
        for first, then in ((theirs, ours), (ours, theirs)):
            asked = await first.receive(PHONE, "add 2 more adults please")
            assert asked.pending == "confirm_change"
            applied = await then.receive(PHONE, "yes")
            assert applied.pending is None and applied.outcome == "handled"
        await session.refresh(booking)
        assert booking.adults == 16
        last = await ours.receive(PHONE, "thanks!")
        config = {"configurable": {"thread_id": f"conversation-{last.conversation_id}"}}
        saved = (await checkpointer.aget_tuple(config)).checkpoint
        written = [saved["channel_versions"][c] for c in saved["updated_channels"]]
        assert written and all(re.fullmatch(r"\d{32}", v) for v in written), written

    async def test_a_checkpoint_holds_only_what_the_next_turn_needs(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock, checkpointer: Any
    ) -> None:
        await customer_with_booking(session, clock, 30 * D)
        # A turn that reads, decides, opens a case and replies: every working key is written.
        result = await runtime.receive(
            PHONE, "we now have 14 adults, and my card was charged twice"
        )
        assert result.reply is not None and result.escalation_ids
        config = {"configurable": {"thread_id": f"conversation-{result.conversation_id}"}}
        saved = await checkpointer.aget_tuple(config)
        assert set(saved.checkpoint["channel_values"]) <= KEPT
        assert saved.checkpoint["channel_values"]["turns"] == 1


class TestProteinSwap:
    async def test_a_swap_replaces_only_the_outgoing_protein(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, booking = await customer_with_booking(
            session, clock, 10 * D, proteins=["steak", "shrimp"], menu_selected=True
        )
        result = await runtime.receive(PHONE, "please swap the steak for filet mignon")
        assert (result.intent, result.outcome) == ("protein_swap", "handled")
        await session.refresh(booking)
        assert booking.proteins == ["shrimp", "filet_mignon"]
        assert result.reply is not None and "Filet Mignon +$5/person" in result.reply

    @pytest.mark.parametrize(
        ("booked", "message", "wanted"),
        [
            (["chicken", "steak"], "switch to chicken and tofu pls", "chicken and tofu"),
            (["chicken", "steak"], "change it to shrimp and chicken", "shrimp and chicken"),
            (["calamari", "shrimp"], "actually make it steak and shrimp", "steak and shrimp"),
        ],
    )
    async def test_a_whole_menu_named_is_the_menu_wanted(
        self,
        runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        booked: list[str],
        message: str,
        wanted: str,
    ) -> None:
        """Shown failing before: "switch to chicken and tofu pls" on chicken and steak read the
        chicken as going out ("Just to confirm: steak and tofu?"), and a YES stored it."""
        _, booking = await customer_with_booking(
            session, clock, 10 * D, proteins=booked, menu_selected=True
        )
        result = await runtime.receive(PHONE, message)
        assert result.reply is not None and f"{wanted}?" in result.reply, result.reply
        await runtime.receive(PHONE, "yes")
        await session.refresh(booking)
        assert " and ".join(booking.proteins) == wanted

    async def test_a_third_protein_named_is_read_back_with_its_price(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        """Shown failing before: "can we do chicken, steak and shrimp?" stored three proteins
        for every plate with no charge for the third."""
        _, booking = await customer_with_booking(
            session, clock, 10 * D, proteins=["chicken", "steak"], menu_selected=True
        )
        result = await runtime.receive(PHONE, "can we do chicken, steak and shrimp?")
        assert result.reply is not None and "Third protein +$10/person" in result.reply
        await session.refresh(booking)
        assert booking.proteins == ["chicken", "steak"]  # read back, not stored
        await runtime.receive(PHONE, "yes")
        await session.refresh(booking)
        assert booking.proteins == ["chicken", "steak", "shrimp"]
        assert booking.upgrades == ["third_protein"]


class TestConversationFlow:
    async def test_only_the_first_reply_says_hello(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        await customer_with_booking(session, clock, 10 * D)
        first = await runtime.receive(PHONE, "how much do kids cost?")
        second = await runtime.receive(PHONE, "and is the deposit refundable?")
        # The salutation follows the tone read ("Hi" neutral, "Hey" casual); only the first has one.
        assert first.reply is not None and re.match(r"(?:Hi|Hey|Hello) Dana\b", first.reply)
        assert second.reply is not None and not re.match(r"(?:Hi|Hey|Hello)\b", second.reply)
        assert "refund" in second.reply


class TestSeveralQuestions:
    @pytest.mark.parametrize(
        ("message", "answers"),
        [
            (
                "do we need to provide tables n plates? and how long does it go for",
                ["tables and utensils", "90 minutes"],
            ),
            ("is travel free? also do u take venmo", ["30 miles", "Venmo"]),
        ],
    )
    async def test_each_question_the_faqs_answer_is_answered(
        self,
        runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        message: str,
        answers: list[str],
    ) -> None:
        """Shown failing before: only the first question was answered; "how long does it go
        for" went without the 90 minutes."""
        await customer_with_booking(session, clock, 10 * D)
        result = await runtime.receive(PHONE, message)
        assert result.reply is not None
        assert all(a in result.reply for a in answers), result.reply

    async def test_at_most_three_questions_are_answered(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        await customer_with_booking(session, clock, 10 * D)
        result = await runtime.receive(
            PHONE,
            "is travel free? do u take venmo? how long does it go for? do u bring the grill?",
        )
        assert result.reply is not None
        markers = ["30 miles", "Venmo", "90 minutes", "brings the hibachi grill"]
        assert sum(m in result.reply for m in markers) == MOST_FAQS, result.reply

    async def test_a_question_and_thanks_is_answered_once(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        await customer_with_booking(session, clock, 10 * D)
        result = await runtime.receive(PHONE, "ok cool. do u guys bring the grill?")
        assert result.reply is not None and result.reply.count("grill") == 1, result.reply


class TestNothingToPrice:
    def test_a_quote_of_a_change_read_with_nothing_is_asked_of_the_faqs(self) -> None:
        """Shown failing before: "can we add fried rice? and how much would scallops be for
        everyone?" read as a menu change naming nothing got "your estimate would stay at
        $550"."""
        asked = Request(intent="menu_selection", entities=Entities(hypothetical=True))
        quote = Decision("menu_selection", "handled", "change_quote", "quote", {})
        assert _asks_how_it_works(asked, quote)
        priced = Request(
            intent="menu_selection", entities=Entities(upgrades=["scallops"], hypothetical=True)
        )
        assert not _asks_how_it_works(priced, quote)


class TestAccessAsked:
    @pytest.mark.parametrize("question", ["where should the chef park?", "where should they park"])
    async def test_a_question_about_access_is_kept_nowhere(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock, question: str
    ) -> None:
        """Shown failing before: "where should they park" was stored as the chef's access
        notes with "Thanks, I've added that to your booking", and "where should the chef
        park?" went to a manager as urgent."""
        _, booking = await customer_with_booking(session, clock, 10 * D)
        result = await runtime.receive(PHONE, question)
        assert result.reply is not None and "tell me what works best" in result.reply
        assert "added that" not in result.reply and not result.escalation_ids
        await session.refresh(booking)
        assert booking.access_notes is None

    async def test_what_the_customer_tells_beside_a_question_is_kept(
        self, runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        _, booking = await customer_with_booking(session, clock, 10 * D)
        message = "gate code is 4412. can the chef park in the driveway?"
        await runtime.receive(PHONE, message)
        await session.refresh(booking)
        assert booking.access_notes == message


class TestWarmUp:
    async def test_a_warmed_process_loads_nothing_in_its_first_turn(
        self, runtime: AgentRuntime, monkeypatch: Any
    ) -> None:
        """A worker warms up before it says it is ready. Was: its first turn loaded the reader's
        model and the ZIP code tables (1.3 s of CPU on the test machine) while the first
        customers waited; shown failing without `warm_up`: the turn read the model."""
        import zipcodes

        from agent.understanding import reader, training
        from tools import travel

        reader._reader.cache_clear()
        for cached in (travel.by_zip, travel.city_names, travel._cities):
            cached.cache_clear()
        await runtime.warm_up()

        def loaded_in_turn(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("loaded during a turn")

        monkeypatch.setattr(training, "load_or_train", loaded_in_turn)
        monkeypatch.setattr(zipcodes, "matching", loaded_in_turn)
        monkeypatch.setattr(zipcodes, "filter_by_state", loaded_in_turn)
        result = await runtime.receive("+19165550198", "hi! how much 4 20 ppl in folsom?")
        assert result.reply is not None and result.intent != "other"
