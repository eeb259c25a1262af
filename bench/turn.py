"""Turn latency of the agent graph on the embedded PostgreSQL, with two floors to compare.

Rules mode by default: N turns of mixed customer messages, timed around `AgentRuntime.handle`
(the inbound rows are stored beforehand, as the webhook does). Reports p50/p99, the share of
time in our nodes, in the database (SQLAlchemy statements, commit, checkpoints) and in the
graph framework, and two floors measured in the same run: a one-node LangGraph graph with the
same checkpointer, and one raw asyncpg read-and-write round trip.

With --llm, a local OpenAI-compatible stub on loopback answers the model calls; the run then
reports LLM calls and prompt size per turn.

    .venv/bin/python bench/turn.py [--turns 1000] [--llm]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

import _path  # noqa: F401  (must come first: see bench/_path.py)
import asyncpg
from sqlalchemy import event

import agent.graph as graph_module
from agent.runtime import AgentRuntime, postgres_checkpointer, postgres_checkpointers
from agent.state import TurnEvent
from api.assembly import build_core
from knowledge import migrate
from knowledge.db import asyncpg_dsn, open_database, unit_of_work
from knowledge.infra.clock import FrozenClock
from knowledge.infra.settings import Settings, load_settings
from knowledge.models import Booking
from knowledge.seed import load_seed
from tools import bookings
from tools.outbox import record_inbound

MESSAGES = [
    "how much do kids cost?",
    "we'll be 14 adults now",
    "chicken and steak please",
    "can you cook inside my garage?",
    "hi there!",
    "gate code is 4321, park on the street",
    "is the deposit refundable",
    "2 more adults",
]


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


class Timers:
    def __init__(self) -> None:
        self.node = 0.0  # inside our node functions (their SQL included)
        self.node_sql = 0.0  # SQL statements issued by our nodes
        self.checkpoint = 0.0  # the LangGraph saver's reads and writes
        self.graph = 0.0  # inside graph.ainvoke
        self.in_node = False


def timed_node(fn: Callable[..., Awaitable[Any]], timers: Timers) -> Callable[..., Awaitable[Any]]:
    async def wrapper(state: Any, runtime: Any) -> Any:
        start = time.perf_counter()
        timers.in_node = True
        try:
            return await fn(state, runtime)
        finally:
            timers.in_node = False
            timers.node += time.perf_counter() - start

    wrapper.__name__ = fn.__name__
    return wrapper


def timed_graph(fn: Callable[..., Awaitable[Any]], timers: Timers) -> Callable[..., Awaitable[Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            timers.graph += time.perf_counter() - start

    return wrapper


def timed_saver(saver: Any, timers: Timers) -> None:
    for name in ("aget_tuple", "aput", "aput_writes"):
        original = getattr(saver, name)

        def make(orig: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return await orig(*args, **kwargs)
                finally:
                    timers.checkpoint += time.perf_counter() - start

            return wrapper

        setattr(saver, name, make(original))


class OneState(TypedDict, total=False):
    n: int


async def one_node_floor(saver: Any, rounds: int) -> float:
    from langgraph.graph import END, START, StateGraph

    async def bump(state: OneState) -> OneState:
        return {"n": state.get("n", 0) + 1}

    g = StateGraph(OneState)
    g.add_node("bump", bump)
    g.add_edge(START, "bump")
    g.add_edge("bump", END)
    compiled = g.compile(checkpointer=saver)
    samples = []
    for i in range(rounds):
        start = time.perf_counter()
        await compiled.ainvoke(
            {"n": i}, config={"configurable": {"thread_id": "floor"}}, durability="exit"
        )
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def asyncpg_floor(url: str, booking_id: int, rounds: int) -> float:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        async with conn.transaction():
            adults = await conn.fetchval("SELECT adults FROM bookings WHERE id = $1", booking_id)
            await conn.execute("UPDATE bookings SET adults = $1 WHERE id = $2", adults, booking_id)
        samples.append(time.perf_counter() - start)
    await conn.close()
    return statistics.median(samples)


def start_llm_stub(port: int, calls: list[int]) -> threading.Thread:
    """An OpenAI-compatible stub: agrees with whatever the draft says and returns it."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        calls.append(len(json.dumps(body["messages"])))
        user = body["messages"][-1]["content"]
        draft = user.split("DRAFT reply:\n", 1)[1].split("\n\nCustomer's newest", 1)[0]
        args = {
            "tone": "neutral",
            "requests": [{"intent": "other", "entities": {}}],
            "reply": draft,
        }
        return JSONResponse(
            {
                "id": "stub",
                "object": "chat.completion",
                "created": 0,
                "model": "stub",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "tool_calls",
                        "message": {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "c1",
                                    "type": "function",
                                    "function": {
                                        "name": "LlmReading",
                                        "arguments": json.dumps(args),
                                    },
                                }
                            ],
                        },
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    time.sleep(1.0)
    return thread


