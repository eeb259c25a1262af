"""Console sign-in: a name and password open a session cookie (httpOnly, SameSite, Secure in
production); wrong passwords lock the account for a while; every change a cookie makes needs the
session's CSRF token; signing out, deactivation and a reset end sessions at once; an admin adds
a teammate who chooses a password from a one-time link; passwords are never logged or returned."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from pwdlib import PasswordHash
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from api.app import create_app
from api.deps import CSRF_HEADER, SESSION_COOKIE
from knowledge.db import Database
from knowledge.infra import logs
from knowledge.infra.clock import FrozenClock
from knowledge.infra.settings import Settings
from knowledge.models import ApiUser
from knowledge.service import KnowledgeService
from knowledge.users import SignInRules
from tests.factories import PASSWORD, make_person

# Sign-in and the set-up link are how one gets a session; everything else needs one.
OPEN = {("POST", "/api/v1/session"), ("POST", "/api/v1/setup")}


async def sign_in(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/session", json={"name": name, "password": password})


async def signed_in(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    """Sign in on the client (its cookie jar keeps the session); the CSRF header to send."""
    response = await sign_in(client, name)
    assert response.status_code == 200, response.text
    return {CSRF_HEADER: response.json()["csrf"]}


def set_cookie(response: httpx.Response) -> str:
    return next(v for k, v in response.headers.multi_items() if k == "set-cookie")


@pytest.fixture
async def people(session: AsyncSession) -> None:
    await make_person(session, "Ana", "admin")
    await make_person(session, "Kim", "agent")
    await session.commit()


def a_second_browser(client: httpx.AsyncClient) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=client._transport, base_url="http://test")


@pytest.mark.usefixtures("people")
class TestSignIn:
    async def test_a_password_opens_a_session_cookie_the_page_cannot_read(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await sign_in(client, "kim")  # names are matched without regard to case
        assert response.status_code == 200
        body = response.json()
        assert body["name"] == "Kim" and body["role"] == "agent" and len(body["csrf"]) >= 32
        cookie = set_cookie(response)
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain http in development and tests
        me = await client.get("/api/v1/me")
        assert me.status_code == 200 and me.json()["csrf"] == body["csrf"]

    async def test_a_wrong_password_or_name_says_the_same_and_opens_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        for name, password in (("Kim", "not the password"), ("Nobody", PASSWORD)):
            response = await sign_in(client, name, password)
            assert response.status_code == 401
            assert response.json()["error"]["message"] == "wrong name or password"
            assert "set-cookie" not in response.headers
        assert (await client.get("/api/v1/me")).status_code == 401

    async def test_repeated_wrong_passwords_lock_the_account_for_a_while(
        self, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        for _ in range(4):
            assert (await sign_in(client, "Kim", "guess guess guess")).status_code == 401
        assert (await sign_in(client, "Kim")).status_code == 200  # a success starts over
        for _ in range(5):
            assert (await sign_in(client, "Kim", "guess guess guess")).status_code == 401
        locked = await sign_in(client, "Kim")  # the right password, too late
        assert locked.status_code == 403
        assert "locked for 15 more minutes" in locked.json()["error"]["message"]
        clock.advance(timedelta(minutes=14))
        assert (await sign_in(client, "Kim")).status_code == 403
        clock.advance(timedelta(minutes=1, seconds=1))
        assert (await sign_in(client, "Kim")).status_code == 200

    async def test_signing_out_ends_the_session_at_once(self, client: httpx.AsyncClient) -> None:
        csrf = await signed_in(client, "Kim")
        cookie = client.cookies[SESSION_COOKIE]
        response = await client.delete("/api/v1/session", headers=csrf)
        assert response.status_code == 204
        assert 'hibachi_session=""' in set_cookie(response) or "Max-Age=0" in set_cookie(response)
        # the old cookie, replayed, is refused
        client.cookies.set(SESSION_COOKIE, cookie)
        assert (await client.get("/api/v1/me")).status_code == 401

    async def test_a_session_lapses_when_unused_and_at_most_after_a_week(
        self, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        await signed_in(client, "Kim")
        for _ in range(15):  # used every 11 hours: alive for 6 days and 21 hours
            clock.advance(timedelta(hours=11))
            assert (await client.get("/api/v1/me")).status_code == 200
        clock.advance(timedelta(hours=11))  # 7 days and 8 hours after signing in
        assert (await client.get("/api/v1/me")).status_code == 401
        await signed_in(client, "Kim")
        clock.advance(timedelta(hours=12))  # unused for 12 hours
        assert (await client.get("/api/v1/me")).status_code == 401

    async def test_sign_out_everywhere_ends_every_browser(self, client: httpx.AsyncClient) -> None:
        async with a_second_browser(client) as phone:
            await signed_in(phone, "Kim")
            csrf = await signed_in(client, "Kim")
            response = await client.post("/api/v1/me/sign-out-everywhere", headers=csrf)
            assert response.status_code == 204
            assert (await phone.get("/api/v1/me")).status_code == 401
            assert (await client.get("/api/v1/me")).status_code == 401


@pytest.mark.usefixtures("people")
class TestCsrf:
    async def test_every_change_a_cookie_makes_needs_the_sessions_csrf_token(
        self, client: httpx.AsyncClient
    ) -> None:
        csrf = await signed_in(client, "Ana")
        app = create_app(Settings(env="test", data_dir=Path("/tmp"), run_worker=False))
        changes = [
            (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
            for path, operations in app.openapi()["paths"].items()
            for method in operations
            if method in ("post", "put", "patch", "delete")
            and path.startswith("/api/v1/")
            and not path.startswith("/api/v1/chat/")  # the widget's own chat token
            and (method.upper(), path) not in OPEN
        ]
        assert len(changes) >= 20
        for method, path in changes:
            for headers in ({}, {CSRF_HEADER: "forged"}):
                response = await client.request(method, path, json={}, headers=headers)
                assert response.status_code == 403, (method, path, response.text)
                assert CSRF_HEADER in response.json()["error"]["message"]
        # with the token the same session changes things
        users = (await client.get("/api/v1/users")).json()
        kim = next(u for u in users if u["name"] == "Kim")
        response = await client.patch(
            f"/api/v1/users/{kim['id']}", json={"role": "admin"}, headers=csrf
        )
        assert response.status_code == 200 and response.json()["role"] == "admin"

    async def test_a_bearer_token_needs_no_csrf_token(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _ana, token = await make_person(session, "Integration", "admin")
        await session.commit()
        response = await client.post(
            "/api/v1/users", json={"name": "Lee"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 201


@pytest.mark.usefixtures("people")
class TestPeople:
    async def test_an_admin_adds_an_agent_who_chooses_a_password_and_signs_in(
        self, client: httpx.AsyncClient
    ) -> None:
        csrf = await signed_in(client, "Ana")
        added = await client.post(
            "/api/v1/users", json={"name": "Lee", "role": "agent"}, headers=csrf
        )
        assert added.status_code == 201
        link = added.json()["setup_url"]
        assert link.startswith("http://127.0.0.1:8000/console/setup#")
        token = link.split("#", 1)[1]
        assert added.json()["user"]["setup_pending"] is True
        async with a_second_browser(client) as lee:
            short = await lee.post("/api/v1/setup", json={"token": token, "password": "short"})
            assert short.status_code == 422
            assert "at least 10 characters" in short.json()["error"]["message"]
            chosen = await lee.post(
                "/api/v1/setup", json={"token": token, "password": "a long new password"}
            )
            assert chosen.status_code == 200 and chosen.json()["name"] == "Lee"
            assert (await lee.get("/api/v1/me")).json()["role"] == "agent"
            again = await lee.post("/api/v1/setup", json={"token": token, "password": "x" * 12})
            assert again.status_code == 404  # the link works once
            assert (await sign_in(lee, "Lee", "a long new password")).status_code == 200
            # an agent manages nobody
            assert (await lee.get("/api/v1/users")).status_code == 403

    async def test_a_deactivated_persons_session_stops_at_once(
        self, client: httpx.AsyncClient
    ) -> None:
        csrf = await signed_in(client, "Ana")
        async with a_second_browser(client) as kim:
            await signed_in(kim, "Kim")
            assert (await kim.get("/api/v1/escalations")).status_code == 200
            users = (await client.get("/api/v1/users")).json()
            kim_id = next(u["id"] for u in users if u["name"] == "Kim")
            response = await client.patch(
                f"/api/v1/users/{kim_id}", json={"active": False}, headers=csrf
            )
            assert response.status_code == 200 and response.json()["active"] is False
            assert (await kim.get("/api/v1/escalations")).status_code == 401
            refused = await sign_in(kim, "Kim")
            assert refused.status_code == 403 and "deactivated" in refused.text

    async def test_resetting_access_ends_the_old_password_and_sessions(
        self, client: httpx.AsyncClient
    ) -> None:
        csrf = await signed_in(client, "Ana")
        async with a_second_browser(client) as kim:
            await signed_in(kim, "Kim")
            users = (await client.get("/api/v1/users")).json()
            kim_id = next(u["id"] for u in users if u["name"] == "Kim")
            reset = await client.post(f"/api/v1/users/{kim_id}/setup-link", headers=csrf)
            assert reset.status_code == 200 and "#" in reset.json()["setup_url"]
            assert (await kim.get("/api/v1/me")).status_code == 401
            assert (await sign_in(kim, "Kim")).status_code == 401

    async def test_the_last_admin_stays_an_admin_and_nobody_deactivates_themself(
        self, client: httpx.AsyncClient
    ) -> None:
        csrf = await signed_in(client, "Ana")
        me = (await client.get("/api/v1/me")).json()
        demote = await client.patch(
            f"/api/v1/users/{me['id']}", json={"role": "agent"}, headers=csrf
        )
        assert demote.status_code == 409 and "last admin" in demote.json()["error"]["message"]
        users = (await client.get("/api/v1/users")).json()
        kim_id = next(u["id"] for u in users if u["name"] == "Kim")
        await client.patch(f"/api/v1/users/{kim_id}", json={"role": "admin"}, headers=csrf)
        itself = await client.patch(
            f"/api/v1/users/{me['id']}", json={"active": False}, headers=csrf
        )
        assert itself.status_code == 409 and "yourself" in itself.json()["error"]["message"]


@pytest.fixture
async def production_client(
    test_db_url: str,
    connection: AsyncConnection,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    knowledge: KnowledgeService,
    runtime: Any,
    tmp_path: Path,
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(env="production", data_dir=tmp_path, run_worker=False)
    database = Database(url=test_db_url, engine=connection.engine, sessionmaker=sessionmaker)
    app = create_app(
        settings, database=database, clock=clock, knowledge_service=knowledge, runtime=runtime
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://test") as c:
            yield c


@pytest.mark.usefixtures("people")
async def test_the_cookie_is_secure_in_production(production_client: httpx.AsyncClient) -> None:
    response = await sign_in(production_client, "Kim")
    assert response.status_code == 200
    cookie = set_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def cost(password_hash: str) -> str:
    """The argon2 parameters a hash names, such as `argon2id m=65536,t=3,p=4`."""
    found = re.match(r"^\$(argon2id)\$v=\d+\$(m=\d+,t=\d+,p=\d+)\$", password_hash)
    assert found is not None, password_hash
    return f"{found[1]} {found[2]}"


RECOMMENDED = cost(PasswordHash.recommended().hash("any password at all"))


class TestPasswordCost:
    """Production hashes passwords at argon2's recommended cost; only the test environment
    hashes them cheaply, and a hash of either kind verifies under the other's settings."""

    @pytest.mark.parametrize("env", ["production", "development"])
    def test_outside_tests_passwords_get_the_recommended_cost(self, env: Any) -> None:
        rules = SignInRules.of(Settings(env=env))
        assert cost(rules.passwords.hash(PASSWORD)) == RECOMMENDED
        assert cost(SignInRules().passwords.hash(PASSWORD)) == RECOMMENDED

    def test_the_test_environment_hashes_at_the_cheapest_cost(self) -> None:
        rules = SignInRules.of(Settings(env="test"))
        assert cost(rules.passwords.hash(PASSWORD)) == "argon2id m=8,t=1,p=1"
        assert RECOMMENDED != "argon2id m=8,t=1,p=1"

    def test_a_hash_at_either_cost_verifies_under_the_other(self) -> None:
        cheap = SignInRules.of(Settings(env="test")).passwords
        recommended = SignInRules.of(Settings(env="production")).passwords
        for made, checked in ((cheap, recommended), (recommended, cheap)):
            stored = made.hash(PASSWORD)
            assert checked.verify(PASSWORD, stored)
            assert not checked.verify(PASSWORD + " wrong", stored)

    @pytest.mark.usefixtures("people")
    async def test_a_password_chosen_in_production_is_stored_at_the_recommended_cost(
        self, production_client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        ana = await sign_in(production_client, "Ana")  # her hash was made at the test cost
        assert ana.status_code == 200, ana.text
        csrf = {CSRF_HEADER: ana.json()["csrf"]}
        added = await production_client.post("/api/v1/users", json={"name": "Lee"}, headers=csrf)
        token = added.json()["setup_url"].split("#", 1)[1]
        async with a_second_browser(production_client) as lee:
            chosen = await lee.post(
                "/api/v1/setup", json={"token": token, "password": "lee's own long password"}
            )
            assert chosen.status_code == 200, chosen.text
        stored = (await session.scalars(select(ApiUser).where(ApiUser.name == "Lee"))).one()
        assert stored.password_hash is not None
        assert cost(stored.password_hash) == RECOMMENDED


@pytest.mark.usefixtures("people")
async def test_passwords_are_never_logged_or_returned(
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure(json_lines=True)
    caplog.set_level(logging.DEBUG)
    secret = "tr0ub4dor & 3 others"
    seen: list[str] = []
    csrf = await signed_in(client, "Ana")
    added = await client.post("/api/v1/users", json={"name": "Lee"}, headers=csrf)
    token = added.json()["setup_url"].split("#", 1)[1]
    async with a_second_browser(client) as lee:
        for response in (
            await lee.post("/api/v1/setup", json={"token": token, "password": secret}),
            await sign_in(lee, "Lee", secret + " wrong"),
            await sign_in(lee, "Lee", secret),
            await sign_in(lee, "Lee", secret * 20),  # too long: the error names no input
            await lee.post("/api/v1/session", json={"name": "Lee", "password": 5}),
            await lee.get("/api/v1/me"),
        ):
            seen.append(response.text)
    seen.append((await client.get("/api/v1/users")).text)
    structlog.get_logger("test").info("done")
    out = capsys.readouterr()
    for text in (*seen, caplog.text, out.out, out.err):
        assert secret not in text and "tr0ub4dor" not in text
    assert "argon2" not in " ".join(seen)  # nor its hash
