"""LLM mode, with the OpenAI API mocked by respx: the model reads and phrases, policy decides,
and every failure of the model leaves the customer with the correct rules-based reply."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy.ext.asyncio import AsyncSession

from agent.graph import build_graph
from agent.llm import build_llm, facts_hold
from agent.runtime import AgentRuntime
from knowledge.infra.clock import FrozenClock
from knowledge.infra.settings import Settings
from knowledge.service import KnowledgeService
from tests.factories import make_booking, make_customer
from tests.helpers.metrics import counted

BASE = "http://llm.test/v1"
PHONE = "+19165550142"
D = timedelta(days=1)


def completion(arguments: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "LlmReading", "arguments": arguments},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def reading(reply: str | None, intent: str = "cancellation", tone: str = "casual") -> str:
    return json.dumps(
        {"tone": tone, "requests": [{"intent": intent, "entities": {}}], "reply": reply}
    )


# A mocked model answers at once, but the first call builds the client and its schemas, which
# on a loaded CI machine has taken over half a second: the answering runtime waits generously,
# and only the test of a hanging model waits briefly.
ANSWERING_TIMEOUT = 10.0
HANGING_TIMEOUT = 0.5


def make_llm_runtime(
    sessionmaker: Any,
    knowledge: KnowledgeService,
    clock: FrozenClock,
    checkpointer: Any,
    timeout: float,
) -> AgentRuntime:
    settings = Settings(openai_api_key="sk-test", openai_base_url=BASE, openai_model="test-model")
    return AgentRuntime(
        sessionmaker, knowledge, clock, checkpointer, llm=build_llm(settings), llm_timeout=timeout
    )


@pytest.fixture
async def llm_runtime(
    sessionmaker: Any, knowledge: KnowledgeService, clock: FrozenClock, checkpointer: Any
) -> AgentRuntime:
    return make_llm_runtime(sessionmaker, knowledge, clock, checkpointer, ANSWERING_TIMEOUT)


async def two_days_out(session: AsyncSession, clock: FrozenClock) -> None:
    customer = await make_customer(session, name="Dana Lee", phone=PHONE)
    await make_booking(session, customer, event_at=clock.now() + 2 * D, adults=12, kids=3)
    await session.commit()


MESSAGE = "hey we need to cancel, family emergency"
# The LLM's metrics: calls that worked, input and output tokens, all calls' latency, fallbacks.
LLM_SAMPLES: list[tuple[str, dict[str, str]]] = [
    ("hibachi_llm_calls_total", {"outcome": "ok"}),
    ("hibachi_llm_tokens_total", {"kind": "input"}),
    ("hibachi_llm_tokens_total", {"kind": "output"}),
    ("hibachi_llm_call_duration_seconds_count", {}),
    ("hibachi_llm_fallbacks_total", {"reason": "error"}),
]


class TestLlmMode:
    @respx.mock
    async def test_a_faithful_rephrasing_is_sent(
        self, llm_runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        await two_days_out(session, clock)
        phrased = (
            "So sorry to hear that, Dana. Since the party is this week, the $100 deposit is "
            "non-refundable, but management will call you shortly. You can also reach us at "
            "(916) 740-8768."
        )
        route = respx.post(f"{BASE}/chat/completions").mock(
            return_value=httpx.Response(200, json=completion(reading(phrased)))
        )
        before = [counted(name, **labels) for name, labels in LLM_SAMPLES]
        result = await llm_runtime.receive(PHONE, MESSAGE)
        assert route.call_count == 1
        assert result.reply == phrased
        assert result.outcome == "escalated"
        # Counted for the operator: one call, its tokens, no fallback.
        after = [counted(name, **labels) for name, labels in LLM_SAMPLES]
        assert [b - a for a, b in zip(before, after, strict=True)] == [1, 10, 10, 1, 0]

    @respx.mock
    async def test_an_invented_amount_falls_back_to_the_template(
        self, llm_runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        await two_days_out(session, clock)
        invented = "No problem Dana, we'll refund $50 of your deposit right away!"
        respx.post(f"{BASE}/chat/completions").mock(
            return_value=httpx.Response(200, json=completion(reading(invented)))
        )
        dropped = counted("hibachi_llm_fallbacks_total", reason="facts_not_held")
        result = await llm_runtime.receive(PHONE, MESSAGE)
        assert counted("hibachi_llm_fallbacks_total", reason="facts_not_held") == dropped + 1
        assert result.reply is not None
        assert "$50" not in result.reply
        assert "non-refundable" in result.reply

    @pytest.mark.parametrize(
        ("failure", "reason"),
        [
            (httpx.Response(500, json={"error": {"message": "boom"}}), "error"),
            (httpx.Response(200, json=completion("{not json")), "malformed"),
            (httpx.Response(200, json=completion(json.dumps({"tone": "weird"}))), "malformed"),
            (httpx.Response(200, text="<html>gateway</html>"), "error"),
            (httpx.ReadTimeout("timed out"), "timeout"),
        ],
        ids=["500", "garbage-json", "wrong-schema", "not-json-body", "timeout"],
    )
    async def test_any_failure_gives_the_rules_reply(
        self,
        llm_runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        failure: Any,
        reason: str,
    ) -> None:
        fallbacks = counted("hibachi_llm_fallbacks_total", reason=reason)
        await two_days_out(session, clock)
        with respx.mock:
            route = respx.post(f"{BASE}/chat/completions")
            if isinstance(failure, Exception):
                route.mock(side_effect=failure)
            else:
                route.mock(return_value=failure)
            result = await llm_runtime.receive(PHONE, MESSAGE)
        assert (result.intent, result.outcome) == ("cancellation", "escalated")
        assert result.reply is not None and "non-refundable" in result.reply
        assert counted("hibachi_llm_fallbacks_total", reason=reason) == fallbacks + 1

    async def test_a_hanging_model_is_abandoned_after_the_timeout(
        self,
        sessionmaker: Any,
        knowledge: KnowledgeService,
        checkpointer: Any,
        session: AsyncSession,
        clock: FrozenClock,
    ) -> None:
        llm_runtime = make_llm_runtime(
            sessionmaker, knowledge, clock, checkpointer, HANGING_TIMEOUT
        )
        await two_days_out(session, clock)

        async def hang(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(ANSWERING_TIMEOUT)
            return httpx.Response(200, json=completion(reading("late")))

        with respx.mock:
            respx.post(f"{BASE}/chat/completions").mock(side_effect=hang)
            started = asyncio.get_running_loop().time()
            result = await llm_runtime.receive(PHONE, MESSAGE)
            elapsed = asyncio.get_running_loop().time() - started
        assert elapsed < HANGING_TIMEOUT + 1.0
        assert result.reply is not None and "non-refundable" in result.reply

    @respx.mock
    async def test_the_models_reading_is_decided_by_the_same_policy(
        self, llm_runtime: AgentRuntime, session: AsyncSession, clock: FrozenClock
    ) -> None:
        await two_days_out(session, clock)
        # The reader reads "sit this one out" as nothing in particular; the model reads a
        # cancellation and even phrases a refund — the policy still says non-refundable.
        respx.post(f"{BASE}/chat/completions").mock(
            return_value=httpx.Response(
                200, json=completion(reading("Full refund coming your way!", "cancellation"))
            )
        )
        result = await llm_runtime.receive(
            PHONE, "looks like the stars didn't align, we'll sit this one out"
        )
        assert (result.intent, result.outcome, result.llm) == (
            "cancellation",
            "escalated",
            "reread",
        )
        assert result.reply is not None
        assert "non-refundable" in result.reply and "Full refund" not in result.reply

    @respx.mock
    async def test_the_model_is_told_the_question_the_customer_answers(
        self,
        runtime: AgentRuntime,
        llm_runtime: AgentRuntime,
        session: AsyncSession,
        clock: FrozenClock,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr("agent.nodes.decide.CONFIDENT", 1.01)  # every change read back
        customer = await make_customer(session, name="Dana Lee", phone=PHONE)
        await make_booking(session, customer, event_at=clock.now() + 10 * D, adults=12)
        await session.commit()
        asked = await runtime.receive(PHONE, "add 2 more adults please")
        assert asked.pending == "confirm_change"
        route = respx.post(f"{BASE}/chat/completions").mock(
            return_value=httpx.Response(200, json=completion(reading(None, "other")))
        )
        await llm_runtime.receive(PHONE, "yes")
        prompt = route.calls.last.request.content.decode()
        # What our last message asked, not what this turn's decision asks next.
        assert "Our last question: confirm_change" in prompt

    def test_the_re_read_is_an_edge_of_the_graph(self) -> None:
        edges = {(e.source, e.target) for e in build_graph().get_graph().edges}
        assert {("decide", "review"), ("review", "decide"), ("review", "act")} <= edges


class TestFactCheck:
    @pytest.mark.parametrize(
        ("candidate", "ok"),
        [
            ("Deposit is $100, call (916) 740-8768.", True),
            ("Deposit is $100.00, call 916-740-8768.", True),
            ("Deposit is $90.", False),
            ("Call 916-555-0000.", False),
            ("See https://evil.example/x", False),
            ("See you at 7pm", False),
            ("See you on June 14", False),
        ],
    )
    def test_only_facts_from_the_source(self, candidate: str, ok: bool) -> None:
        source = "The $100 deposit is non-refundable. Call (916) 740-8768."
        assert facts_hold(candidate, source) is ok

    @pytest.mark.parametrize(
        ("candidate", "source", "ok"),
        [
            ("Your deposit will be refunded in full!", "The deposit is non-refundable.", False),
            ("Sadly the deposit is non-refundable.", "The deposit is non-refundable.", True),
            ("Good news, the fee is waived.", "We waive the fee this once.", True),
            ("The extra rice is on the house!", "Extra fried rice is $5.", False),
            ("We'll give you a credit for next time.", "A manager will call you.", False),
        ],
    )
    def test_no_promise_in_words_the_source_does_not_make(
        self, candidate: str, source: str, ok: bool
    ) -> None:
        assert facts_hold(candidate, source) is ok
