"""Requests signed the way Twilio signs them, for webhook tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from knowledge.infra.settings import Settings

TOKEN = "test-auth-token"
BASE = "https://hibachi.example"


def twilio_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Test settings with Twilio credentials, webhooks signed for BASE with TOKEN."""
    return Settings(
        env="test",
        data_dir=data_dir,
        run_worker=False,
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=TOKEN,
        public_base_url=BASE,
        **overrides,
    )


def signed(url: str, form: dict[str, str], token: str) -> dict[str, Any]:
    """httpx keyword arguments posting `form` to `url` with a valid X-Twilio-Signature."""
    return {
        "content": urlencode(form),
        "headers": {
            "X-Twilio-Signature": RequestValidator(token).compute_signature(url, form),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    }
