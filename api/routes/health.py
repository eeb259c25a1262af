"""Liveness (`/healthz`: the process answers and reaches its database) and readiness
(`/readyz`: it can do its work: the database answers, its schema is the one this code needs,
and the worker processes started beside it have loaded what their turns need)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import State
from knowledge import migrate

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


@router.get("/readyz")
async def readyz(state: State) -> JSONResponse:
    """200 when the service can take traffic, else 503 with every check and why it failed."""
    checks: dict[str, str] = {}
    ready = True
    try:
        await state.database.ping(timeout=2.0)
        checks["database"] = "ok"
        behind = await migrate.schema_behind(state.database.engine)
    except Exception as exc:  # any failure here means "not ready", and says why
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        checks["database"] = f"unreachable: {reason}"
        checks["schema"] = "unknown"
        ready = False
    else:
        if behind is None:
            checks["schema"] = "ok"
        else:
            checks["schema"] = f"at {behind}, needs {migrate.head()}: run `hibachi migrate`"
            ready = False
    workers = state.workers
    if workers is not None and workers.count:
        alive, warm = workers.alive(), workers.ready()
        starting = f" ({alive - warm} starting)" if alive > warm else ""
        checks["workers"] = f"{warm} of {workers.count} ready{starting}"
        ready = ready and warm == workers.count
    status = {"status": "ready" if ready else "unavailable"}
    return JSONResponse(status | checks, status_code=200 if ready else 503)
