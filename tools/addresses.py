"""Where customers are reached: one address per channel (a phone for SMS and WhatsApp, an email
address for email), with what they said of it (opted out) and what the carrier said (it
bounced). A customer is found by any address of theirs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import Customer, CustomerAddress
from knowledge.models.customers import ADDRESS_CHANNELS

#: The channels a phone number reaches.
PHONE_CHANNELS = ("sms", "whatsapp")


def normal(channel: str, address: str) -> str:
    """The form an address is stored and looked up in: email addresses are case-blind."""
    return address.strip().lower() if channel == "email" else address.strip()


async def customer_at(session: AsyncSession, channel: str, address: str) -> Customer | None:
    """The customer who owns this address on this channel, if any."""
    query = (
        select(Customer)
        .join(CustomerAddress, CustomerAddress.customer_id == Customer.id)
        .where(
            CustomerAddress.channel == channel,
            CustomerAddress.address == normal(channel, address),
        )
    )
    return (await session.scalars(query)).first()


async def remember(
    session: AsyncSession,
    customer_id: int,
    channel: str,
    address: str,
    *,
    seen_at: datetime | None = None,
    verified: bool = True,
) -> None:
    """Record that this customer is reached at `address` (an address already someone's stays
    theirs); a message from it updates when it was last seen."""
    if channel not in ADDRESS_CHANNELS:
        return
    values = {
        "customer_id": customer_id,
        "channel": channel,
        "address": normal(channel, address),
        "opted_out": False,
        "verified": verified,
        "undeliverable": False,
        "last_seen_at": seen_at,
    }
    statement = insert(CustomerAddress).values(**values)
    if seen_at is not None:
        statement = statement.on_conflict_do_update(
            index_elements=[CustomerAddress.channel, CustomerAddress.address],
            set_={"last_seen_at": seen_at, "undeliverable": False},
            where=CustomerAddress.customer_id == customer_id,
        )
    else:
        statement = statement.on_conflict_do_nothing(
            index_elements=[CustomerAddress.channel, CustomerAddress.address]
        )
    await session.execute(statement)


async def remember_phone(
    session: AsyncSession,
    customer_id: int,
    phone: str,
    *,
    seen_on: str | None = None,
    seen_at: datetime | None = None,
) -> None:
    """A phone number reaches its owner by SMS and by WhatsApp; `seen_on` is the one they
    wrote on."""
    for channel in PHONE_CHANNELS:
        await remember(
            session, customer_id, channel, phone, seen_at=seen_at if channel == seen_on else None
        )


async def address_of(
    session: AsyncSession, customer_id: int, channel: str
) -> CustomerAddress | None:
    """The customer's address on a channel: the one they wrote from last, else the first."""
    query = (
        select(CustomerAddress)
        .where(CustomerAddress.customer_id == customer_id, CustomerAddress.channel == channel)
        .order_by(CustomerAddress.last_seen_at.desc().nulls_last(), CustomerAddress.id)
    )
    return (await session.scalars(query)).first()


async def opted_out(session: AsyncSession, customer_id: int, channel: str) -> bool:
    """Whether the customer switched this channel off (web chat has no address to switch)."""
    query = select(CustomerAddress.opted_out).where(
        CustomerAddress.customer_id == customer_id,
        CustomerAddress.channel == channel,
        CustomerAddress.opted_out.is_(True),
    )
    return (await session.scalar(query.limit(1))) is not None


async def set_opted_out(session: AsyncSession, customer_id: int, channel: str, value: bool) -> None:
    """Switch a channel off (STOP, an unsubscribe) or back on (START) for this customer; a
    customer with no address kept on it yet gets theirs (their phone or email) recorded."""
    result = await session.execute(
        update(CustomerAddress)
        .where(CustomerAddress.customer_id == customer_id, CustomerAddress.channel == channel)
        .values(opted_out=value)
        .returning(CustomerAddress.id)
    )
    if result.first() is not None or channel not in ADDRESS_CHANNELS:
        return
    customer = await session.get(Customer, customer_id)
    address = customer and (customer.email if channel == "email" else customer.phone)
    if address:
        await remember(session, customer_id, channel, address)
        await session.execute(
            update(CustomerAddress)
            .where(CustomerAddress.customer_id == customer_id, CustomerAddress.channel == channel)
            .values(opted_out=value)
        )


async def mark_undeliverable(session: AsyncSession, channel: str, address: str) -> bool:
    """A bounce: nothing more is sent to this address until its owner writes from it again.
    Returns whether the address was ours."""
    result = await session.execute(
        update(CustomerAddress)
        .where(
            CustomerAddress.channel == channel,
            CustomerAddress.address == normal(channel, address),
        )
        .values(undeliverable=True)
        .returning(CustomerAddress.id)
    )
    return result.first() is not None
