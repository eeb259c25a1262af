"""A whole evaluation run: a scratch database, the scenario files, K runs of each."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker

from agent.runtime import postgres_checkpointer
from evals.report import ScenarioRuns
from evals.runner import Failure, Harness, ScenarioResult
from evals.schema import Scenario, ScenarioError, find_scenarios, load_scenario
from knowledge import migrate
from knowledge.db import asyncpg_dsn, make_engine, unit_of_work
from knowledge.infra import embedded
from knowledge.seed import load_seed


@dataclass
class Selection:
    """Which scenarios to run: any of the tags, and a substring of the name."""

    tags: set[str] = field(default_factory=set)
    name: str | None = None

    def wants(self, scenario: Scenario) -> bool:
        if self.tags and not self.tags & set(scenario.tags):
            return False
        return self.name is None or self.name in scenario.name


@dataclass
class Loaded:
    scenarios: list[tuple[Path, Scenario]]
    broken: list[ScenarioRuns]  # files that are not valid scenarios, reported as failures


def _broken(path: Path, message: str) -> ScenarioRuns:
    failure = Failure("scenario", "a valid scenario file", message)
    result = ScenarioResult(name=path.stem, file=str(path), error=failure)
    return ScenarioRuns(name=path.stem, file=str(path), runs=[result])


def load_all(paths: list[Path], selection: Selection) -> Loaded:
    """Every scenario under the paths that the selection wants; a file that does not load is
    kept as a failed entry (with the file, step and field) rather than stopping the run."""
    loaded = Loaded(scenarios=[], broken=[])
    seen: dict[str, Path] = {}
    for path in find_scenarios(paths):
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            loaded.broken.append(_broken(path, str(exc)))
            continue
        if scenario.name in seen:
            message = f"{path}: name: '{scenario.name}' is also the name of {seen[scenario.name]}"
            loaded.broken.append(_broken(path, message))
            continue
        seen[scenario.name] = path
        if selection.wants(scenario):
            loaded.scenarios.append((path, scenario))
    return loaded


async def _on_server(url: str, *statements: str) -> None:
    """Run statements on the server of `url`, connected to its `postgres` database."""
    admin_url = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    admin = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        for statement in statements:
            await admin.execute(statement)
    finally:
        await admin.close()


async def prepare(url: str) -> None:
    """Create the database at `url` afresh, migrated and seeded."""
    name = make_url(url).database
    await _on_server(
        url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )
    await migrate.upgrade_async(url)
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with unit_of_work(async_sessionmaker(engine, expire_on_commit=False)) as session:
            await load_seed(session)
    finally:
        await engine.dispose()


async def drop(url: str) -> None:
    await _on_server(url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@asynccontextmanager
async def scratch_database(database_url: str | None) -> AsyncIterator[str]:
    """A migrated, seeded database used for one run and dropped after it: next to
    DATABASE_URL's database when one is set, else on a throw-away embedded server."""
    name = f"hibachi_eval_{os.getpid()}"
    server = None
    data_dir: Path | None = None
    if database_url:
        url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="hibachi-eval-"))
        server = embedded.start_server(data_dir)
        url = embedded.server_url(server, name)
    try:
        await prepare(url)
        yield url
    finally:
        try:
            await drop(url)
        finally:
            if server is not None:
                server.cleanup()
            if data_dir is not None:
                shutil.rmtree(data_dir, ignore_errors=True)


async def run_all(
    url: str,
    scenarios: list[tuple[Path, Scenario]],
    *,
    repeat: int = 1,
    llm: Any = None,
    llm_timeout: float = 8.0,
    on_run: Callable[[str], None] | None = None,
) -> list[ScenarioRuns]:
    """Run each scenario `repeat` times, in file order; `on_run` hears each finished run."""
    engine = make_engine(url, pool_size=2, max_overflow=2)
    results: list[ScenarioRuns] = []
    try:
        async with postgres_checkpointer(url, max_size=2) as saver:
            harness = Harness(engine, saver, llm=llm, llm_timeout=llm_timeout)
            for path, scenario in scenarios:
                runs = ScenarioRuns(name=scenario.name, file=str(path), runs=[])
                for _ in range(repeat):
                    runs.runs.append(await harness.run(scenario, path))
                    if on_run is not None:
                        on_run(scenario.name)
                results.append(runs)
    finally:
        await engine.dispose()
    return results
