"""The optional LLM: one structured call per turn that reads the message and phrases the reply.

The policy never depends on it. Its reading may replace the rules' reading (then the turn is
decided again, by the same policy code), and its phrasing is used only when every amount,
date, time, phone number and link in it also appears in the template reply it rewrote.
Any error, timeout or malformed answer leaves the turn on the rules path.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jinja2
import openai
import structlog
from pydantic import BaseModel, Field

from agent.understanding.schema import Request, Tone, Understanding
from knowledge.infra import metrics
from knowledge.infra.settings import Settings

log = structlog.get_logger(__name__)

PROMPT = Path(__file__).resolve().parents[1] / "prompts" / "system.md"

_MONEY = re.compile(r"\$\s?(\d[\d,]*(?:\.\d{1,2})?)")
_PHONE = re.compile(r"\(?\b\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}\b")
_LINK = re.compile(r"https?://[^\s<>\"')]+", re.IGNORECASE)
_TIME = re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:am|pm)\b", re.IGNORECASE)
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE = re.compile(
    rf"\b(?:(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
# Words that commit the business to something; "non-refundable" is a refusal, not a promise.
_PROMISE = re.compile(
    r"(?<![\w-])(refund\w*|reimburs\w*|waiv\w*|free\b|discount\w*|complimentary|"
    r"guarantee\w*|compensat\w*|credit\w*|money\s+back|no\s+charge|on\s+the\s+house)",
    re.IGNORECASE,
)


class LlmReading(BaseModel):
    """The model's structured answer: its reading of the message and its phrasing of the draft."""

    tone: Tone
    requests: list[Request] = Field(min_length=1)
    reply: str | None = None

    def understanding(self) -> Understanding:
        return Understanding(tone=self.tone, requests=self.requests, source="llm")


def build_llm(settings: Settings) -> Any:
    """A ChatOpenAI client on our own httpx client (timeouts, pooling, visible to respx)."""
    if not settings.llm_enabled:
        return None
    from langchain_openai import ChatOpenAI

    timeout = httpx.Timeout(
        settings.llm_timeout_seconds, connect=min(5.0, settings.llm_timeout_seconds)
    )
    return ChatOpenAI(
        model=settings.openai_model,
        api_key=settings.openai_api_key or "unused",
        base_url=settings.openai_base_url,
        http_async_client=httpx.AsyncClient(
            timeout=timeout, limits=httpx.Limits(max_connections=20)
        ),
        use_responses_api=False,
        max_retries=0,
        timeout=settings.llm_timeout_seconds,
        temperature=0,
    )


@cache
def _prompt_template() -> jinja2.Template:
    source = PROMPT.read_text(encoding="utf-8")
    template: jinja2.Template = jinja2.Template(source, undefined=jinja2.StrictUndefined)
    return template


def system_prompt(business_name: str, slugs: Iterable[str], today: str) -> str:
    return _prompt_template().render(
        business_name=business_name, slugs=", ".join(sorted(slugs)), today=today
    )


async def read_and_phrase(
    llm: Any,
    *,
    system: str,
    text: str,
    recent: Sequence[dict[str, str]],
    pending: str | None,
    draft: str | None,
    timeout: float,
) -> LlmReading | None:
    """One call; None on any failure (logged), so the caller stays on the rules path."""
    history = "\n".join(f"{line['who']}: {line['text']}" for line in recent[-6:]) or "(none)"
    user = (
        f"Recent lines:\n{history}\n\nOur last question: {pending or '(none)'}\n\n"
        f"DRAFT reply:\n{draft or '(no reply: none needed)'}\n\n"
        f"Customer's newest message:\n<<<\n{text}\n>>>"
    )
    instruments = metrics.instruments()
    started = time.perf_counter()
    try:
        structured = llm.with_structured_output(
            LlmReading, method="function_calling", include_raw=True
        )
        answer = await asyncio.wait_for(
            structured.ainvoke([("system", system), ("user", user)]), timeout
        )
    except Exception as exc:  # the LLM is optional: every failure falls back to rules
        timed_out = isinstance(exc, TimeoutError | httpx.TimeoutException | openai.APITimeoutError)
        reason = "timeout" if timed_out else "error"
        instruments.llm_calls.labels(reason).inc()
        instruments.llm_fallbacks.labels(reason).inc()
        log.warning("llm call failed; using rules", error=type(exc).__name__, detail=str(exc)[:200])
        return None
    finally:
        instruments.llm_seconds.observe(time.perf_counter() - started)
    usage = getattr(answer.get("raw"), "usage_metadata", None) or {}
    for kind in ("input_tokens", "output_tokens"):
        if usage.get(kind):
            instruments.llm_tokens.labels(kind.removesuffix("_tokens")).inc(usage[kind])
    result = answer.get("parsed")
    if not isinstance(result, LlmReading):
        instruments.llm_calls.labels("malformed").inc()
        instruments.llm_fallbacks.labels("malformed").inc()
        log.warning("llm answer malformed; using rules")
        return None
    instruments.llm_calls.labels("ok").inc()
    return result


def _money(values: Iterable[str]) -> set[Decimal]:
    found: set[Decimal] = set()
    for value in values:
        try:
            found.add(Decimal(value.replace(",", "")).normalize())
        except InvalidOperation:
            continue
    return found


def _claims(text: str) -> dict[str, set[Any]]:
    rest = text
    for pattern in (_LINK, _MONEY, _PHONE, _TIME, _DATE):
        rest = pattern.sub(" ", rest)
    return {
        "money": _money(_MONEY.findall(text)),
        "phones": {re.sub(r"\D", "", p) for p in _PHONE.findall(text)},
        "links": {link.rstrip(".,;:!?").lower() for link in _LINK.findall(text)},
        "times": {t.replace(" ", "").lower() for t in _TIME.findall(text)},
        "dates": {d.lower().replace(".", "") for d in _DATE.findall(text)},
        "numbers": _money(_NUMBER.findall(rest)),
    }


def _promises(text: str) -> set[str]:
    """The commitments a reply makes in words (a refund, a waived fee, something free)."""
    # Compared by the first five letters: "waive", "waived" and "waiver" are one promise.
    return {m.group(1).lower()[:5] for m in _PROMISE.finditer(text)}


def facts_hold(candidate: str, source: str) -> bool:
    """True when every amount, phone, link, time, date and number in the candidate is also in
    the source (the template reply, built only from the decision's facts), and it promises
    nothing in words (a refund, a waiver, something free) that the source does not."""
    said, allowed = _claims(candidate), _claims(source)
    if not all(said[key] <= allowed[key] for key in said):
        return False
    return _promises(candidate) <= _promises(source)
