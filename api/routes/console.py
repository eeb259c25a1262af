"""The console's pages (one page shell; the script renders the queue, a thread, knowledge or
stats from the address) and who is signed in."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict

from api.deps import CurrentUser, Knowledge, Session
from knowledge.errors import NotFound
from knowledge.models import ApiUser
from knowledge.schemas import RowId
from tools import escalations as cases

router = APIRouter(tags=["console"])
STATIC = Path(__file__).resolve().parents[1] / "static"
ASSETS = {
    "console.js": "application/javascript",
    "console.css": "text/css",
}


class Me(BaseModel):
    id: int
    name: str
    role: str
    timezone: str  # the business's: the console shows every time in it
    # a console session's CSRF token, sent back as X-CSRF-Token on every change (None: a token)
    csrf: str | None = None


async def who(request: Request, user: ApiUser, session: Session, knowledge: Knowledge) -> Me:
    charter = await knowledge.charter(session)
    browser = getattr(request.state, "console_session", None)
    return Me(
        id=user.id,
        name=user.name,
        role=user.role,
        timezone=charter.rules.business.timezone,
        csrf=browser.csrf_token if browser is not None else None,
    )


@router.get("/api/v1/me")
async def me(request: Request, user: CurrentUser, session: Session, knowledge: Knowledge) -> Me:
    return await who(request, user, session, knowledge)


class MyAlert(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    escalation_id: int | None
    subject: str
    created_at: datetime


@router.get("/api/v1/me/alerts")
async def my_alerts(user: CurrentUser, session: Session) -> list[MyAlert]:
    """The console alerts addressed to the person (a case assigned to them, a deadline near)
    that they have not marked read, newest first."""
    return [MyAlert.model_validate(a) for a in await cases.alerts_for(session, user)]


@router.post("/api/v1/me/alerts/{alert_id}/read", status_code=204)
async def read_alert(alert_id: RowId, user: CurrentUser, session: Session) -> None:
    await cases.mark_read(session, alert_id, user)
    await session.commit()


def _shell() -> HTMLResponse:
    return HTMLResponse(
        (STATIC / "console.html").read_text(encoding="utf-8"),
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )


@router.get("/console", include_in_schema=False)
async def queue_page() -> HTMLResponse:
    return _shell()


@router.get("/console/escalations/{escalation_id}", include_in_schema=False)
async def thread_page(escalation_id: int) -> HTMLResponse:
    return _shell()


@router.get("/console/knowledge", include_in_schema=False)
async def knowledge_page() -> HTMLResponse:
    return _shell()


@router.get("/console/stats", include_in_schema=False)
async def stats_page() -> HTMLResponse:
    return _shell()


@router.get("/console/leads", include_in_schema=False)
async def leads_page() -> HTMLResponse:
    return _shell()


@router.get("/console/inbox", include_in_schema=False)
async def inbox_page() -> HTMLResponse:
    return _shell()


@router.get("/console/customers/{customer_id}", include_in_schema=False)
async def customer_page(customer_id: int) -> HTMLResponse:
    return _shell()


@router.get("/console/users", include_in_schema=False)
async def users_page() -> HTMLResponse:
    return _shell()


@router.get("/console/setup", include_in_schema=False)
async def setup_page() -> HTMLResponse:
    return _shell()


@router.get("/console/assets/{name}", include_in_schema=False)
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise NotFound(f"no console asset {name}")
    return FileResponse(STATIC / name, media_type=ASSETS[name])
