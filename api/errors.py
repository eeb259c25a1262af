"""One error shape for every failure: {"error": {"code", "message", "fields"?}}."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from knowledge.db import connection_lost
from knowledge.errors import AppError

log = structlog.get_logger(__name__)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")


def install(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if isinstance(exc.details, dict) and "retry_after" in exc.details:
            headers = {"Retry-After": str(exc.details["retry_after"])}
        extra = {"details": exc.details} if exc.details is not None else {}
        return JSONResponse(
            error_body(exc.code, exc.message, **extra), exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "field": "body" if e["type"] == "json_invalid" else _field_path(tuple(e["loc"])),
                "message": _clean(str(e["msg"])),
            }
            for e in exc.errors()
        ]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:3])
        return JSONResponse(error_body("invalid_input", summary, fields=fields), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        constraint = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None)
        message = "the change conflicts with existing data"
        if constraint:
            message += f" ({constraint})"
        return JSONResponse(error_body("conflict", message), 409)

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if isinstance(exc, OperationalError | InterfaceError) or connection_lost(exc):
            log.error("database unavailable", error=str(exc.orig))
            return JSONResponse(
                error_body("service_unavailable", "the database is unavailable; try again shortly"),
                503,
                headers={"Retry-After": "5"},
            )
        return await _unexpected(request, exc)

    @app.exception_handler(PoolTimeout)
    async def _busy(_: Request, exc: PoolTimeout) -> JSONResponse:
        log.error("no database connection free", error=str(exc)[:200])
        return JSONResponse(
            error_body("service_unavailable", "the service is busy; try again shortly"),
            503,
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(OSError)
    async def _io_down(_: Request, exc: OSError) -> JSONResponse:
        log.error("dependency unavailable", error=str(exc))
        return JSONResponse(
            error_body("service_unavailable", "a dependency is unavailable; try again shortly"),
            503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", error=type(exc).__name__)
        return JSONResponse(
            error_body("internal_error", "something went wrong on our side; it has been logged"),
            500,
        )
