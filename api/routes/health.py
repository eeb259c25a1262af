"""Liveness and database status."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import State

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(state: State) -> JSONResponse:
    """200 with the database status, or 503 saying why the database is not usable."""
    try:
        await state.database.ping(timeout=2.0)
    except Exception as exc:  # any failure here means "not healthy", and says why
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return JSONResponse(
            {"status": "unavailable", "database": f"unreachable: {reason}"}, status_code=503
        )
    return JSONResponse({"status": "ok", "database": "ok"})
