"""The channels customers write on, described once: how a customer is addressed on each,
whether the carrier's keywords (STOP, START, HELP) apply, whether a thought comes as several
texts in a row, and which ones have no transport configured (their replies are simulated)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from knowledge.settings import Settings


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


def simulated_channels(settings: Settings) -> frozenset[str]:
    """The channels with no transport configured: Twilio carries SMS and WhatsApp (and web chat
    replies are stored alike), SMTP carries email. A laptop with neither runs everything."""
    twilio = bool(settings.twilio_account_sid and settings.twilio_auth_token)
    off = set() if twilio else {"sms", "whatsapp", "web"}
    if not settings.smtp_host:
        off.add("email")
    return frozenset(off)
