"""OpenTelemetry traces: request → turn → node spans, with the database statements and the
outgoing HTTP under them, in one process (an in-memory exporter) and across the API and a
worker process (a stand-in collector on loopback); a turn's log lines carry its trace id.

Off (no collector set), nothing is traced: `span()` yields None and no span is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import uvicorn
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent.inbox import Inbox
from agent.llm import build_llm
from agent.runtime import AgentRuntime, postgres_checkpointer
from api.app import create_app
from knowledge.db import Database, make_engine
from knowledge.infra import tracing
from knowledge.infra.clock import FrozenClock
from knowledge.models import Message
from knowledge.service import KnowledgeService
from tests.conftest import committed_database
from tests.helpers.otlp import Collector, Span
from tests.helpers.service import free_port, serve_with_workers
from tests.helpers.twilio import BASE, TOKEN, signed, twilio_settings
from tests.test_agent_llm import completion, reading

LLM = "http://llm.test/v1"
WEBHOOK = "/webhooks/twilio/messages"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    tracing.configure("api", None, exporter=spans)
    yield spans
    tracing.reset()


@pytest.fixture
async def database(pg_server: Any, template_url: str) -> AsyncIterator[Database]:
    """A committed database on an engine of this test's own (its statements are traced)."""
    async with committed_database(pg_server, template_url, pool_size=2) as (url, _sessions):
        engine = make_engine(url)
        yield Database(
            url=url, engine=engine, sessionmaker=async_sessionmaker(engine, expire_on_commit=False)
        )
        await engine.dispose()


def under(span: Any, ancestor: Any, spans: list[Any]) -> bool:
    """Whether `span` descends from `ancestor` (by parent ids, within one trace)."""
    by_id = {s.context.span_id: s for s in spans}
    current = span
    while current.parent is not None:
        if current.parent.span_id == ancestor.context.span_id:
            return True
        current = by_id.get(current.parent.span_id)
        if current is None:
            return False
    return False


class TestInOneProcess:
    async def test_request_turn_and_nodes_with_database_and_http_under_them(
        self,
        exporter: InMemorySpanExporter,
        database: Database,
        clock: FrozenClock,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        knowledge = KnowledgeService(clock=clock, ttl_seconds=5.0)
        settings = twilio_settings(tmp_path, openai_api_key="sk-test", openai_base_url=LLM)
        async with postgres_checkpointer(database.url) as saver:
            runtime = AgentRuntime(
                database.sessionmaker, knowledge, clock, saver, llm=build_llm(settings)
            )
            app = create_app(settings, database=database, clock=clock, runtime=runtime)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                    form = {"MessageSid": "SMTRACE1", "From": "+19165550177", "Body": "hi!"}
                    answer = await client.post(WEBHOOK, **signed(BASE + WEBHOOK, form, TOKEN))
                    assert answer.status_code == 200
                    form = {"MessageSid": "SMTRACE2", "From": "+19165550178", "Body": "hello"}
                    answer = await client.post(WEBHOOK, **signed(BASE + WEBHOOK, form, TOKEN))
                    assert answer.status_code == 200
                with respx.mock(base_url=LLM, assert_all_called=True) as llm:
                    llm.post("/chat/completions").mock(
                        side_effect=[
                            httpx.Response(200, json=completion(reading(None, "greeting"))),
                            httpx.Response(500, json={"error": {"message": "down"}}),
                        ]
                    )
                    inbox = Inbox(database.sessionmaker, runtime, concurrency=1)
                    assert await inbox.drain() == 2

        spans = list(exporter.get_finished_spans())
        requests = [s for s in spans if s.name == f"POST {WEBHOOK}"]
        turns = [s for s in spans if s.name == "turn"]
        assert len(requests) == 2 and len(turns) == 2
        request = requests[0]
        (turn,) = [t for t in turns if t.links[0].context.span_id == request.context.span_id]
        # The request stored the message: its INSERT is under the request's span.
        statements = [s for s in spans if s.attributes.get("db.system") == "postgresql"]
        inserts = [s for s in statements if "INSERT" in str(s.attributes.get("db.statement"))]
        assert any(under(s, request, spans) for s in inserts)
        # The turn links to that request (another trace: it ran later, in the inbox).
        assert turn.links[0].context.trace_id == request.context.trace_id
        assert turn.attributes["hibachi.kind"] == "customer_message"
        nodes = {s.name: s for s in spans if s.parent and s.parent.span_id == turn.context.span_id}
        assert {"node load_context", "node classify", "node decide", "node deliver"} <= set(nodes)
        assert any(under(s, nodes["node load_context"], spans) for s in statements)
        # The LLM call is outgoing HTTP under the review node.
        calls = [s for s in spans if "llm.test" in str(s.attributes.get("http.url"))]
        assert any(under(s, nodes["node review"], spans) for s in calls)

        # The second turn's LLM failure is logged with that turn's trace id.
        (other,) = [t for t in turns if t is not turn]
        failed = [line for line in capsys.readouterr().err.splitlines() if "llm call" in line]
        assert failed and all(f"{other.context.trace_id:032x}" in line for line in failed)

    async def test_statements_are_spans_only_inside_a_kept_trace(
        self, exporter: InMemorySpanExporter, database: Database
    ) -> None:
        tracing.instrument_engine(database.engine)
        tracing.instrument_engine(database.engine)  # once per engine, however often asked
        async with database.engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")  # outside any span: not traced
            with tracing.span("turn"):
                await connection.exec_driver_sql("SELECT 2")
                with pytest.raises(DBAPIError):
                    await connection.exec_driver_sql("SELECT * FROM no_such_table")
        spans = list(exporter.get_finished_spans())
        (turn,) = [s for s in spans if s.name == "turn"]
        statements = [s for s in spans if s.attributes.get("db.system") == "postgresql"]
        assert [s.attributes["db.statement"] for s in statements] == [
            "SELECT 2",
            "SELECT * FROM no_such_table",
        ]
        assert all(
            s.parent is not None and s.parent.span_id == turn.context.span_id for s in statements
        )
        failed = statements[1]
        assert failed.status.status_code == StatusCode.ERROR
        assert [e.name for e in failed.events] == ["exception"]

    async def test_off_without_a_collector(self) -> None:
        assert not tracing.enabled()
        with tracing.span("turn") as span:
            assert span is None
        assert tracing.current() is None
        assert tracing.stamped({"media": 1}) == {"media": 1}


async def spans_arrived(collector: Collector, seconds: float, want: Any) -> list[Span]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if want(collector.spans):
            return list(collector.spans)
        await asyncio.sleep(0.2)
    return list(collector.spans)


class TestSampling:
    """A share of the traces is kept (10 % by default); a turn is kept exactly when the request
    that stored its message was, so a kept story is whole."""

    @staticmethod
    def link(sampled: bool) -> Any:
        from opentelemetry.trace import Link, SpanContext, TraceFlags

        flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
        return Link(SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=flags))

    def test_a_turn_follows_the_request_that_stored_its_message(self) -> None:
        from opentelemetry.sdk.trace.sampling import Decision

        never, always = tracing._sampler(0.0), tracing._sampler(1.0)
        kept = never.should_sample(None, 0x123, "turn", links=[self.link(True)])
        dropped = always.should_sample(None, 0x123, "turn", links=[self.link(False)])
        assert kept.decision == Decision.RECORD_AND_SAMPLE
        assert dropped.decision == Decision.DROP
        # Without a link, the ratio decides.
        assert never.should_sample(None, 0x123, "POST /").decision == Decision.DROP
        assert always.should_sample(None, 0x123, "POST /").decision == Decision.RECORD_AND_SAMPLE