async def concurrent_throughput(
    settings: Settings,
    database: Any,
    clock: FrozenClock,
    savers: int,
    conversations: int,
    per_conversation: int,
) -> dict[str, float]:
    """Turns per second with `conversations` customers writing at once."""
    async with unit_of_work(database.sessionmaker) as session:
        plans: list[tuple[int, list[int]]] = []
        for c in range(conversations):
            customer = await bookings.get_or_create_customer(
                session, f"+1916556{savers}{c:03d}", name=f"Load {c}"
            )
            session.add(
                Booking(
                    reference=f"MH-L{savers}{c:03d}",
                    customer_id=customer.id,
                    event_at=clock.now() + timedelta(days=30),
                    created_at=clock.now() - timedelta(days=30),
                    address="1 Load Way",
                    adults=12,
                )
            )
            conversation = await bookings.get_or_create_conversation(session, customer.id, "sms")
            ids = [
                (await record_inbound(session, conversation, MESSAGES[i % len(MESSAGES)])).id
                for i in range(per_conversation)
            ]
            plans.append((conversation.id, ids))
    async with postgres_checkpointers(database.url, savers, max_size=conversations) as pool:
        runtime = build_core(settings, database.sessionmaker, clock, pool, llm=None).runtime
        latencies: list[float] = []

        async def one(conversation_id: int, ids: list[int]) -> None:
            for message_id in ids:
                start = time.perf_counter()
                await runtime.handle(
                    TurnEvent(
                        kind="customer_message",
                        conversation_id=conversation_id,
                        message_id=message_id,
                    )
                )
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(one(cid, ids) for cid, ids in plans))
        elapsed = time.perf_counter() - started
    return {
        "turns_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(pct(latencies, 0.99) * 1000, 2),
    }


