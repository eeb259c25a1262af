"""Settings and the `hibachi` command: bad settings fail with one clear line, tokens print once."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker
from typer.testing import CliRunner

from api.cli import app
from knowledge import migrate
from knowledge.db import ensure_database, make_engine
from knowledge.errors import ConfigError
from knowledge.infra import embedded
from knowledge.infra.settings import load_settings
from knowledge.models import ApiUser
from knowledge.users import SignInRules, hash_token, sign_in
from tests.conftest import clone_database

ROOT = Path(__file__).resolve().parents[1]


class TestSettings:
    def test_plain_postgres_urls_get_the_async_driver(self) -> None:
        settings = load_settings(database_url="postgresql://u:p@db.internal:5432/hibachi")
        assert settings.database_url == "postgresql+asyncpg://u:p@db.internal:5432/hibachi"

    @pytest.mark.parametrize(
        ("url", "says"),
        [
            ("mysql://u:p@host/db", "must point at PostgreSQL"),
            ("not a url", "must be a PostgreSQL URL"),
            ("postgresql://u:p@host:5432", "names no database"),
        ],
    )
    def test_a_bad_database_url_names_the_setting(self, url: str, says: str) -> None:
        with pytest.raises(ConfigError) as caught:
            load_settings(database_url=url)
        assert str(caught.value).startswith("DATABASE_URL: ")
        assert says in str(caught.value)

    def test_environment_names_are_the_standard_ones(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
        monkeypatch.setenv("PUBLIC_BASE_URL", "https://example.test")
        settings = load_settings()
        assert settings.openai_api_key == "sk-test"
        assert settings.twilio_account_sid == "AC123"
        assert settings.public_base_url == "https://example.test"
        assert settings.llm_enabled

    def test_the_inbox_share_a_worker_is_given(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert load_settings().shard() is None
        monkeypatch.setenv("HIBACHI_INBOX_SHARD", "1/2")
        assert load_settings().shard() == (1, 2)
        for bad in ("1/0", "two/2", "1", "2/2"):
            monkeypatch.setenv("HIBACHI_INBOX_SHARD", bad)
            with pytest.raises(ConfigError, match="INBOX_SHARD"):
                load_settings()


def _hibachi(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from api.cli import main; main()", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, **env},
    )


class TestStartupErrors:
    @pytest.mark.parametrize(
        ("url", "says"),
        [
            ("mysql://u:p@host/db", "DATABASE_URL: must point at PostgreSQL"),
            (
                "postgresql://u:p@127.0.0.1:1/db",
                "DATABASE_URL: cannot reach the database at 127.0.0.1:1/db",
            ),
        ],
    )
    @pytest.mark.parametrize("command", ["serve", "migrate"])
    def test_bad_database_fails_with_one_line(self, command: str, url: str, says: str) -> None:
        result = _hibachi(command, DATABASE_URL=url)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"error: {says}")
        assert "Traceback" not in result.stderr + result.stdout


class TestSchemaBehind:
    async def test_an_old_schema_asks_for_hibachi_migrate(self, pg_server: Any) -> None:
        url = embedded.server_url(pg_server, "hibachi_old_schema")
        await ensure_database(url)
        await asyncio.to_thread(migrate.downgrade, url, "base")
        await migrate.upgrade_async(url, "0006")
        result = _hibachi("users", "list", DATABASE_URL=url)
        assert result.returncode == 2
        assert "run `hibachi migrate` first" in result.stderr
        assert "0006" in result.stderr and "Traceback" not in result.stderr


class TestUsersCommand:
    async def test_add_prints_the_token_alone_on_the_last_line_and_stores_its_hash(
        self, pg_server: Any, template_url: str
    ) -> None:
        url = await clone_database(pg_server, template_url)
        result = _hibachi("users", "add", "kim", "--role", "admin", DATABASE_URL=url)
        assert result.returncode == 0, result.stderr
        token = result.stdout.strip().splitlines()[-1]
        assert token.startswith("hib_") and " " not in token
        engine = make_engine(url, pool_size=1)
        async with async_sessionmaker(engine)() as session:
            user = (await session.scalars(select(ApiUser).where(ApiUser.name == "kim"))).one()
        await engine.dispose()
        assert user.role == "admin"
        assert user.token_hash == hash_token(token)

    async def test_add_gives_a_set_up_link_and_password_sets_one(
        self, pg_server: Any, template_url: str
    ) -> None:
        """The first admin bootstraps the console: the link from `users add` (or `users
        password` on the server) gives them a password to sign in with."""
        url = await clone_database(pg_server, template_url)
        env = {"DATABASE_URL": url, "PUBLIC_BASE_URL": "https://hibachi.example"}
        added = _hibachi("users", "add", "ana", "--role", "admin", **env)
        assert added.returncode == 0, added.stderr
        link = re.search(r"https://hibachi\.example/console/setup#(\S+)", added.stdout)
        assert link is not None, added.stdout
        secret = "a fine long password"
        typed = _hibachi("users", "password", "ana", stdin=f"{secret}\n{secret}\n", **env)
        assert typed.returncode == 0, typed.stderr
        assert secret not in typed.stdout + typed.stderr
        engine = make_engine(url, pool_size=1)
        async with async_sessionmaker(engine)() as session:
            user = (await session.scalars(select(ApiUser).where(ApiUser.name == "ana"))).one()
            now = datetime.now(UTC)
            signed = await sign_in(session, "ana", secret, now, SignInRules())
            assert signed.user.id == user.id
            assert user.setup_token_hash is None  # choosing a password spent the link
        await engine.dispose()
        unknown = _hibachi("users", "password", "nobody", stdin=f"{secret}\n{secret}\n", **env)
        assert unknown.returncode == 2 and "no user named 'nobody'" in unknown.stderr

    async def test_duplicate_name_is_a_clear_error(self, pg_server: Any, template_url: str) -> None:
        url = await clone_database(pg_server, template_url)
        assert _hibachi("users", "add", "kim", DATABASE_URL=url).returncode == 0
        again = _hibachi("users", "add", "kim", DATABASE_URL=url)
        assert again.returncode == 2
        assert "already exists" in again.stderr

    def test_unknown_role_is_refused(self) -> None:
        result = CliRunner().invoke(app, ["users", "add", "kim", "--role", "root"])
        assert result.exit_code == 2


async def _chat(url: str, phone: str, *lines: str) -> subprocess.CompletedProcess[str]:
    """`hibachi chat --phone PHONE` with `lines` typed, then an empty line that ends it."""
    stdin = "".join(f"{line}\n" for line in lines) + "\n"
    return await asyncio.to_thread(
        _hibachi, "chat", "--phone", phone, stdin=stdin, DATABASE_URL=url
    )


class TestChatCommand:
    async def test_a_terminal_conversation_prints_replies_and_the_reading(
        self, pg_server: Any, template_url: str
    ) -> None:
        url = await clone_database(pg_server, template_url)
        result = await _chat(url, "(916) 555-0101", "how much do kids cost?", "hi!")
        assert result.returncode == 0, result.stderr
        assert "chatting as +19165550101" in result.stdout
        assert "$30" in result.stdout
        assert "intent=faq" in result.stdout and "outcome=handled" in result.stdout
        assert "intent=greeting" in result.stdout

    async def test_the_views_of_a_chats_last_answers_are_stored_when_it_ends(
        self, pg_server: Any, template_url: str
    ) -> None:
        """Two FAQ answers within seconds: the second view waits for the next store, which
        the chat makes as it ends (shown failing without it: one view of two was stored)."""
        import asyncpg

        from knowledge.db import asyncpg_dsn

        url = await clone_database(pg_server, template_url)
        total = "SELECT sum(view_count) FROM faq_items"
        connection = await asyncpg.connect(asyncpg_dsn(url))
        try:
            before = await connection.fetchval(total)
            result = await _chat(
                url, "(916) 555-0102", "how much do kids cost?", "is the deposit refundable?"
            )
            assert result.returncode == 0, result.stderr
            assert await connection.fetchval(total) == before + 2
        finally:
            await connection.close()

    def test_a_bad_phone_number_is_one_clear_line(self) -> None:
        result = _hibachi("chat", "--phone", "12")
        assert result.returncode == 2
        assert result.stderr.strip().startswith("error: '12' is not a valid phone number")


class TestEventLoop:
    """The service and its workers run on uvloop with httptools parsing requests (less CPU per
    message than asyncio's loop and the pure-Python parser)."""

    def test_commands_and_workers_run_on_uvloop(self) -> None:
        import uvloop

        from api.cli import _run

        async def loop_type() -> type:
            return type(asyncio.get_running_loop())

        assert _run(loop_type()) is uvloop.Loop

    def test_the_service_parses_http_with_httptools(self) -> None:
        import uvicorn
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        from api.app import create_app

        config = uvicorn.Config(create_app(load_settings(env="test")))
        config.load()
        assert config.http_protocol_class is HttpToolsProtocol
