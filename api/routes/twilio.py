"""Twilio webhooks: inbound SMS and WhatsApp messages, and delivery status callbacks.

Verify the signature, store once (keyed on MessageSid), acknowledge with empty TwiML, and let
the inbox answer after the commit: a provider retry of the same message stores nothing new
and gets no second reply.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from twilio.request_validator import RequestValidator

from agent.inbox import announce
from api.deps import Session, State
from knowledge.errors import (
    AppError,
    Forbidden,
    InvalidInput,
    ServiceUnavailable,
    TooManyRequests,
)
from knowledge.infra.faults import crash_point
from knowledge.schemas import MAX_INT
from tools.messaging.inbound import is_stored, record_status, store_inbound
from tools.phones import to_e164

router = APIRouter(prefix="/webhooks/twilio", tags=["webhooks"])

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
MAX_BODY_BYTES = 64 * 1024
MAX_SID_LENGTH = 64  # Twilio's are 34; the column holds 64
MAX_NAME_LENGTH = 200  # a WhatsApp profile name becomes the customer's name (200 at most)


def _form(required: list[str], **fields: str) -> dict[str, Any]:
    """OpenAPI for a form the route reads itself (the signature covers the raw fields)."""
    properties = {name: {"type": "string", "description": text} for name, text in fields.items()}
    schema = {"type": "object", "properties": properties, "required": required}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": schema}},
        }
    }


INBOUND_FORM = _form(
    ["MessageSid", "From"],
    MessageSid="Twilio's id of the message",
    From="+E.164 number, or whatsapp:+E.164",
    Body="The text",
    ProfileName="WhatsApp profile name",
    NumMedia="Number of attachments",
)
STATUS_FORM = _form(
    ["MessageSid", "MessageStatus"],
    MessageSid="Twilio's id of the message",
    MessageStatus="queued, sent, delivered, read, undelivered or failed",
    ErrorCode="Twilio's error code, when it failed",
)


async def verified_form(request: Request, state: State) -> dict[str, str]:
    """The posted form, after checking Twilio's signature over every field it sent."""
    token = state.settings.twilio_auth_token
    if not token:
        raise ServiceUnavailable("Twilio is not configured on this service (TWILIO_AUTH_TOKEN)")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidInput("body: too large for a Twilio webhook")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("body: not UTF-8") from None
    form = dict(parse_qsl(text, keep_blank_values=True))
    # Twilio signs the public URL it called; behind a proxy that is PUBLIC_BASE_URL + path.
    url = state.settings.public_base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not RequestValidator(token).validate(url, form, signature):
        raise Forbidden("the Twilio signature is missing or wrong")
    # PostgreSQL text cannot hold NUL; a customer's message is kept without it, not refused.
    return {name: value.replace("\x00", "") for name, value in form.items()}


@router.post("/messages", openapi_extra=INBOUND_FORM)
async def inbound_message(request: Request, state: State, session: Session) -> Response:
    form = await verified_form(request, state)
    sid = form.get("MessageSid") or form.get("SmsSid")
    sender = form.get("From", "")
    if not sid:
        raise InvalidInput("MessageSid: missing")
    if len(sid) > MAX_SID_LENGTH:
        raise InvalidInput(f"MessageSid: longer than {MAX_SID_LENGTH} characters")
    channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    try:
        phone = to_e164(sender)
    except AppError:
        raise InvalidInput(f"From: '{sender}' is not a phone number") from None
    try:
        state.phone_limit.check(phone, "messages from this number")
    except TooManyRequests:
        # Only a full minute costs a lookup: Twilio retrying a message we already accepted
        # is never refused (and stores nothing new below).
        if not await is_stored(session, sid):
            raise
    try:
        media = int(form.get("NumMedia", "0") or 0)
    except ValueError:
        media = 0
    stored = await store_inbound(
        session,
        phone=phone,
        channel=channel,
        body=form.get("Body", ""),
        provider_message_id=sid,
        profile_name=form.get("ProfileName", "")[:MAX_NAME_LENGTH] or None,
        media_count=media,
    )
    await session.commit()
    crash_point("inbound_stored")
    if stored.message_id is not None:
        announce(state.hints, stored.message_id)
    state.inbox_wake.set()
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.post("/status", openapi_extra=STATUS_FORM)
async def status_callback(request: Request, state: State, session: Session) -> Response:
    form = await verified_form(request, state)
    sid = form.get("MessageSid") or form.get("SmsSid")
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    if not sid or not status:
        raise InvalidInput("MessageSid and MessageStatus are required")
    if len(sid) > MAX_SID_LENGTH:
        raise InvalidInput(f"MessageSid: longer than {MAX_SID_LENGTH} characters")
    mid = request.query_params.get("mid", "")
    await record_status(
        session,
        sid,
        status,
        ours=int(mid) if mid.isdigit() and int(mid) <= MAX_INT else None,
        error_code=form.get("ErrorCode") or None,
    )
    await session.commit()
    return Response(status_code=204)
