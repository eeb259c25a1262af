"""Worker processes beside the API (`hibachi serve --workers N`): started with it, restarted
if one dies, stopped with it.

Each runs `hibachi worker` (turns, scheduler, outbox, alerts) at a lower priority than the API,
so acknowledging a webhook never queues behind turns, and stops by itself if the service is
gone, however it ended (even by SIGKILL), so no worker outlives it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)

WORKER_NICENESS = 10


class WorkerProcesses:
    def __init__(
        self,
        count: int,
        database_url: str,
        *,
        check_every: float = 1.0,
        on_start: Callable[[int], None] | None = None,
    ) -> None:
        self.count = count
        self.env = {**os.environ, "DATABASE_URL": database_url}
        self.command = [
            *(sys.executable, "-m", "api.cli", "worker"),
            *("--nice", str(WORKER_NICENESS), "--parent", str(os.getpid())),
        ]
        self.check_every = check_every
        self.on_start = on_start
        self.children: list[subprocess.Popen[bytes]] = []
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(self.command, env=self.env)
        if self.on_start is not None:
            self.on_start(child.pid)
        return child

    def start(self) -> None:
        if not self.count:
            return
        self.children = [self._spawn() for _ in range(self.count)]
        self._watcher = threading.Thread(target=self._watch, name="worker-watch", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.wait(self.check_every):
            for index, child in enumerate(self.children):
                if child.poll() is not None and not self._stopping.is_set():
                    log.error("worker process exited; starting another", code=child.returncode)
                    self.children[index] = self._spawn()

    def alive(self) -> int:
        """How many of the worker processes are running now (one that died counts until it
        has been replaced)."""
        return sum(1 for child in self.children if child.poll() is None)

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM each (a worker finishes the turn in hand), SIGKILL after `grace` seconds."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(grace)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
