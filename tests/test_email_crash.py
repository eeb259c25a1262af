"""A service process killed (SIGKILL) after storing an email, before flagging it seen in the
mailbox, answers it exactly once after a restart: the email is found again, the ledger (one
row per Message-ID) stores nothing twice, and the stored message is answered once."""

from __future__ import annotations

import asyncio
import signal
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from knowledge.db import make_engine
from knowledge.models import InboundEmail, Message
from tests.conftest import clone_database
from tests.helpers.mailserver import SHOP, ImapServer, SmtpSink
from tests.helpers.service import free_port, serve


async def test_a_kill_after_storing_an_email_answers_it_once(
    pg_server: Any, template_url: str, imap: ImapServer, smtp: SmtpSink
) -> None:
    url = await clone_database(pg_server, template_url)
    engine = make_engine(url, pool_size=2)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    imap.mark_all_seen()
    env = {
        "EMAIL_IMAP_URL": imap.url,
        "EMAIL_FROM": SHOP,
        "EMAIL_POLL_SECONDS": "0.5",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
    }
    email = EmailMessage()
    email["From"] = "Rosa Diaz <rosa.diaz@example.com>"
    email["To"] = SHOP
    email["Subject"] = "kids price"
    email["Message-ID"] = "<crash-once@example.com>"
    email.set_content("How much are kids?")
    port = free_port()
    doomed = await serve(url, port, HIBACHI_CRASH_AT="email_stored", **env)
    try:
        imap.deliver(email)
        await asyncio.wait_for(doomed.wait(), 60)
        assert doomed.returncode == -signal.SIGKILL, "email_stored was never reached"
        assert imap.unseen() == 1  # stored, never flagged seen

        revived = await serve(url, port, **env)
        try:
            for _ in range(300):
                if smtp.received and imap.unseen() == 0:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)  # time for a second answer, were there one
        finally:
            revived.send_signal(signal.SIGTERM)
            await asyncio.wait_for(revived.wait(), 30)
        async with sessions() as session:
            inbound = await session.scalar(
                select(func.count()).where(Message.direction == "inbound")
            )
            ledger = await session.scalar(select(func.count()).select_from(InboundEmail))
            outbound = (
                await session.scalars(select(Message).where(Message.direction == "outbound"))
            ).all()
    finally:
        if doomed.returncode is None:
            doomed.kill()
        await engine.dispose()
    assert (inbound, ledger) == (1, 1)
    assert [m.status for m in outbound] == ["sent"]
    assert len(smtp.received) == 1
    assert smtp.received[0]["In-Reply-To"] == "<crash-once@example.com>"
