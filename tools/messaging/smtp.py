"""The email channel's transport. A message becomes an email to the customer's address
(plain text and HTML, answering their latest email with its subject and threading headers;
the journey's messages in the fuller layout), sent over SMTP (`SMTP_*` settings): a refused
recipient fails at once, a busy or unreachable server is tried again."""

from __future__ import annotations

from email.message import EmailMessage
from functools import partial

import aiosmtplib
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.infra import tracing
from knowledge.infra.clock import Clock
from knowledge.infra.settings import Settings
from knowledge.models import Conversation, Customer, Message
from knowledge.service import KnowledgeService
from tools import addresses
from tools.messaging import email as emails
from tools.messaging.channels import Outgoing, SendResult

#: The journey's messages (touchpoints), sent in the fuller layout.
JOURNEY_KINDS = frozenset(emails.SUBJECTS)


class SmtpTransport:
    def __init__(self, settings: Settings, timeout: float = 20.0) -> None:
        assert settings.smtp_host
        self.settings = settings
        self.timeout = timeout

    async def send(self, email: EmailMessage) -> SendResult:
        s = self.settings
        try:
            with tracing.span("smtp send", server=f"{s.smtp_host}:{s.smtp_port}"):
                await aiosmtplib.send(
                    email,
                    hostname=s.smtp_host,
                    port=s.smtp_port,
                    username=s.smtp_username,
                    password=s.smtp_password,
                    start_tls=s.smtp_starttls,
                    timeout=self.timeout,
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            return SendResult(
                error_code=str(codes[0] if codes else 550),
                retry=any(400 <= code < 500 for code in codes),
            )
        except aiosmtplib.SMTPResponseException as exc:
            return SendResult(error_code=str(exc.code), retry=400 <= exc.code < 500)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            return SendResult(error_code="smtp_unreachable", retry=True)
        return SendResult(sid=emails.provider_id(str(email["Message-ID"])), status="sent")


class EmailTransport:
    def __init__(
        self, smtp: SmtpTransport, knowledge: KnowledgeService, clock: Clock, sender: str
    ) -> None:
        self.smtp = smtp
        self.knowledge = knowledge
        self.clock = clock
        self.sender = sender

    async def prepare(
        self,
        session: AsyncSession,
        message: Message,
        conversation: Conversation,
        customer: Customer,
    ) -> Outgoing | SendResult:
        address = await addresses.address_of(session, customer.id, "email")
        if address is None:
            return SendResult(error_code="no_address")
        if address.opted_out or address.undeliverable:
            return SendResult(error_code="opted_out" if address.opted_out else "undeliverable")
        latest = await session.scalar(
            select(Message.meta)
            .where(
                Message.conversation_id == conversation.id,
                Message.direction == "inbound",
                Message.id < message.id,
                Message.meta.has_key("email"),
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
        answered = (latest or {}).get("email") or {}
        journey = message.kind in JOURNEY_KINDS
        business = (await self.knowledge.charter(session)).rules.business.name
        mail = emails.compose(
            body=message.body,
            to=address.address,
            sender=self.sender,
            business=business,
            kind=message.kind,
            message_id=message.id,
            thread=emails.Thread(
                message_id=None if journey else answered.get("message_id"),
                subject=None if journey else answered.get("subject"),
                references=tuple(answered.get("references") or ()),
            ),
            sent_at=self.clock.now(),
            journey=journey,
        )
        return Outgoing(partial(self.smtp.send, mail))
