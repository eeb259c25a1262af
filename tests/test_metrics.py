"""Prometheus metrics at `/metrics`: what every process counts, in one scrape.

- A real `hibachi serve --workers 2`: turns answered by two worker processes show in the API's
  scrape, added up (each worker's own files hold its part of the total).
- Labels never carry a phone number, an email address or a message's words, checked over a
  scrape after every hostile-input message has been stored through the webhook and answered.
- The public port's rules: open in development, refused in production unless a token is set
  and sent; `HIBACHI_METRICS_ADDRESS` serves the scrape on an address of its own.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from agent.inbox import Inbox
from agent.runtime import AgentRuntime
from api.app import create_app
from knowledge.db import Database, make_engine
from knowledge.infra.notify import Listener
from knowledge.infra.settings import Settings
from knowledge.models import Message
from tests.conftest import committed_database
from tests.helpers.metrics import counted
from tests.helpers.service import free_port, serve_with_workers
from tests.helpers.twilio import BASE, TOKEN, signed, twilio_settings
from tests.test_worker_processes import workers_of

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "tests" / "data" / "hostile_messages.jsonl"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) → value."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def total(found: dict[Any, float], name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(
        value
        for (sample, sample_labels), value in found.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


async def answered(sessions: async_sessionmaker[AsyncSession], sids: list[str]) -> bool:
    async with sessions() as session:
        waiting = await session.scalar(
            select(Message.id).where(
                Message.provider_message_id.in_(sids), Message.status == "received"
            )
        )
        stored = await session.scalars(
            select(Message.id).where(Message.provider_message_id.in_(sids))
        )
        return waiting is None and len(list(stored)) == len(sids)


class TestAcrossProcesses:
    async def test_turns_of_two_worker_processes_add_up_in_one_scrape(
        self, pg_server: Any, template_url: str, tmp_path: Path
    ) -> None:
        shared = tmp_path / "metrics"
        async with committed_database(pg_server, template_url, pool_size=2) as (url, sessions):
            service, base = await serve_with_workers(
                url,
                2,
                TOKEN,
                PROMETHEUS_MULTIPROC_DIR=str(shared),
                HIBACHI_BURST_SECONDS="0",
            )
            try:
                async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                    deadline = time.monotonic() + 60
                    pids = {worker.pid for worker in workers_of(service)}
                    assert len(pids) == 2
                    # Conversations 1..8 of a fresh database: each worker's share has some.
                    sids = [f"SMMETRIC{n}" for n in range(8)]
                    path = "/webhooks/twilio/messages"
                    for n, sid in enumerate(sids):
                        form = {"MessageSid": sid, "From": f"+1916555{n:04d}", "Body": "hi!"}
                        response = await client.post(path, **signed(base + path, form, TOKEN))
                        assert response.status_code == 200
                    while not await answered(sessions, sids):
                        assert time.monotonic() < deadline, "messages not answered"
                        await asyncio.sleep(0.2)
                    # A turn's figures are written once its transaction has committed.
                    for _ in range(50):
                        scrape = samples((await client.get("/metrics")).text)
                        turns = total(scrape, "hibachi_turns_total", kind="customer_message")
                        if turns >= len(sids):
                            break
                        await asyncio.sleep(0.1)
            finally:
                service.terminate()
                await service.wait()

        assert turns == len(sids)
        timed = total(scrape, "hibachi_turn_duration_seconds_count", kind="customer_message")
        assert timed == len(sids)
        assert total(scrape, "hibachi_messages_received_total", channel="sms") == len(sids)
        assert total(scrape, "hibachi_graph_node_duration_seconds_count", node="classify") >= 8
        assert total(scrape, "hibachi_webhook_duration_seconds_count") == len(sids)
        # Both workers ran turns, and the scrape is their sum.
        per_worker = [worker_turns(shared, pid) for pid in pids]
        assert all(n > 0 for n in per_worker), per_worker
        assert sum(per_worker) == len(sids)


def worker_turns(shared: Path, pid: int) -> float:
    """The turns one process counted, read from its own files only."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    own = shared.parent / f"only-{pid}"
    own.mkdir()
    for file in shared.glob(f"*_{pid}.db"):
        (own / file.name).write_bytes(file.read_bytes())
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(own))  # type: ignore[no-untyped-call]
    found = samples(generate_latest(registry).decode())
    return total(found, "hibachi_turns_total", kind="customer_message")


# Anything that looks like an E.164 or US phone number, or an email address.
PERSONAL = re.compile(r"\+?\d{7,}|\d{3}[\s.-]\d{3}[\s.-]\d{4}|@")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return twilio_settings(tmp_path)


