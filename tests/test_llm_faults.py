"""The LLM endpoint misbehaving on a real socket: a local stub server on loopback that answers
500, 429 with a long Retry-After, hangs, streams garbage, drops the connection, or invents
facts. Every turn still gets the correct rules-based reply within the timeout plus 1 s.

Shown failing once by disabling the mechanism: with the `asyncio.wait_for` and the HTTP
client's timeouts taken out of `agent/llm.py`, the "hang" case took 30.2 s (the stub's whole
sleep) and failed the time bound; with `facts_hold` made to accept anything, the "invents"
case sent the invented "$50" refund.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from agent.llm import build_llm
from agent.runtime import AgentRuntime
from knowledge.infra.clock import FrozenClock
from knowledge.infra.settings import Settings
from knowledge.service import KnowledgeService
from tests.test_agent_llm import MESSAGE, PHONE, completion, reading, two_days_out

TIMEOUT = 1.0


def _response(status: str, body: bytes, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{extra}connection: close\r\n\r\n"
    )
    return head.encode() + body


async def _serve_mode(
    mode: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await reader.readuntil(b"\r\n\r\n")
    if mode == "500":
        writer.write(_response("500 Internal Server Error", b'{"error": {"message": "boom"}}'))
    elif mode == "429":
        writer.write(
            _response(
                "429 Too Many Requests",
                b'{"error": {"message": "slow down", "type": "rate_limit"}}',
                "retry-after: 30\r\n",
            )
        )
    elif mode == "hang":
        await asyncio.sleep(30)
    elif mode == "garbage":
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
        for _ in range(20):
            writer.write(b"data: \x00\xff{{{not json\n\n")
            await writer.drain()
            await asyncio.sleep(0.01)
    elif mode == "drop":
        pass  # close without a word
    elif mode == "invents":
        invented = "No problem Dana, we'll refund $50 of your deposit right away!"
        writer.write(_response("200 OK", json.dumps(completion(reading(invented))).encode()))
    await writer.drain()
    writer.close()


@pytest.fixture
async def stub() -> AsyncIterator[dict[str, Any]]:
    """A misbehaving OpenAI-compatible server on 127.0.0.1; set `state["mode"]` per test."""
    state: dict[str, Any] = {"mode": "500", "requests": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state["requests"] += 1
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await _serve_mode(state["mode"], reader, writer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    state["base_url"] = f"http://127.0.0.1:{port}/v1"
    async with server:
        yield state
        server.close()


@pytest.mark.parametrize("mode", ["500", "429", "hang", "garbage", "drop", "invents"])
async def test_every_fault_leaves_the_rules_reply_in_time(
    mode: str,
    stub: dict[str, Any],
    sessionmaker: Any,
    session: AsyncSession,
    clock: FrozenClock,
    checkpointer: Any,
) -> None:
    stub["mode"] = mode
    settings = Settings(
        openai_api_key="sk-test",
        openai_base_url=stub["base_url"],
        openai_model="test-model",
        llm_timeout_seconds=TIMEOUT,
    )
    runtime = AgentRuntime(
        sessionmaker,
        KnowledgeService(clock=clock),
        clock,
        checkpointer,
        llm=build_llm(settings),
        llm_timeout=TIMEOUT,
    )
    await two_days_out(session, clock)
    started = time.perf_counter()
    result = await runtime.receive(PHONE, MESSAGE)
    elapsed = time.perf_counter() - started
    assert stub["requests"] >= 1  # the model was really asked
    assert elapsed < TIMEOUT + 1.0
    assert (result.intent, result.outcome) == ("cancellation", "escalated")
    assert result.reply is not None and "non-refundable" in result.reply
    assert "$50" not in result.reply
