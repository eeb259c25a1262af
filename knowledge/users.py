"""People who use the console and the admin API: bearer tokens for integrations, and for the
console a name and password (argon2), browser sessions with a CSRF token, lockout after
repeated wrong passwords, and one-time set-up links. Secrets are stored only as hashes."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from knowledge.infra.settings import Settings
from knowledge.models import ApiUser, ConsoleSession

TOKEN_PREFIX = "hib_"
MIN_PASSWORD = 10
MAX_PASSWORD = 256
WRONG = "wrong name or password"

#: argon2id at the cost argon2 recommends (about a quarter of a second a hash, on purpose).
RECOMMENDED_PASSWORDS = PasswordHash.recommended()
#: argon2id at the least cost argon2 allows, for the test suite alone, which gives nearly every
#: person it makes a password. A hash names its own cost, so a hash of either kind verifies
#: under either.
CHEAP_PASSWORDS = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1),))


@functools.cache
def _dummy_hash(passwords: PasswordHash) -> str:
    """A hash at `passwords`' cost, verified when the name is unknown so that a wrong name
    takes as long as a wrong password (made on first need: most processes never sign anyone
    in, and each would pay for it at start)."""
    return passwords.hash(secrets.token_urlsafe(16))


def _verify_unknown(passwords: PasswordHash, password: str) -> None:
    passwords.verify(password, _dummy_hash(passwords))


@dataclass(frozen=True)
class SignInRules:
    """How long sessions and set-up links last, when wrong passwords lock an account, and
    what a password's hash costs."""

    idle: timedelta = timedelta(hours=12)
    max_age: timedelta = timedelta(days=7)
    attempts: int = 5
    lockout: timedelta = timedelta(minutes=15)
    setup_link: timedelta = timedelta(hours=72)
    passwords: PasswordHash = RECOMMENDED_PASSWORDS

    @classmethod
    def of(cls, settings: Settings) -> SignInRules:
        return cls(
            idle=timedelta(hours=settings.session_idle_hours),
            max_age=timedelta(days=settings.session_max_days),
            attempts=settings.sign_in_attempts,
            lockout=timedelta(minutes=settings.lockout_minutes),
            setup_link=timedelta(hours=settings.setup_link_hours),
            passwords=CHEAP_PASSWORDS if settings.env == "test" else RECOMMENDED_PASSWORDS,
        )


@dataclass(frozen=True)
class SignedIn:
    user: ApiUser
    session: ConsoleSession
    cookie: str  # the session's secret, for the browser's cookie only; stored as its hash


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def _by_name(session: AsyncSession, name: str) -> ApiUser | None:
    query = select(ApiUser).where(func.lower(ApiUser.name) == name.strip().lower())
    return (await session.scalars(query)).first()


async def user_named(session: AsyncSession, name: str) -> ApiUser:
    user = await _by_name(session, name)
    if user is None:
        raise NotFound(f"no user named '{name}'")
    return user


async def user_by_id(session: AsyncSession, user_id: int) -> ApiUser:
    user = await session.get(ApiUser, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


async def create_user(
    session: AsyncSession, name: str, role: str, expires_at: datetime | None = None
) -> tuple[ApiUser, str]:
    """Create a user and return it with its token; the token is not stored and not shown again."""
    if await _by_name(session, name) is not None:
        raise Conflict(f"a user named '{name}' already exists")
    token = new_token()
    user = ApiUser(name=name, role=role, token_hash=hash_token(token), expires_at=expires_at)
    session.add(user)
    await session.flush()
    return user, token


async def user_for_token(session: AsyncSession, token: str, now: datetime) -> ApiUser | None:
    """The active user a token belongs to, or None if unknown, revoked or expired."""
    query = select(ApiUser).where(ApiUser.token_hash == hash_token(token))
    user = (await session.scalars(query)).first()
    if user is None or user.revoked_at is not None:
        return None
    if user.expires_at is not None and user.expires_at <= now:
        return None
    return user


async def revoke(session: AsyncSession, name: str, now: datetime) -> ApiUser:
    user = await user_named(session, name)
    await deactivate(session, user, now)
    return user


async def list_users(session: AsyncSession) -> list[ApiUser]:
    return list((await session.scalars(select(ApiUser).order_by(ApiUser.name))).all())


# --- passwords -------------------------------------------------------------------------------


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"a password may have at most {MAX_PASSWORD} characters")


async def set_password(
    session: AsyncSession, user: ApiUser, password: str, now: datetime, rules: SignInRules
) -> None:
    """Give the user a new password: their set-up link is spent, their lock lifted and every
    session they had ended (whoever knew the old password is out)."""
    check_password(password)
    user.password_hash = await asyncio.to_thread(rules.passwords.hash, password)
    user.setup_token_hash = None
    user.setup_expires_at = None
    user.failed_sign_ins = 0
    user.locked_until = None
    await end_sessions(session, user, now)


async def setup_link_token(
    session: AsyncSession, user: ApiUser, now: datetime, rules: SignInRules
) -> str:
    """A new one-time token for choosing a password (any earlier one stops working)."""
    token = secrets.token_urlsafe(32)
    user.setup_token_hash = hash_token(token)
    user.setup_expires_at = now + rules.setup_link
    await session.flush()
    return token


