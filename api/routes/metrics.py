"""`GET /metrics`: the Prometheus scrape (api.metrics), under the public port's access rules."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import BearerCredentials, State
from api.metrics import CONTENT_TYPE, check_access

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def scrape(credentials: BearerCredentials, state: State) -> Response:
    """Every process's counters and what waits in the database, in Prometheus's text format."""
    check_access(credentials, state.settings)
    return Response(await state.scraper.render(), media_type=CONTENT_TYPE)