async def main(turns: int, use_llm: bool, concurrency: int) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="hibachi-bench-turn-"))
    settings = load_settings(data_dir=data_dir)
    database = await open_database(settings)
    await migrate.upgrade_async(database.url)
    async with unit_of_work(database.sessionmaker) as session:
        await load_seed(session)

    clock = FrozenClock(datetime(2026, 6, 10, 22, 0, tzinfo=UTC))
    async with unit_of_work(database.sessionmaker) as session:
        customer = await bookings.get_or_create_customer(session, "+19165550177", name="Bench")
        booking = Booking(
            reference="MH-BENCH",
            customer_id=customer.id,
            event_at=clock.now() + timedelta(days=30),
            created_at=clock.now() - timedelta(days=30),
            address="1 Bench Way",
            adults=12,
            kids=2,
        )
        session.add(booking)
        conversation = await bookings.get_or_create_conversation(session, customer.id, "sms")
        await session.flush()
        conversation_id, booking_id = conversation.id, booking.id

    llm = None
    llm_calls: list[int] = []
    if use_llm:
        from agent.llm import build_llm

        start_llm_stub(8765, llm_calls)
        llm = build_llm(
            load_settings(openai_api_key="stub", openai_base_url="http://127.0.0.1:8765/v1")
        )

    async def messages(count: int) -> list[int]:
        async with unit_of_work(database.sessionmaker) as session:
            conversation = await bookings.get_or_create_conversation(session, customer.id, "sms")
            return [
                (await record_inbound(session, conversation, MESSAGES[i % len(MESSAGES)])).id
                for i in range(count)
            ]

    async def run(runtime: AgentRuntime, ids: list[int], warmup: int = 20) -> list[float]:
        samples: list[float] = []
        for message_id in ids:
            start = time.perf_counter()
            await runtime.handle(
                TurnEvent(
                    kind="customer_message", conversation_id=conversation_id, message_id=message_id
                )
            )
            samples.append(time.perf_counter() - start)
        return samples[warmup:]

    async with postgres_checkpointer(database.url) as saver:
        # Pass 1, uninstrumented: the latency figures.
        plain = build_core(settings, database.sessionmaker, clock, saver, llm=llm).runtime
        samples = await run(plain, await messages(turns + 20))
        calls_in_pass_1 = list(llm_calls)
        # What the conversation's checkpoint holds after the run (each turn writes one).
        saved = await saver.aget_tuple(
            {"configurable": {"thread_id": f"conversation-{conversation_id}"}}
        )
        checkpoint_bytes = len(saver.serde.dumps_typed(saved.checkpoint)[1]) if saved else 0

        # Pass 2, instrumented: where the time goes.
        timers = Timers()
        # The graph is built from `agent.graph.NODES`: wrapping its entries times every node.
        for name, node in list(graph_module.NODES.items()):
            graph_module.NODES[name] = timed_node(node, timers)

        def on_before(
            conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any
        ) -> None:
            conn.info["t0"] = time.perf_counter()

        def on_after(
            conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any
        ) -> None:
            if timers.in_node:
                timers.node_sql += time.perf_counter() - conn.info.pop("t0", time.perf_counter())

        event.listen(database.engine.sync_engine, "before_cursor_execute", on_before)
        event.listen(database.engine.sync_engine, "after_cursor_execute", on_after)
        timed_saver(saver, timers)
        runtime = build_core(settings, database.sessionmaker, clock, saver, llm=llm).runtime
        for graph in runtime.graphs:
            graph.ainvoke = timed_graph(graph.ainvoke, timers)
        ids = await messages(min(turns, 300) + 20)
        await run(runtime, ids[:20])
        timers.__init__()  # type: ignore[misc]
        measured = await run(runtime, ids[20:], warmup=0)
        total = sum(measured) if measured else 1.0
        n = max(len(measured), 1)
        breakdown = {
            "our_node_code_ms": 1000 * (timers.node - timers.node_sql) / n,
            "node_sql_ms": 1000 * timers.node_sql / n,
            "checkpoint_ms": 1000 * timers.checkpoint / n,
            "graph_framework_ms": 1000 * (timers.graph - timers.node - timers.checkpoint) / n,
            "transaction_ms": 1000 * (total - timers.graph) / n,  # lock, begin, commit, session
        }
        mean_ms = 1000 * total / n
        floor_graph = await one_node_floor(saver, 300)
    floor_asyncpg = await asyncpg_floor(database.url, booking_id, 300)
    loads: dict[str, Any] = {}
    if concurrency > 1:
        for savers in (1, 4):
            loads[f"concurrent_{concurrency}_savers_{savers}"] = await concurrent_throughput(
                settings, database, clock, savers, concurrency, max(turns // concurrency, 10)
            )
    await database.dispose()
    if database.server is not None:
        database.server.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)

    p50 = statistics.median(samples)
    figures: dict[str, Any] = {
        "bench": "turn",
        "mode": "llm" if use_llm else "rules",
        "turns": len(samples),
        "p50_ms": round(p50 * 1000, 3),
        "p99_ms": round(pct(samples, 0.99) * 1000, 3),
        **{k: round(v, 3) for k, v in breakdown.items()},
        "share_our_nodes": round(breakdown["our_node_code_ms"] / mean_ms, 3),
        "share_database": round(
            (breakdown["node_sql_ms"] + breakdown["checkpoint_ms"] + breakdown["transaction_ms"])
            / mean_ms,
            3,
        ),
        "share_framework": round(breakdown["graph_framework_ms"] / mean_ms, 3),
        "floor_one_node_graph_p50_ms": round(floor_graph * 1000, 3),
        "floor_asyncpg_round_trip_p50_ms": round(floor_asyncpg * 1000, 3),
        "p50_over_one_node_graph": round(p50 / floor_graph, 2),
        "p50_over_asyncpg": round(p50 / floor_asyncpg, 2),
        "checkpoint_bytes": checkpoint_bytes,
    }
    figures |= loads
    if use_llm:
        figures["llm_calls_per_turn"] = round(len(calls_in_pass_1) / (turns + 20), 3)
        figures["prompt_chars_per_call_p50"] = (
            statistics.median(calls_in_pass_1) if calls_in_pass_1 else 0
        )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--llm", action="store_true", help="use a local OpenAI-compatible stub")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="conversations at once for the throughput run (1 skips it)",
    )
    args = parser.parse_args()
    result = asyncio.run(main(args.turns, args.llm, args.concurrency))
    for key, value in result.items():
        print(f"{key:34} {value}")
    print(json.dumps(result))
