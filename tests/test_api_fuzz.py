"""Schemathesis fuzzes every operation of the app's own OpenAPI schema: no input earns a 5xx,
and every 4xx carries the one error shape `{"error": {"code", "message", "fields"?}}`. Each
bug it found keeps a focused regression test below."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twilio.request_validator import RequestValidator

from api.app import create_app
from knowledge.db import make_engine, unit_of_work
from knowledge.infra.settings import Settings
from knowledge.models import Customer, Escalation, FaqItem, Message
from knowledge.schemas import MAX_INT
from knowledge.users import create_user
from tests.conftest import clone_database
from tests.factories import make_booking, make_conversation, make_customer, make_message
from tools.messaging import webchat

# Per operation, in the fuzzing phase (the examples and coverage phases add their own few).
# 25 keeps the whole run near a minute on two cores.
MAX_EXAMPLES = 25
SEED = 20260610
TWILIO_TOKEN = "fuzz-twilio-auth-token"
BASE_URL = f"http://{asgi.HOST}"
TOO_BIG = MAX_INT + 1  # one past PostgreSQL's `integer`
BOOKING: dict[str, Any] = {
    "customer": {"name": "Ann Lee", "phone": "+19165550144"},
    "event_at": "2030-06-27T18:00:00-07:00",
    "address": "5 Pine Ct, Folsom, CA",
    "adults": 10,
}


@dataclass(frozen=True)
class FuzzTarget:
    app: FastAPI
    admin_token: str
    chat_token: str


def fuzz_settings(**overrides: Any) -> Settings:
    return Settings(
        env="test",
        run_worker=False,
        openai_api_key=None,
        openai_base_url=None,
        twilio_account_sid=None,
        # Configured, so the webhooks check signatures (403) rather than say "not set up" (503).
        twilio_auth_token=TWILIO_TOKEN,
        **overrides,
    )


@pytest.fixture(scope="module")
async def fuzz_target(
    pg_server: Any, template_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FuzzTarget]:
    """The app on a database of its own (it runs in schemathesis's event loop and commits),
    with one of each thing behind an id, so small generated ids reach the real handlers."""
    url = await clone_database(pg_server, template_url)
    engine = make_engine(url)
    async with unit_of_work(async_sessionmaker(engine, expire_on_commit=False)) as session:
        _user, admin_token = await create_user(session, "fuzz-admin", "admin")
        _web, chat_token = await webchat.start_session(session)
        customer = await make_customer(session, name="Fuzz Guest", phone="+19165550142")
        booking = await make_booking(
            session, customer, event_at=datetime.now(UTC) + timedelta(days=30)
        )
        conversation = await make_conversation(session, customer)
        await make_message(session, conversation)
        session.add(
            Escalation(
                customer_id=customer.id,
                booking_id=booking.id,
                conversation_id=conversation.id,
                priority="HIGH",
                reason="fuzz",
                action_required="call",
                deadline=datetime.now(UTC) + timedelta(hours=3),
            )
        )
    await engine.dispose()
    app = create_app(fuzz_settings(database_url=url, data_dir=tmp_path_factory.mktemp("fuzz")))
    yield FuzzTarget(app=app, admin_token=admin_token, chat_token=chat_token)
    # The app's lifespan (engine, listener, checkpointers) runs in schemathesis's portal thread
    # until the process exits unless ended here, while its database is still up.
    asgi.shutdown_lifespans()


def assert_error_shape(status: int, body: Any) -> None:
    """The one error shape of api/errors.py."""
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"{status} body is not an error: {body!r}"
    assert set(error) <= {"code", "message", "fields", "details"}, body
    assert isinstance(error.get("code"), str) and error["code"], body
    assert isinstance(error.get("message"), str) and error["message"], body
    if "fields" in error:
        assert isinstance(error["fields"], list), body
        for field in error["fields"]:
            assert isinstance(field.get("field"), str), body
            assert isinstance(field.get("message"), str), body


def error_shape(_ctx: Any, response: schemathesis.Response, _case: schemathesis.Case) -> None:
    """A schemathesis check: every 4xx is JSON in the one error shape."""
    if not 400 <= response.status_code < 500:
        return
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{response.status_code} is not JSON: {response.text!r}") from None
    assert_error_shape(response.status_code, body)


def phone_for(value: str) -> str:
    """A real (fictional, 555) number chosen by the generated text, so runs stay repeatable."""
    return f"+1916555{zlib.crc32(value.encode('utf-8', 'replace')) % 10000:04d}"


def next_year(value: str) -> str:
    """The same moment moved into next year, so a generated date passes "must be in the
    future" and the fuzzer reaches what comes after that check."""
    try:
        at = datetime.fromisoformat(value)
        return at.replace(year=datetime.now(UTC).year + 1).isoformat()
    except ValueError:  # not a date, or the 29th of February
        return value


def made_plausible(case: schemathesis.Case) -> None:
    """Random text is never a phone number and random dates are mostly past, so no booking
    or inbound SMS would get past validation: a positive case gets a real number where the
    schema only says "string", a guest, and a date to come."""
    if case.meta is None or case.meta.generation.mode.is_negative:
        return
    body = case.body
    if not isinstance(body, dict):
        return
    if case.operation.path.startswith("/api/v1/bookings") and isinstance(body.get("event_at"), str):
        body["event_at"] = next_year(body["event_at"])
    if case.operation.path == "/api/v1/bookings":
        customer = body.get("customer")
        if isinstance(customer, dict) and isinstance(customer.get("phone"), str):
            customer["phone"] = phone_for(customer["phone"])
        if not any(body.get(kind) for kind in ("adults", "kids", "toddlers")):
            body["adults"] = 1
    if case.operation.path == "/webhooks/twilio/messages":
        sender = body.get("From")
        if isinstance(sender, str):
            channel = "whatsapp:" if sender.startswith("w") else ""
            body["From"] = channel + phone_for(sender)


def twilio_signature(case: schemathesis.Case) -> dict[str, str]:
    """Sign a webhook's form as Twilio would, so the fuzzer gets past the signature check. A
    form that is not flat text stays unsigned: 403 is the right answer to it."""
    form = case.body
    if not case.operation.path.startswith("/webhooks/twilio/") or not isinstance(form, dict):
        return {}
    if not all(isinstance(value, str) for value in form.values()):
        return {}
    url = fuzz_settings().public_base_url + case.formatted_path
    return {"X-Twilio-Signature": RequestValidator(TWILIO_TOKEN).compute_signature(url, form)}


CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            # Every call carries the admin token: examples spent on "no token" would only
            # repeat test_admin_api's 401s instead of reaching the handlers.
            "with-security-parameters": False,
        },
        # Literals harvested from our source feed the generator in an order that varies from
        # process to process; without them two runs send exactly the same requests.
        "analysis": {"constants": {"enabled": False}},
    }
)
# The schema is the app's own; which app answers (and on which database) is the fixture's.
# (schemathesis.pytest.from_fixture would load it lazily, but it breaks on pytest 9.2.)
schema = schemathesis.openapi.from_dict(
    create_app(fuzz_settings()).openapi(), config=CONFIG
).exclude(
    # Server-sent events never end: each request would hold its example until the transport's
    # time limit, and the fuzzer learns nothing from a stream it has to cut.
    path_regex=r"/stream$",
)


