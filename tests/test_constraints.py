"""The database itself refuses bad rows, whatever code writes them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import (
    AddonItem,
    ApiUser,
    AutomatedReminder,
    BusinessRule,
    CustomerSentiment,
    Escalation,
    FaqItem,
    Feedback,
    SeasonalOffer,
)
from tests.factories import make_booking, make_conversation, make_customer, make_message

NOW = datetime(2026, 6, 10, tzinfo=UTC)


def addon(**kw: Any) -> AddonItem:
    fields: dict[str, Any] = {
        "slug": "x_addon",
        "name": "X add-on",
        "price": Decimal("5"),
        "category": "extra",
        "unit": "per_order",
    }
    return AddonItem(**{**fields, **kw})


def faq(**kw: Any) -> FaqItem:
    return FaqItem(**{"question": "Q?", "answer": "A.", "category": "general", **kw})


def offer(**kw: Any) -> SeasonalOffer:
    fields: dict[str, Any] = {
        "title": "Spring",
        "discount_type": "percentage",
        "discount_value": Decimal("10"),
        "valid_from": date(2026, 3, 1),
        "valid_to": date(2026, 3, 31),
    }
    return SeasonalOffer(**{**fields, **kw})


Builder = Callable[[AsyncSession], Awaitable[Any]]


async def _feedback(session: AsyncSession, rating: int) -> None:
    booking = await make_booking(session)
    session.add(Feedback(booking_id=booking.id, rating=rating))


async def _reminder(session: AsyncSession, **kw: Any) -> None:
    booking = await make_booking(session)
    fields: dict[str, Any] = {
        "booking_id": booking.id,
        "reminder_type": "7_day",
        "scheduled_at": NOW,
    }
    session.add(AutomatedReminder(**{**fields, **kw}))


async def _escalation(session: AsyncSession, **kw: Any) -> None:
    customer = await make_customer(session)
    fields: dict[str, Any] = {
        "customer_id": customer.id,
        "priority": "HIGH",
        "reason": "r",
        "action_required": "a",
        "deadline": NOW,
    }
    session.add(Escalation(**{**fields, **kw}))


async def _sentiment(session: AsyncSession, **kw: Any) -> None:
    customer = await make_customer(session)
    session.add(CustomerSentiment(customer_id=customer.id, **kw))


async def _duplicate_provider_id(session: AsyncSession) -> None:
    conversation = await make_conversation(session)
    await make_message(session, conversation, provider_message_id="SM123")
    await make_message(session, conversation, provider_message_id="SM123")


async def _duplicate_reminder(session: AsyncSession) -> None:
    booking = await make_booking(session)
    for _ in range(2):
        session.add(
            AutomatedReminder(booking_id=booking.id, reminder_type="4_day", scheduled_at=NOW)
        )
        await session.flush()


async def _two_conversations_same_channel(session: AsyncSession) -> None:
    customer = await make_customer(session)
    await make_conversation(session, customer, channel="sms")
    await make_conversation(session, customer, channel="sms")


async def _add(session: AsyncSession, row: Any) -> None:
    session.add(row)


BAD_ROWS: dict[str, Builder] = {
    "negative add-on price": lambda s: _add(s, addon(price=Decimal("-1"))),
    "unknown add-on category": lambda s: _add(s, addon(category="dessert")),
    "unknown add-on unit": lambda s: _add(s, addon(unit="per_plate")),
    "empty FAQ answer": lambda s: _add(s, faq(answer="   ")),
    "empty FAQ question": lambda s: _add(s, faq(question="")),
    "unknown FAQ category": lambda s: _add(s, faq(category="gossip")),
    "negative FAQ view count": lambda s: _add(s, faq(view_count=-1)),
    "offer ending before it starts": lambda s: _add(s, offer(valid_to=date(2026, 2, 1))),
    "negative offer discount": lambda s: _add(s, offer(discount_value=Decimal("-5"))),
    "percentage over 100": lambda s: _add(s, offer(discount_value=Decimal("150"))),
    "unknown discount type": lambda s: _add(s, offer(discount_type="bogo")),
    "rule version zero": lambda s: _add(
        s, BusinessRule(rule_type="x", title="t", content="c", value={}, version=0)
    ),
    "phone not E.164": lambda s: make_customer(s, phone="916-555-0101"),
    "unknown preferred channel": lambda s: make_customer(s, preferred_channel="fax"),
    "negative adults": lambda s: make_booking(s, adults=-1),
    "negative kids": lambda s: make_booking(s, kids=-2),
    "negative toddlers": lambda s: make_booking(s, toddlers=-1),
    "booking with no guests": lambda s: make_booking(s, adults=0, kids=0, toddlers=0),
    "negative deposit": lambda s: make_booking(s, deposit_amount=Decimal("-100")),
    "unknown booking status": lambda s: make_booking(s, status="maybe"),
    "duplicate booking reference": lambda s: _dup_reference(s),
    "rating 0": lambda s: _feedback(s, 0),
    "rating 6": lambda s: _feedback(s, 6),
    "sentiment score above 1": lambda s: _sentiment(s, sentiment_score=Decimal("1.5")),
    "sentiment rating 9": lambda s: _sentiment(s, last_rating=9),
    "negative total bookings": lambda s: _sentiment(s, total_bookings=-1),
    "unknown reminder kind": lambda s: _reminder(s, reminder_type="3_day"),
    "unknown reminder status": lambda s: _reminder(s, status="lost"),
    "negative reminder attempts": lambda s: _reminder(s, attempts=-1),
    "duplicate reminder for a booking": _duplicate_reminder,
    "unknown escalation priority": lambda s: _escalation(s, priority="CRITICAL"),
    "unknown escalation status": lambda s: _escalation(s, status="lost"),
    "duplicate provider message id": _duplicate_provider_id,
    "unknown message direction": lambda s: make_message(s, direction="sideways"),
    "unknown message status": lambda s: make_message(s, status="teleported"),
    "two conversations on one channel": _two_conversations_same_channel,
    "human owner without a user": lambda s: make_conversation(s, owner="human"),
    "unknown user role": lambda s: _add(s, ApiUser(name="x", role="root", token_hash="h" * 64)),
}


async def _dup_reference(session: AsyncSession) -> None:
    await make_booking(session, reference="MH-DUP")
    await make_booking(session, reference="MH-DUP")


class TestDatabaseRejectsBadRows:
    @pytest.mark.parametrize("case", sorted(BAD_ROWS))
    async def test_rejected(self, session: AsyncSession, case: str) -> None:
        with pytest.raises(IntegrityError):
            async with session.begin_nested():
                await BAD_ROWS[case](session)
                await session.flush()

    async def test_a_valid_booking_is_accepted(self, session: AsyncSession) -> None:
        booking = await make_booking(session, adults=1, kids=0, toddlers=0)
        assert booking.id is not None
