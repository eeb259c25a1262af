"""The SMS channel's transport: a text through Twilio to the customer's phone."""

from __future__ import annotations

from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import Conversation, Customer, Message
from tools.messaging.channels import Outgoing, SendResult
from tools.messaging.twilio import TwilioChannel


class SmsTransport:
    def __init__(self, twilio: TwilioChannel) -> None:
        self.twilio = twilio

    async def prepare(
        self,
        session: AsyncSession,
        message: Message,
        conversation: Conversation,
        customer: Customer,
    ) -> Outgoing | SendResult:
        if not customer.phone:
            return SendResult(status="simulated")  # nowhere to text it
        return Outgoing(
            partial(
                self.twilio.send,
                to=customer.phone,
                channel="sms",
                body=message.body,
                message_id=message.id,
            )
        )
