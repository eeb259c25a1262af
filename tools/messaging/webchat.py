"""Web chat visitors: anonymous sessions, proving a booking, and the thread they write on.

A visitor can ask about prices and FAQs at once; anything about a booking needs the booking
reference and the phone number on it, given over as many messages as they like and in any
order, or the reference and a six-digit code we text to the phone on that booking (valid 10
minutes). Five wrong tries lock verification for 15 minutes.

The channel's transport has nothing to carry: a reply is stored, and the widget fetches it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.errors import AppError, TooManyRequests
from knowledge.models import Booking, Conversation, Customer, Message, WebSession
from knowledge.users import hash_token
from tools import addresses, bookings
from tools.messaging.channels import SendResult
from tools.phones import find_contact, to_e164

MAX_TRIES = 5
LOCK = timedelta(minutes=15)
CODE_LIFETIME = timedelta(minutes=10)
REFERENCE = re.compile(r"\b(MH-[A-Z0-9]{4,8})\b", re.IGNORECASE)
_CODE = re.compile(r"(?<![\d-])(\d{3})[ -]?(\d{3})(?![\d-])")
#: A message that only asks for a code ("CODE", "text me a code please"); "what's the gate
#: code?" is a question about the booking, not this.
_WANTS_CODE = re.compile(
    r"^\W*(?:(?:please|pls|can\s+you|could\s+you)\s+)?(?:(?:send|text)\s+(?:me\s+)?"
    r"(?:a\s+|the\s+)?)?(?:verification\s+)?code(?:\s+(?:please|pls|instead|by\s+text))?\W*$"
    r"|^\W*(?:verify\s+)?by\s+text(?:\s+please)?\W*$",
    re.IGNORECASE,
)


@dataclass
class Identification:
    """What a visitor's message did towards proving a booking, and the reply it needs."""

    kind: str  # the reply template: verified, verify_need_phone, verify_code_sent, …
    facts: dict[str, Any] = field(default_factory=dict)
    customer: Customer | None = None  # set once verified
    code: str | None = None  # a new code to text to `code_to`
    code_to: Customer | None = None


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


async def session_by_id(session: AsyncSession, web_id: int) -> WebSession | None:
    return await session.get(WebSession, web_id)


_BY_TOKEN = select(WebSession).where(WebSession.token_hash == bindparam("token_hash"))


async def session_for_token(session: AsyncSession, token: str) -> WebSession | None:
    return (await session.scalars(_BY_TOKEN, {"token_hash": hash_token(token)})).first()


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
        await _failed(session, web, now)
        return None
    await _verified(session, web, customer)
    return customer


