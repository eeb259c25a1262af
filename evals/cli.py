"""`hibachi eval`: replay scenarios and score the agent; `hibachi eval record` turns a stored
conversation into a scenario.

It adds `eval` to the service's `hibachi` command (`api.cli`) through the `hibachi.commands`
entry point, since the harness sits above everything it exercises and the product never
imports it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from api.cli import app, friendly
from knowledge.errors import ConfigError
from knowledge.infra.settings import load_settings

# The harness (and through it the agent, its reader and LangGraph) is imported by the command
# that runs it, not here: every `hibachi` command loads this module to learn of `eval`, and
# `hibachi migrate` or `hibachi users add` would otherwise wait seconds for the whole agent.
if TYPE_CHECKING:
    from evals import report

# Logs (CI) get wide lines rather than a table folded at 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


class _RunByDefault(TyperGroup):
    """`hibachi eval PATH…` means `hibachi eval run PATH…`; `record` is the other command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_RunByDefault,
    help="Replay scenario files against the agent and score it.",
    no_args_is_help=False,
)
app.add_typer(eval_app, name="eval")


def _tags(value: list[str] | None) -> set[str]:
    return {tag.strip() for item in value or [] for tag in item.split(",") if tag.strip()}


def _llm() -> tuple[Any, float]:
    from agent.llm import build_llm

    settings = load_settings()
    model = build_llm(settings)
    if model is None:
        raise ConfigError("--llm needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local model)")
    return model, settings.llm_timeout_seconds


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]eval[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=err,
        transient=True,
    )


@eval_app.command("run")
@friendly
def run_command(
    paths: Annotated[
        list[Path], typer.Argument(help="Scenario files or folders (searched for *.yaml).")
    ],
    report_to: Annotated[
        tuple[str, Path] | None,
        typer.Option(
            "--report", metavar="json FILE", help="Also write a JSON report (- = stdout)."
        ),
    ] = None,
    llm: Annotated[
        bool, typer.Option("--llm", help="Use the configured OpenAI-compatible model.")
    ] = False,
    repeat: Annotated[int, typer.Option(min=1, max=100, help="Runs per scenario (pass^k).")] = 1,
    tags: Annotated[
        list[str] | None, typer.Option("--tags", help="Only scenarios with any of these tags.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("-k", help="Only scenarios whose name contains this.")
    ] = None,
) -> None:
    """Run every scenario under PATHS, print a table and a summary; exit 1 if any fails."""
    from evals import report
    from evals.suite import Selection, load_all, run_all, scratch_database

    if report_to is not None and report_to[0] != "json":
        raise ConfigError(f"--report: unknown format '{report_to[0]}'; use --report json FILE")
    loaded = load_all(paths, Selection(tags=_tags(tags), name=name))
    if not loaded.scenarios and not loaded.broken:
        raise ConfigError("no scenario matches the paths and filters given")
    model, timeout = _llm() if llm else (None, 8.0)
    settings = load_settings()

    async def work() -> list[report.ScenarioRuns]:
        with _progress() as progress:
            task = progress.add_task("", total=len(loaded.scenarios) * repeat)

            def advance(finished: str) -> None:
                progress.update(task, advance=1, description=finished)

            async with scratch_database(settings.database_url) as url:
                return await run_all(
                    url,
                    loaded.scenarios,
                    repeat=repeat,
                    llm=model,
                    llm_timeout=timeout,
                    on_run=advance,
                )

    results = loaded.broken + asyncio.run(work())
    to_stdout = report_to is not None and str(report_to[1]) == "-"
    report.print_report(err if to_stdout else out, results)
    if report_to is not None:
        text = report.dumps(results)
        if to_stdout:
            sys.stdout.write(text + "\n")
        else:
            report_to[1].write_text(text + "\n", encoding="utf-8")
            err.print(f"report written to {report_to[1]}", highlight=False)
    if not all(r.passed for r in results):
        raise typer.Exit(1)


@eval_app.command("faq")
@friendly
def faq_command(
    split: Annotated[
        str, typer.Option(help="Which questions: test (frozen), dev (to work on) or all.")
    ] = "test",
    errors: Annotated[bool, typer.Option("--errors", help="List every wrong reply.")] = False,
) -> None:
    """Text each labelled FAQ question to the agent and score the replies: the right FAQ's
    answer, a wrong one, none; questions no FAQ answers left alone. Ends with a JSON line."""
    from evals import faq
    from evals.suite import scratch_database

    if split not in (*faq.SPLITS, "all"):
        raise ConfigError(f"--split: unknown split '{split}'; use dev, test or all")
    questions = faq.load(split=None if split == "all" else split)
    settings = load_settings()

    async def work() -> faq.FaqReport:
        with _progress() as progress:
            task = progress.add_task("", total=len(questions))

            def advance(finished: str) -> None:
                progress.update(task, advance=1, description=finished)

            async with scratch_database(settings.database_url) as url:
                return await faq.measure(url, questions, on_done=advance)

    result = asyncio.run(work())
    figures = result.figures()
    out.print(f"FAQ questions ({split}): {figures['questions']}", highlight=False)
    out.print(
        f"  answerable {len(result.answerable)}: right answer {figures['right_answer']:.1%}, "
        f"wrong answer {figures['wrong_answer']:.1%}, no answer {figures['no_answer']:.1%} "
        f"(handed to the team {figures['handed_to_team']:.1%})",
        highlight=False,
    )
    out.print(
        f"  no FAQ answers them {len(result.unanswerable)}: left alone "
        f"{figures['unanswerable_left_alone']:.1%}",
        highlight=False,
    )
    for style, share in figures["styles"].items():
        out.print(f"  {style:<14} {share:.1%}", highlight=False)
    out.print("most frequent misses (asked -> answered):", highlight=False)
    for (asked, given), count in result.misses().most_common(10):
        out.print(f"  {count:>3}  {asked or '(none)'} -> {given}", highlight=False)
    if errors:
        for a in result.answered:
            if not a.right:
                given = ", ".join(a.given) or "-"
                out.print(f"  {a.question.id} {a.question.text!r}: {given}", highlight=False)
                out.print(f"      {a.outcome}: {a.reply[:160]}", highlight=False)
    out.print(json.dumps(figures), highlight=False, soft_wrap=True)


@eval_app.command("record")
@friendly
def record_command(
    conversation_id: Annotated[int, typer.Argument(help="The stored conversation to record.")],
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the scenario here (default stdout).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="The scenario's name.")] = None,
) -> None:
    """Write a scenario from a stored conversation, its observed outcomes as expectations."""
    from evals.record import record, to_yaml
    from knowledge.db import open_database

    settings = load_settings()

    async def work() -> dict[str, Any]:
        database = await open_database(settings)
        try:
            async with database.sessionmaker() as session:
                return await record(session, conversation_id, name=name)
        finally:
            await database.dispose()

    text = to_yaml(asyncio.run(work()))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"scenario written to {output}", highlight=False)


def main() -> None:
    from api.cli import main as service_main

    service_main()
