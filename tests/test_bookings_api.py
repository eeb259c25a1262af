"""Bookings arrive from the booking site, change, and report the chef on the way."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.infra.clock import FrozenClock
from knowledge.models import Booking, Customer, Message
from tools import addresses

NEW: dict[str, Any] = {
    "customer": {"name": "Lee Wong", "phone": "(916) 555-0177", "channel": "sms"},
    "event_at": "2026-06-27T18:00:00-07:00",
    "address": "5 Pine Ct, Folsom, CA",
    "adults": 10,
    "kids": 2,
}


def touchpoints(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["kind"]: t for t in view["touchpoints"]}


class TestCreate:
    async def test_a_booking_is_stored_with_its_whole_journey_planned(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        response = await client.post("/api/v1/bookings", json=NEW, headers=admin_headers)
        assert response.status_code == 201, response.text
        view = response.json()
        assert view["reference"].startswith("MH-")
        assert float(view["deposit_amount"]) == 100
        plan = touchpoints(view)
        assert set(plan) == {
            "confirmation",
            "7_day",
            "4_day",
            "menu_deadline",
            "24_hour",
            "post_event",
        }
        assert {t["status"] for t in plan.values()} == {"pending"}

    async def test_a_booking_is_made_at_the_service_clock(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], clock: FrozenClock
    ) -> None:
        """The free-reschedule window counts from here, so it is business time, not the
        database server's."""
        response = await client.post("/api/v1/bookings", json=NEW, headers=admin_headers)
        created = datetime.fromisoformat(response.json()["created_at"])
        assert created == clock.now()

    async def test_a_retried_post_with_the_same_key_creates_nothing_twice(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
    ) -> None:
        headers = {**admin_headers, "Idempotency-Key": "site-order-42"}
        first = await client.post("/api/v1/bookings", json=NEW, headers=headers)
        again = await client.post("/api/v1/bookings", json=NEW, headers=headers)
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["id"] == again.json()["id"]
        count = await session.scalar(
            select(func.count()).where(Booking.idempotency_key == "site-order-42")
        )
        assert count == 1

    @pytest.mark.parametrize(
        ("change", "names"),
        [
            ({"event_at": "2026-06-01T18:00:00-07:00"}, "future"),
            ({"event_at": "2026-06-27T18:00:00"}, "time zone"),
            ({"adults": 0, "kids": 0}, "at least one guest"),
            ({"customer": {"name": "X", "phone": "555"}}, "phone"),
            ({"proteins": ["ostrich"]}, "ostrich"),
            ({"upgrades": ["pony_rides"]}, "pony_rides"),
            ({"adults": -3}, "adults"),
            ({"colour": "red"}, "colour"),
        ],
    )
    async def test_bad_bookings_are_refused_and_nothing_is_stored(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        session: AsyncSession,
        change: dict[str, Any],
        names: str,
    ) -> None:
        before = await session.scalar(select(func.count()).select_from(Booking))
        response = await client.post(
            "/api/v1/bookings", json={**NEW, **change}, headers=admin_headers
        )
        assert response.status_code == 422, response.text
        assert names in response.json()["error"]["message"]
        assert await session.scalar(select(func.count()).select_from(Booking)) == before

    async def test_a_booking_may_prefer_email(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
    ) -> None:
        by_email = {**NEW["customer"], "channel": "email", "email": "Lee.Wong@Example.com"}
        response = await client.post(
            "/api/v1/bookings", json={**NEW, "customer": by_email}, headers=admin_headers
        )
        assert response.status_code == 201, response.text
        booking = await session.get(Booking, response.json()["id"])
        assert booking is not None
        customer = await session.get(Customer, booking.customer_id)
        assert customer is not None and customer.preferred_channel == "email"
        owner = await addresses.customer_at(session, "email", "lee.wong@example.com")
        assert owner is not None and owner.id == customer.id

    async def test_email_as_the_channel_needs_an_address(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        no_address = {**NEW["customer"], "channel": "email"}
        response = await client.post(
            "/api/v1/bookings", json={**NEW, "customer": no_address}, headers=admin_headers
        )
        assert response.status_code == 422
        assert "email" in response.json()["error"]["message"]

    async def test_agents_may_not_create_bookings(
        self, client: httpx.AsyncClient, agent_headers: dict[str, str]
    ) -> None:
        assert (
            await client.post("/api/v1/bookings", json=NEW, headers=agent_headers)
        ).status_code == 403


class TestChange:
    async def test_a_new_date_moves_the_pending_touchpoints(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        created = (await client.post("/api/v1/bookings", json=NEW, headers=admin_headers)).json()
        moved = await client.patch(
            f"/api/v1/bookings/{created['id']}",
            json={"event_at": "2026-07-04T18:00:00-07:00"},
            headers=admin_headers,
        )
        assert moved.status_code == 200, moved.text
        before, after = touchpoints(created), touchpoints(moved.json())
        assert after["7_day"]["due_at"] > before["7_day"]["due_at"]
        assert after["7_day"]["due_at"].startswith("2026-06-27")

    async def test_a_cancellation_cancels_what_has_not_gone_out(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        created = (await client.post("/api/v1/bookings", json=NEW, headers=admin_headers)).json()
        cancelled = await client.patch(
            f"/api/v1/bookings/{created['id']}", json={"status": "cancelled"}, headers=admin_headers
        )
        assert {t["status"] for t in cancelled.json()["touchpoints"]} == {"cancelled"}


class TestChefDeparted:
    async def test_the_customer_hears_the_eta_and_the_arrival_is_planned(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        agent_headers: dict[str, str],
        session: AsyncSession,
        clock: FrozenClock,
    ) -> None:
        body = {**NEW, "event_at": (clock.now() + timedelta(hours=1)).isoformat()}
        created = (await client.post("/api/v1/bookings", json=body, headers=admin_headers)).json()
        response = await client.post(
            f"/api/v1/bookings/{created['id']}/chef-departed",
            json={"eta_minutes": 30},
            headers=agent_headers,
        )
        assert response.status_code == 200, response.text
        arriving = touchpoints(response.json())["arriving"]
        assert arriving["due_at"].startswith("2026-06-10T22:20")
        message = (await session.scalars(select(Message).where(Message.kind == "on_the_way"))).one()
        assert "3:30 PM" in message.body
