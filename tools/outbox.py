"""Outbound messages are rows first; a sender delivers committed rows after the turn."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.infra import metrics, tracing
from knowledge.models import Conversation, Message

# Built once (building a statement costs about as much as running it).
_REPLY = (
    insert(Message)
    .values(
        conversation_id=bindparam("conversation_id"),
        direction="outbound",
        channel=bindparam("channel"),
        author=bindparam("author"),
        author_user_id=bindparam("author_user_id"),
        kind=bindparam("kind"),
        body=bindparam("body"),
        idempotency_key=bindparam("idempotency_key"),
        status=bindparam("status"),
        meta=bindparam("meta"),
        attempts=0,
    )
    .on_conflict_do_nothing(index_elements=[Message.idempotency_key])
    .returning(Message.id)
)
_BY_KEY = select(Message.id, Message.body).where(Message.idempotency_key == bindparam("key"))


async def stored_reply(session: AsyncSession, idempotency_key: str) -> tuple[int, str] | None:
    """The reply stored under this idempotency key, as (id, text), if there is one."""
    row = (await session.execute(_BY_KEY, {"key": idempotency_key})).first()
    return None if row is None else (int(row[0]), str(row[1]))


async def queue_reply(
    session: AsyncSession,
    conversation: Conversation,
    body: str,
    *,
    kind: str,
    idempotency_key: str,
    meta: dict[str, Any],
    simulated: bool,
    author: str = "agent",
    author_user_id: int | None = None,
) -> int:
    """Store a reply once per idempotency key and return its id (a replay gets the first)."""
    inserted = await session.scalar(
        _REPLY,
        {
            "conversation_id": conversation.id,
            "channel": conversation.channel,
            "author": author,
            "author_user_id": author_user_id,
            "kind": kind,
            "body": body,
            "idempotency_key": idempotency_key,
            "status": "simulated" if simulated else "pending",
            "meta": meta,
        },
    )
    if inserted is not None:
        return int(inserted)
    stored = await stored_reply(session, idempotency_key)
    assert stored is not None  # the insert yielded to it
    return stored[0]


async def record_inbound(
    session: AsyncSession,
    conversation: Conversation,
    body: str,
    *,
    provider_message_id: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Message:
    message = Message(
        conversation_id=conversation.id,
        direction="inbound",
        channel=conversation.channel,
        author="customer",
        body=body.replace("\x00", ""),  # PostgreSQL text cannot hold NUL; the rest is kept
        provider_message_id=provider_message_id,
        status="received",
        meta=tracing.stamped(meta or {}),
    )
    session.add(message)
    await session.flush()
    metrics.instruments().received.labels(conversation.channel).inc()
    return message
