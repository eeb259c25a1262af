"""Booking actions in the console, in Debian's Chromium against a running service: an agent opens
a case about a cancellation five days out, sees the policy's decision (no refund, a reschedule
offered for the fee) before confirming, confirms, and sees the touchpoints cancelled and the
history line; the customer's message is in the outbox. On another case the agent moves a party,
sees the fee first, applies it, and the touchpoints follow the new date; on a third, the refund
the agent promised by text is recorded. The thread fits 390 px with an action open, and axe
finds nothing serious. Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import os
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.runtime import AgentRuntime, postgres_checkpointer
from knowledge.db import make_engine, unit_of_work
from knowledge.infra.clock import SystemClock
from knowledge.models import AutomatedReminder, Booking, BookingHistory, Message
from knowledge.service import KnowledgeService
from scheduler import flows
from tests.conftest import clone_database
from tests.factories import make_booking, make_customer, make_person
from tests.helpers.browser import HAVE_CHROMIUM, PageCheck, launch, sign_in
from tests.helpers.service import served

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
ZONE = ZoneInfo("America/Los_Angeles")  # the seed's business time zone
DAY = timedelta(days=1)

pytestmark = pytest.mark.skipif(
    not HAVE_CHROMIUM, reason="Debian's chromium is not installed (make test installs it)"
)


async def party(
    session: AsyncSession, name: str, phone: str, until: timedelta, booked_ago: timedelta
) -> int:
    """A party `until` from now with its journey planned; returns the booking's id."""
    now = datetime.now(UTC)
    customer = await make_customer(session, name=name, phone=phone)
    booking = await make_booking(
        session, customer, event_at=now + until, created_at=now - booked_ago
    )
    await flows.plan_journey(session, booking, now, await KnowledgeService().rules(session))
    return booking.id


async def statuses(sessions: async_sessionmaker[AsyncSession], booking_id: int) -> set[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AutomatedReminder.status).where(AutomatedReminder.booking_id == booking_id)
        )
        return set(rows.all())


