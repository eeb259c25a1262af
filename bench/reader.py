"""The reader's speed and memory on the frozen test split, and optionally a model's reading.

Times `Reader.understand` per message (the normaliser, the rules, the learned model and the
concern cues; the model loaded and warmed first), and measures how much a process grows by
loading the reader. With `--llm`, the configured OpenAI-compatible model reads the same split
through the agent's own LLM reading (`agent.llm.read_and_phrase`), so a business can compare
its accuracy and cost with the reader's; that needs OPENAI_API_KEY (or OPENAI_BASE_URL).

    .venv/bin/python bench/reader.py [--rounds 5] [--llm] [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import _path  # noqa: F401  (must come first: see bench/_path.py)
import psutil

from agent.understanding import corpus as corpora
from agent.understanding.report import evaluate
from agent.understanding.training import context_for, default_vocabulary


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def reader_figures(rounds: int) -> dict[str, Any]:
    process = psutil.Process()
    before = process.memory_info().rss
    from agent.understanding.reader import default_reader
    from agent.understanding.rules import warm_up

    reader = default_reader()
    warm_up()
    examples = corpora.load().split("test")
    vocabulary = default_vocabulary()
    for ex in examples[:50]:
        reader.understand(ex.text, context_for(ex), vocabulary)
    grown = process.memory_info().rss - before
    timings: list[float] = []
    for _ in range(rounds):
        for ex in examples:
            context = context_for(ex)
            started = time.perf_counter()
            reader.understand(ex.text, context, vocabulary)
            timings.append((time.perf_counter() - started) * 1000)
    figures = evaluate(examples, read=reader.understand).figures
    return {
        "messages": len(examples),
        "reader_p50_ms": round(pct(timings, 0.5), 3),
        "reader_p99_ms": round(pct(timings, 0.99), 3),
        "reader_max_ms": round(max(timings), 3),
        "reader_load_rss_mb": round(grown / 2**20, 1),
        "intent_accuracy": figures["intent_accuracy"],
        "all_intents_accuracy": figures["all_intents_accuracy"],
        "tone_accuracy": figures["tone_accuracy"],
    }


async def llm_figures(limit: int | None) -> dict[str, Any]:
    from agent.llm import build_llm, read_and_phrase, system_prompt
    from agent.understanding.schema import Request, Understanding
    from agent.understanding.vocabulary import Vocabulary
    from knowledge.infra.settings import load_settings
    from knowledge.seed import read_seed

    settings = load_settings()
    llm = build_llm(settings)
    if llm is None:
        raise SystemExit("--llm needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local model)")
    vocabulary = Vocabulary.from_seed(read_seed())
    system = system_prompt("My Hibachi", [*vocabulary.proteins, *vocabulary.upgrades], "2026-06-10")
    examples = corpora.load().split("test")[:limit]
    readings: dict[str, Understanding] = {}
    timings: list[float] = []
    failures = 0
    for ex in examples:
        started = time.perf_counter()
        reading = await read_and_phrase(
            llm,
            system=system,
            text=ex.text,
            recent=[],
            pending=ex.pending,
            draft="",
            timeout=settings.llm_timeout_seconds,
        )
        timings.append((time.perf_counter() - started) * 1000)
        if reading is None:
            failures += 1
        else:
            readings[ex.id] = reading.understanding()

    def read(text: str, context: Any, vocabulary: Any) -> Understanding:
        example = next(e for e in examples if e.text == text)
        fallback = Understanding(tone="neutral", requests=[Request(intent="other")])
        return readings.get(example.id, fallback)

    figures = evaluate(examples, read=read).figures
    return {
        "llm_messages": len(examples),
        "llm_failures": failures,
        "llm_p50_ms": round(statistics.median(timings), 1) if timings else None,
        "llm_intent_accuracy": figures["intent_accuracy"],
        "llm_all_intents_accuracy": figures["all_intents_accuracy"],
        "llm_tone_accuracy": figures["tone_accuracy"],
        "llm_safety_recall": figures["safety_recall"],
        "llm_false_changes": figures["false_changes"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="passes over the test split")
    parser.add_argument("--llm", action="store_true", help="also read the split with the LLM")
    parser.add_argument("--limit", type=int, help="with --llm: only the first N messages")
    args = parser.parse_args()
    result = reader_figures(args.rounds)
    if args.llm:
        result |= asyncio.run(llm_figures(args.limit))
    for key, value in result.items():
        print(f"{key:<26} {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
