"""The agent console in Debian's Chromium against a running service: an URGENT case appears
live, an agent claims it (the agent goes silent), replies, edits the headcount and resolves
(the agent answers again); an admin changes a price and the next web chat question gets it.
Screenshots of the queue, a thread and the stats page are kept in test-artifacts/."""

from __future__ import annotations

import re
import signal
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from agent.runtime import AgentRuntime, postgres_checkpointer
from knowledge.db import make_engine, unit_of_work
from knowledge.infra.clock import SystemClock
from knowledge.models import Booking, Conversation, Message
from knowledge.service import KnowledgeService
from scheduler import flows
from tests.conftest import Console, clone_database
from tests.factories import PASSWORD, make_booking, make_customer, make_person
from tests.helpers.browser import HAVE_CHROMIUM, PageCheck, serious_violations, sign_in
from tests.helpers.service import free_port, serve, served

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
PHONE = "+19165550190"

pytestmark = pytest.mark.skipif(
    not HAVE_CHROMIUM, reason="Debian's chromium is not installed (make test installs it)"
)


class TestConsoleInChromium:
    async def test_an_agent_works_an_urgent_case_and_an_admin_changes_a_price(
        self, console: Console, chromium: Any
    ) -> None:
        from playwright.async_api import expect

        base, sessions = console.base, console.sessions
        async with unit_of_work(sessions) as session:
            customer = await make_customer(session, name="Dana Lee", phone=PHONE)
            booking = await make_booking(
                session,
                customer,
                event_at=datetime.now(UTC) + timedelta(hours=20),
                adults=12,
                kids=0,
            )
            booking_id, dana = booking.id, customer.id
            await make_person(session, "Kim", "agent")
            _ana, admin_token = await make_person(session, "Ana", "admin")
        ARTIFACTS.mkdir(exist_ok=True)
        async with postgres_checkpointer(console.url) as saver:
            runtime = AgentRuntime(sessions, KnowledgeService(), SystemClock(), saver)
            browser = chromium
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await sign_in(page, base, "Kim")
            await expect(page.get_by_role("heading", name="Escalations")).to_be_visible()
            await expect(page.locator("#live")).to_have_text("live")

            # A customer cancels 20 hours out: URGENT, and it shows up without a reload.
            urgent = await runtime.receive(PHONE, "we have to cancel tonight, family emergency")
            assert urgent.outcome == "escalated"
            case = urgent.escalation_ids[0]
            row = page.locator(f'section[data-priority="URGENT"] tr[data-escalation="{case}"]')
            await expect(row).to_be_visible(timeout=10_000)
            await expect(row).to_contain_text("Dana Lee")
            await page.screenshot(path=str(ARTIFACTS / "console-queue.png"), full_page=True)

            await row.get_by_role("link", name="Open").click()
            await page.get_by_role("button", name="Claim and take over").click()
            await expect(page.get_by_role("status").first).to_contain_text("You own this")
            await expect(page.locator("main")).to_contain_text("· in progress ·")

            # While Kim owns the thread the agent says nothing.
            quiet = await runtime.receive(PHONE, "hello?? is anyone there")
            assert quiet.outcome == "silent" and quiet.reply is None

            await page.get_by_label("Reply to the customer").fill(
                "Hi Dana, Kim here. So sorry, I'll call you in five minutes."
            )
            await page.get_by_role("button", name="Send reply").click()
            await expect(page.locator('.msg[data-author="human"]')).to_contain_text("Kim here")
            await expect(page.locator(".msg.inbound").last).to_contain_text("hello??")

            await page.get_by_label("adults").fill("14")
            # a party moved to another house ("New party address" cases) is updated here too
            await page.get_by_label("Party address").fill("45 Pine St, Folsom, CA 95630")
            await page.get_by_role("button", name="Save booking").click()
            await expect(page.get_by_text("Booking saved")).to_be_visible()
            await page.screenshot(path=str(ARTIFACTS / "console-thread.png"), full_page=True)

            await page.get_by_label("Resolution notes").fill("Moved to next month by phone.")
            await page.get_by_role("button", name="Resolve").click()
            await expect(page.get_by_role("status").first).to_contain_text("Resolved")

            async with sessions() as session:
                stored = await session.get(Booking, booking_id)
                assert stored is not None and stored.adults == 14
                assert stored.address == "45 Pine St, Folsom, CA 95630"
                human = (
                    await session.scalars(
                        select(Message)
                        .join(Conversation, Conversation.id == Message.conversation_id)
                        .where(Message.author == "human", Conversation.customer_id == dana)
                    )
                ).all()
                assert [m.status for m in human] == ["simulated"]
                assert human[0].body.endswith("– Kim") and human[0].channel == "sms"

            back = await runtime.receive(PHONE, "thanks Kim! what do we need to provide?")
            assert back.outcome != "silent" and back.reply

            await page.goto(base + "/console/stats")
            await expect(page.get_by_text("AI-handled conversations")).to_be_visible()
            await expect(page.locator("svg[aria-label='Escalations by priority']")).to_be_visible()
            await page.screenshot(path=str(ARTIFACTS / "console-stats.png"), full_page=True)

            # An admin changes the lobster price; a web chat question a second later sees it.
            admin = await browser.new_page(viewport={"width": 1280, "height": 900})
            await sign_in(admin, base, "Ana", "/console/knowledge")
            lobster = admin.locator('form[data-addon="lobster"]')
            await lobster.get_by_label("Lobster price").fill("21")
            await lobster.get_by_role("button", name="Save").click()
            await expect(lobster.get_by_role("status")).to_have_text(
                "Saved. The agent uses this on the next message."
            )
            async with httpx.AsyncClient(base_url=base) as client:
                token = (await client.post("/api/v1/chat/sessions")).json()["token"]
                answer = await client.post(
                    "/api/v1/chat/messages",
                    json={"text": "how much is the lobster upgrade?"},
                    headers={"X-Chat-Token": token},
                )
            assert "$21" in answer.json()["reply"]

            # Bad input is refused with the reason next to the field; nothing is saved.
            await lobster.get_by_label("Lobster price").fill("-5")
            await lobster.get_by_role("button", name="Save").click()
            await expect(lobster.locator('[data-error="price"]')).not_to_be_empty()
            await expect(lobster.get_by_role("status")).to_contain_text("Not saved")
            new_offer = admin.locator('form[data-offer="new"]')
            await new_offer.get_by_label("Offer title").fill("Spring special")
            await new_offer.get_by_label("Discount", exact=True).fill("10")
            await new_offer.get_by_label("Valid from").fill("2026-05-10")
            await new_offer.get_by_label("Valid to").fill("2026-05-01")
            await new_offer.get_by_role("button", name="Add offer").click()
            await expect(new_offer.locator('[data-error="valid_to"]')).to_contain_text(
                "must not end before it starts"
            )
            faq = admin.locator("form[data-faq]").first
            await faq.get_by_label("Answer").fill("")
            await faq.get_by_role("button", name="Save").click()
            await expect(faq.locator('[data-error="answer"]')).not_to_be_empty()
            await admin.screenshot(path=str(ARTIFACTS / "console-knowledge.png"), full_page=True)
            async with httpx.AsyncClient(base_url=base) as client:
                auth = {"Authorization": f"Bearer {admin_token}"}
                addons = (await client.get("/api/v1/menu/addons", headers=auth)).json()
                offers = (await client.get("/api/v1/offers", headers=auth)).json()
                faqs = (await client.get("/api/v1/faqs", headers=auth)).json()
            assert [a["price"] for a in addons if a["slug"] == "lobster"] == ["21.00"]
            assert not [o for o in offers if o["title"] == "Spring special"]
            assert all(f["answer"] for f in faqs)

    async def test_the_owner_sees_leads_with_their_quote_and_follow_up(
        self, pg_server: Any, template_url: str, chromium: Any
    ) -> None:
        """A prospect's quote and name become a lead the owner sees with its follow-up, and
        the stats count it. (A service of its own: the stats count every lead and quote.)"""
        from playwright.async_api import expect

        url = await clone_database(pg_server, template_url)
        engine = make_engine(url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with unit_of_work(sessions) as session:
            await make_person(session, "Ana", "admin")
        ARTIFACTS.mkdir(exist_ok=True)
        async with (
            served(url, "--no-worker") as base,
            postgres_checkpointer(url) as saver,
        ):
            runtime = AgentRuntime(sessions, KnowledgeService(), SystemClock(), saver)
            quoted = await runtime.receive(
                "+19165550195", "hi, how much for 15 adults and 4 kids? we're in 95630"
            )
            assert quoted.reply and "$945" in quoted.reply
            await runtime.receive("+19165550195", "Sarah Lee")
            browser = chromium
            page = await browser.new_page(viewport={"width": 1280, "height": 700})
            await sign_in(page, base, "Ana", "/console/leads")
            await expect(page.get_by_role("heading", name="Leads")).to_be_visible()
            row = page.locator("table.leads tbody tr").first
            await expect(row).to_contain_text("Sarah Lee")
            await expect(row).to_contain_text("15 adults, 4 kids")
            await expect(row).to_contain_text("$945 (1 quote)")
            await expect(row).to_contain_text("Folsom, CA 95630")
            await expect(row).to_contain_text("pending")
            await page.screenshot(path=str(ARTIFACTS / "console-leads.png"), full_page=True)
            # On a phone the table scrolls inside its own region; the page does not.
            await page.set_viewport_size({"width": 390, "height": 844})
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            assert await page.locator(".scroll[role=region]").evaluate(
                "el => el.scrollWidth > el.clientWidth"
            )
            await page.screenshot(path=str(ARTIFACTS / "console-leads-phone.png"), full_page=True)
            await page.set_viewport_size({"width": 1280, "height": 700})
            await page.goto(base + "/console/stats")
            await expect(page.get_by_text("Leads that booked (1 lead, 1 quote)")).to_be_visible()
        await engine.dispose()

    async def test_on_a_phone_far_from_the_business(self, console: Console, chromium: Any) -> None:
        """The owner on a trip (the phone's clock in Tokyo, 390 px wide) sees the party at 5 PM
        business time, minutes only; every page fits the screen; touchpoints have their names;
        a case that does not exist says so; a new start time is kept on the business's clock."""
        from playwright.async_api import expect

        zone = ZoneInfo("America/Los_Angeles")
        day = datetime.now(zone).date() + timedelta(days=3)
        party = datetime.combine(day, time(17, 0), zone)
        base, sessions = console.base, console.sessions
        async with unit_of_work(sessions) as session:
            customer = await make_customer(session, name="Rosa Diaz", phone="+19165550191")
            booking = await make_booking(session, customer, event_at=party, adults=12, kids=0)
            booking_id = booking.id
            rules = await KnowledgeService().rules(session)
            await flows.plan_journey(session, booking, datetime.now(UTC), rules)
            await make_person(session, "Mia", "admin")
        ARTIFACTS.mkdir(exist_ok=True)
        async with postgres_checkpointer(console.url) as saver:
            runtime = AgentRuntime(sessions, KnowledgeService(), SystemClock(), saver)
            asked = await runtime.receive("+19165550191", "we need to cancel the party, sorry")
            assert asked.outcome == "escalated"
            case = asked.escalation_ids[0]
            browser = chromium
            context = await browser.new_context(
                viewport={"width": 390, "height": 844}, timezone_id="Asia/Tokyo"
            )
            page = await context.new_page()

            violations: dict[str, list[str]] = {}

            async def fits() -> None:
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, f"{page.url} is {width} px wide"
                # Accessibility, as the page stands (axe-core): nothing serious or critical.
                found = await serious_violations(page)
                if found:
                    violations[await page.title()] = found

            await page.goto(base + "/console")
            await expect(page.get_by_label("Password")).to_be_visible()
            await fits()
            await page.screenshot(path=str(ARTIFACTS / "console-sign-in-phone.png"), full_page=True)
            await sign_in(page, base, "Mia")
            row = page.locator(f'tr[data-escalation="{case}"]')
            await expect(row).to_contain_text(f"{party:%a, %b} {day.day}, 5:00 PM")
            await expect(page.locator("#who")).to_contain_text("times in PT")
            assert await page.title() == "Escalations · Console"
            await fits()
            await page.screenshot(path=str(ARTIFACTS / "console-queue-phone.png"), full_page=True)

            await row.get_by_role("link", name="Open").click()
            await expect(page.get_by_role("heading", level=1)).to_be_visible()
            assert "Rosa Diaz" in await page.title()
            await expect(page.locator('a[href="tel:+19165550191"]')).to_be_visible()
            # The alerts the case sent are on it.
            await expect(page.locator('li[data-alert-kind="opened"]').first).to_contain_text(
                "Case opened or changed"
            )
            day_before = page.locator('tr[data-touchpoint="24_hour"]')
            await expect(day_before).to_contain_text("Day-before confirmation")
            await expect(page.locator("table").last).not_to_contain_text("24_hour")
            when_field = page.get_by_label("Party date and time (PT)")
            await expect(when_field).to_have_value(f"{day.isoformat()}T17:00")
            await fits()
            await page.screenshot(path=str(ARTIFACTS / "console-thread-phone.png"), full_page=True)

            # The start moves to 6:30 PM business time, whatever the phone's clock says.
            await when_field.fill(f"{day.isoformat()}T18:30")
            await page.get_by_role("button", name="Save booking").click()
            await expect(page.get_by_text("Booking saved")).to_be_visible()
            async with sessions() as session:
                stored = await session.get(Booking, booking_id)
                assert stored is not None
                assert stored.event_at.astimezone(zone) == datetime.combine(day, time(18, 30), zone)

            await page.goto(base + "/console/escalations/987654")
            await expect(page.get_by_role("heading", name="Case not found")).to_be_visible()
            assert await page.title() == "Case not found · Console"
            await fits()

            for path in ("/console/knowledge", "/console/stats", "/console/leads"):
                await page.goto(base + path)
                await expect(page.get_by_role("heading", level=1)).to_be_visible()
                await fits()
            # Chart labels are whole and inside their chart.
            await page.goto(base + "/console/stats")
            chart = page.locator("svg[aria-label='Escalations by reason']")
            await expect(chart).to_be_visible()
            overflowing = await chart.evaluate(
                """svg => [...svg.querySelectorAll("text")].filter(
                    t => t.getBBox().x + t.getBBox().width > svg.viewBox.baseVal.width
                ).map(t => t.textContent)"""
            )
            assert overflowing == []
            await page.screenshot(path=str(ARTIFACTS / "console-stats-phone.png"), full_page=True)
        assert violations == {}

    async def test_people_sign_in_with_a_password_and_an_admin_adds_an_agent(
        self, pg_server: Any, template_url: str, chromium: Any
    ) -> None:
        """Sign-in, a wrong password, the lock after three, sign-out; an admin adds an agent
        who opens the set-up link on a phone, chooses a password and is in; deactivated, the
        agent is out at their next step. Each page fits 390 px and axe finds nothing serious.
        (A service of its own: it locks an account after three wrong passwords.)"""
        from playwright.async_api import expect

        url = await clone_database(pg_server, template_url)
        engine = make_engine(url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with unit_of_work(sessions) as session:
            await make_person(session, "Ana", "admin")
            await make_person(session, "Kim", "agent")
        ARTIFACTS.mkdir(exist_ok=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = await serve(
            url, port, "--no-worker", PUBLIC_BASE_URL=base, HIBACHI_SIGN_IN_ATTEMPTS="3"
        )
        checked = PageCheck(ARTIFACTS)

        try:
            browser = chromium
            desk = await browser.new_page(viewport={"width": 1280, "height": 800})
            await desk.goto(base + "/console")
            await expect(desk.get_by_role("heading", name="Sign in")).to_be_visible()
            assert await desk.title() == "Sign in · Console"
            await checked(desk, "sign-in")

            # A wrong password says so and clears the field; the third locks Kim out.
            for _ in range(3):
                await desk.get_by_label("Name").fill("Kim")
                await desk.get_by_label("Password").fill("not my password")
                await desk.get_by_role("button", name="Sign in").click()
                await expect(desk.get_by_role("alert")).to_have_text("wrong name or password")
                await expect(desk.get_by_label("Password")).to_have_value("")
            await desk.get_by_label("Name").fill("Kim")
            await desk.get_by_label("Password").fill(PASSWORD)
            await desk.get_by_role("button", name="Sign in").click()
            await expect(desk.get_by_role("alert")).to_contain_text("locked for 15")

            # Ana signs in and adds Lee, an agent.
            await sign_in(desk, base, "Ana", "/console/users")
            await expect(desk.get_by_role("heading", name="People")).to_be_visible()
            await expect(desk.locator('tr[data-user="Kim"]')).to_contain_text("locked until")
            await desk.get_by_label("Name").fill("Lee")
            await desk.get_by_label("Role").select_option("agent")
            await desk.get_by_role("button", name="Add", exact=True).click()
            link = desk.get_by_label("Set-up link")
            await expect(link).to_have_value(re.compile(rf"^{base}/console/setup#.+"))
            setup = await link.input_value()
            await expect(desk.locator('tr[data-user="Lee"]')).to_contain_text("set-up link sent")
            await checked(desk, "people")
            await desk.set_viewport_size({"width": 390, "height": 844})
            await checked(desk, "people-phone")
            await desk.set_viewport_size({"width": 1280, "height": 800})

            # Lee opens the link on a phone, chooses a password and is in.
            phone = await browser.new_page(viewport={"width": 390, "height": 844})
            await phone.goto(setup)
            await expect(phone.get_by_role("heading", name="Choose a password")).to_be_visible()
            await checked(phone, "setup-phone")
            await phone.get_by_label("New password").fill("lee's own long password")
            await phone.get_by_label("The same password again").fill("lee's own long password")
            await phone.get_by_role("button", name="Set password and sign in").click()
            await expect(phone.locator("#who")).to_contain_text("Lee (agent)")
            await expect(phone.get_by_role("link", name="People")).to_be_hidden()
            assert "#" not in phone.url
            await checked(phone, "sign-in-phone-queue")

            # Deactivated, Lee is out at the next step.
            await desk.reload()
            row = desk.locator('tr[data-user="Lee"]')
            desk.once("dialog", lambda dialog: dialog.accept())
            await row.get_by_role("button", name="Deactivate").click()
            await expect(row).to_contain_text("deactivated")
            await phone.goto(base + "/console")
            await expect(phone.get_by_role("heading", name="Sign in")).to_be_visible()

            # Signing out ends Ana's session: the console asks her to sign in again.
            await desk.get_by_role("button", name="Sign out").click()
            await expect(desk.get_by_role("heading", name="Sign in")).to_be_visible()
            await desk.goto(base + "/console/users")
            await expect(desk.get_by_role("heading", name="Sign in")).to_be_visible()
        finally:
            server.send_signal(signal.SIGTERM)
            await server.wait()
            await engine.dispose()
        assert checked.violations == {}
