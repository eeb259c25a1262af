"""Secrets and personal data: tokens never reach a log line, phone numbers are masked, and the
service refuses to start in production with missing or placeholder secrets."""

from __future__ import annotations

import logging
import os

import pytest
import structlog
from typer.testing import CliRunner

from knowledge.infra import logs
from knowledge.infra.settings import Settings

PHONE = "+19165550101"


class TestScrubbing:
    @pytest.mark.parametrize(
        ("line", "gone", "kept"),
        [
            ("GET /api/v1/chat/stream?token=s3cr3t-chat&after=4", "s3cr3t-chat", "after=4"),
            ("Authorization: Bearer abc.DEF-123_xyz", "abc.DEF-123_xyz", "Bearer"),
            (f"inbound from {PHONE}", "9165550101", "***0101"),
            (f"From=whatsapp:{PHONE}", "9165550101", "whatsapp:***0101"),
            ("call (916) 555-0101 now", "555-0101", "***0101"),
            ("GET /api/v1/conversations?phone=%2B19165550101", "19165550101", "phone="),
        ],
    )
    def test_secrets_and_phones_leave_the_line(self, line: str, gone: str, kept: str) -> None:
        scrubbed = logs.scrub_text(line.replace("%2B", "+"))
        assert gone not in scrubbed and kept in scrubbed

    @pytest.mark.parametrize(
        "line", ["2026-06-10T15:00:00+00:00", "balance $1,375.00", "booking MH-7K2P9Q", "id 42"]
    )
    def test_ordinary_numbers_stay(self, line: str) -> None:
        assert logs.scrub_text(line) == line

    def test_our_log_events_drop_secret_fields_and_mask_phones(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        logs.configure(json_lines=True)
        structlog.get_logger("test").warning(
            "send failed",
            to=PHONE,
            auth_token="tw-secret-1",
            headers={"Authorization": "Bearer tok-2", "accept": "json"},
            note=f"customer {PHONE} asked",
        )
        err = capsys.readouterr().err
        for secret in ("tw-secret-1", "tok-2", "9165550101"):
            assert secret not in err
        assert "***0101" in err and "[redacted]" in err and '"accept": "json"' in err

    def test_the_web_servers_access_log_is_scrubbed(self) -> None:
        logs.configure()
        record = logging.LogRecord(
            "uvicorn.access",
            logging.INFO,
            __file__,
            1,
            '%s - "%s %s HTTP/%s" %d',
            ("127.0.0.1:5000", "GET", "/api/v1/chat/stream?token=chat-tok-9&after=0", "1.1", 200),
            None,
        )
        for f in logging.getLogger("uvicorn.access").filters:
            f.filter(record)
        assert "chat-tok-9" not in record.getMessage()
        assert "after=0" in record.getMessage()


class TestProductionRefusal:
    def run_serve(self, monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[int, str]:
        from evals.cli import app

        for name in ("DATABASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HIBACHI_ENV", "production")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        result = CliRunner().invoke(app, ["serve"])
        # A refused start leaves no metrics directory set for whatever runs next in-process.
        assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
        return result.exit_code, result.output

    def test_missing_secrets_are_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        code, output = self.run_serve(monkeypatch)
        assert code == 2
        for name in ("DATABASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL"):
            assert name in output

    def test_placeholder_secrets_are_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        code, output = self.run_serve(
            monkeypatch,
            DATABASE_URL="postgresql://db.internal/hibachi",
            TWILIO_ACCOUNT_SID="AC123",
            TWILIO_AUTH_TOKEN="changeme",
            PUBLIC_BASE_URL="https://chat.example.com",
        )
        assert code == 2 and "TWILIO_AUTH_TOKEN: 'changeme' is a placeholder" in output
        assert "DATABASE_URL" not in output.split("production:")[1]

    def test_complete_settings_pass(self) -> None:
        settings = Settings(
            env="production",
            database_url="postgresql://db.internal/hibachi",
            twilio_account_sid="AC0123",
            twilio_auth_token="f3a9c0d8e1b24a5c9d7e",
            public_base_url="https://chat.example.com",
        )
        assert settings.production_problems() == []
