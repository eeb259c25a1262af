"""Plain factory functions: a valid row by default, any field overridden by keyword."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.infra.settings import Settings
from knowledge.models import ApiUser, Booking, Conversation, Customer, Message
from knowledge.users import SignInRules, create_user, set_password

_seq = itertools.count(1)


async def make_customer(session: AsyncSession, **overrides: Any) -> Customer:
    n = next(_seq)
    fields: dict[str, Any] = {
        "name": f"Customer {n}",
        "phone": f"+1916555{n:04d}",
        "preferred_channel": "sms",
    }
    fields.update(overrides)
    customer = Customer(**fields)
    session.add(customer)
    await session.flush()
    return customer


async def make_booking(
    session: AsyncSession, customer: Customer | None = None, **overrides: Any
) -> Booking:
    customer = customer or await make_customer(session)
    n = next(_seq)
    fields: dict[str, Any] = {
        "reference": f"MH-T{n:05d}",
        "customer_id": customer.id,
        "event_at": datetime(2026, 6, 20, 1, 0, tzinfo=UTC) + timedelta(days=n % 3),
        "address": "12 Oak St, Sacramento, CA 95814",
        "adults": 10,
        "kids": 2,
        "toddlers": 0,
        "deposit_amount": Decimal("100"),
        "deposit_paid": True,
        "status": "confirmed",
    }
    fields.update(overrides)
    booking = Booking(**fields)
    session.add(booking)
    await session.flush()
    return booking


async def make_conversation(
    session: AsyncSession, customer: Customer | None = None, **overrides: Any
) -> Conversation:
    customer = customer or await make_customer(session)
    fields: dict[str, Any] = {"customer_id": customer.id, "channel": "sms", "owner": "ai"}
    fields.update(overrides)
    conversation = Conversation(**fields)
    session.add(conversation)
    await session.flush()
    return conversation


async def make_message(
    session: AsyncSession, conversation: Conversation | None = None, **overrides: Any
) -> Message:
    conversation = conversation or await make_conversation(session)
    fields: dict[str, Any] = {
        "conversation_id": conversation.id,
        "direction": "inbound",
        "channel": conversation.channel,
        "author": "customer",
        "body": "hello",
        "status": "received",
    }
    fields.update(overrides)
    message = Message(**fields)
    session.add(message)
    await session.flush()
    return message


#: The password `make_person` gives everyone (a test's only secret).
PASSWORD = "correct horse battery"
#: Sign-in as the tests' settings have it: passwords hashed at the test environment's cheap cost.
TEST_SIGN_IN = SignInRules.of(Settings(env="test"))


async def make_person(
    session: AsyncSession, name: str, role: str = "agent", password: str = PASSWORD
) -> tuple[ApiUser, str]:
    """A console user who signs in with `password`; returns the user and their bearer token."""
    user, token = await create_user(session, name, role)
    await set_password(session, user, password, datetime.now(UTC), TEST_SIGN_IN)
    return user, token