class TestLabels:
    async def test_no_label_carries_a_phone_an_address_or_message_text(
        self,
        client: httpx.AsyncClient,
        runtime: AgentRuntime,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        cases = [json.loads(line) for line in HOSTILE.read_text().splitlines() if line.strip()]
        texts = {case["message"] for case in cases} | {case["benign"] for case in cases}
        path = "/webhooks/twilio/messages"
        for n, case in enumerate(cases):
            for kind in ("message", "benign"):
                sender = f"+1916556{n:02d}{int(kind == 'benign'):02d}"
                form = {"MessageSid": f"SMHOSTILE{n}{kind}", "From": sender, "Body": case[kind]}
                response = await client.post(path, **signed(BASE + path, form, TOKEN))
                assert response.status_code == 200, response.text
        assert await Inbox(sessionmaker, runtime, concurrency=1).drain() == 2 * len(cases)

        scrape = (await client.get("/metrics")).text
        values = {
            value
            for family in text_string_to_metric_families(scrape)
            for sample in family.samples
            for value in sample.labels.values()
        }
        assert "customer_message" in values and "sms" in values  # the turns were counted
        for value in values:
            assert not PERSONAL.search(value), value
            assert value not in texts, value
            assert not any(len(t) > 12 and t in value for t in texts), value
            assert len(value) <= 60, value


async def scrape_app(
    settings: Settings,
    test_db_url: str,
    connection: AsyncConnection,
    sessionmaker: async_sessionmaker[AsyncSession],
    runtime: AgentRuntime,
    **headers: str,
) -> httpx.Response:
    database = Database(url=test_db_url, engine=connection.engine, sessionmaker=sessionmaker)
    app = create_app(settings, database=database, runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/metrics", headers=headers)


class TestProcessGauges:
    """Gauges of what a process holds now: they go up while held and back down after."""

    async def test_database_connections_in_use(self, test_db_url: str) -> None:
        engine = make_engine(test_db_url)
        try:
            before = counted("hibachi_db_connections_in_use")
            async with engine.connect() as held:
                await held.execute(text("SELECT 1"))
                assert counted("hibachi_db_connections_in_use") == before + 1
            assert counted("hibachi_db_connections_in_use") == before
        finally:
            await engine.dispose()

    async def test_checkouts_that_wait_for_a_connection(self, test_db_url: str) -> None:
        engine = make_engine(test_db_url, pool_size=1, max_overflow=0, pool_timeout=0.3)
        waits, timeouts = "hibachi_db_pool_waits_total", "hibachi_db_pool_timeouts_total"
        waited = "hibachi_db_pool_wait_seconds_count"
        try:
            async with engine.connect() as first:  # a free connection: no wait
                await first.execute(text("SELECT 1"))
            before = {name: counted(name) for name in (waits, timeouts, waited)}
            held = await engine.connect()
            with pytest.raises(PoolTimeout):  # the only one is held past the timeout
                await engine.connect()
            assert counted(timeouts) == before[timeouts] + 1
            assert counted(waits) == before[waits] + 1

            async def release_soon() -> None:
                await asyncio.sleep(0.1)
                await held.close()

            releasing = asyncio.create_task(release_soon())
            async with engine.connect() as second:  # waits for the one released
                await second.execute(text("SELECT 1"))
            await releasing
            assert counted(waits) == before[waits] + 2
            assert counted(timeouts) == before[timeouts] + 1
            assert counted(waited) == before[waited] + 2
        finally:
            await engine.dispose()

    async def test_the_listen_connection(self, test_db_url: str) -> None:
        before = counted("hibachi_listen_connected")
        listener = Listener(test_db_url, {"hibachi_test_gauge": lambda _payload: None})
        await listener.start()
        try:
            assert counted("hibachi_listen_connected") == before + 1
        finally:
            await listener.stop()
        assert counted("hibachi_listen_connected") == before


class TestAccess:
    @pytest.fixture
    def app_parts(
        self,
        test_db_url: str,
        connection: AsyncConnection,
        sessionmaker: async_sessionmaker[AsyncSession],
        runtime: AgentRuntime,
    ) -> tuple[Any, ...]:
        return test_db_url, connection, sessionmaker, runtime

    async def test_open_on_the_public_port_in_development(
        self, tmp_path: Path, app_parts: tuple[Any, ...]
    ) -> None:
        settings = Settings(env="development", data_dir=tmp_path, run_worker=False)
        response = await scrape_app(settings, *app_parts)
        assert response.status_code == 200
        assert "hibachi_turns_total" in response.text
        assert "hibachi_escalations_open" in response.text  # what waits in the database

    async def test_refused_on_the_public_port_in_production_without_a_token(
        self, tmp_path: Path, app_parts: tuple[Any, ...]
    ) -> None:
        settings = Settings(env="production", data_dir=tmp_path, run_worker=False)
        response = await scrape_app(settings, *app_parts)
        assert response.status_code == 403
        assert "HIBACHI_METRICS_ADDRESS" in response.json()["error"]["message"]

    async def test_a_token_must_be_sent_when_one_is_set(
        self, tmp_path: Path, app_parts: tuple[Any, ...]
    ) -> None:
        settings = Settings(
            env="production", data_dir=tmp_path, run_worker=False, metrics_token="s3cret-scrape"
        )
        assert (await scrape_app(settings, *app_parts)).status_code == 403
        wrong = await scrape_app(settings, *app_parts, authorization="Bearer nope")
        assert wrong.status_code == 403
        right = await scrape_app(settings, *app_parts, authorization="Bearer s3cret-scrape")
        assert right.status_code == 200
        assert "hibachi_turns_total" in right.text

    async def test_the_separate_address_serves_it_in_production(
        self,
        tmp_path: Path,
        test_db_url: str,
        connection: AsyncConnection,
        sessionmaker: async_sessionmaker[AsyncSession],
        runtime: AgentRuntime,
    ) -> None:
        port = free_port()
        settings = Settings(
            env="production",
            data_dir=tmp_path,
            run_worker=False,
            metrics_address=f"127.0.0.1:{port}",
        )
        database = Database(url=test_db_url, engine=connection.engine, sessionmaker=sessionmaker)
        app = create_app(settings, database=database, runtime=runtime)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient() as client:
                response = await client.get(f"http://127.0.0.1:{port}/metrics")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as public:
                refused = await public.get("/metrics")
        assert response.status_code == 200
        assert "hibachi_turns_total" in response.text
        assert refused.status_code == 403
        with pytest.raises(httpx.TransportError):  # stopped with the app
            async with httpx.AsyncClient() as client:
                await client.get(f"http://127.0.0.1:{port}/metrics")