@contextlib.asynccontextmanager
async def llm_stand_in() -> AsyncIterator[str]:
    """An OpenAI-compatible endpoint on loopback for a service in another process (respx only
    reaches this one): every completion reads the message as a greeting. Yields its base URL."""

    async def complete(request: Request) -> JSONResponse:
        return JSONResponse(completion(reading(None, "greeting")))

    app = Starlette(routes=[Route("/v1/chat/completions", complete, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        await task


class TestAcrossProcesses:
    async def test_the_workers_turn_links_to_the_api_request_that_stored_its_message(
        self, pg_server: Any, template_url: str
    ) -> None:
        async with (
            committed_database(pg_server, template_url, pool_size=2) as (url, sessions),
            llm_stand_in() as llm_base,
        ):
            with Collector() as collector:
                service, base = await serve_with_workers(
                    url,
                    1,
                    TOKEN,
                    OPENAI_API_KEY="sk-test",
                    OPENAI_BASE_URL=llm_base,
                    OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
                    OTEL_BSP_SCHEDULE_DELAY="100",
                    HIBACHI_TRACE_SAMPLE_RATIO="1",
                    HIBACHI_BURST_SECONDS="0",
                )
                try:
                    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                        deadline = time.monotonic() + 60
                        form = {"MessageSid": "SMXTRACE", "From": "+19165550179", "Body": "hi"}
                        sent = await client.post(WEBHOOK, **signed(base + WEBHOOK, form, TOKEN))
                        assert sent.status_code == 200
                        while True:
                            async with sessions() as session:
                                status = await session.scalar(
                                    select(Message.status).where(
                                        Message.provider_message_id == "SMXTRACE"
                                    )
                                )
                            if status == "processed":
                                break
                            assert time.monotonic() < deadline, f"not answered ({status})"
                            await asyncio.sleep(0.2)

                    def complete(spans: list[Span]) -> bool:
                        return any(s.name == "turn" for s in spans) and any(
                            s.name == f"POST {WEBHOOK}" for s in spans
                        )

                    spans = await spans_arrived(collector, 20, complete)
                finally:
                    service.terminate()
                    await service.wait()

        (request,) = [s for s in spans if s.name == f"POST {WEBHOOK}"]
        turns = [
            s
            for s in spans
            if s.name == "turn" and s.attributes["hibachi.kind"] == "customer_message"
        ]
        (turn,) = turns
        assert request.process == "api" and turn.process == "worker"
        assert turn.links == ((request.trace_id, request.span_id),)
        nodes = [s for s in spans if s.parent_id == turn.span_id]
        assert {"node load_context", "node classify", "node deliver"} <= {s.name for s in nodes}
        assert all(s.process == "worker" for s in nodes)
        node_ids = {s.span_id for s in nodes}
        assert any(
            s.attributes.get("db.system") == "postgresql" and s.parent_id in node_ids for s in spans
        )
        assert any(
            s.attributes.get("db.system") == "postgresql" and s.parent_id == request.span_id
            for s in spans
        ), "the API's statements are under its request"
        # The worker's call to the LLM is outgoing HTTP under its review node.
        (review,) = [s for s in nodes if s.name == "node review"]
        calls = [s for s in spans if llm_base in str(s.attributes.get("http.url"))]
        assert calls and all(s.parent_id == review.span_id for s in calls)
        assert all(s.process == "worker" for s in calls)