@schema.parametrize()
def test_no_input_earns_a_server_error_or_a_shapeless_4xx(
    case: schemathesis.Case, fuzz_target: FuzzTarget
) -> None:
    headers = {"Authorization": f"Bearer {fuzz_target.admin_token}"}
    if "x-chat-token" in {p.name.lower() for p in case.operation.headers}:
        # A live chat gets the fuzzer past "start a chat first" into the real handlers.
        headers["X-Chat-Token"] = fuzz_target.chat_token
    made_plausible(case)
    headers.update(twilio_signature(case))
    response = case.call(app=fuzz_target.app, base_url=BASE_URL, headers=headers)
    case.validate_response(response, checks=[not_a_server_error, error_shape])


# ---- regressions: what the fuzzer found, and what probing its neighbours found -------------


def assert_invalid(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert_error_shape(422, body)
    assert body["error"]["code"] == "invalid_input"
    assert field in response.text, body


async def chat_headers(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post("/api/v1/chat/sessions")
    return {"X-Chat-Token": response.json()["token"]}


class TestIdsPastTheDatabaseIntegerAre422:
    """Was: the driver refused the number (value out of int32 range) and the request was a 500."""

    @pytest.mark.parametrize(
        ("method", "path", "field"),
        [
            ("GET", f"/api/v1/business-rules/{TOO_BIG}", "rule_id"),
            ("PUT", f"/api/v1/business-rules/{TOO_BIG}", "rule_id"),
            ("DELETE", f"/api/v1/business-rules/{TOO_BIG}", "rule_id"),
            ("GET", f"/api/v1/business-rules/{TOO_BIG}/versions", "rule_id"),
            ("GET", f"/api/v1/menu/addons/{TOO_BIG}", "addon_id"),
            ("DELETE", f"/api/v1/menu/addons/{TOO_BIG}", "addon_id"),
            ("GET", f"/api/v1/faqs/{TOO_BIG}", "faq_id"),
            ("PUT", f"/api/v1/faqs/{TOO_BIG}", "faq_id"),
            ("DELETE", f"/api/v1/faqs/{TOO_BIG}", "faq_id"),
            ("GET", f"/api/v1/offers/{TOO_BIG}", "offer_id"),
            ("PUT", f"/api/v1/offers/{TOO_BIG}", "offer_id"),
            ("DELETE", f"/api/v1/offers/{TOO_BIG}", "offer_id"),
            ("GET", f"/api/v1/bookings/{TOO_BIG}", "booking_id"),
            ("PATCH", f"/api/v1/bookings/{TOO_BIG}", "booking_id"),
            ("GET", f"/api/v1/conversations/{TOO_BIG}/messages", "conversation_id"),
        ],
    )
    async def test_path_ids(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        method: str,
        path: str,
        field: str,
    ) -> None:
        body = {} if method in ("PUT", "PATCH") else None
        response = await client.request(method, path, json=body, headers=admin_headers)
        assert_invalid(response, field)

    async def test_chef_departed(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        response = await client.post(
            f"/api/v1/bookings/{TOO_BIG}/chef-departed",
            json={"eta_minutes": 10},
            headers=admin_headers,
        )
        assert_invalid(response, "booking_id")

    async def test_chat_history_after(self, client: httpx.AsyncClient) -> None:
        headers = await chat_headers(client)
        response = await client.get(f"/api/v1/chat/messages?after={TOO_BIG}", headers=headers)
        assert_invalid(response, "after")

    async def test_the_largest_id_is_still_a_plain_404(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        response = await client.get(f"/api/v1/faqs/{MAX_INT}", headers=admin_headers)
        assert response.status_code == 404, response.text

    async def test_an_addon_display_order_too(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        addon = {"slug": "big_order", "name": "Big", "price": "5", "category": "extra"}
        response = await client.post(
            "/api/v1/menu/addons", json={**addon, "display_order": TOO_BIG}, headers=admin_headers
        )
        assert_invalid(response, "display_order")

    async def test_escalation_ids(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        response = await client.get(f"/api/v1/escalations/{TOO_BIG}", headers=admin_headers)
        assert_invalid(response, "escalation_id")


class TestNulCharactersAre422:
    """Was: PostgreSQL refused the text (invalid byte sequence for encoding "UTF8": 0x00) and
    the request was a 500."""

    async def test_a_faq_question(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
    ) -> None:
        before = await session.scalar(select(func.count()).select_from(FaqItem))
        response = await client.post(
            "/api/v1/faqs",
            json={"question": "\u0000", "answer": "0", "category": "menu"},
            headers=admin_headers,
        )
        assert_invalid(response, "question")
        assert "NUL" in response.json()["error"]["message"]
        assert await session.scalar(select(func.count()).select_from(FaqItem)) == before

    @pytest.mark.parametrize(
        ("path", "body", "field"),
        [
            (
                "/api/v1/business-rules",
                {"rule_type": "fuzz", "title": "t", "content": "c", "value": {"k": ["a\x00"]}},
                "value.k.0",
            ),
            (
                "/api/v1/offers",
                {
                    "title": "t",
                    "description": "a\x00b",
                    "discount_type": "fixed_amount",
                    "discount_value": "5",
                    "valid_from": "2026-07-01",
                    "valid_to": "2026-07-02",
                },
                "description",
            ),
            (
                "/api/v1/bookings",
                {
                    "customer": {"name": "Nul\x00", "phone": "+19165550143"},
                    "event_at": "2026-08-01T18:00:00-07:00",
                    "address": "1 Main St",
                    "adults": 10,
                },
                "customer.name",
            ),
        ],
    )
    async def test_admin_input(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        path: str,
        body: dict[str, Any],
        field: str,
    ) -> None:
        response = await client.post(path, json=body, headers=admin_headers)
        assert_invalid(response, field)

    async def test_a_chat_message(self, client: httpx.AsyncClient) -> None:
        headers = await chat_headers(client)
        response = await client.post(
            "/api/v1/chat/messages", json={"text": "hi\x00"}, headers=headers
        )
        assert_invalid(response, "text")


class TestNullsInABookingChangeAre422:
    """Was: `"event_at": null` (or null guests) reached the flow and raised a TypeError (500);
    a null address broke a NOT NULL constraint and read as a 409 conflict."""

    @pytest.mark.parametrize("field", ["event_at", "adults", "address", "status", "proteins"])
    async def test_null_is_refused_and_nothing_changes(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        session: AsyncSession,
        field: str,
    ) -> None:
        booking = await make_booking(session, event_at=datetime.now(UTC) + timedelta(days=20))
        await session.commit()
        response = await client.patch(
            f"/api/v1/bookings/{booking.id}", json={field: None}, headers=admin_headers
        )
        assert_invalid(response, field)
        assert "may not be null" in response.json()["error"]["message"]

    async def test_access_notes_may_still_be_cleared(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
    ) -> None:
        booking = await make_booking(
            session, event_at=datetime.now(UTC) + timedelta(days=20), access_notes="gate 4"
        )
        await session.commit()
        response = await client.patch(
            f"/api/v1/bookings/{booking.id}", json={"access_notes": None}, headers=admin_headers
        )
        assert response.status_code == 200, response.text


class TestTextLongerThanItsColumnIs422:
    """Was: the schema allowed more than the column holds (value too long), a 500."""

    async def test_an_addon_name(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        addon = {"slug": "long_name", "name": "n" * 101, "price": "5", "category": "extra"}
        response = await client.post("/api/v1/menu/addons", json=addon, headers=admin_headers)
        assert_invalid(response, "name")

    @pytest.mark.parametrize(
        ("customer", "field"),
        [
            ({"name": "n" * 201}, "customer.name"),
            ({"name": "Ann", "email": "e" * 321}, "customer.email"),
        ],
    )
    async def test_a_booking_customer(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        customer: dict[str, str],
        field: str,
    ) -> None:
        booking = {**BOOKING, "customer": {**customer, "phone": "+19165550144"}}
        response = await client.post("/api/v1/bookings", json=booking, headers=admin_headers)
        assert_invalid(response, field)


class TestOtherUnstorableInputIs422:
    async def test_an_event_at_the_end_of_time(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        """Was: 9999-12-31T23:59:59-12:00 is past year 9999 in UTC and the driver raised (500)."""
        booking = {**BOOKING, "event_at": "9999-12-31T23:59:59-12:00"}
        response = await client.post("/api/v1/bookings", json=booking, headers=admin_headers)
        assert_invalid(response, "event_at")

    async def test_nan_in_a_rule_value(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        """Was: Python's JSON parser accepts NaN, PostgreSQL's JSON does not (500)."""
        response = await client.post(
            "/api/v1/business-rules",
            content='{"rule_type": "fuzz", "title": "t", "content": "c", "value": {"k": NaN}}',
            headers={**admin_headers, "Content-Type": "application/json"},
        )
        assert_invalid(response, "value.k")

    async def test_a_null_offer_description(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        """Was: a NOT NULL violation, reported as a 409 "conflicts with existing data"."""
        offer = {
            "title": "Summer",
            "discount_type": "fixed_amount",
            "discount_value": "5",
            "valid_from": "2026-07-01",
            "valid_to": "2026-07-31",
        }
        created = await client.post("/api/v1/offers", json=offer, headers=admin_headers)
        response = await client.put(
            f"/api/v1/offers/{created.json()['id']}",
            json={"description": None},
            headers=admin_headers,
        )
        assert_invalid(response, "description")

    async def test_nul_in_escalation_notes(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
    ) -> None:
        customer = await make_customer(session)
        escalation = Escalation(
            customer_id=customer.id,
            priority="HIGH",
            reason="fuzz",
            action_required="call",
            deadline=datetime.now(UTC) + timedelta(hours=3),
        )
        session.add(escalation)
        await session.commit()
        response = await client.post(
            f"/api/v1/escalations/{escalation.id}/resolve",
            json={"notes": "done\x00"},
            headers=admin_headers,
        )
        assert_invalid(response, "notes")


class TestABlankIdempotencyKeyIsNoKey:
    async def test_two_bookings_with_blank_keys_are_two_bookings(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        """Was: the first stored "" as its key, and the second was a 409 conflict."""
        headers = {**admin_headers, "Idempotency-Key": ""}
        first = await client.post("/api/v1/bookings", json=BOOKING, headers=headers)
        second = await client.post("/api/v1/bookings", json=BOOKING, headers=headers)
        assert (first.status_code, second.status_code) == (201, 201), second.text
        assert first.json()["id"] != second.json()["id"]


class TestTwilioWebhooksStoreWhatTheyAccept:
    """Was: each of these passed the signature check and then failed in PostgreSQL (500), so
    Twilio retried a message that could never be stored."""

    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return Settings(
            env="test",
            data_dir=tmp_path,
            run_worker=False,
            twilio_auth_token=TWILIO_TOKEN,
            public_base_url=TWILIO_BASE,
        )

    async def test_nul_in_the_text_and_a_long_profile_name(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        form = twilio_form("SMnul", Body="see\x00you", ProfileName="P" * 300)
        response = await twilio_post(client, "/webhooks/twilio/messages", form)
        assert response.status_code == 200, response.text
        stored = await session.scalar(select(Message).where(Message.provider_message_id == "SMnul"))
        assert stored is not None and stored.body == "seeyou"
        customer = await session.scalar(select(Customer).where(Customer.phone == "+19165550145"))
        assert customer is not None and customer.name == "P" * 200

    @pytest.mark.parametrize("path", ["/webhooks/twilio/messages", "/webhooks/twilio/status"])
    async def test_a_message_sid_longer_than_twilios(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        form = twilio_form("SM" + "x" * 100, MessageStatus="delivered")
        assert_invalid(await twilio_post(client, path, form), "MessageSid")

    async def test_a_status_callback_for_an_id_past_the_database_integer(
        self, client: httpx.AsyncClient
    ) -> None:
        path = f"/webhooks/twilio/status?mid={TOO_BIG}"
        form = {"MessageSid": "SMbig", "MessageStatus": "delivered"}
        response = await twilio_post(client, path, form)
        assert response.status_code == 204, response.text


TWILIO_BASE = "https://hibachi.example"


def twilio_form(sid: str, **fields: str) -> dict[str, str]:
    return {"MessageSid": sid, "From": "+19165550145", "To": "+19167408768", **fields}


async def twilio_post(client: httpx.AsyncClient, path: str, form: dict[str, str]) -> httpx.Response:
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(TWILIO_BASE + path, form)
    return await client.post(
        path,
        content=urlencode(form),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
