"""The WhatsApp channel's transport, through Twilio. Free text goes only inside WhatsApp's
session window (the customer wrote within the last 24 hours, by the live rules); outside it a
message of a kind with an approved template goes as that template, filled from the decision's
facts, and any other goes by SMS, with a note on the message saying why."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.infra.clock import Clock
from knowledge.models import Conversation, Customer, Message
from knowledge.service import KnowledgeService
from tools.messaging.channels import Outgoing, SendResult
from tools.messaging.twilio import TwilioChannel


class WhatsappTransport:
    def __init__(self, twilio: TwilioChannel, knowledge: KnowledgeService, clock: Clock) -> None:
        self.twilio = twilio
        self.knowledge = knowledge
        self.clock = clock

    async def prepare(
        self,
        session: AsyncSession,
        message: Message,
        conversation: Conversation,
        customer: Customer,
    ) -> Outgoing | SendResult:
        if not customer.phone:
            return SendResult(status="simulated")
        send = partial(
            self.twilio.send, to=customer.phone, body=message.body, message_id=message.id
        )
        rules = (await self.knowledge.charter(session)).rules
        window = timedelta(hours=rules.whatsapp.session_window_hours)
        last = conversation.last_inbound_at
        if last is not None and self.clock.now() - last <= window:
            return Outgoing(partial(send, channel="whatsapp"))
        template = rules.whatsapp.templates.get(message.kind or "")
        if template is None:
            hours = f"{window.total_seconds() / 3600:g}"
            return Outgoing(
                partial(send, channel="sms"),
                note=(
                    f"sent by SMS: no WhatsApp template for '{message.kind}' and the "
                    f"customer has not written in the last {hours} h"
                ),
            )
        facts = _facts(message.meta)
        return Outgoing(
            partial(
                send,
                channel="whatsapp",
                content_sid=template.content_sid,
                content_variables={
                    str(i): str(facts.get(name, ""))
                    for i, name in enumerate(template.variables, start=1)
                },
            )
        )


def _facts(meta: dict[str, Any]) -> dict[str, Any]:
    """The first decision's facts from a reply's decision trail."""
    decisions = meta.get("decisions") or []
    facts = decisions[0].get("facts", {}) if decisions else {}
    return facts if isinstance(facts, dict) else {}
