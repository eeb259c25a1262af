"""Signing in to the console (name and password, a session cookie), signing out, choosing a
password from a set-up link, and the people an admin manages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import (
    SESSION_COOKIE,
    AdminUser,
    CurrentUser,
    Knowledge,
    PerIpLimit,
    Session,
    State,
)
from api.routes.console import Me, who
from api.state import AppState
from knowledge import users
from knowledge.errors import AppError
from knowledge.models import ApiUser
from knowledge.schemas import RowId

router = APIRouter(prefix="/api/v1", tags=["people"])

Name = Annotated[str, Field(min_length=1, max_length=100)]
Password = Annotated[str, Field(min_length=1, max_length=users.MAX_PASSWORD)]
Role = Literal["admin", "agent"]


class SignInBody(BaseModel):
    name: Name
    password: Password


class SetupBody(BaseModel):
    token: Annotated[str, Field(min_length=1, max_length=100)]
    password: Password


class UserView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: str
    active: bool
    has_password: bool
    setup_pending: bool  # a set-up link was sent and not used yet
    locked_until: datetime | None
    last_sign_in_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, user: ApiUser, now: datetime) -> UserView:
        locked = user.locked_until is not None and user.locked_until > now
        return cls(
            id=user.id,
            name=user.name,
            role=user.role,
            active=user.revoked_at is None,
            has_password=user.password_hash is not None,
            setup_pending=user.setup_expires_at is not None and user.setup_expires_at > now,
            locked_until=user.locked_until if locked else None,
            last_sign_in_at=user.last_sign_in_at,
            created_at=user.created_at,
        )


class NewUserBody(BaseModel):
    name: Name
    role: Role = "agent"


class ChangeUserBody(BaseModel):
    role: Role | None = None
    active: bool | None = None


class SetupLink(BaseModel):
    user: UserView
    # opens the console's "choose a password" page; the token rides in the fragment, so it
    # never reaches a server log or a Referer header
    setup_url: str


def setup_url(state: AppState, token: str) -> str:
    return f"{state.settings.public_base_url.rstrip('/')}/console/setup#{token}"


def _cookie(state: AppState) -> dict[str, Any]:
    """The session cookie's attributes: the page's script never reads it, another site's
    request never carries it, and in production it travels only over HTTPS."""
    secure = state.settings.env == "production"
    return {"path": "/", "httponly": True, "secure": secure, "samesite": "lax"}


def _set_cookie(response: Response, state: AppState, signed: users.SignedIn) -> None:
    max_age = int(state.sign_in_rules.max_age.total_seconds())
    response.set_cookie(SESSION_COOKIE, signed.cookie, max_age=max_age, **_cookie(state))


def _clear_cookie(response: Response, state: AppState) -> None:
    response.delete_cookie(SESSION_COOKIE, **_cookie(state))


async def _signed_in(
    request: Request,
    response: Response,
    state: AppState,
    session: Session,
    knowledge: Knowledge,
    signed: users.SignedIn,
) -> Me:
    await session.commit()
    _set_cookie(response, state, signed)
    request.state.console_session = signed.session
    return await who(request, signed.user, session, knowledge)


@router.post("/session", dependencies=[PerIpLimit])
async def sign_in(
    body: SignInBody,
    request: Request,
    response: Response,
    state: State,
    session: Session,
    knowledge: Knowledge,
) -> Me:
    """Sign in with a name and password: sets the session cookie (httpOnly, SameSite) and
    returns who signed in with the CSRF token the page sends back on every change."""
    try:
        signed = await users.sign_in(
            session, body.name, body.password, state.clock.now(), state.sign_in_rules
        )
    except AppError:
        await session.commit()  # a wrong password still counts towards the lockout
        raise
    return await _signed_in(request, response, state, session, knowledge, signed)


@router.delete("/session", status_code=204)
async def sign_out(
    request: Request, response: Response, user: CurrentUser, state: State, session: Session
) -> None:
    browser = getattr(request.state, "console_session", None)
    if browser is not None:
        await users.sign_out(session, browser, state.clock.now())
        await session.commit()
    _clear_cookie(response, state)


@router.post("/me/sign-out-everywhere", status_code=204)
async def sign_out_everywhere(
    response: Response, user: CurrentUser, state: State, session: Session
) -> None:
    """End every browser session of the person asking, this one too."""
    await users.end_sessions(session, user, state.clock.now())
    await session.commit()
    _clear_cookie(response, state)


@router.post("/setup", dependencies=[PerIpLimit])
async def choose_password(
    body: SetupBody,
    request: Request,
    response: Response,
    state: State,
    session: Session,
    knowledge: Knowledge,
) -> Me:
    """Choose a password with a one-time set-up link's token, and be signed in."""
    now = state.clock.now()
    user = await users.user_for_setup(session, body.token, now)
    rules = state.sign_in_rules
    await users.set_password(session, user, body.password, now, rules)
    signed = await users.sign_in(session, user.name, body.password, now, rules)
    return await _signed_in(request, response, state, session, knowledge, signed)


class Teammate(BaseModel):
    id: int
    name: str
    role: str


@router.get("/teammates")
async def teammates(user: CurrentUser, session: Session) -> list[Teammate]:
    """Everyone active, for assigning a case (any signed-in person may read the names)."""
    return [
        Teammate(id=u.id, name=u.name, role=u.role)
        for u in await users.list_users(session)
        if u.revoked_at is None
    ]


@router.get("/users")
async def list_users(admin: AdminUser, state: State, session: Session) -> list[UserView]:
    now = state.clock.now()
    return [UserView.of(u, now) for u in await users.list_users(session)]


@router.post("/users", status_code=201)
async def add_user(
    body: NewUserBody, admin: AdminUser, state: State, session: Session
) -> SetupLink:
    """Add a teammate; they choose their password from the set-up link returned (shown once)."""
    now = state.clock.now()
    user, _token = await users.create_user(session, body.name.strip(), body.role)
    token = await users.setup_link_token(session, user, now, state.sign_in_rules)
    await session.commit()
    return SetupLink(user=UserView.of(user, now), setup_url=setup_url(state, token))


@router.patch("/users/{user_id}")
async def change_user(
    user_id: RowId, body: ChangeUserBody, admin: AdminUser, state: State, session: Session
) -> UserView:
    """Change a role, or deactivate (every session ends at once) or reactivate someone."""
    now = state.clock.now()
    user = await users.user_by_id(session, user_id)
    await users.change_user(session, user, admin, now, role=body.role, active=body.active)
    await session.commit()
    return UserView.of(user, now)


@router.post("/users/{user_id}/setup-link")
async def reset_access(
    user_id: RowId, admin: AdminUser, state: State, session: Session
) -> SetupLink:
    """Reset someone's access: their password stops working, their sessions end, and a new
    set-up link (shown once) lets them choose another."""
    now = state.clock.now()
    user = await users.user_by_id(session, user_id)
    token = await users.reset_access(session, user, now, state.sign_in_rules)
    await session.commit()
    return SetupLink(user=UserView.of(user, now), setup_url=setup_url(state, token))
