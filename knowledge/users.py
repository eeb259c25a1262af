"""People who use the console and admin API, known by bearer tokens stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.errors import Conflict, NotFound
from knowledge.models import ApiUser

TOKEN_PREFIX = "hib_"


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def create_user(
    session: AsyncSession, name: str, role: str, expires_at: datetime | None = None
) -> tuple[ApiUser, str]:
    """Create a user and return it with its token; the token is not stored and not shown again."""
    existing = (await session.scalars(select(ApiUser).where(ApiUser.name == name))).first()
    if existing is not None:
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
    user = (await session.scalars(select(ApiUser).where(ApiUser.name == name))).first()
    if user is None:
        raise NotFound(f"no user named '{name}'")
    user.revoked_at = now
    await session.flush()
    return user


async def list_users(session: AsyncSession) -> list[ApiUser]:
    return list((await session.scalars(select(ApiUser).order_by(ApiUser.name))).all())