def _lock_minutes(web: WebSession, now: datetime) -> int | None:
    if web.locked_until is None or web.locked_until <= now:
        return None
    return max(1, int((web.locked_until - now).total_seconds() // 60) + 1)


async def _failed(session: AsyncSession, web: WebSession, now: datetime) -> None:
    web.failed_attempts += 1
    if web.failed_attempts >= MAX_TRIES:
        web.failed_attempts = 0
        web.locked_until = now + LOCK
    await session.flush()


async def _verified(session: AsyncSession, web: WebSession, customer: Customer) -> None:
    """The visitor is the customer: the session says so, and what the visitor wrote joins the
    customer's web thread, so the chat reads in order, both sides, on one thread."""
    visitor_thread = await conversation_for(session, web)
    web.verified_customer_id = customer.id
    web.failed_attempts = 0
    web.locked_until = None
    web.claimed_reference = web.claimed_phone = None
    web.code_hash = web.code_expires_at = None
    web.code_customer_id = None
    thread = await conversation_for(session, web)
    if thread.id != visitor_thread.id:
        await session.execute(
            update(Message)
            .where(Message.conversation_id == visitor_thread.id)
            .values(conversation_id=thread.id)
        )
    await session.flush()


async def identify(
    session: AsyncSession, web: WebSession, text: str, now: datetime
) -> Identification | None:
    """Read a message of a visitor who is not verified yet for a booking reference, a phone
    number, a code, or a request for a code; None when it has none of them (an ordinary
    message, for the agent). Pieces are kept until the visitor has given both."""
    locked = _lock_minutes(web, now)
    phone = find_contact(text).phone
    reference = REFERENCE.search(text)
    rest = REFERENCE.sub(" ", text)
    code = _CODE.search(rest) if web.code_hash and phone is None else None
    wants_code = _WANTS_CODE.match(rest.strip()) is not None and code is None
    # A phone number alone proves nothing unless we asked for one: a visitor handing over
    # their number for a call back is not verifying.
    verifying = bool(web.claimed_reference or web.waiting_message_id)
    if phone and not (reference or verifying):
        return None
    if not (phone or reference or code or wants_code):
        return None
    if locked is not None:
        return Identification("verify_locked", {"minutes": locked})
    if code is not None:
        return await _check_code(session, web, code.group(1) + code.group(2), now)
    if reference is not None:
        web.claimed_reference = reference.group(1).upper()
    if phone is not None:
        web.claimed_phone = phone
    if web.claimed_reference and web.claimed_phone:
        claimed, number = web.claimed_reference, web.claimed_phone
        web.claimed_reference = web.claimed_phone = None  # a wrong pair is asked for again
        customer = await verify(session, web, claimed, number, now)
        if customer is None:
            return Identification("verify_failed", {"tries_left": MAX_TRIES - web.failed_attempts})
        return Identification("verified", {"name": _first_name(customer)}, customer=customer)
    if wants_code:
        if not web.claimed_reference:
            return Identification("verify_need_reference", {"for_code": True})
        return await _send_code(session, web, web.claimed_reference, now)
    await session.flush()
    if web.claimed_reference:
        return Identification("verify_need_phone", {"reference": web.claimed_reference})
    return Identification("verify_need_reference", {"for_code": False})


def _first_name(customer: Customer) -> str:
    return (customer.name or "").split(" ")[0]


async def _send_code(
    session: AsyncSession, web: WebSession, reference: str, now: datetime
) -> Identification:
    """A new six-digit code for the phone on the booking with this reference."""
    query = (
        select(Customer)
        .join(Booking, Booking.customer_id == Customer.id)
        .where(func.upper(Booking.reference) == reference)
    )
    customer = (await session.scalars(query)).first()
    if customer is None or not customer.phone:
        web.claimed_reference = None
        await _failed(session, web, now)
        return Identification("verify_failed", {"tries_left": MAX_TRIES - web.failed_attempts})
    if await addresses.opted_out(session, customer.id, "sms"):
        # They told us to stop texting: no code goes, the phone number will do instead.
        return Identification("verify_no_texts")
    code = f"{secrets.randbelow(1_000_000):06d}"
    web.code_hash = hash_token(code)
    web.code_expires_at = now + CODE_LIFETIME
    web.code_customer_id = customer.id
    await session.flush()
    facts = {"phone_end": customer.phone[-4:], "minutes": int(CODE_LIFETIME.total_seconds() // 60)}
    return Identification("verify_code_sent", facts, code=code, code_to=customer)


async def _check_code(
    session: AsyncSession, web: WebSession, code: str, now: datetime
) -> Identification:
    if web.code_expires_at is None or web.code_expires_at <= now:
        web.code_hash = web.code_expires_at = None
        web.code_customer_id = None
        await session.flush()
        return Identification("verify_code_expired")
    customer = await session.get(Customer, web.code_customer_id) if web.code_customer_id else None
    if customer is None or not secrets.compare_digest(hash_token(code), web.code_hash or ""):
        await _failed(session, web, now)
        if web.locked_until is not None:  # the lock outlives the code (15 minutes against 10)
            return Identification("verify_locked", {"minutes": _lock_minutes(web, now) or 1})
        return Identification("verify_code_wrong", {"tries_left": MAX_TRIES - web.failed_attempts})
    await _verified(session, web, customer)
    return Identification("verified", {"name": _first_name(customer)}, customer=customer)


async def conversation_for(session: AsyncSession, web: WebSession) -> Conversation:
    """The verified customer's web thread, or the anonymous visitor's before verification."""
    customer_id = web.verified_customer_id or web.visitor_id
    return await bookings.get_or_create_conversation(session, customer_id, "web")


class WebTransport:
    """Web chat replies reach the visitor from their stored row: sent as soon as stored."""

    async def prepare(
        self,
        session: AsyncSession,
        message: Message,
        conversation: Conversation,
        customer: Customer,
    ) -> SendResult:
        return SendResult(status="sent")
