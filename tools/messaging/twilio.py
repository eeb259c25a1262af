"""Twilio REST through the official client, with its HTTP layer on our own httpx client
(timeouts and pooling we control, and visible to respx in tests)."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from knowledge.infra.settings import Settings
from tools.messaging.channels import SendResult

UNSUBSCRIBED = 21610  # the recipient replied STOP: Twilio refuses to send to them
INVALID_NUMBER = 21211


class HttpxTwilioClient(HttpClient):  # type: ignore[misc]
    """The Twilio SDK's async HTTP interface, answered by httpx."""

    TWILIO_API = "https://api.twilio.com"

    def __init__(
        self, client: httpx.AsyncClient, timeout: float = 10.0, base_url: str = TWILIO_API
    ) -> None:
        super().__init__(logging.getLogger("twilio.http"), is_async=True, timeout=timeout)
        self.client = client
        self.base_url = base_url.rstrip("/")

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if self.base_url != self.TWILIO_API and url.startswith(self.TWILIO_API):
            url = self.base_url + url[len(self.TWILIO_API) :]
        response = await self.client.request(
            method.upper(),
            url,
            params=params,  # type: ignore[arg-type]
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout or self.timeout,
            follow_redirects=allow_redirects,
        )
        return Response(response.status_code, response.text, response.headers)


class TwilioChannel:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        assert settings.twilio_account_sid and settings.twilio_auth_token
        self.settings = settings
        self.client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            http_client=HttpxTwilioClient(http, base_url=settings.twilio_api_base_url),
        )

    def _from(self, channel: str) -> str:
        if channel == "whatsapp":
            sender = self.settings.twilio_whatsapp_from or self.settings.twilio_from_number or ""
            return sender if sender.startswith("whatsapp:") else f"whatsapp:{sender}"
        return self.settings.twilio_from_number or ""

    async def send(
        self,
        *,
        to: str,
        channel: str,
        body: str,
        message_id: int | None = None,
        content_sid: str | None = None,
        content_variables: dict[str, str] | None = None,
    ) -> SendResult:
        recipient = f"whatsapp:{to}" if channel == "whatsapp" else to
        kwargs: dict[str, Any] = {"to": recipient, "from_": self._from(channel)}
        if content_sid:  # an approved WhatsApp template instead of free-form text
            kwargs["content_sid"] = content_sid
            kwargs["content_variables"] = json.dumps(content_variables or {})
        else:
            kwargs["body"] = body
        if message_id is not None:
            # Our id rides on the callback URL, so a send whose answer was lost is still
            # matched to its Twilio message when the first status callback arrives.
            base = self.settings.public_base_url.rstrip("/")
            kwargs["status_callback"] = f"{base}/webhooks/twilio/status?mid={message_id}"
        try:
            message = await self.client.messages.create_async(**kwargs)
        except TwilioRestException as exc:
            code = int(exc.code) if exc.code else None
            return SendResult(
                error_code=str(code or exc.status),
                retry=exc.status == 429 or exc.status >= 500,
                opted_out=code == UNSUBSCRIBED,
            )
        except (httpx.TimeoutException, httpx.TransportError):
            return SendResult(unknown=True, retry=True)
        return SendResult(sid=message.sid, status=message.status or "queued")
