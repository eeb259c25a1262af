"""Access control over every route of the app: no token, an expired token, a revoked token and
the wrong role are all refused, and a web chat session reads only its own messages."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from knowledge.infra.clock import FrozenClock
from knowledge.infra.settings import Settings
from knowledge.users import create_user, revoke

# Routes anyone may call: health, Twilio (signature-checked), the web chat (chat-token
# checked), the pages and scripts (the data behind them needs a token), and signing in with a
# password or a set-up link (tests/test_sign_in.py).
PUBLIC = re.compile(
    r"^/(healthz|readyz|metrics|widget\.js|$)|^/webhooks/|^/api/v1/chat/|^/console(/|$)"
)
SIGN_IN = {("POST", "/api/v1/session"), ("POST", "/api/v1/setup")}
ADMIN_ONLY = {
    ("POST", "/api/v1/bookings"),
    ("POST", "/api/v1/business-rules"),
    ("PUT", "/api/v1/business-rules/{rule_id}"),
    ("DELETE", "/api/v1/business-rules/{rule_id}"),
    ("POST", "/api/v1/menu/addons"),
    ("PUT", "/api/v1/menu/addons/{addon_id}"),
    ("DELETE", "/api/v1/menu/addons/{addon_id}"),
    ("POST", "/api/v1/faqs"),
    ("PUT", "/api/v1/faqs/{faq_id}"),
    ("DELETE", "/api/v1/faqs/{faq_id}"),
    ("POST", "/api/v1/offers"),
    ("PUT", "/api/v1/offers/{offer_id}"),
    ("DELETE", "/api/v1/offers/{offer_id}"),
    ("POST", "/api/v1/saved-replies"),
    ("PUT", "/api/v1/saved-replies/{reply_id}"),
    ("DELETE", "/api/v1/saved-replies/{reply_id}"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("PATCH", "/api/v1/users/{user_id}"),
    ("POST", "/api/v1/users/{user_id}/setup-link"),
}


def protected_routes() -> list[tuple[str, str]]:
    """Every operation of the app's OpenAPI schema that is not knowingly public."""
    app = create_app(Settings(env="test", data_dir=Path("/tmp"), run_worker=False))
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if not PUBLIC.search(path)
        for method in operations
        if (method.upper(), path) not in SIGN_IN
    ]


ROUTES = protected_routes()


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_the_route_list_is_complete() -> None:
    """A new route must be placed here: protected (and tested below) or knowingly public."""
    assert len(ROUTES) >= 35
    assert set(ROUTES) >= ADMIN_ONLY
    assert ("POST", "/api/v1/escalations/{escalation_id}/claim") in ROUTES


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_refused_without_a_valid_token(
    method: str,
    path: str,
    client: httpx.AsyncClient,
    session: AsyncSession,
    clock: FrozenClock,
) -> None:
    _u, expired = await create_user(
        session, "expired-user", "admin", expires_at=clock.now() - timedelta(minutes=1)
    )
    _u, revoked = await create_user(session, "revoked-user", "admin")
    await revoke(session, "revoked-user", clock.now())
    await session.commit()
    for headers in (
        {},
        {"Authorization": "Bearer "},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {revoked}"},
        {"Authorization": f"Basic {expired}"},
    ):
        response = await client.request(method, concrete(path), json={}, headers=headers)
        assert response.status_code == 401, (method, path, headers, response.text)
        assert response.json()["error"]["code"]


@pytest.mark.parametrize(("method", "path"), sorted(ADMIN_ONLY))
async def test_agents_are_refused_admin_routes(
    method: str, path: str, client: httpx.AsyncClient, agent_headers: dict[str, str]
) -> None:
    response = await client.request(method, concrete(path), json={}, headers=agent_headers)
    assert response.status_code == 403, (method, path, response.text)
    assert "admin" in response.json()["error"]["message"]


class TestWebChatSessions:
    async def test_a_session_reads_only_its_own_messages(self, client: httpx.AsyncClient) -> None:
        first = (await client.post("/api/v1/chat/sessions")).json()["token"]
        second = (await client.post("/api/v1/chat/sessions")).json()["token"]
        await client.post(
            "/api/v1/chat/messages",
            json={"text": "my secret question about lobster"},
            headers={"X-Chat-Token": first},
        )
        theirs = await client.get("/api/v1/chat/messages", headers={"X-Chat-Token": second})
        assert theirs.status_code == 200
        assert "lobster" not in theirs.text
        mine = await client.get("/api/v1/chat/messages", headers={"X-Chat-Token": first})
        assert "lobster" in mine.text

    @pytest.mark.parametrize("token", [None, "", "not-a-session-token-0000000"])
    async def test_no_session_no_messages(
        self, client: httpx.AsyncClient, token: str | None
    ) -> None:
        headers = {} if token is None else {"X-Chat-Token": token}
        read = await client.get("/api/v1/chat/messages", headers=headers)
        write = await client.post("/api/v1/chat/messages", json={"text": "hi"}, headers=headers)
        assert read.status_code in (401, 403) and write.status_code in (401, 403)
        assert read.json()["error"]["code"] and write.json()["error"]["code"]
