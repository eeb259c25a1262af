"""Web chat visitors: anonymous sessions, proving a booking, and the thread they write on.

A visitor can ask about prices and FAQs at once; anything about a booking needs the booking
reference and the phone number on it. Five wrong tries lock verification for 15 minutes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.errors import AppError, TooManyRequests
from knowledge.models import Booking, Conversation, Customer, WebSession
from knowledge.users import hash_token
from tools import bookings
from tools.phones import to_e164

MAX_TRIES = 5
LOCK = timedelta(minutes=15)


async def start_session(session: AsyncSession) -> tuple[WebSession, str]:
    import secrets

    token = "chat_" + secrets.token_urlsafe(32)
    visitor = Customer(preferred_channel="web")
    session.add(visitor)
    await session.flush()
    web = WebSession(token_hash=hash_token(token), visitor_id=visitor.id)
    session.add(web)
    await session.flush()
    return web, token


async def session_for_token(session: AsyncSession, token: str) -> WebSession | None:
    query = select(WebSession).where(WebSession.token_hash == hash_token(token))
    return (await session.scalars(query)).first()


async def verify(
    session: AsyncSession, web: WebSession, reference: str, phone: str, now: datetime
) -> Customer | None:
    """The booking's customer if the reference and phone match; counts and locks failures."""
    if web.locked_until is not None and web.locked_until > now:
        minutes = max(1, int((web.locked_until - now).total_seconds() // 60) + 1)
        raise TooManyRequests(f"too many tries: try again in {minutes} minutes")
    customer = None
    try:
        number = to_e164(phone)
    except AppError:
        number = None
    if number is not None:
        query = (
            select(Customer)
            .join(Booking, Booking.customer_id == Customer.id)
            .where(
                func.upper(Booking.reference) == reference.strip().upper(),
                Customer.phone == number,
            )
        )
        customer = (await session.scalars(query)).first()
    if customer is None:
        web.failed_attempts += 1
        if web.failed_attempts >= MAX_TRIES:
            web.failed_attempts = 0
            web.locked_until = now + LOCK
        await session.flush()
        return None
    web.verified_customer_id = customer.id
    web.failed_attempts = 0
    web.locked_until = None
    await session.flush()
    return customer


async def conversation_for(session: AsyncSession, web: WebSession) -> Conversation:
    """The verified customer's web thread, or the anonymous visitor's before verification."""
    customer_id = web.verified_customer_id or web.visitor_id
    return await bookings.get_or_create_conversation(session, customer_id, "web")
