"""The chat widget in Debian's Chromium against a running service: an FAQ, verification,
a guest-count change, and a message a person sends later. Screenshots are kept in
test-artifacts/."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from agent.runtime import AgentRuntime, postgres_checkpointer
from agent.state import TurnEvent
from knowledge.db import make_engine, unit_of_work
from knowledge.infra.clock import SystemClock
from knowledge.models import Booking, Conversation
from knowledge.service import KnowledgeService
from tests.conftest import clone_database
from tests.factories import make_booking, make_customer
from tests.helpers.browser import HAVE_CHROMIUM, launch, serious_violations
from tests.helpers.service import free_port, serve, served

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not HAVE_CHROMIUM, reason="Debian's chromium is not installed (make test installs it)"
)


class TestWidgetInChromium:
    async def test_a_visitor_asks_verifies_changes_and_hears_from_a_person(
        self, pg_server: Any, template_url: str, tmp_path: Path
    ) -> None:
        from playwright.async_api import async_playwright, expect

        url = await clone_database(pg_server, template_url)
        engine = make_engine(url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with unit_of_work(sessions) as session:
            customer = await make_customer(session, name="Ivy Tran", phone="+19165550170")
            booking = await make_booking(
                session,
                customer,
                reference="MH-IVY777",
                event_at=datetime.now(UTC) + timedelta(days=12),
                adults=10,
                kids=0,
            )
            booking_id = booking.id
        port = free_port()
        server = await serve(url, port, "--no-worker")
        ARTIFACTS.mkdir(exist_ok=True)
        os.environ.setdefault("HOME", str(tmp_path))
        try:
            async with async_playwright() as p:
                browser = await launch(p)
                page = await browser.new_page(viewport={"width": 420, "height": 820})
                await page.goto(f"http://127.0.0.1:{port}/")
                await page.get_by_role("button", name="Chat with us").click()
                box = page.get_by_label("Your message")
                await box.fill("how much do kids cost?")
                await box.press("Enter")
                await page.wait_for_function(
                    "document.querySelector('.hc-log').innerText.includes('$30')"
                )
                await box.fill("MH-IVY777 (916) 555-0170")
                await box.press("Enter")
                await page.wait_for_function(
                    "document.querySelector('.hc-log').innerText.includes('found your booking')"
                )
                await box.fill("2 more adults please")
                await box.press("Enter")
                await page.wait_for_function(
                    "document.querySelector('.hc-log').innerText.includes('12 guests')"
                )
                # A person answers later, through the same graph; the widget hears it live.
                async with sessions() as session:
                    conversation = (
                        await session.scalars(
                            select(Conversation).where(
                                Conversation.customer_id == customer.id,
                                Conversation.channel == "web",
                            )
                        )
                    ).one()
                async with postgres_checkpointer(url) as saver:
                    people = AgentRuntime(sessions, KnowledgeService(), SystemClock(), saver)
                    await people.handle(
                        TurnEvent(
                            kind="agent_action",
                            conversation_id=conversation.id,
                            text="Hi Ivy, Kim here: 12 guests is all set!",
                            payload={"action": "reply", "id": "browser-1"},
                        )
                    )
                await page.wait_for_function(
                    "document.querySelector('.hc-log').innerText.includes('Kim here')",
                    timeout=10_000,
                )
                # A person's message looks like one: labelled, and not in the agent's colours.
                person = page.locator(".hc-msg.hc-human").last
                await expect(person).to_contain_text("From our team")
                await expect(person).to_contain_text("Kim here")
                colours = await page.evaluate(
                    """() => ['.hc-msg.hc-agent', '.hc-msg.hc-human'].map(
                        s => getComputedStyle(document.querySelector(s)).backgroundColor)"""
                )
                assert colours[0] != colours[1]
                assert await serious_violations(page) == []
                await page.screenshot(path=str(ARTIFACTS / "widget.png"))
                await browser.close()
        finally:
            server.send_signal(signal.SIGTERM)
            await server.wait()
        async with sessions() as session:
            changed = await session.get(Booking, booking_id)
            assert changed is not None and changed.adults == 12
        await engine.dispose()
        assert (ARTIFACTS / "widget.png").stat().st_size > 10_000


async def _texts(page: Any) -> list[tuple[str, str]]:
    """The chat log as shown: (who, text) per bubble, top to bottom."""
    rows = await page.eval_on_selector_all(
        ".hc-log .hc-msg",
        "els => els.map(e => [e.className.replace('hc-msg ', '').split(' ')[0], e.innerText])",
    )
    return [(str(who), str(text)) for who, text in rows]


class TestWidgetJourneysInChromium:
    async def test_a_prospect_sees_the_welcome_gets_a_quote_and_the_booking_link(
        self, pg_server: Any, template_url: str, tmp_path: Path
    ) -> None:
        from playwright.async_api import async_playwright

        url = await clone_database(pg_server, template_url)
        ARTIFACTS.mkdir(exist_ok=True)
        os.environ.setdefault("HOME", str(tmp_path))
        async with served(url, "--no-worker") as base, async_playwright() as p:
            browser = await launch(p)
            page = await browser.new_page(viewport={"width": 420, "height": 900})
            await page.goto(base + "/")
            await page.get_by_role("button", name="Chat with us").click()
            # The greeting, the automated-assistant line and suggested questions (knowledge)
            await page.wait_for_selector(".hc-greeting")
            log = page.locator(".hc-log")
            assert "Planning a hibachi party" in await log.inner_text()
            assert "automated assistant" in await page.locator(".hc-disclosure").inner_text()
            suggestions = page.locator(".hc-options button")
            assert await suggestions.count() == 4
            await page.screenshot(path=str(ARTIFACTS / "widget-welcome.png"))

            box = page.get_by_label("Your message")
            await box.fill("how much for 20 adults on march 6 at 5pm? we're in 95630")
            await box.press("Enter")
            await page.wait_for_function(
                "document.querySelector('.hc-log').innerText.includes('Estimated total')"
            )
            assert "Estimated total: $1,100" in await log.inner_text()
            await box.fill("Jen Park, jen@example.com")
            await box.press("Enter")
            await page.wait_for_function(
                "document.querySelector('.hc-log').innerText.includes('deposit secures')"
            )
            shown = await log.inner_text()
            assert "myhibachi.example/book?name=Jen+Park&date=" in shown
            assert "&adults=20&zip=95630&email=jen%40example.com" in shown
            # the booking link is a link the visitor can tap, opening in a new tab
            link = log.locator('a[href^="https://myhibachi.example/book?name=Jen+Park"]')
            assert await link.get_attribute("target") == "_blank"
            assert await link.get_attribute("rel") == "noopener noreferrer"
            await page.screenshot(path=str(ARTIFACTS / "widget-quote.png"), full_page=True)
            await browser.close()
        assert (ARTIFACTS / "widget-quote.png").stat().st_size > 10_000

    async def test_a_customer_verifies_over_two_messages_and_sees_their_thread_in_order(
        self, pg_server: Any, template_url: str, tmp_path: Path
    ) -> None:
        from playwright.async_api import async_playwright

        url = await clone_database(pg_server, template_url)
        engine = make_engine(url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with unit_of_work(sessions) as session:
            customer = await make_customer(session, name="Omar Diaz", phone="+19165550171")
            await make_booking(
                session,
                customer,
                reference="MH-OMR888",
                event_at=datetime.now(UTC) + timedelta(days=15),
                adults=16,
                kids=0,
            )
        ARTIFACTS.mkdir(exist_ok=True)
        os.environ.setdefault("HOME", str(tmp_path))
        async with served(url, "--no-worker") as base, async_playwright() as p:
            browser = await launch(p)
            page = await browser.new_page(viewport={"width": 420, "height": 900})
            await page.goto(base + "/")
            await page.get_by_role("button", name="Chat with us").click()
            box = page.get_by_label("Your message")
            await box.fill("how many guests are on our booking?")
            await box.press("Enter")
            await page.wait_for_function(
                "document.querySelector('.hc-log').innerText.includes('booking reference')"
            )
            await box.fill("MH-OMR888")
            await box.press("Enter")
            await page.wait_for_function(
                "document.querySelector('.hc-log').innerText.includes('phone number on')"
            )
            await box.fill("916 555 0171")
            await box.press("Enter")
            await page.wait_for_function(
                "document.querySelector('.hc-log').innerText.includes('16 guests')"
            )
            shown = await _texts(page)
            assert [who for who, _ in shown] == [
                "hc-customer",
                "hc-agent",
                "hc-customer",
                "hc-agent",
                "hc-customer",
                "hc-agent",
                "hc-agent",
            ]
            assert shown[0][1] == "how many guests are on our booking?"
            assert shown[5][1].startswith("Thanks, Omar! I found your booking.")
            assert "16 guests" in shown[6][1]
            await page.screenshot(path=str(ARTIFACTS / "widget-verified.png"), full_page=True)
            # A reload shows the same thread, from the server, in the same order.
            await page.reload()
            await page.get_by_role("button", name="Chat with us").click()
            await page.wait_for_function("document.querySelectorAll('.hc-log .hc-msg').length >= 7")
            assert [who for who, _ in await _texts(page)] == [who for who, _ in shown]
            await browser.close()
        await engine.dispose()
        assert (ARTIFACTS / "widget-verified.png").stat().st_size > 10_000
