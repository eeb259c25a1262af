"""A message acknowledged just before the service dies is answered, once, after a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from twilio.request_validator import RequestValidator

from knowledge.db import make_engine
from knowledge.models import Message
from tests.conftest import clone_database
from tests.helpers.service import free_port
from tests.helpers.service import serve as start_service

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "crash-token"


async def serve(url: str, port: int, *flags: str) -> Any:
    return await start_service(
        url, port, *flags, TWILIO_AUTH_TOKEN=TOKEN, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}"
    )


async def post_sms(port: int, sid: str) -> httpx.Response:
    path = "/webhooks/twilio/messages"
    form = {"MessageSid": sid, "From": "+19165550166", "To": "+19167408768", "Body": "hi there!"}
    signature = RequestValidator(TOKEN).compute_signature(f"http://127.0.0.1:{port}{path}", form)
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"http://127.0.0.1:{port}{path}",
            content=urlencode(form),
            headers={
                "X-Twilio-Signature": signature,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )


class TestCrashAfterAcknowledge:
    async def test_the_customer_gets_exactly_one_reply_after_a_restart(
        self, pg_server: Any, template_url: str
    ) -> None:
        url = await clone_database(pg_server, template_url)
        engine = make_engine(url, pool_size=1)
        sessions = async_sessionmaker(engine)

        async def outbound() -> int:
            async with sessions() as session:
                n = await session.scalar(
                    select(func.count()).where(Message.direction == "outbound")
                )
            return int(n or 0)

        port = free_port()
        first = await serve(url, port, "--no-worker")  # acknowledges, never answers
        assert (await post_sms(port, "SMCRASH1")).status_code == 200
        first.send_signal(signal.SIGKILL)
        await first.wait()
        assert await outbound() == 0

        second = await serve(url, port)  # its inbox drains what is waiting
        for _ in range(100):
            if await outbound() == 1:
                break
            await asyncio.sleep(0.1)
        assert (await post_sms(port, "SMCRASH1")).status_code == 200  # Twilio's retry
        await asyncio.sleep(1.0)
        second.send_signal(signal.SIGTERM)
        await second.wait()
        replies = await outbound()
        await engine.dispose()
        assert replies == 1


class TestSeparateWorker:
    async def test_hibachi_worker_answers_what_a_no_worker_service_stored(
        self, pg_server: Any, template_url: str
    ) -> None:
        url = await clone_database(pg_server, template_url)
        engine = make_engine(url, pool_size=1)
        sessions = async_sessionmaker(engine)
        port = free_port()
        api = await serve(url, port, "--no-worker")
        assert (await post_sms(port, "SMWORKER1")).status_code == 200
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from api.cli import main; main()",
            "worker",
            env={**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        answered = 0
        for _ in range(200):
            async with sessions() as session:
                answered = int(
                    await session.scalar(
                        select(func.count()).where(Message.direction == "outbound")
                    )
                    or 0
                )
            if answered:
                break
            await asyncio.sleep(0.1)
        for proc in (worker, api):
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
        await engine.dispose()
        assert answered == 1
        assert worker.returncode == 0
