"""The channels customers write on, described once: how a customer is addressed on each,
whether the carrier's keywords (STOP, START, HELP) apply, whether a thought comes as several
texts in a row, which ones have a transport configured (the others' replies are simulated),
and the seam every transport fits (`Transport`: one module per channel, registered in
`tools.messaging.transports`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.infra.settings import Settings
from knowledge.models import Conversation, Customer, Message


@dataclass(frozen=True)
class Channel:
    name: str
    address: Literal["phone", "email", "session"]
    keywords: bool  # a whole message of STOP, START or HELP switches the channel off, on, or helps
    bursts: bool  # one thought often comes as several texts seconds apart


CHANNELS: dict[str, Channel] = {
    c.name: c
    for c in (
        Channel("sms", "phone", keywords=True, bursts=True),
        Channel("whatsapp", "phone", keywords=True, bursts=True),
        Channel("web", "session", keywords=False, bursts=False),
        Channel("email", "email", keywords=True, bursts=False),
    )
}
KEYWORD_CHANNELS = frozenset(c.name for c in CHANNELS.values() if c.keywords)
BURST_CHANNELS = frozenset(c.name for c in CHANNELS.values() if c.bursts)


@dataclass(frozen=True)
class SendResult:
    """What happened to one send: a provider id, or an error and whether to try again."""

    sid: str | None = None
    status: str | None = None
    error_code: str | None = None
    retry: bool = False
    opted_out: bool = False
    unknown: bool = False  # no answer: the provider may or may not have taken it


@dataclass(frozen=True)
class Outgoing:
    """A message ready to leave. It is prepared inside the sender's database session; `send`
    runs after the session is closed, so no connection waits on a provider."""

    send: Callable[[], Awaitable[SendResult]]
    #: Why it leaves otherwise than written (kept on the message: "sent by SMS: ...").
    note: str | None = None


class Transport(Protocol):
    """How one channel's outbound messages leave. `prepare` reads what it needs (address,
    thread, templates) and answers with the send to make, or at once with the result when
    there is nothing to send (no address, opted out)."""

    async def prepare(
        self,
        session: AsyncSession,
        message: Message,
        conversation: Conversation,
        customer: Customer,
    ) -> Outgoing | SendResult: ...


def configured_channels(settings: Settings) -> frozenset[str]:
    """The channels with a transport configured: Twilio carries SMS and WhatsApp (web chat
    replies are stored for the widget alike), SMTP carries email."""
    twilio = bool(settings.twilio_account_sid and settings.twilio_auth_token)
    on = {"sms", "whatsapp", "web"} if twilio else set()
    if settings.smtp_host:
        on.add("email")
    return frozenset(on)


def simulated_channels(settings: Settings) -> frozenset[str]:
    """The channels with no transport configured: their replies are stored as simulated. A
    laptop with neither Twilio nor SMTP runs everything."""
    return frozenset(CHANNELS) - configured_channels(settings)
