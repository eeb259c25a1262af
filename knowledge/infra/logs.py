"""Logging for every process: structured lines with secrets removed and phone numbers masked.

Nothing we log may carry a bearer token, a chat token, a password or an API key, and a phone
number shows only its last four digits. Both rules are applied to our own log events and to
the web server's access log (whose lines hold request paths and query strings).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from knowledge.infra import tracing

SECRET_KEYS = re.compile(
    r"authorization|token|password|secret|api[_-]?key|cookie|signature", re.IGNORECASE
)
# E.164 numbers (also after "whatsapp:"), and US numbers written with separators.
_PHONE = re.compile(r"(?<![\w+])(\+\d{8,15}|\(?\b\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4})(?!\w)")
_QUERY_SECRET = re.compile(r"([?&](?:token|access_token|api_key|key)=)[^&\s\"']+", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
REDACTED = "[redacted]"


def mask_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(1))
    if len(digits) < 8:
        return match.group(0)
    return f"***{digits[-4:]}"


def scrub_text(text: str) -> str:
    """A log line with query-string secrets, bearer tokens and phone numbers taken out."""
    text = _QUERY_SECRET.sub(rf"\1{REDACTED}", text)
    text = _BEARER.sub(rf"\1{REDACTED}", text)
    return _PHONE.sub(mask_phone, text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: REDACTED if SECRET_KEYS.search(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def scrub_event(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: drop secret-named fields, mask phones everywhere."""
    for key in list(event):
        event[key] = REDACTED if SECRET_KEYS.search(key) else _scrub(event[key])
    return event


def add_trace_id(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the current trace's id, when tracing, so a turn's log lines are
    found from its trace and the other way round."""
    trace_id = tracing.trace_id()
    if trace_id is not None:
        event.setdefault("trace_id", trace_id)
    return event


class ScrubFilter(logging.Filter):
    """The same rules for standard-library records (the web server's access log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = (
                tuple(_scrub(a) for a in record.args)
                if isinstance(record.args, tuple)
                else _scrub(record.args)
            )
        if isinstance(record.msg, str):
            record.msg = scrub_text(record.msg)
        return True


class _StderrLogger:
    """Writes each rendered line to whatever sys.stderr is at that moment."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stderr_logger(*_args: Any) -> _StderrLogger:
    return _StderrLogger()


def configure(json_lines: bool = False, level: int = logging.INFO) -> None:
    """Set up structlog and the standard-library loggers once per process."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            add_trace_id,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            scrub_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    scrub = ScrubFilter()
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubFilter) for f in logger.filters):
            logger.addFilter(scrub)
        for handler in logger.handlers:
            if not any(isinstance(f, ScrubFilter) for f in handler.filters):
                handler.addFilter(scrub)
