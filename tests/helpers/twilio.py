"""Requests signed the way Twilio signs them, for webhook tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator


def signed(url: str, form: dict[str, str], token: str) -> dict[str, Any]:
    """httpx keyword arguments posting `form` to `url` with a valid X-Twilio-Signature."""
    return {
        "content": urlencode(form),
        "headers": {
            "X-Twilio-Signature": RequestValidator(token).compute_signature(url, form),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    }
