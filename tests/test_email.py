"""Email as a customer channel, against real servers on loopback: Debian's dovecot as the shop's
IMAP mailbox and aiosmtpd as the SMTP server replies leave through.

A customer's email is stored once (by Message-ID), read as its new text only, answered by the
same turn as any message, and the answer goes back in the customer's thread; auto-replies and
bounces are recorded and never answered; a bounce marks the address undeliverable."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.inbox import Inbox
from agent.runtime import AgentRuntime
from knowledge.infra.clock import FrozenClock
from knowledge.infra.settings import Settings
from knowledge.models import (
    Booking,
    Customer,
    CustomerAddress,
    Escalation,
    InboundEmail,
    Message,
)
from knowledge.service import KnowledgeService
from scheduler import flows
from tests.conftest import bearer
from tests.factories import make_booking, make_customer
from tests.helpers.mailserver import SHOP, ImapServer, SmtpSink
from tools import addresses
from tools.messaging.email import new_text, read_email
from tools.messaging.mailbox import Mailbox, MailboxAddress
from tools.messaging.sender import OutboxSender
from tools.messaging.transports import build_transports

CUSTOMER = "dana.cole@example.com"
D = timedelta(days=1)


@pytest.fixture
def empty_inbox(imap: ImapServer) -> ImapServer:
    """The mailbox with nothing unseen in it, so each test reads only its own mail."""
    imap.mark_all_seen()
    return imap


def customer_email(
    text: str,
    *,
    subject: str = "Question about my party",
    sender: str = CUSTOMER,
    message_id: str | None = None,
    **headers: str,
) -> EmailMessage:
    email = EmailMessage()
    email["From"] = f"Dana Cole <{sender}>"
    email["To"] = SHOP
    email["Subject"] = subject
    email["Message-ID"] = message_id or make_msgid(domain="example.com")
    for name, value in headers.items():
        email[name.replace("_", "-")] = value
    email.set_content(text)
    return email


def settings_for(smtp: SmtpSink) -> Settings:
    return Settings(smtp_host="127.0.0.1", smtp_port=smtp.port, email_from=SHOP, smtp_from=SHOP)  # type: ignore[call-arg]


@pytest.fixture
def runtime(
    sessionmaker: async_sessionmaker[AsyncSession],
    knowledge: KnowledgeService,
    clock: FrozenClock,
    checkpointer: Any,
) -> AgentRuntime:
    """The agent with email delivered for real (the other channels simulated)."""
    return AgentRuntime(
        sessionmaker, knowledge, clock, checkpointer, simulated={"sms", "whatsapp", "web"}
    )


async def email_customer(session: AsyncSession, clock: FrozenClock) -> tuple[Customer, Booking]:
    customer = await make_customer(
        session, name="Dana Cole", email=CUSTOMER, preferred_channel="email"
    )
    await addresses.remember(session, customer.id, "email", CUSTOMER)
    booking = await make_booking(session, customer, event_at=clock.now() + 10 * D)
    await session.commit()
    return customer, booking


class Shop:
    """The service's email loops, one pass at a time: read the mailbox, answer, send."""

    def __init__(
        self,
        imap: ImapServer,
        smtp: SmtpSink,
        sessionmaker: async_sessionmaker[AsyncSession],
        runtime: AgentRuntime,
        knowledge: KnowledgeService,
        clock: FrozenClock,
    ) -> None:
        self.mailbox = Mailbox(MailboxAddress.parse(imap.url), sessionmaker, clock, SHOP)
        self.inbox = Inbox(sessionmaker, runtime)
        transports = build_transports(settings_for(smtp), knowledge, clock, twilio=None)
        assert set(transports) == {"email"}
        self.sender = OutboxSender(sessionmaker, transports, clock)

    async def run(self) -> int:
        stored = await self.mailbox.check()
        await self.inbox.drain()
        await self.sender.send_pending()
        return stored


