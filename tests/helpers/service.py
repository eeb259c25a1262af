"""`hibachi serve` as a real process for tests that need one (crashes, a browser)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve(url: str, port: int, *flags: str, **env: str) -> Any:
    """Start the service on `port` against the database at `url`; returns once it is healthy."""
    inherited = {k: v for k, v in os.environ.items() if k != "TWILIO_ACCOUNT_SID"}
    # Replies stay simulated (no outbound HTTP) unless the test gives Twilio settings itself.
    environment = {**inherited, "DATABASE_URL": url, "PYTHONPATH": str(ROOT), **env}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from api.cli import main; main()",
        "serve",
        "--port",
        str(port),
        *flags,
        env=environment,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return proc
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise AssertionError("the service did not start")


@asynccontextmanager
async def served(url: str, *flags: str, **env: str) -> AsyncIterator[str]:
    """The service on a free port for the block, against the database at `url` (its links,
    such as set-up links, name that port); yields its base URL and stops it afterwards."""
    port = free_port()
    env = {"PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", **env}
    proc = await serve(url, port, *flags, **env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()


async def serve_with_workers(url: str, workers: int, token: str, **env: str) -> tuple[Any, str]:
    """`hibachi serve --workers N` on a free port, Twilio's webhooks signed with `token`;
    returns the process and its base URL once `/readyz` says every worker has loaded what its
    turns need (within 90 s)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = await serve(
        url,
        port,
        "--workers",
        str(workers),
        TWILIO_AUTH_TOKEN=token,
        PUBLIC_BASE_URL=base,
        **env,
    )
    deadline = asyncio.get_running_loop().time() + 90
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while (await client.get("/readyz")).status_code != 200:
            if asyncio.get_running_loop().time() > deadline:
                proc.kill()
                raise AssertionError("the workers were never ready")
            await asyncio.sleep(0.2)
    return proc, base
