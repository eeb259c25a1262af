"""Every channel's transport, registered once from the settings. A channel with no transport
configured is simulated (`channels.simulated_channels`): its replies are stored, not sent.

Adding a channel: describe it in `channels.CHANNELS` and `channels.configured_channels`, write
its transport module (a class with `prepare`, see `channels.Transport`), register it here, and
add its webhook or poller in `api/`; nothing else changes."""

from __future__ import annotations

from collections.abc import Callable

from knowledge.infra.clock import Clock
from knowledge.infra.settings import Settings
from knowledge.service import KnowledgeService
from tools.messaging.channels import Transport, configured_channels
from tools.messaging.sms import SmsTransport
from tools.messaging.smtp import EmailTransport, SmtpTransport
from tools.messaging.twilio import TwilioChannel
from tools.messaging.webchat import WebTransport
from tools.messaging.whatsapp import WhatsappTransport


def build_transports(
    settings: Settings,
    knowledge: KnowledgeService,
    clock: Clock,
    *,
    twilio: TwilioChannel | None,
) -> dict[str, Transport]:
    """The transports of the configured channels. `twilio` is the process's Twilio client
    (team alerts share it); it must be given when Twilio is configured."""

    def twilio_client() -> TwilioChannel:
        if twilio is None:
            raise ValueError("Twilio is configured: pass the process's Twilio client")
        return twilio

    registered: dict[str, Callable[[], Transport]] = {
        "sms": lambda: SmsTransport(twilio_client()),
        "whatsapp": lambda: WhatsappTransport(twilio_client(), knowledge, clock),
        "web": WebTransport,
        "email": lambda: EmailTransport(
            SmtpTransport(settings), knowledge, clock, settings.shop_email
        ),
    }
    return {
        name: make() for name, make in registered.items() if name in configured_channels(settings)
    }
