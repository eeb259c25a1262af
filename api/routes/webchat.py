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
from sqlalchemy.ext.asyncio import AsyncSession

from agent.inbox import Answer, announce, answer_to
from agent.nodes.compose import render_body
from agent.state import TurnEvent
from api.deps import Knowledge, PerIpLimit, Session, State
from api.state import AppState
from knowledge.charter import display_phone
from knowledge.errors import InvalidInput, Unauthorized
from knowledge.models import Message, WebSession
from knowledge.schemas import MAX_INT, reject_unstorable
from tools import bookings, threads
from tools.messaging import webchat
from tools.outbox import queue_reply, record_inbound

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


@router.get("/api/v1/chat/settings")
async def chat_settings(session: Session, knowledge: Knowledge) -> dict[str, Any]:
    """What the widget shows when it opens (the `web_chat` rule, edited in the knowledge
    pages): the greeting, the automated-assistant disclosure and suggested questions."""
    chat = (await knowledge.rules(session)).web_chat
    return {
        "greeting": chat.greeting,
        "disclosure": chat.disclosure,
        "suggestions": list(chat.suggestions),
    }


@router.post("/api/v1/chat/verify", dependencies=[PerIpLimit])
async def verify(
    data: VerifyIn,
    session: Session,
    state: State,
    x_chat_token: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    web = await _web(session, x_chat_token)
    customer = await webchat.verify(session, web, data.reference, data.phone, state.clock.now())
    if customer is None:
        await session.commit()  # the failed try counts
        raise InvalidInput("that booking reference and phone number do not match a booking")
    await session.commit()
    answers = await _answer_waiting(session, state, web)
    return {
        "verified": True,
        "name": (customer.name or "").split(" ")[0],
        "replies": [{"id": a.reply_id, "text": a.reply} for a in answers if a.reply],
    }


@router.post("/api/v1/chat/messages", dependencies=[PerIpLimit])
async def send(
    data: ChatMessageIn,
    session: Session,
    state: State,
    x_chat_token: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Store the visitor's message and return its answer with any quick options.

    A visitor who is not verified may prove a booking here, over as many messages as they
    like: the reference and the phone on the booking, in any order, or the reference and a
    six-digit code texted to that phone. Once verified, the request that needed it is answered.
    `replies` lists every message sent back, in order; `reply` is them all, joined.

    With turns in workers (`hibachi serve --workers N`) the turn runs in a worker and this
    request waits for it, up to HIBACHI_CHAT_REPLY_TIMEOUT_SECONDS; past that it returns with
    `id` and `reply` null, and the widget's stream delivers the reply when it comes."""
    web = await _web(session, x_chat_token)
    conversation = await webchat.conversation_for(session, web)
    inbound = await record_inbound(session, conversation, data.text)
    if web.verified_customer_id is None:
        found = await webchat.identify(session, web, data.text, state.clock.now())
        if found is not None:
            return await _identified(session, state, web, inbound, found)
    answer = await _turn(session, state, TurnEvent.customer_message(conversation.id, inbound.id))
    if answer.pending == "verify":
        # The request waits for the visitor to prove the booking, then is answered.
        web.waiting_message_id = inbound.id
        await session.commit()
    return _answer([answer])


async def _turn(session: AsyncSession, state: AppState, event: TurnEvent) -> Answer:
    """Run the turn for a stored message (here, or in a worker) and return its answer."""
    assert event.message_id is not None
    if not state.settings.turns_in_workers or event.payload.get("again"):
        await session.commit()
        result = await state.runtime.handle(event)
        if result.skipped == "duplicate":  # an inbox took the message first: its reply stands
            return await answer_to(state.database.sessionmaker, event.message_id, result.pending)
        return Answer(result.reply_message_id, result.reply, result.pending)
    state.turns.register(event.message_id)
    try:
        await session.commit()
    except BaseException:
        state.turns.forget(event.message_id)
        raise
    announce(state.hints, event.message_id)
    return await state.turns.wait(
        state.database.sessionmaker, event.message_id, state.settings.chat_reply_timeout_seconds
    )


async def _identified(
    session: AsyncSession,
    state: AppState,
    web: WebSession,
    inbound: Message,
    found: webchat.Identification,
) -> dict[str, Any]:
    """Reply to a step of verification; once verified, the visitor's messages join the
    customer's thread and the request they came with is answered."""
    inbound.status = "processed"
    charter = await state.knowledge.charter(session)
    business = charter.rules.business
    facts = {**found.facts, "phone": display_phone(business.phone)}
    simulated = state.runtime.simulated
    if found.code is not None and found.code_to is not None:
        texts = await bookings.get_or_create_conversation(session, found.code_to.id, "sms")
        await queue_reply(
            session,
            texts,
            render_body(
                "verify_code_text",
                {"code": found.code, "business_name": business.name, "minutes": facts["minutes"]},
            ),
            kind="verification_code",
            idempotency_key=f"verify-code:{inbound.id}",
            meta={"web_session": web.id},
            simulated="sms" in simulated,
        )
    verified = found.customer is not None
    if verified:
        facts["answering"] = web.waiting_message_id is not None
    text = render_body(found.kind, facts)
    reply_id = await queue_reply(
        session,
        await webchat.conversation_for(session, web),  # the customer's thread, once verified
        text,
        kind=found.kind,
        idempotency_key=f"verify:{inbound.id}",
        meta={"verification": found.kind},
        simulated="web" in simulated,
    )
    await session.commit()
    answers = [Answer(reply_id, text, None)]
    answers += await _answer_waiting(session, state, web) if verified else []
    return _answer(answers, verified=verified)


async def _answer_waiting(session: AsyncSession, state: AppState, web: WebSession) -> list[Answer]:
    """Once a visitor is verified, the request that needed it, answered (a second answer to
    that message, on the customer's thread); nothing when none was waiting."""
    waiting, web.waiting_message_id = web.waiting_message_id, None
    if waiting is None:
        return []
    thread = await webchat.conversation_for(session, web)  # the turn commits the session first
    return [await _turn(session, state, TurnEvent.answer_again(thread.id, waiting, "verified"))]


def _answer(answers: list[Answer], *, verified: bool = False) -> dict[str, Any]:
    """`verified` says this message proved the booking (the widget then shows the customer's
    thread, both sides, in order)."""
    said = [a for a in answers if a.reply]
    last = answers[-1]
    return {
        "verified": verified,
        "id": said[-1].reply_id if said else None,
        "reply": "\n\n".join(a.reply for a in said if a.reply) or None,
        "replies": [{"id": a.reply_id, "text": a.reply} for a in said],
        "options": OPTIONS.get(last.pending or "", []),
    }


@router.get("/api/v1/chat/messages")
async def history(
    session: Session,
    after: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    x_chat_token: Annotated[str | None, Header()] = None,
) -> list[ChatLine]:
    web = await _web(session, x_chat_token)
    conversation = await webchat.conversation_for(session, web)
    await session.commit()
    return [_line(m) for m in await threads.since(session, conversation.id, after, limit=200)]


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
                web = await webchat.session_by_id(session, web_id)
                if web is None:
                    return
                conversation_id = (await webchat.conversation_for(session, web)).id
                await session.commit()
                for message in await threads.since(
                    session, conversation_id, last, outbound_only=True
                ):
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
