"""Request dependencies: the app state, a database session, and the authenticated user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from api.state import AppState
from knowledge.errors import Forbidden, Unauthorized
from knowledge.models import ApiUser
from knowledge.service import KnowledgeService
from knowledge.users import user_for_token


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


async def current_user(
    state: State,
    db_session: Session,
    credentials: BearerCredentials,
) -> ApiUser:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("sign in: send 'Authorization: Bearer <token>'")
    user = await user_for_token(db_session, credentials.credentials, state.clock.now())
    if user is None:
        raise Unauthorized("the token is unknown, revoked or expired")
    return user


CurrentUser = Annotated[ApiUser, Depends(current_user)]


async def admin_user(user: CurrentUser) -> ApiUser:
    if user.role != "admin":
        raise Forbidden("this needs an admin token")
    return user


AdminUser = Annotated[ApiUser, Depends(admin_user)]


async def limit_per_ip(request: Request, state: State) -> None:
    """Count a request against its address's per-minute limit (429 when full)."""
    address = request.client.host if request.client else "unknown"
    state.ip_limit.check(address, "requests from this address")


PerIpLimit = Depends(limit_per_ip)