@pytest.fixture
def shop(
    empty_inbox: ImapServer,
    smtp: SmtpSink,
    sessionmaker: async_sessionmaker[AsyncSession],
    runtime: AgentRuntime,
    knowledge: KnowledgeService,
    clock: FrozenClock,
) -> Shop:
    return Shop(empty_inbox, smtp, sessionmaker, runtime, knowledge, clock)


async def count(session: AsyncSession, model: Any, *where: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


class TestAnsweredInTheThread:
    async def test_an_email_is_answered_in_the_customers_thread(
        self,
        shop: Shop,
        imap: ImapServer,
        smtp: SmtpSink,
        session: AsyncSession,
        clock: FrozenClock,
    ) -> None:
        await email_customer(session, clock)
        asked = customer_email("What time does the chef get here?", subject="Chef arrival")
        imap.deliver(asked)

        assert await shop.run() == 1

        assert len(smtp.received) == 1
        reply = smtp.received[0]
        assert smtp.envelopes[0] == (SHOP, [CUSTOMER])
        assert reply["Subject"] == "Re: Chef arrival"
        assert reply["In-Reply-To"] == asked["Message-ID"]
        assert asked["Message-ID"] in str(reply["References"])
        assert "unsubscribe" in str(reply["List-Unsubscribe"])
        text = reply.get_body(preferencelist=("plain",))
        rich = reply.get_body(preferencelist=("html",))
        assert text is not None and rich is not None
        assert "PM" in text.get_content()  # the booking's own arrival window
        assert "<p" in rich.get_content()
        stored = (
            await session.scalars(select(Message).where(Message.direction == "inbound"))
        ).one()
        assert (stored.channel, stored.body) == ("email", "What time does the chef get here?")
        sent = (await session.scalars(select(Message).where(Message.direction == "outbound"))).one()
        assert sent.status == "sent" and sent.provider_message_id is not None
        assert imap.unseen() == 0

    async def test_quoted_history_is_not_read_as_the_message(
        self, shop: Shop, imap: ImapServer, session: AsyncSession, clock: FrozenClock
    ) -> None:
        await email_customer(session, clock)
        imap.deliver(
            customer_email(
                "Can we add 2 more adults?\n\nThanks,\nDana\n\n"
                "On Mon, Jun 8, 2026 at 10:00 AM My Hibachi <hello@myhibachi.example> wrote:\n"
                "> Hi Dana! Your party on Saturday is booked for 10 adults.\n"
                "> Let us know if anything changes.\n",
                subject="Re: Your hibachi party is booked",
            )
        )
        await shop.run()
        body = await session.scalar(select(Message.body).where(Message.direction == "inbound"))
        assert body is not None and body.startswith("Can we add 2 more adults?")
        assert "wrote:" not in body and "10 adults" not in body

    async def test_a_second_delivery_of_the_same_email_is_answered_once(
        self,
        shop: Shop,
        imap: ImapServer,
        smtp: SmtpSink,
        session: AsyncSession,
        clock: FrozenClock,
    ) -> None:
        await email_customer(session, clock)
        once = customer_email("do you bring the plates?", message_id="<same-one@example.com>")
        imap.deliver(once)
        assert await shop.run() == 1
        imap.deliver(once)  # the provider delivered it again
        assert await shop.run() == 0
        assert len(smtp.received) == 1
        assert await count(session, Message, Message.direction == "inbound") == 1

    async def test_a_sender_over_the_rate_limit_is_read_later_not_dropped(
        self, shop: Shop, imap: ImapServer, smtp: SmtpSink, session: AsyncSession
    ) -> None:
        allowed = iter([True, False, True])
        shop.mailbox.allow = lambda sender: next(allowed)
        imap.deliver(customer_email("first question", sender="busy@example.com"))
        imap.deliver(customer_email("second question", sender="busy@example.com"))
        assert await shop.run() == 1
        assert imap.unseen() == 1  # the second waits in the mailbox
        assert await shop.run() == 1
        assert imap.unseen() == 0 and len(smtp.received) == 2

    async def test_a_prospect_who_emails_is_not_asked_how_to_reach_them(
        self, shop: Shop, imap: ImapServer, smtp: SmtpSink, session: AsyncSession
    ) -> None:
        imap.deliver(
            customer_email(
                "Hi, how much for 18 adults and 4 kids? We're in Folsom 95630.",
                sender="maria.lopez@example.com",
            )
        )
        await shop.run()
        plain = smtp.received[0].get_body(preferencelist=("plain",))
        assert plain is not None
        quote = plain.get_content()
        assert "$" in quote and "email" not in quote.split("--")[0].lower()

    async def test_a_new_address_becomes_a_customer(
        self, shop: Shop, imap: ImapServer, smtp: SmtpSink, session: AsyncSession
    ) -> None:
        imap.deliver(customer_email("how much for 20 adults?", sender="New.Person@Example.com"))
        await shop.run()
        owner = await addresses.customer_at(session, "email", "new.person@example.com")
        assert owner is not None and owner.name == "Dana Cole"
        assert [e["To"] for e in smtp.received] == ["new.person@example.com"]


class TestStaffOnEmail:
    async def test_a_staff_reply_on_an_email_case_goes_out_in_the_thread(
        self,
        shop: Shop,
        imap: ImapServer,
        smtp: SmtpSink,
        session: AsyncSession,
        clock: FrozenClock,
        client: httpx.AsyncClient,
    ) -> None:
        await email_customer(session, clock)
        asked = customer_email("I need to speak to a manager about my party please")
        imap.deliver(asked)
        await shop.run()
        case = await session.scalar(select(Escalation.id))
        assert case is not None, "asking for a manager opens a case"
        kim = await bearer(session, "Kim", "agent")
        sent = await client.post(
            f"/api/v1/escalations/{case}/reply",
            json={"text": "Hi Dana, this is Kim. I'll call you within the hour."},
            headers=kim,
        )
        assert sent.status_code == 200 and sent.json()["channel"] == "email"
        await shop.sender.send_pending()
        staff = smtp.received[-1]
        assert staff["In-Reply-To"] == asked["Message-ID"]
        plain = staff.get_body(preferencelist=("plain",))
        assert plain is not None and "this is Kim" in plain.get_content()


class TestNotAnswered:
    @pytest.mark.parametrize(
        ("headers", "outcome"),
        [
            ({"Auto_Submitted": "auto-replied"}, "auto_reply"),
            ({"Precedence": "bulk"}, "auto_reply"),
            ({"List_Id": "<party-planners.lists.example.com>"}, "mailing_list"),
        ],
    )
    async def test_automatic_mail_is_recorded_and_not_answered(
        self,
        shop: Shop,
        imap: ImapServer,
        smtp: SmtpSink,
        session: AsyncSession,
        clock: FrozenClock,
        headers: dict[str, str],
        outcome: str,
    ) -> None:
        await email_customer(session, clock)
        imap.deliver(customer_email("I'm out of the office until Monday.", **headers))
        assert await shop.run() == 0
        assert smtp.received == []
        assert await count(session, Message) == 0
        recorded = await session.scalar(select(InboundEmail.outcome))
        assert recorded == outcome
        assert imap.unseen() == 0

    async def test_a_bounce_marks_the_address_undeliverable(
        self,
        shop: Shop,
        imap: ImapServer,
        smtp: SmtpSink,
        session: AsyncSession,
        clock: FrozenClock,
    ) -> None:
        customer, _ = await email_customer(session, clock)
        imap.deliver(bounce_for(CUSTOMER))
        assert await shop.run() == 0
        address = (
            await session.scalars(
                select(CustomerAddress).where(CustomerAddress.customer_id == customer.id)
            )
        ).one()
        await session.refresh(address)
        assert address.undeliverable
        assert await session.scalar(select(InboundEmail.outcome)) == "bounce"
        assert smtp.received == []

    async def test_unsubscribe_switches_email_off_silently(
        self,
        shop: Shop,
        imap: ImapServer,
        smtp: SmtpSink,
        session: AsyncSession,
        clock: FrozenClock,
    ) -> None:
        customer, _ = await email_customer(session, clock)
        imap.deliver(customer_email("", subject="unsubscribe"))
        await shop.run()
        assert await addresses.opted_out(session, customer.id, "email")
        assert smtp.received == []


class TestJourneyByEmail:
    async def test_a_booking_that_prefers_email_gets_its_journey_by_email(
        self,
        shop: Shop,
        smtp: SmtpSink,
        session: AsyncSession,
        clock: FrozenClock,
        knowledge: KnowledgeService,
        worker: Any,
    ) -> None:
        _, booking = await email_customer(session, clock)
        await flows.plan_journey(session, booking, clock.now(), await knowledge.rules(session))
        await session.commit()
        await worker.advance(clock, timedelta(hours=1))
        await shop.sender.send_pending()
        assert smtp.received, "the confirmation went nowhere"
        confirmation = smtp.received[0]
        assert confirmation["To"] == CUSTOMER
        assert confirmation["Subject"].endswith("Your hibachi party is booked")
        assert confirmation["In-Reply-To"] is None
        rich = confirmation.get_body(preferencelist=("html",))
        assert rich is not None and "font-weight:600" in rich.get_content()  # the fuller layout
        plain = confirmation.get_body(preferencelist=("plain",))
        assert plain is not None
        text = plain.get_content()
        # The seed's stage-1 confirmation, laid out as an email: a line per detail.
        assert "Your booking is confirmed" in text
        assert "\n• Address: 12 Oak St, Sacramento, CA 95814" in text
        assert "\n• Deposit: $100 received" in text


class TestReading:
    """What is read of an email, without servers."""

    def test_html_only_mail_is_read_as_text(self) -> None:
        email = EmailMessage()
        email["From"] = CUSTOMER
        email["Message-ID"] = "<html-only@example.com>"
        email.set_content("<p>Can we move it to <b>7pm</b>?</p>", subtype="html")
        read = read_email(email.as_bytes(), own_address=SHOP)
        assert read.unusable is None and read.text == "Can we move it to 7pm?"

    def test_our_own_mail_coming_back_is_not_answered(self) -> None:
        read = read_email(customer_email("loop", sender=SHOP).as_bytes(), own_address=SHOP)
        assert read.unusable == "from_us"

    def test_huge_mail_is_not_read(self) -> None:
        email = customer_email("x" * (3 * 1024 * 1024))
        assert read_email(email.as_bytes(), own_address=SHOP).unusable == "too_large"

    def test_a_reply_keeps_only_its_new_text(self) -> None:
        body = "Yes please!\n\nOn Tue, Jun 9, 2026, Shop <s@example.com> wrote:\n> Confirm 14?\n"
        assert new_text(body) == "Yes please!"

    def test_the_mailbox_url_is_checked(self) -> None:
        with pytest.raises(ValueError, match="imaps://"):
            MailboxAddress.parse("imap://shop:pw@imap.gmail.com/INBOX")
        address = MailboxAddress.parse("imaps://me%40shop.com:app%20pw@imap.gmail.com/INBOX")
        assert (address.user, address.password, address.port) == ("me@shop.com", "app pw", 993)


def bounce_for(address: str) -> bytes:
    """A delivery-status report as mail servers send them (RFC 3464)."""
    return (
        "From: Mail Delivery Subsystem <mailer-daemon@mx.example.com>\r\n"
        f"To: {SHOP}\r\n"
        "Subject: Delivery Status Notification (Failure)\r\n"
        "Message-ID: <bounce-1@mx.example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        "\r\n--b1\r\n"
        "Content-Type: text/plain\r\n\r\n"
        f"Your message to {address} could not be delivered.\r\n"
        "\r\n--b1\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {address}\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "\r\n--b1--\r\n"
    ).encode()