class TestBookingActionsInChromium:
    async def test_an_agent_cancels_and_reschedules_from_a_case(
        self, pg_server: Any, template_url: str, tmp_path: Path
    ) -> None:
        from playwright.async_api import async_playwright, expect

        url = await clone_database(pg_server, template_url)
        engine = make_engine(url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with unit_of_work(sessions) as session:
            cancelling = await party(session, "Dana Lee", "+19165550181", 5 * DAY, 30 * DAY)
            moving = await party(session, "Sam Ortiz", "+19165550182", 20 * DAY, 30 * DAY)
            refunding = await party(session, "Ivy Chen", "+19165550183", 12 * DAY, 30 * DAY)
            await make_person(session, "Kim", "agent")
        ARTIFACTS.mkdir(exist_ok=True)
        os.environ.setdefault("HOME", str(tmp_path))
        checked = PageCheck(ARTIFACTS, "booking-")

        async with (
            served(url, "--no-worker") as base,
            postgres_checkpointer(url) as saver,
            async_playwright() as p,
        ):
            runtime = AgentRuntime(sessions, KnowledgeService(), SystemClock(), saver)
            asked = await runtime.receive("+19165550181", "we have to cancel our party, sorry")
            assert asked.outcome == "escalated"
            browser = await launch(p)
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await sign_in(page, base, "Kim", f"/console/escalations/{asked.escalation_ids[0]}")

            # The cancellation: the policy's decision first, on a phone.
            await expect(page.get_by_role("heading", level=1)).to_contain_text("Cancellation")
            await page.get_by_role("button", name="Cancel booking…").click()
            panel = page.get_by_role("region", name="Cancel booking")
            await expect(panel).to_contain_text("none: the $100 deposit is kept")
            await expect(panel).to_contain_text("less than 7 days before")
            await expect(panel).to_contain_text("a reschedule: $100 rescheduling fee")
            await expect(panel.locator("blockquote")).to_contain_text("non-refundable")
            assert await statuses(sessions, cancelling) >= {"pending"}  # nothing done yet
            await checked(page, "cancel-terms-phone")
            await panel.get_by_role("button", name="Confirm cancellation").click()
            await expect(page.get_by_role("status").first).to_contain_text("Cancelled")
            await expect(page.locator('[data-booking-status="cancelled"]')).to_contain_text(
                "cancelled"
            )
            await expect(page.locator('tr[data-touchpoint="24_hour"]')).to_contain_text("cancelled")
            line = page.locator('li[data-history="cancelled"]')
            await expect(line).to_contain_text("Kim")
            await expect(line).to_contain_text("deposit kept")
            await expect(line).to_contain_text("customer told")
            await expect(page.get_by_role("button", name="Cancel booking…")).to_have_count(0)
            await checked(page, "cancelled-phone")
            assert "pending" not in await statuses(sessions, cancelling)
            async with sessions() as session:
                told = (
                    await session.scalars(
                        select(Message).where(Message.kind == "cancel_confirmed_no_refund")
                    )
                ).one()
                assert told.direction == "outbound" and told.channel == "sms"
                assert "non-refundable" in told.body
                entry = (
                    await session.scalars(
                        select(BookingHistory).where(BookingHistory.booking_id == cancelling)
                    )
                ).one()
                assert entry.action == "cancelled" and entry.details["message_id"] == told.id

            # A date change: the fee shown first, then applied.
            await page.set_viewport_size({"width": 1280, "height": 900})
            wants = await runtime.receive("+19165550182", "can we move our party to another date?")
            assert wants.outcome == "escalated"
            await page.goto(f"{base}/console/escalations/{wants.escalation_ids[0]}")
            old_7_day = page.locator('tr[data-touchpoint="7_day"]')
            await expect(old_7_day).to_be_visible()
            before = await old_7_day.inner_text()
            await page.get_by_role("button", name="Reschedule…").click()
            new_day = datetime.now(ZONE).date() + timedelta(days=34)
            await page.get_by_label("New date and time (PT)").fill(f"{new_day.isoformat()}T17:00")
            await page.get_by_role("button", name="Show terms").click()
            terms = page.get_by_role("region", name="Move booking")
            await expect(terms).to_contain_text("$100")
            await expect(terms).to_contain_text("rescheduling fee of $100 applies")
            await expect(terms.locator("blockquote")).to_contain_text("$100 rescheduling fee")
            await checked(page, "reschedule-terms")
            await terms.get_by_role("button", name="Confirm new date").click()
            await expect(page.get_by_role("status").first).to_contain_text("Rescheduled")
            await expect(page.locator('li[data-history="rescheduled"]')).to_contain_text("fee $100")
            await expect(old_7_day).not_to_have_text(before)
            await expect(old_7_day).to_contain_text("pending")
            async with sessions() as session:
                moved = await session.get(Booking, moving)
                assert moved is not None and moved.reschedule_count == 1
                assert moved.event_at.astimezone(ZONE) == datetime.combine(
                    new_day, time(17, 0), ZONE
                )
                week_before = await session.scalar(
                    select(AutomatedReminder.scheduled_at).where(
                        AutomatedReminder.booking_id == moving,
                        AutomatedReminder.reminder_type == "7_day",
                    )
                )
                assert week_before is not None
                assert week_before.astimezone(ZONE).date() == new_day - timedelta(days=7)
                assert (
                    await session.scalars(
                        select(Message).where(Message.kind == "reschedule_confirmed")
                    )
                ).one()

            # The refund the agent promised by text: recorded from its case.
            await runtime.receive("+19165550183", "please cancel our party")
            chose = await runtime.receive("+19165550183", "1")
            assert chose.outcome == "escalated"
            await page.goto(f"{base}/console/escalations/{chose.escalation_ids[0]}")
            await expect(page.locator('[data-booking-status="cancelled"]')).to_contain_text(
                "refund due"
            )
            await page.get_by_role("button", name="Mark deposit refunded").click()
            refund = page.get_by_role("region", name="Record the refund")
            await expect(refund).to_contain_text("$100: the deposit in full")
            await refund.get_by_role("button", name="Confirm refund made").click()
            await expect(page.locator('li[data-history="deposit_refunded"]')).to_contain_text("Kim")
            await expect(page.locator('[data-booking-status="cancelled"]')).to_contain_text(
                "refunded"
            )
            await checked(page, "refunded")
            async with sessions() as session:
                refunded = await session.get(Booking, refunding)
                assert refunded is not None and refunded.deposit_refunded_at is not None
            await browser.close()
        assert checked.violations == {}
        await engine.dispose()
