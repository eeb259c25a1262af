"""The shop's mailbox, read over IMAP: every unseen email is stored once, then flagged seen.

Any provider with IMAP works (Google Workspace or Gmail with an app password, Fastmail,
Microsoft 365 with IMAP on), configured by `EMAIL_IMAP_URL`:
`imaps://user:password@host:993/INBOX` (`imap://` without TLS only for a server on the same
machine). Where the server has IDLE, new mail wakes the reader at once; otherwise, and between
IDLE rounds, it looks every `EMAIL_POLL_SECONDS`.

An email is committed to the database before it is flagged seen: a process stopped between the
two finds it again and the ledger (one row per Message-ID) stores nothing twice, so each email
is answered exactly once. One process reads the mailbox at a time (a PostgreSQL advisory lock),
however many workers run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aioimaplib
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge.db import unit_of_work
from knowledge.infra.clock import Clock
from knowledge.infra.faults import crash_point
from knowledge.infra.loops import pause
from tools.messaging.email import read_email
from tools.messaging.inbound import Stored, store_email

log = structlog.get_logger(__name__)

#: The advisory lock the mailbox reader holds (namespace, key): one reader at a time.
MAILBOX_LOCK = (4_242, 1)
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class MailboxAddress:
    tls: bool
    host: str
    port: int
    user: str
    password: str
    folder: str = "INBOX"

    @classmethod
    def parse(cls, url: str) -> MailboxAddress:
        """Read `imaps://user:password@host:993/INBOX`; a mistake is named in the error."""
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps"):
            raise ValueError("EMAIL_IMAP_URL: start it with imaps:// (or imap:// on this machine)")
        if not parts.hostname or not parts.username or parts.password is None:
            raise ValueError("EMAIL_IMAP_URL: give imaps://user:password@host:993/INBOX")
        tls = parts.scheme == "imaps"
        if not tls and parts.hostname not in _LOOPBACK:
            raise ValueError(
                "EMAIL_IMAP_URL: imap:// sends the password in clear; use imaps:// for "
                f"{parts.hostname}"
            )
        return cls(
            tls=tls,
            host=parts.hostname,
            port=parts.port or (993 if tls else 143),
            user=unquote(parts.username),
            password=unquote(parts.password),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
        )


class Mailbox:
    def __init__(
        self,
        address: MailboxAddress,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        own_address: str,
        *,
        on_stored: Callable[[Stored], None] | None = None,
        allow: Callable[[str], bool] | None = None,
        poll_seconds: float = 60.0,
        timeout: float = 30.0,
    ) -> None:
        self.address = address
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.own_address = own_address
        self.on_stored = on_stored
        self.allow = allow
        self.poll_seconds = poll_seconds
        self.timeout = timeout

    async def _connect(self) -> aioimaplib.IMAP4:
        a = self.address
        client = (
            aioimaplib.IMAP4_SSL(a.host, a.port, timeout=self.timeout)
            if a.tls
            else aioimaplib.IMAP4(a.host, a.port, timeout=self.timeout)
        )
        await client.wait_hello_from_server()
        answer = await client.login(a.user, a.password)
        if answer.result != "OK":
            raise ConnectionError(f"the mailbox refused the login for {a.user}")
        answer = await client.select(a.folder)
        if answer.result != "OK":
            raise ConnectionError(f"the mailbox has no folder '{a.folder}'")
        return client

    async def check(self, client: aioimaplib.IMAP4 | None = None) -> int:
        """Store every unseen email, flagging each seen once it is committed; returns how many
        were new. Opens its own connection unless given one."""
        own = client is None
        if client is None:
            client = await self._connect()
        try:
            found = await client.uid_search("UNSEEN")
            uids = [u for line in found.lines[:1] for u in line.split() if u.isdigit()]
            stored = 0
            for uid in uids:
                stored += await self._take(client, uid.decode())
            return stored
        finally:
            if own:
                await _quietly(client.logout())

    async def _take(self, client: aioimaplib.IMAP4, uid: str) -> int:
        answer = await client.uid("fetch", uid, "(BODY.PEEK[])")
        raw = next((bytes(line) for line in answer.lines if isinstance(line, bytearray)), None)
        if answer.result != "OK" or raw is None:
            log.warning("email not fetched", uid=uid, result=answer.result)
            return 0
        mail = read_email(raw, own_address=self.own_address)
        if mail.unusable is None and self.allow is not None and not self.allow(mail.sender):
            # Over the sender's rate limit: left unseen, read on a later pass (as a carrier
            # retries a refused webhook), never dropped.
            log.warning("email left for later: sender over the rate limit", sender=mail.sender)
            return 0
        async with unit_of_work(self.sessionmaker) as session:
            stored = await store_email(session, mail, self.clock.now())
        crash_point("email_stored")
        if mail.unusable is not None:
            log.info("email recorded, not answered", reason=mail.unusable, sender=mail.sender)
        await client.uid("store", uid, "+FLAGS", r"(\Seen)")
        if stored is not None and stored.message_id is not None:
            if self.on_stored is not None:
                self.on_stored(stored)
            return 1
        return 0

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Read the mailbox until `stop` is set: IDLE where the server has it, polling
        otherwise; reconnect after a failure, waiting longer each time (at most 5 minutes)."""
        failures = 0
        while not stop.is_set():
            async with self.sessionmaker() as lock:
                held = await lock.scalar(select(func.pg_try_advisory_lock(*MAILBOX_LOCK)))
                if not held:
                    await lock.rollback()
                    await pause(stop, None, self.poll_seconds)
                    continue
                try:
                    await self._serve(stop)
                    failures = 0
                except (OSError, TimeoutError, ConnectionError, aioimaplib.Abort) as exc:
                    failures += 1
                    log.warning("mailbox unreachable", error=str(exc)[:200], failures=failures)
                finally:
                    await lock.scalar(select(func.pg_advisory_unlock(*MAILBOX_LOCK)))
                    await lock.commit()
            if failures:
                await pause(stop, None, min(300.0, 5.0 * 2 ** min(failures, 6)))

    async def _serve(self, stop: asyncio.Event) -> None:
        client = await self._connect()
        try:
            idle = client.has_capability("IDLE")
            while not stop.is_set():
                await self.check(client)
                if idle:
                    await self._idle(client, stop)
                else:
                    await pause(stop, None, self.poll_seconds)
        finally:
            await _quietly(client.logout())

    async def _idle(self, client: aioimaplib.IMAP4, stop: asyncio.Event) -> None:
        """Wait for the server to announce new mail, for at most one poll interval."""
        waiting = await client.idle_start(timeout=self.poll_seconds)
        stopping = asyncio.ensure_future(stop.wait())
        pushed = asyncio.ensure_future(client.wait_server_push(timeout=self.poll_seconds))
        try:
            await asyncio.wait({stopping, pushed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stopping, pushed):
                task.cancel()
            client.idle_done()
            await _quietly(asyncio.wait_for(waiting, self.timeout))


async def _quietly(awaitable: object) -> None:
    try:
        await awaitable  # type: ignore[misc]
    except Exception as exc:  # the connection is being dropped anyway
        log.debug("mailbox cleanup", error=str(exc)[:200])
