"""Worker processes beside the API (`hibachi serve --workers N`): started with it, restarted
if one dies, stopped with it.

Each runs `hibachi worker` (turns, scheduler, outbox, alerts) at a lower priority than the API,
so acknowledging a webhook never queues behind turns, and stops by itself if the service is
gone, however it ended (even by SIGKILL), so no worker outlives it. A worker says "ready" on a
pipe once it has loaded what its turns need (seconds after it starts), and `/readyz` counts
only the workers that have.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

import structlog

from knowledge.infra import metrics

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
        # The API answers the scrape for every process: a worker never takes its address.
        inherited = {k: v for k, v in os.environ.items() if k != "HIBACHI_METRICS_ADDRESS"}
        self.env = {**inherited, "DATABASE_URL": database_url}
        self.command = [
            *(sys.executable, "-m", "api.cli", "worker"),
            *("--nice", str(WORKER_NICENESS), "--parent", str(os.getpid())),
        ]
        self.check_every = check_every
        self.on_start = on_start
        self.children: list[subprocess.Popen[bytes]] = []
        self._pipes: dict[int, int] = {}  # pid -> the read end of its readiness pipe
        self._ready: set[int] = set()  # pids that said "ready"
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        read, write = os.pipe()
        # Worker `index` answers its share of the conversations first (agent.inbox); a
        # replacement takes over the share of the one it replaces.
        env = {**self.env, "HIBACHI_INBOX_SHARD": f"{index}/{self.count}"}
        try:
            child = subprocess.Popen(
                [*self.command, "--ready-fd", str(write)], env=env, pass_fds=(write,)
            )
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)
        os.set_blocking(read, False)
        with self._lock:
            self._pipes[child.pid] = read
        if self.on_start is not None:
            self.on_start(child.pid)
        return child

    def start(self) -> None:
        if not self.count:
            return
        self.children = [self._spawn(index) for index in range(self.count)]
        self._watcher = threading.Thread(target=self._watch, name="worker-watch", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.wait(self.check_every):
            for index, child in enumerate(self.children):
                if child.poll() is not None and not self._stopping.is_set():
                    log.error("worker process exited; starting another", code=child.returncode)
                    self._forget(child.pid)
                    self.children[index] = self._spawn(index)

    def alive(self) -> int:
        """How many of the worker processes are running now (one that died counts until it
        has been replaced)."""
        return sum(1 for child in self.children if child.poll() is None)

    def ready(self) -> int:
        """How many of the worker processes are running and have said they are ready."""
        with self._lock:
            for child in self.children:
                if child.pid not in self._ready and self._said_ready(child.pid):
                    self._ready.add(child.pid)
            return sum(1 for c in self.children if c.pid in self._ready and c.poll() is None)

    def _said_ready(self, pid: int) -> bool:
        fd = self._pipes.get(pid)
        if fd is None:
            return False
        try:
            said = os.read(fd, 64)
        except BlockingIOError:  # nothing yet: still starting
            return False
        os.close(fd)  # "ready", or the end of the pipe (it exited first): either way, done
        del self._pipes[pid]
        return said.startswith(b"ready")

    def _forget(self, pid: int) -> None:
        metrics.process_exited(pid)  # its live gauges stop counting
        with self._lock:
            self._ready.discard(pid)
            fd = self._pipes.pop(pid, None)
            if fd is not None:
                os.close(fd)

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
            self._forget(child.pid)
