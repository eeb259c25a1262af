"""Turns of one conversation never overlap, even when they arrive at the same moment."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from agent.runtime import AgentRuntime, postgres_checkpointer
from agent.state import TurnEvent
from knowledge.db import make_engine, unit_of_work
from knowledge.infra.clock import FrozenClock
from knowledge.models import Booking
from knowledge.service import KnowledgeService
from tests.conftest import clone_database, committed_database
from tests.factories import make_booking, make_customer
from tools import bookings
from tools.outbox import record_inbound


class TestSerializedTurns:
    async def test_two_quick_messages_both_apply_in_order(
        self,
        pg_server: Any,
        template_url: str,
        clock: FrozenClock,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Fails (17 becomes 14 or 15) when the turn's advisory lock and row lock are removed."""
        monkeypatch.setattr("agent.nodes.decide.CONFIDENT", 0.0)  # the locks, not the gate
        url = await clone_database(pg_server, template_url)
        engine = make_engine(url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with unit_of_work(sessions) as session:
            customer = await make_customer(session, phone="+19165550111")
            booking = await make_booking(
                session, customer, event_at=clock.now() + timedelta(days=20), adults=12, kids=0
            )
            conversation = await bookings.get_or_create_conversation(session, customer.id, "sms")
            first = await record_inbound(session, conversation, "2 more adults")
            second = await record_inbound(session, conversation, "3 more adults")
            ids = (conversation.id, first.id, second.id, booking.id)
        conversation_id, first_id, second_id, booking_id = ids

        async with postgres_checkpointer(url) as saver:
            # Two runtimes, as two processes would have, sharing only the database.
            one = AgentRuntime(sessions, KnowledgeService(clock=clock), clock, saver)
            two = AgentRuntime(sessions, KnowledgeService(clock=clock), clock, saver)
            results = await asyncio.gather(
                one.handle(TurnEvent.customer_message(conversation_id, first_id)),
                two.handle(TurnEvent.customer_message(conversation_id, second_id)),
            )
        async with sessions() as session:
            final = await session.get(Booking, booking_id)
        await engine.dispose()
        assert final is not None
        assert final.adults == 17  # both changes applied: neither turn read a stale count
        # The turn that ran first answered its text, and the other too when it came after it
        # (one burst); a turn whose text was already answered says nothing.
        assert sorted(r.outcome for r in results) in (["handled", "handled"], ["handled", "silent"])
        assert all(r.skipped == "duplicate" for r in results if r.outcome == "silent")


class TestFirstMessagesTogether:
    async def test_two_first_messages_from_a_new_number_make_one_customer_and_thread(
        self, pg_server: Any, template_url: str
    ) -> None:
        """Was: one of the two got 409 (uq_customers_phone) and its message was lost."""
        url = await clone_database(pg_server, template_url)
        engine = make_engine(url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)

        async def first_message(text: str) -> tuple[int, int, int]:
            async with unit_of_work(sessions) as session:
                customer = await bookings.get_or_create_customer(session, "+19165550444")
                conversation = await bookings.get_or_create_conversation(
                    session, customer.id, "sms"
                )
                message = await record_inbound(session, conversation, text)
                await asyncio.sleep(0.05)  # both transactions are open at once
                return customer.id, conversation.id, message.id

        try:
            for _round in range(5):  # the same new number each round, after a reset
                async with unit_of_work(sessions) as session:
                    await session.execute(
                        text("DELETE FROM customers WHERE phone = '+19165550444'")
                    )
                first, second = await asyncio.gather(
                    first_message("hi, is the 20th free?"), first_message("also how much?")
                )
                assert first[:2] == second[:2] and first[2] != second[2]
        finally:
            await engine.dispose()


class TestPopularFaq:
    async def test_turns_answering_one_faq_do_not_wait_for_each_other(
        self, pg_server: Any, template_url: str
    ) -> None:
        """Every turn answering a popular FAQ counts a view on the same row. Was: the count ran
        inside the turn's transaction, so each such turn held the row until it committed and
        the next waited (the long soak's lock convoys); shown failing with the count moved
        back: the reply was not committed while another transaction held the FAQ row."""
        import asyncpg
        from langgraph.checkpoint.memory import InMemorySaver
        from sqlalchemy import select

        from knowledge.db import asyncpg_dsn
        from knowledge.infra.clock import SystemClock
        from knowledge.models import FaqItem, Message

        async with committed_database(pg_server, template_url, pool_size=4) as (
            url,
            sessions,
        ):
            runtime = AgentRuntime(sessions, KnowledgeService(), SystemClock(), InMemorySaver())
            async with unit_of_work(sessions) as session:
                customer = await make_customer(session, phone="+19165550861")
                conversation = await bookings.get_or_create_conversation(
                    session, customer.id, "sms"
                )
                inbound = await record_inbound(session, conversation, "is the deposit refundable?")
                faq = (await session.scalars(select(FaqItem).where(FaqItem.is_active))).all()
            other = await asyncpg.connect(asyncpg_dsn(url))  # another turn, counting its view
            try:
                await other.execute("BEGIN")
                await other.execute("SELECT id FROM faq_items FOR UPDATE")
                turn = asyncio.create_task(
                    runtime.handle(TurnEvent.customer_message(conversation.id, inbound.id))
                )

                async def reply_committed() -> bool:
                    async with sessions() as session:
                        key = f"reply:message:{inbound.id}"
                        found = await session.scalar(
                            select(Message.id).where(Message.idempotency_key == key)
                        )
                    return found is not None

                for _ in range(50):
                    if await reply_committed():
                        break
                    await asyncio.sleep(0.1)
                assert await reply_committed()
                assert not turn.done()  # its view count waits for the row, after the commit
                await other.execute("ROLLBACK")
                result = await asyncio.wait_for(turn, 10)
            finally:
                await other.close()
            assert result.reply and "deposit" in result.reply.lower()
            async with sessions() as session:
                views = {f.id: f.view_count for f in (await session.scalars(select(FaqItem))).all()}
            assert sum(views.values()) == sum(f.view_count for f in faq) + 1

    async def test_views_are_stored_together_at_most_every_few_seconds(
        self, pg_server: Any, template_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Was: each answer counted its view in a transaction of its own after the turn (two
        statements and a commit per FAQ answered). The first answer's view is stored at once;
        those within VIEW_COUNT_SECONDS of it wait for the next store (a later turn's, or the
        one the process makes when it stops)."""
        from langgraph.checkpoint.memory import InMemorySaver
        from sqlalchemy import select

        import agent.runtime
        from knowledge.infra.clock import SystemClock
        from knowledge.models import FaqItem

        # However slow the machine, the next two turns fall inside the interval.
        monkeypatch.setattr(agent.runtime, "VIEW_COUNT_SECONDS", 3600.0)
        async with committed_database(pg_server, template_url, pool_size=4) as (_url, sessions):
            runtime = AgentRuntime(sessions, KnowledgeService(), SystemClock(), InMemorySaver())

            async def views() -> int:
                async with sessions() as session:
                    return sum((await session.scalars(select(FaqItem.view_count))).all())

            async def ask(phone: str) -> None:
                async with unit_of_work(sessions) as session:
                    customer = await make_customer(session, phone=phone)
                    conversation = await bookings.get_or_create_conversation(
                        session, customer.id, "sms"
                    )
                    inbound = await record_inbound(
                        session, conversation, "is the deposit refundable?"
                    )
                result = await runtime.handle(
                    TurnEvent.customer_message(conversation.id, inbound.id)
                )
                assert result.reply and "deposit" in result.reply.lower()

            before = await views()
            await ask("+19165550871")
            assert await views() == before + 1
            await ask("+19165550872")
            await ask("+19165550873")
            assert await views() == before + 1  # within the interval: kept for the next store
            await runtime.count_views()
            assert await views() == before + 3
            await runtime.count_views()  # nothing left to store
            assert await views() == before + 3
