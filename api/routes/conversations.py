"""A customer's threads and each thread's messages, for the console and the evaluation harness."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import CurrentUser, Session, State
from api.state import AppState
from knowledge.errors import AppError, InvalidInput, NotFound
from knowledge.models import ApiUser
from knowledge.schemas import RowId, StorableInput
from tools import customers, threads
from tools.phones import to_e164

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


class ConversationView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    channel: str
    owner: str
    owner_user_id: int | None
    last_inbound_at: datetime | None
    created_at: datetime


class MessageView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    direction: str
    channel: str
    author: str
    kind: str | None
    body: str
    status: str
    provider_message_id: str | None
    error_code: str | None
    attempts: int  # sends tried so far (outbound)
    next_attempt_at: datetime | None  # set while a failed send waits to be retried
    meta: dict[str, Any]
    created_at: datetime
    updated_at: datetime


#: Enough of an email address to look one up: no spaces or control characters, one @.
_EMAIL = re.compile(r"[^\s@\x00-\x1f]{1,64}@[^\s@\x00-\x1f]{1,255}")


@router.get("")
async def conversations(
    _: CurrentUser,
    session: Session,
    phone: Annotated[str | None, Query(description="The customer's phone number")] = None,
    email: Annotated[str | None, Query(description="The customer's email address")] = None,
) -> list[ConversationView]:
    """A customer's threads, found by their phone number or their email address."""
    if (phone is None) == (email is None):
        raise InvalidInput("give the customer's phone or email (one of them)")
    if email is not None:
        if not _EMAIL.fullmatch(email.strip()):
            raise InvalidInput("email: not an email address (name@example.com)")
        found = await threads.of_email(session, email)
    else:
        try:
            found = await threads.of_phone(session, to_e164(phone or ""))
        except AppError as exc:
            raise InvalidInput(f"phone: {exc.message}") from None
    return [ConversationView.model_validate(c) for c in found]


@router.get("/{conversation_id}/messages")
async def messages(
    conversation_id: RowId,
    _: CurrentUser,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[MessageView]:
    await threads.get(session, conversation_id)
    return [
        MessageView.model_validate(m)
        for m in await threads.messages(session, conversation_id, limit)
    ]


class Reply(StorableInput):
    text: str = Field(min_length=1, max_length=1600)


@router.post("/{conversation_id}/reply")
async def reply(
    conversation_id: RowId, data: Reply, user: CurrentUser, session: Session, state: State
) -> MessageView:
    """A person writes on the thread (its channel, signed with their name). The reply takes the
    thread over: the agent stays silent on it until it is handed back."""
    text = data.text.strip()
    if not text:
        raise InvalidInput("text: write a message")
    await customers.take_over(session, conversation_id, user)
    await session.commit()
    return await send_as_person(state, session, conversation_id, user, text)


async def send_as_person(
    state: AppState, session: AsyncSession, conversation_id: int, user: ApiUser, text: str
) -> MessageView:
    """A person's message on the thread's channel, signed with their name, as stored."""
    result = await state.runtime.human_reply(conversation_id, user, text)
    message = (
        await threads.message(session, result.reply_message_id) if result.reply_message_id else None
    )
    if message is None:
        raise NotFound("the reply was not stored")
    return MessageView.model_validate(message)


@router.post("/{conversation_id}/hand-back")
async def hand_back(
    conversation_id: RowId, user: CurrentUser, session: Session
) -> ConversationView:
    """The agent answers the thread again."""
    conversation = await customers.hand_back(session, conversation_id, user)
    await session.commit()
    return ConversationView.model_validate(conversation)
