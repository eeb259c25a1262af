"""Request dependencies: the app state, a database session, and the authenticated user (a bearer
token, or the console's session cookie with its CSRF token on every change)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from api.state import AppState
from knowledge.errors import Forbidden, Unauthorized
from knowledge.models import ApiUser
from knowledge.service import KnowledgeService
from knowledge.users import session_for_cookie, user_for_token


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.hibachi
    return state


State = Annotated[AppState, Depends(app_state)]


async def session(state: State) -> AsyncIterator[AsyncSession]:
    """The request's session. Writing routes commit it once at the end; otherwise it rolls back."""
    async with state.database.sessionmaker() as db_session:
        yield db_session


Session = Annotated[AsyncSession, Depends(session)]


def knowledge(state: State) -> KnowledgeService:
    return state.knowledge


Knowledge = Annotated[KnowledgeService, Depends(knowledge)]

_bearer = HTTPBearer(auto_error=False)
#: The request's `Authorization: Bearer …` credentials, None without them.
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


SESSION_COOKIE = "hibachi_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def current_user(
    request: Request,
    state: State,
    db_session: Session,
    credentials: BearerCredentials,
) -> ApiUser:
    """Who makes the request: an integration's bearer token, or a console session cookie. A
    cookie's change (any method but GET, HEAD, OPTIONS) must carry the session's CSRF token."""
    now = state.clock.now()
    if credentials is not None and credentials.credentials:
        user = await user_for_token(db_session, credentials.credentials, now)
        if user is None:
            raise Unauthorized("the token is unknown, revoked or expired")
        return user
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Unauthorized("sign in first")
    found = await session_for_cookie(db_session, cookie, now, state.sign_in_rules)
    if found is None:
        raise Unauthorized("your session has ended: sign in again")
    user, browser = found
    if browser.last_seen_at == now:  # its use was just noted: keep that whatever the route does
        await db_session.commit()
    sent = request.headers.get(CSRF_HEADER, "")
    if request.method not in SAFE_METHODS and not secrets.compare_digest(
        sent.encode(), browser.csrf_token.encode()
    ):
        raise Forbidden(f"a change needs the page's {CSRF_HEADER}: reload the console")
    request.state.console_session = browser
    return user


CurrentUser = Annotated[ApiUser, Depends(current_user)]


async def admin_user(user: CurrentUser) -> ApiUser:
    if user.role != "admin":
        raise Forbidden("this needs an admin")
    return user


AdminUser = Annotated[ApiUser, Depends(admin_user)]


async def limit_per_ip(request: Request, state: State) -> None:
    """Count a request against its address's per-minute limit (429 when full)."""
    address = request.client.host if request.client else "unknown"
    state.ip_limit.check(address, "requests from this address")


PerIpLimit = Depends(limit_per_ip)
