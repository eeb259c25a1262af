"""The admin API: who may do what, what a bad request gets, and that nothing bad is written."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import AddonItem, BusinessRule, FaqItem, SeasonalOffer
from knowledge.users import create_user, revoke

COLLECTIONS = ["/api/v1/business-rules", "/api/v1/menu/addons", "/api/v1/faqs", "/api/v1/offers"]

NEW_ITEMS: dict[str, dict[str, Any]] = {
    "/api/v1/business-rules": {
        "rule_type": "pets",
        "title": "Pets",
        "content": "Please keep pets away from the grill.",
        "value": {},
    },
    "/api/v1/menu/addons": {
        "slug": "gyoza",
        "name": "Gyoza",
        "price": "8.00",
        "unit": "per_order",
        "category": "extra",
    },
    "/api/v1/faqs": {
        "question": "Do you bring sake?",
        "answer": "We do not serve alcohol.",
        "category": "general",
    },
    "/api/v1/offers": {
        "title": "Holiday",
        "discount_type": "fixed_amount",
        "discount_value": "50",
        "valid_from": "2026-12-01",
        "valid_to": "2026-12-31",
    },
}


async def _first_id(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> int:
    items = (await client.get(path, headers=headers)).json()
    return int(items[0]["id"])


class TestAuthentication:
    @pytest.mark.parametrize("path", COLLECTIONS)
    async def test_no_token_is_401(self, client: httpx.AsyncClient, path: str) -> None:
        response = await client.get(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"

    async def test_unknown_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get(COLLECTIONS[0], headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401

    async def test_revoked_token_is_401(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _user, token = await create_user(session, "leaver", "admin")
        await session.commit()
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get(COLLECTIONS[0], headers=headers)).status_code == 200
        await revoke(session, "leaver", datetime.now(UTC))
        await session.commit()
        assert (await client.get(COLLECTIONS[0], headers=headers)).status_code == 401

    async def test_expired_token_is_401(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        # The app's clock is 2026-06-10 22:00 UTC.
        _user, token = await create_user(
            session, "temp", "admin", expires_at=datetime(2026, 6, 10, 21, 0, tzinfo=UTC)
        )
        await session.commit()
        response = await client.get(COLLECTIONS[0], headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401

    async def test_tokens_are_stored_only_as_hashes(self, session: AsyncSession) -> None:
        user, token = await create_user(session, "hashy", "agent")
        assert token not in user.token_hash
        assert len(user.token_hash) == 64


class TestAuthorization:
    @pytest.mark.parametrize("path", COLLECTIONS)
    async def test_agents_may_read(
        self, client: httpx.AsyncClient, agent_headers: dict[str, str], path: str
    ) -> None:
        assert (await client.get(path, headers=agent_headers)).status_code == 200

    @pytest.mark.parametrize("path", COLLECTIONS)
    async def test_agents_may_not_create(
        self, client: httpx.AsyncClient, agent_headers: dict[str, str], path: str
    ) -> None:
        response = await client.post(path, json=NEW_ITEMS[path], headers=agent_headers)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"

    @pytest.mark.parametrize("path", COLLECTIONS)
    async def test_agents_may_not_update_or_delete(
        self,
        client: httpx.AsyncClient,
        agent_headers: dict[str, str],
        path: str,
    ) -> None:
        items = (await client.get(path, headers=agent_headers)).json()
        item_id = items[0]["id"] if items else 1
        put = await client.put(f"{path}/{item_id}", json={}, headers=agent_headers)
        delete = await client.delete(f"{path}/{item_id}", headers=agent_headers)
        assert (put.status_code, delete.status_code) == (403, 403)

    @pytest.mark.parametrize("path", COLLECTIONS)
    async def test_admins_may_create_read_update_and_delete(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], path: str
    ) -> None:
        created = await client.post(path, json=NEW_ITEMS[path], headers=admin_headers)
        assert created.status_code == 201, created.text
        item_id = created.json()["id"]
        fetched = await client.get(f"{path}/{item_id}", headers=admin_headers)
        assert fetched.status_code == 200
        field = (
            "title"
            if "title" in NEW_ITEMS[path]
            else ("name" if "name" in NEW_ITEMS[path] else "answer")
        )
        updated = await client.put(
            f"{path}/{item_id}", json={field: "Changed"}, headers=admin_headers
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()[field] == "Changed"
        assert (await client.delete(f"{path}/{item_id}", headers=admin_headers)).status_code == 204
        assert (await client.get(f"{path}/{item_id}", headers=admin_headers)).status_code == 404


class TestRuleVersions:
    async def test_every_update_keeps_the_previous_version(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
    ) -> None:
        rule = (
            await session.scalars(
                select(BusinessRule).where(BusinessRule.rule_type == "rescheduling")
            )
        ).one()
        path = f"/api/v1/business-rules/{rule.id}"
        value = dict(rule.value)
        for fee in ("120", "150"):
            response = await client.put(
                path, json={"value": {**value, "reschedule_fee": fee}}, headers=admin_headers
            )
            assert response.status_code == 200, response.text
        versions = (await client.get(f"{path}/versions", headers=admin_headers)).json()
        assert [v["version"] for v in versions] == [3, 2, 1]
        assert [v["value"]["reschedule_fee"] for v in versions] == ["150", "120", "100"]
        assert versions[0]["updated_by"] == "test-admin"
        assert versions[1]["replaced_by"] == "test-admin"
        assert versions[2]["updated_by"] == "seed"

    async def test_a_required_rule_cannot_be_deleted_or_switched_off(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
    ) -> None:
        rule = (
            await session.scalars(select(BusinessRule).where(BusinessRule.rule_type == "pricing"))
        ).one()
        path = f"/api/v1/business-rules/{rule.id}"
        assert (await client.delete(path, headers=admin_headers)).status_code == 409
        off = await client.put(path, json={"is_active": False}, headers=admin_headers)
        assert off.status_code == 409

    async def test_unknown_rule_is_404(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        response = await client.get("/api/v1/business-rules/999999/versions", headers=admin_headers)
        assert response.status_code == 404
        assert "999999" in response.json()["error"]["message"]


async def _table_counts(session: AsyncSession) -> tuple[int, ...]:
    counts = []
    for model in (BusinessRule, AddonItem, FaqItem, SeasonalOffer):
        counts.append(await session.scalar(select(func.count()).select_from(model)) or 0)
    return tuple(counts)


# (method, path or path template with {addon}/{faq}/{offer}/{rule}, body, a word the message names)
BAD_INPUT: list[tuple[str, str, Any, str]] = [
    ("POST", "/api/v1/menu/addons", {**NEW_ITEMS["/api/v1/menu/addons"], "price": "-1"}, "price"),
    (
        "POST",
        "/api/v1/menu/addons",
        {**NEW_ITEMS["/api/v1/menu/addons"], "category": "dessert"},
        "category",
    ),
    (
        "POST",
        "/api/v1/menu/addons",
        {**NEW_ITEMS["/api/v1/menu/addons"], "slug": "Bad Slug!"},
        "slug",
    ),
    ("POST", "/api/v1/menu/addons", {**NEW_ITEMS["/api/v1/menu/addons"], "price": "abc"}, "price"),
    ("POST", "/api/v1/menu/addons", {"name": "No price"}, "price"),
    (
        "POST",
        "/api/v1/menu/addons",
        {**NEW_ITEMS["/api/v1/menu/addons"], "colour": "red"},
        "colour",
    ),
    ("PUT", "/api/v1/menu/addons/{addon}", {"price": "-0.01"}, "price"),
    ("PUT", "/api/v1/menu/addons/{addon}", {"category": "dessert"}, "category"),
    ("PUT", "/api/v1/menu/addons/{addon}", {"name": ""}, "name"),
    ("PUT", "/api/v1/menu/addons/{addon}", {"price": None}, "price"),
    ("POST", "/api/v1/faqs", {**NEW_ITEMS["/api/v1/faqs"], "answer": "   "}, "answer"),
    ("POST", "/api/v1/faqs", {**NEW_ITEMS["/api/v1/faqs"], "category": "gossip"}, "category"),
    ("POST", "/api/v1/faqs", {"answer": "no question"}, "question"),
    ("PUT", "/api/v1/faqs/{faq}", {"answer": ""}, "answer"),
    ("PUT", "/api/v1/faqs/{faq}", {"category": "gossip"}, "category"),
    (
        "POST",
        "/api/v1/offers",
        {**NEW_ITEMS["/api/v1/offers"], "valid_to": "2026-11-01"},
        "valid_to",
    ),
    (
        "POST",
        "/api/v1/offers",
        {**NEW_ITEMS["/api/v1/offers"], "discount_value": "-5"},
        "discount_value",
    ),
    (
        "POST",
        "/api/v1/offers",
        {**NEW_ITEMS["/api/v1/offers"], "discount_type": "bogo"},
        "discount_type",
    ),
    (
        "POST",
        "/api/v1/offers",
        {**NEW_ITEMS["/api/v1/offers"], "discount_type": "percentage", "discount_value": "120"},
        "percentage",
    ),
    (
        "POST",
        "/api/v1/offers",
        {**NEW_ITEMS["/api/v1/offers"], "valid_from": "someday"},
        "valid_from",
    ),
    ("PUT", "/api/v1/offers/{offer}", {"valid_to": "2000-01-01"}, "valid_to"),
    (
        "POST",
        "/api/v1/business-rules",
        {**NEW_ITEMS["/api/v1/business-rules"], "content": ""},
        "content",
    ),
    (
        "POST",
        "/api/v1/business-rules",
        {**NEW_ITEMS["/api/v1/business-rules"], "rule_type": "Has Spaces"},
        "rule_type",
    ),
    ("POST", "/api/v1/business-rules", {"rule_type": "rescheduling_v2", "title": "x"}, "content"),
    (
        "PUT",
        "/api/v1/business-rules/{rule}",
        {"value": {"free_reschedule_hours": 48, "reschedule_fee": "-100"}},
        "reschedule_fee",
    ),
    (
        "PUT",
        "/api/v1/business-rules/{rule}",
        {"value": {"free_reschedule_hours": 48}},
        "reschedule_fee",
    ),
    (
        "PUT",
        "/api/v1/business-rules/{rule}",
        {"value": {"free_reschedule_hours": 48, "reschedule_fee": 1, "typo": 1}},
        "typo",
    ),
    ("PUT", "/api/v1/business-rules/{rule}", {"title": ""}, "title"),
    ("PUT", "/api/v1/business-rules/{rule}", "not json", "body"),
    ("POST", "/api/v1/faqs", [1, 2], "body"),
]


class TestBadInput:
    @pytest.mark.parametrize(
        ("method", "path", "body", "names"),
        BAD_INPUT,
        ids=[f"{m} {p} {n}" for m, p, _, n in BAD_INPUT],
    )
    async def test_rejected_with_422_naming_the_field_and_nothing_written(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        session: AsyncSession,
        method: str,
        path: str,
        body: Any,
        names: str,
    ) -> None:
        ids = {
            "addon": await _first_id(client, "/api/v1/menu/addons", admin_headers),
            "faq": await _first_id(client, "/api/v1/faqs", admin_headers),
            "rule": (
                await session.scalars(
                    select(BusinessRule.id).where(BusinessRule.rule_type == "rescheduling")
                )
            ).one(),
        }
        if "{offer}" in path:
            created = await client.post(
                "/api/v1/offers", json=NEW_ITEMS["/api/v1/offers"], headers=admin_headers
            )
            ids["offer"] = created.json()["id"]
        before_rows = await _snapshot(client, admin_headers)
        before = await _table_counts(session)
        kwargs: dict[str, Any] = (
            {"content": body, "headers": {**admin_headers, "Content-Type": "application/json"}}
            if isinstance(body, str)
            else {"json": body, "headers": admin_headers}
        )
        response = await client.request(method, path.format(**ids), **kwargs)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_input"
        assert names in error["message"], error
        assert await _table_counts(session) == before
        assert await _snapshot(client, admin_headers) == before_rows


async def _snapshot(client: httpx.AsyncClient, headers: dict[str, str]) -> list[Any]:
    return [(await client.get(path, headers=headers)).json() for path in COLLECTIONS]


class TestNotFound:
    @pytest.mark.parametrize("path", COLLECTIONS)
    async def test_missing_items_are_404_for_every_verb(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], path: str
    ) -> None:
        for method in ("GET", "PUT", "DELETE"):
            kwargs: dict[str, Any] = {"json": {}} if method == "PUT" else {}
            response = await client.request(
                method, f"{path}/424242", headers=admin_headers, **kwargs
            )
            assert response.status_code == 404, (method, response.text)

    async def test_duplicate_slug_is_409(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        body = {**NEW_ITEMS["/api/v1/menu/addons"], "slug": "lobster", "name": "Lobster 2"}
        response = await client.post("/api/v1/menu/addons", json=body, headers=admin_headers)
        assert response.status_code == 409
