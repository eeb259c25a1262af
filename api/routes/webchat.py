"""The web chat widget's API, its script and a demo page of the business's site."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import select

from agent.inbox import announce, answer_to
from agent.state import TurnEvent
from api.deps import PerIpLimit, Session, State
from knowledge.errors import InvalidInput, Unauthorized
from knowledge.models import Message, WebSession
from knowledge.schemas import MAX_INT, reject_unstorable
from tools.messaging import webchat
from tools.outbox import record_inbound

router = APIRouter(tags=["web chat"])
STATIC = Path(__file__).resolve().parents[1] / "static"
OPTIONS = {"cancel_choice": ["1", "2"], "rating": ["1", "2", "3", "4", "5"]}

ChatText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class _ChatInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return reject_unstorable(data)


class ChatMessageIn(_ChatInput):
    text: ChatText


class VerifyIn(_ChatInput):
    reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=20)]
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=30)]


class ChatLine(BaseModel):
    id: int
    who: str = Field(description="customer, agent or human")
    text: str


async def _web(session: Any, token: str | None) -> WebSession:
    if not token:
        raise Unauthorized("start a chat first: POST /api/v1/chat/sessions")
    web = await webchat.session_for_token(session, token)
    if web is None:
        raise Unauthorized("this chat session is unknown; start a new one")
    return web


def _line(message: Message) -> ChatLine:
    return ChatLine(id=message.id, who=message.author, text=message.body)


@router.post("/api/v1/chat/sessions", status_code=201, dependencies=[PerIpLimit])
async def start(session: Session) -> dict[str, str]:
    _web_session, token = await webchat.start_session(session)
    await session.commit()
    return {"token": token}


@router.post("/api/v1/chat/verify", dependencies=[PerIpLimit])
async def verify(
    data: VerifyIn,
    session: Session,
    state: State,
    x_chat_token: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    web = await _web(session, x_chat_token)
    customer = await webchat.verify(session, web, data.reference, data.phone, state.clock.now())
    await session.commit()
    if customer is None:
        raise InvalidInput("that booking reference and phone number do not match a booking")
    return {"verified": True, "name": (customer.name or "").split(" ")[0]}


@router.post("/api/v1/chat/messages", dependencies=[PerIpLimit])
async def send(
    data: ChatMessageIn,
    session: Session,
    state: State,
    x_chat_token: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Store the visitor's message and return its answer with any quick options.

    With turns in workers (`hibachi serve --workers N`) the turn runs in a worker and this
    request waits for it, up to HIBACHI_CHAT_REPLY_TIMEOUT_SECONDS; past that it returns with
    `id` and `reply` null, and the widget's stream delivers the reply when it comes."""
    web = await _web(session, x_chat_token)
    conversation = await webchat.conversation_for(session, web)
    inbound = await record_inbound(session, conversation, data.text)
    if not state.settings.turns_in_workers:
        await session.commit()
        result = await state.runtime.handle(TurnEvent.customer_message(conversation.id, inbound.id))
        if result.skipped == "duplicate":  # an inbox took the message first: its reply stands
            found = await answer_to(state.database.sessionmaker, inbound.id, result.pending)
            return _answer(found.reply_id, found.reply, found.pending)
        return _answer(result.reply_message_id, result.reply, result.pending)
    state.turns.register(inbound.id)
    try:
        await session.commit()
    except BaseException:
        state.turns.forget(inbound.id)
        raise
    announce(state.hints, inbound.id)
    answer = await state.turns.wait(
        state.database.sessionmaker, inbound.id, state.settings.chat_reply_timeout_seconds
    )
    return _answer(answer.reply_id, answer.reply, answer.pending)


def _answer(reply_id: int | None, reply: str | None, pending: str | None) -> dict[str, Any]:
    return {"id": reply_id, "reply": reply, "options": OPTIONS.get(pending or "", [])}


@router.get("/api/v1/chat/messages")
async def history(
    session: Session,
    after: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    x_chat_token: Annotated[str | None, Header()] = None,
) -> list[ChatLine]:
    web = await _web(session, x_chat_token)
    conversation = await webchat.conversation_for(session, web)
    await session.commit()
    query = (
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.id > after)
        .order_by(Message.id)
        .limit(200)
    )
    return [_line(m) for m in (await session.scalars(query)).all()]


@router.get("/api/v1/chat/stream")
async def stream(
    request: Request,
    state: State,
    token: Annotated[str, Query(min_length=10)],
    after: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> StreamingResponse:
    """Server-sent events: messages sent on this chat later (by a person or the scheduler).
    The thread is looked up on every poll: verifying mid-chat moves the visitor to their own."""
    async with state.database.sessionmaker() as session:
        web_id = (await _web(session, token)).id

    async def events() -> AsyncIterator[str]:
        last = after
        yield ": connected\n\n"
        while not await request.is_disconnected():
            async with state.database.sessionmaker() as session:
                web = await session.get(WebSession, web_id)
                if web is None:
                    return
                conversation_id = (await webchat.conversation_for(session, web)).id
                await session.commit()
                query = (
                    select(Message)
                    .where(
                        Message.conversation_id == conversation_id,
                        Message.direction == "outbound",
                        Message.id > last,
                    )
                    .order_by(Message.id)
                )
                for message in (await session.scalars(query)).all():
                    last = message.id
                    yield f"event: message\ndata: {json.dumps(_line(message).model_dump())}\n\n"
            await asyncio.sleep(1.0)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.get("/widget.js", include_in_schema=False)
async def widget() -> FileResponse:
    return FileResponse(STATIC / "widget.js", media_type="application/javascript")


@router.get("/", include_in_schema=False)
async def demo() -> HTMLResponse:
    return HTMLResponse((STATIC / "demo.html").read_text(encoding="utf-8"))
