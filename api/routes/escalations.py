"""The console's escalation queue and the actions on a case: claim (take over the thread),
assign to a teammate, notes for the team, reply through the customer's channel, release,
resolve. Any signed-in user (agent or admin)
works cases; every action is checked here, on the server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentUser, Session, State
from api.routes.bookings import booking_view
from api.routes.conversations import MessageView, send_as_person
from knowledge.errors import InvalidInput
from knowledge.schemas import RowId, StorableInput
from tools import bookings, threads
from tools import escalation_queue as queued
from tools import escalations as cases
from tools.bookings.schemas import BookingView
from tools.escalation_queue import EscalationView

router = APIRouter(prefix="/api/v1/escalations", tags=["console"])

STREAM_POLL_SECONDS = 1.0


class AlertView(BaseModel):
    """One alert about the case: to whom and how, why, and whether it was sent."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str | None  # None as the case opened or changed; "unclaimed:URGENT", "owner:…", …
    channel: str
    target: str | None
    subject: str
    status: str
    created_at: datetime
    sent_at: datetime | None


class NoteView(BaseModel):
    """A note the team wrote on the case (never sent to the customer)."""

    id: int
    author: str | None
    body: str
    created_at: datetime


class Thread(BaseModel):
    escalation: EscalationView
    owner: str  # who answers the thread now: "ai" or "human"
    owner_name: str | None
    booking: BookingView | None
    messages: list[MessageView]  # every channel of this customer, oldest first
    alerts: list[AlertView]  # every alert about the case, oldest first
    notes: list[NoteView]  # the team's notes, oldest first


class Assignment(StorableInput):
    user_id: RowId


class NewNote(StorableInput):
    text: str = Field(min_length=1, max_length=4000)


class Notes(StorableInput):
    notes: str | None = Field(default=None, max_length=4000)


class Reply(StorableInput):
    text: str = Field(min_length=1, max_length=1600)


@router.get("")
async def queue(
    user: CurrentUser,
    session: Session,
    state: State,
    status: Annotated[Literal["open", "closed", "all"], Query()] = "open",
    priority: Annotated[Literal["URGENT", "HIGH", "MEDIUM", "LOW"] | None, Query()] = None,
    mine: bool = False,
    unassigned: bool = False,
    overdue: bool = False,
) -> list[EscalationView]:
    """Escalations, most urgent first (priority, then deadline)."""
    return await queued.queue(
        session,
        state.clock.now(),
        status=status,
        priority=priority,
        user_id=user.id if mine else None,
        unassigned=unassigned,
        overdue=overdue,
    )


@router.get("/stream")
async def stream(request: Request, _: CurrentUser, state: State) -> StreamingResponse:
    """Server-sent events: the open queue, sent again whenever it changes (a new case, a
    claim, a release, a resolution). Read it with fetch() so the token stays in a header."""

    async def events() -> AsyncIterator[str]:
        last: str | None = None
        yield ": connected\n\n"
        while not await request.is_disconnected():
            async with state.database.sessionmaker() as session:
                views = await queued.queue(session, state.clock.now())
            signature = json.dumps([(v.id, v.status, v.assigned_to_id, v.priority) for v in views])
            if signature != last:
                last = signature
                data = json.dumps([v.model_dump(mode="json") for v in views])
                yield f"event: queue\ndata: {data}\n\n"
            await asyncio.sleep(STREAM_POLL_SECONDS)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.get("/{escalation_id}")
async def escalation(
    escalation_id: RowId, _: CurrentUser, session: Session, state: State
) -> EscalationView:
    return await queued.one(session, escalation_id, state.clock.now())


@router.get("/{escalation_id}/thread")
async def thread(escalation_id: RowId, _: CurrentUser, session: Session, state: State) -> Thread:
    """The case with the customer's whole conversation on every channel and the booking with
    its planned touchpoints; each agent message carries its decision trail in `meta`."""
    view = await queued.one(session, escalation_id, state.clock.now())
    conversation = (
        await threads.get(session, view.conversation_id) if view.conversation_id else None
    )
    owner = await threads.holder(session, conversation) if conversation is not None else None
    booking = await bookings.get(session, view.booking_id) if view.booking_id else None
    messages = await threads.customer_messages(session, view.customer_id, limit=1000)
    return Thread(
        escalation=view,
        owner=conversation.owner if conversation is not None else "ai",
        owner_name=owner.name if owner else None,
        booking=await booking_view(session, booking) if booking is not None else None,
        messages=[MessageView.model_validate(m) for m in messages],
        alerts=[AlertView.model_validate(a) for a in await cases.alerts_of(session, view.id)],
        notes=[
            NoteView(id=n.id, author=author, body=n.body, created_at=n.created_at)
            for n, author in await cases.notes_of(session, view.id)
        ],
    )


@router.post("/{escalation_id}/claim")
async def claim(
    escalation_id: RowId, user: CurrentUser, session: Session, state: State
) -> EscalationView:
    """Take the case and its thread: the agent stays silent there until it is released or
    resolved. If someone else holds it: 409 naming them."""
    await cases.claim(session, escalation_id, user, state.clock.now())
    await session.commit()
    return await queued.one(session, escalation_id, state.clock.now())


@router.post("/{escalation_id}/assign")
async def assign(
    escalation_id: RowId, data: Assignment, user: CurrentUser, session: Session, state: State
) -> EscalationView:
    """Give the case and its thread to a teammate, who is alerted in the console. A held case
    is reassigned by its holder or an admin."""
    now = state.clock.now()
    await cases.assign(
        session, escalation_id, data.user_id, user, now, state.settings.public_base_url
    )
    await session.commit()
    return await queued.one(session, escalation_id, now)


@router.post("/{escalation_id}/notes", status_code=201)
async def add_note(
    escalation_id: RowId, data: NewNote, user: CurrentUser, session: Session
) -> NoteView:
    """A note for the team on the case; it is never sent to the customer."""
    if not data.text.strip():
        raise InvalidInput("text: write the note")
    note = await cases.add_note(session, escalation_id, user, data.text)
    await session.commit()
    return NoteView(id=note.id, author=user.name, body=note.body, created_at=note.created_at)


@router.post("/{escalation_id}/release")
async def release(
    escalation_id: RowId, user: CurrentUser, session: Session, state: State
) -> EscalationView:
    """Put the case back in the queue unresolved; the agent answers the thread again."""
    await cases.release(session, escalation_id, user)
    await session.commit()
    return await queued.one(session, escalation_id, state.clock.now())


@router.post("/{escalation_id}/resolve")
async def resolve(
    escalation_id: RowId, data: Notes, user: CurrentUser, session: Session, state: State
) -> EscalationView:
    """Close the case with notes and hand the thread back to the agent (nothing is sent)."""
    await cases.resolve(session, escalation_id, user, data.notes, state.clock.now())
    await session.commit()
    return await queued.one(session, escalation_id, state.clock.now())


@router.post("/{escalation_id}/reply")
async def reply(
    escalation_id: RowId, data: Reply, user: CurrentUser, session: Session, state: State
) -> MessageView:
    """Send a message to the customer on their channel, signed with the person's name. A
    reply takes the case (and the thread) first if nobody holds it."""
    text = data.text.strip()
    if not text:
        raise InvalidInput("text: write a message")
    escalation = await cases.claim(session, escalation_id, user, state.clock.now())
    conversation_id = escalation.conversation_id
    await session.commit()
    if conversation_id is None:
        raise InvalidInput("this escalation has no conversation to reply on")
    return await send_as_person(state, session, conversation_id, user, text)