async def reset_access(
    session: AsyncSession, user: ApiUser, now: datetime, rules: SignInRules
) -> str:
    """For a forgotten or exposed password: it stops working, every session ends, the lock is
    lifted, and a new set-up link's token is returned."""
    if user.revoked_at is not None:
        raise Conflict(f"'{user.name}' is deactivated: reactivate them first")
    user.password_hash = None
    user.failed_sign_ins = 0
    user.locked_until = None
    await end_sessions(session, user, now)
    return await setup_link_token(session, user, now, rules)


async def user_for_setup(session: AsyncSession, token: str, now: datetime) -> ApiUser:
    query = select(ApiUser).where(ApiUser.setup_token_hash == hash_token(token))
    user = (await session.scalars(query)).first()
    if (
        user is None
        or user.revoked_at is not None
        or user.setup_expires_at is None
        or user.setup_expires_at <= now
    ):
        raise NotFound("this set-up link is unknown, used or expired: ask an admin for a new one")
    return user


# --- browser sessions ------------------------------------------------------------------------


async def sign_in(
    session: AsyncSession, name: str, password: str, now: datetime, rules: SignInRules
) -> SignedIn:
    """Check a name and password and open a browser session. A wrong password counts towards
    the lockout; a locked, deactivated or unknown account gets no hint beyond what it must do."""
    user = await _by_name(session, name)
    if user is None or user.password_hash is None:
        await asyncio.to_thread(_verify_unknown, rules.passwords, password)
        raise Unauthorized(WRONG)
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, round((user.locked_until - now).total_seconds() / 60))
        raise Forbidden(
            f"too many wrong passwords: this account is locked for {minutes} more minute"
            f"{'s' if minutes != 1 else ''}, or until an admin sends a new set-up link",
            details={"locked_until": user.locked_until.isoformat()},
        )
    if not await asyncio.to_thread(rules.passwords.verify, password, user.password_hash):
        user.failed_sign_ins += 1
        if user.failed_sign_ins >= rules.attempts:
            user.locked_until = now + rules.lockout
            user.failed_sign_ins = 0
        await session.flush()
        raise Unauthorized(WRONG)
    if user.revoked_at is not None:
        raise Forbidden("this account is deactivated: ask an admin")
    user.failed_sign_ins = 0
    user.locked_until = None
    user.last_sign_in_at = now
    cookie = secrets.token_urlsafe(32)
    browser = ConsoleSession(
        token_hash=hash_token(cookie),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        last_seen_at=now,
        expires_at=now + rules.max_age,
    )
    session.add(browser)
    await session.flush()
    return SignedIn(user, browser, cookie)


async def session_for_cookie(
    session: AsyncSession, cookie: str, now: datetime, rules: SignInRules
) -> tuple[ApiUser, ConsoleSession] | None:
    """The live session a cookie names and its user, or None: unknown, signed out, lapsed
    (unused for `rules.idle`, or past its end) or its user deactivated."""
    query = (
        select(ConsoleSession, ApiUser)
        .join(ApiUser, ApiUser.id == ConsoleSession.user_id)
        .where(ConsoleSession.token_hash == hash_token(cookie))
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    browser, user = row
    if (
        browser.ended_at is not None
        or browser.expires_at <= now
        or browser.last_seen_at + rules.idle <= now
        or user.revoked_at is not None
    ):
        return None
    if now - browser.last_seen_at > timedelta(minutes=5):  # one write per few minutes of use
        browser.last_seen_at = now
        await session.flush()
    return user, browser


async def sign_out(session: AsyncSession, browser: ConsoleSession, now: datetime) -> None:
    browser.ended_at = now
    await session.flush()


async def end_sessions(session: AsyncSession, user: ApiUser, now: datetime) -> int:
    """End every open browser session of the user; how many were open."""
    result = await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user.id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    await session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- people, as an admin manages them ----------------------------------------------------------


async def _admins_left(session: AsyncSession, without: ApiUser) -> int:
    query = select(func.count()).where(
        ApiUser.role == "admin", ApiUser.revoked_at.is_(None), ApiUser.id != without.id
    )
    return int(await session.scalar(query) or 0)


async def deactivate(session: AsyncSession, user: ApiUser, now: datetime) -> None:
    """Refuse the user every way in at once: token, sessions, set-up link."""
    user.revoked_at = now
    user.setup_token_hash = None
    user.setup_expires_at = None
    await end_sessions(session, user, now)


async def change_user(
    session: AsyncSession,
    user: ApiUser,
    by: ApiUser,
    now: datetime,
    *,
    role: str | None = None,
    active: bool | None = None,
) -> ApiUser:
    """An admin changes a user's role or deactivates or reactivates them. The last active admin
    can neither be demoted nor deactivated, and nobody deactivates themself."""
    losing_admin = user.role == "admin" and (
        (role is not None and role != "admin") or active is False
    )
    if losing_admin and user.revoked_at is None and await _admins_left(session, user) == 0:
        raise Conflict(f"'{user.name}' is the last admin: make someone else admin first")
    if active is False and user.id == by.id:
        raise Conflict("you cannot deactivate yourself")
    if role is not None:
        user.role = role
    if active is False and user.revoked_at is None:
        await deactivate(session, user, now)
    elif active is True:
        user.revoked_at = None
    await session.flush()
    return user
