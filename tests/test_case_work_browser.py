"""Working a case in Debian's Chromium: the owner keeps a saved reply, assigns a case to an
agent, who sees it "For you", writes a note for the team, sends the saved reply (filled in with
the customer's name and booking reference) and resolves. Each page fits 390 px and axe-core
finds nothing serious; screenshots are kept in test-artifacts/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from knowledge.db import make_engine, unit_of_work
from knowledge.models import (
    CaseNote,
    Conversation,
    CustomerAddress,
    Escalation,
    Feedback,
    Message,
)
from tests.conftest import Console, clone_database
from tests.factories import (
    make_booking,
    make_conversation,
    make_customer,
    make_message,
    make_person,
)
from tests.helpers.browser import HAVE_CHROMIUM, PageCheck, serious_violations, sign_in
from tests.helpers.service import served

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not HAVE_CHROMIUM, reason="Debian's chromium is not installed (make test installs it)"
)


async def test_assign_note_saved_reply_and_resolve(console: Console, chromium: Any) -> None:
    from playwright.async_api import expect

    base, sessions = console.base, console.sessions
    async with unit_of_work(sessions) as session:
        customer = await make_customer(session, name="Rosa Diaz", phone="+19165550177")
        booking = await make_booking(
            session, customer, event_at=datetime.now(UTC) + timedelta(days=5), adults=14
        )
        conversation = await make_conversation(session, customer)
        case = Escalation(
            customer_id=customer.id,
            booking_id=booking.id,
            conversation_id=conversation.id,
            priority="HIGH",
            reason="Cancellation request 3-6 days before the event",
            action_required="Confirm the no-refund policy, offer a reschedule",
            deadline=datetime.now(UTC) + timedelta(hours=20),
        )
        session.add(case)
        await session.flush()
        case_id, reference = case.id, booking.reference
        await make_person(session, "Ana", "admin")
        await make_person(session, "Kim", "agent")
    ARTIFACTS.mkdir(exist_ok=True)
    check = PageCheck(ARTIFACTS)

    async def checked(page: Any, name: str) -> None:
        await check(page, name, (1280, 390))

    browser = chromium
    owner = await browser.new_page(viewport={"width": 1280, "height": 844})
    # The owner keeps a saved reply with the knowledge.
    await sign_in(owner, base, "Ana", "/console/knowledge")
    await expect(owner.get_by_role("heading", name="Saved replies")).to_be_visible()
    await owner.get_by_label("New saved reply title").fill("Offer a reschedule")
    await owner.get_by_label("New saved reply text").fill(
        "Hi {name}, we can't refund {reference} this close, but we can move it "
        "to another date for free."
    )
    await owner.get_by_role("button", name="Add saved reply").click()
    await expect(owner.get_by_label("Title of “Offer a reschedule”")).to_be_visible()
    await checked(owner, "knowledge")

    # ... and assigns the case to Kim.
    await owner.goto(f"{base}/console/escalations/{case_id}")
    await owner.get_by_label("Assign to").select_option(label="Kim")
    await owner.get_by_role("button", name="Assign", exact=True).click()
    await expect(owner.locator("#app > p[role=status]")).to_have_text(
        "Assigned; they have been alerted."
    )
    await expect(owner.get_by_text("owner: Kim", exact=False)).to_be_visible()

    # Kim sees it "For you" on the queue and opens it from there.
    kim = await browser.new_page(viewport={"width": 1280, "height": 844})
    await sign_in(kim, base, "Kim", "/console")
    for_you = kim.get_by_role("region", name="For you")
    await expect(for_you).to_contain_text("Ana assigned you a case: HIGH")
    await checked(kim, "queue-for-you")
    await for_you.get_by_role("link").first.click()
    await expect(kim.get_by_role("heading", level=1)).to_contain_text("Cancellation")

    # A note for the team, never sent.
    await kim.get_by_label("Add a note (never sent to the customer)").fill(
        "Called Rosa: she'd rather move to the 21st."
    )
    await kim.get_by_role("button", name="Add note").click()
    notes = kim.get_by_role("region", name="Notes for the team")
    await expect(notes).to_contain_text("Kim")
    await expect(notes).to_contain_text("she'd rather move to the 21st")

    # The saved reply, filled in, edited and sent.
    await kim.get_by_label("Saved replies").select_option(label="Offer a reschedule")
    reply = kim.get_by_label("Reply to the customer")
    await expect(reply).to_have_value(
        f"Hi Rosa, we can't refund {reference} this close, but we can move it to "
        "another date for free."
    )
    await reply.press("End")
    await reply.type(" Does the 21st work?")
    await kim.get_by_role("button", name="Send reply").click()
    await expect(kim.locator("#app > p[role=status]")).to_have_text("Sent.")
    await checked(kim, "case-work")

    # Resolved with notes.
    await kim.get_by_label("Resolution notes").fill("Moved to the 21st by phone.")
    await kim.get_by_role("button", name="Resolve").click()
    await expect(kim.get_by_text("Resolved", exact=False).first).to_be_visible()
    async with sessions() as session:
        stored = await session.get(Escalation, case_id)
        assert stored is not None and stored.status == "resolved"
        assert stored.resolution_notes == "Moved to the 21st by phone."
        sent = (
            await session.scalars(
                select(Message.body).where(
                    Message.conversation_id == conversation.id, Message.direction == "outbound"
                )
            )
        ).all()
        assert [b for b in sent if "Does the 21st work?" in b]
        assert not [b for b in sent if "rather move" in b]  # the note stayed inside
        note = (
            await session.scalars(select(CaseNote.body).where(CaseNote.escalation_id == case_id))
        ).all()
        assert note == ["Called Rosa: she'd rather move to the 21st."]
    assert check.violations == {}


async def test_search_finds_a_customer_by_booking_reference(
    pg_server: Any, template_url: str, chromium: Any
) -> None:
    """The inbox lists every conversation, the one waiting for us marked; searching a booking
    reference finds its customer; their page shows bookings with ratings, channels with
    opt-outs and the thread, where a reply takes it over until it is handed back. (A service
    of its own: the inbox must list its two conversations and nothing else.)"""
    from playwright.async_api import expect

    url = await clone_database(pg_server, template_url)
    engine = make_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with unit_of_work(sessions) as session:
        rosa = await make_customer(session, name="Rosa Diaz", phone="+19165550178")
        booking = await make_booking(
            session, rosa, event_at=datetime.now(UTC) + timedelta(days=9), adults=12
        )
        past = await make_booking(
            session, rosa, event_at=datetime.now(UTC) - timedelta(days=30), status="completed"
        )
        session.add(Feedback(booking_id=past.id, rating=5, feedback_text="Chef Ken was great"))
        session.add(
            CustomerAddress(
                customer_id=rosa.id, channel="whatsapp", address="+19165550178", opted_out=True
            )
        )
        thread = await make_conversation(session, rosa)
        await make_message(session, thread, body="what time does the chef come?")
        ben = await make_customer(session, name="Ben Okafor", phone="+19165550179")
        await make_message(session, await make_conversation(session, ben), body="thanks!")
        reference, thread_id = booking.reference, thread.id
        await make_person(session, "Kim", "agent")
    ARTIFACTS.mkdir(exist_ok=True)
    check = PageCheck(ARTIFACTS)

    async def checked(page: Any, name: str) -> None:
        await check(page, name, (1280, 390))

    try:
        async with served(url, "--no-worker") as base:
            page = await chromium.new_page(viewport={"width": 1280, "height": 844})
            await sign_in(page, base, "Kim", "/console/inbox")
            await expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
            assert await page.title() == "Inbox · Console"
            rows = page.locator("table.inbox tbody tr")
            await expect(rows).to_have_count(2)
            await expect(rows.first).to_contain_text("Ben Okafor")  # newest first
            await checked(page, "inbox")

            await page.get_by_label("Search").fill(reference.lower())
            await page.get_by_role("button", name="Show").click()
            await expect(rows).to_have_count(1)
            await expect(rows.first).to_contain_text("Rosa Diaz")
            await expect(rows.first).to_contain_text("Waiting")
            await rows.first.get_by_role("link", name="Rosa Diaz").click()

            await expect(page.get_by_role("heading", name="Rosa Diaz")).to_be_visible()
            bookings = page.get_by_role("region", name="Bookings")
            await expect(bookings.locator(f'tr[data-booking="{reference}"]')).to_contain_text(
                "(upcoming)"
            )
            await expect(bookings).to_contain_text("★★★★★ “Chef Ken was great”")
            await expect(page.get_by_role("region", name="Channels")).to_contain_text(
                "WhatsApp: +19165550178 · opted out"
            )
            conversation = page.get_by_role("region", name="SMS conversation")
            await expect(conversation).to_contain_text("what time does the chef come?")
            await checked(page, "customer")

            await conversation.get_by_label(re.compile("^Reply")).fill("Around 5:40, Rosa!")
            await conversation.get_by_role("button", name="Send reply").click()
            conversation = page.get_by_role("region", name="SMS conversation")
            await expect(conversation).to_contain_text("Around 5:40, Rosa!")
            await expect(conversation.get_by_role("heading")).to_contain_text("answered by you")
            await conversation.get_by_role("button", name="Hand back to the agent").click()
            await expect(
                page.get_by_role("region", name="SMS conversation").get_by_role("heading")
            ).to_contain_text("answered by the agent")
        async with sessions() as session:
            stored = await session.get(Conversation, thread_id)
            assert stored is not None and stored.owner == "ai"
    finally:
        await engine.dispose()
    assert check.violations == {}


async def test_a_price_as_a_field_and_a_new_faq_reach_the_next_answer(
    console: Console, chromium: Any
) -> None:
    """The owner tries an unsaved price in the try-it box (answered, nothing saved), then
    changes the adult price as a field: the pricing text customers read follows, and the next
    web chat answer quotes it; an FAQ the owner adds answers the next customer who
    asks; an agent sees knowledge without the forms that need an admin."""
    from playwright.async_api import expect

    base = console.base
    async with unit_of_work(console.sessions) as session:
        await make_person(session, "Mia", "admin")
        await make_person(session, "Lou", "agent")
    ARTIFACTS.mkdir(exist_ok=True)

    async def ask(base: str, question: str) -> str:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            token = (await client.post("/api/v1/chat/sessions")).json()["token"]
            answer = await client.post(
                "/api/v1/chat/messages", json={"text": question}, headers={"X-Chat-Token": token}
            )
        return str(answer.json()["reply"])

    assert "$55" in await ask(base, "how much is it per adult?")
    browser = chromium
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await sign_in(page, base, "Mia", "/console/knowledge")
    pricing = page.locator('form[data-rule="pricing"]')
    await expect(pricing).to_contain_text("Customers read: Adults are $55 each")
    # Try it: an unsaved price answers the question; nothing is saved.
    await pricing.get_by_label("adult price").fill("70")
    await page.get_by_label("A customer asks").fill("how much is it per adult?")
    await page.get_by_label("With the unsaved changes in").select_option(
        label="Pricing (as edited below)"
    )
    await page.get_by_role("button", name="Try", exact=True).click()
    await expect(page.locator("#try-answer")).to_contain_text("$70")
    await expect(page.locator("#try-answer")).to_contain_text("Nothing was saved")
    assert "$55" in await ask(base, "how much is it per adult?")
    await page.reload()
    pricing = page.locator('form[data-rule="pricing"]')
    await expect(pricing.get_by_label("adult price")).to_have_value("55")
    await pricing.get_by_label("adult price").fill("60")
    await pricing.get_by_role("button", name="Save").click()
    pricing = page.locator('form[data-rule="pricing"]')
    await expect(pricing).to_contain_text("Customers read: Adults are $60 each")
    assert "$60" in await ask(base, "how much is it per adult?")

    new = page.locator('form[data-faq="new"]')
    await new.get_by_label("New FAQ question").fill("Do you bring music or a DJ?")
    await new.get_by_label("New FAQ answer").fill(
        "We don't bring music, but the chef's show keeps everyone entertained."
    )
    await new.get_by_label("New FAQ keywords").fill("dj music speaker playlist")
    await new.get_by_label("New FAQ category").select_option("event")
    await new.get_by_role("button", name="Add FAQ").click()
    await expect(page.locator("form[data-faq] strong").filter(has_text="DJ")).to_be_visible()
    assert "chef's show keeps everyone entertained" in await ask(base, "do you guys bring a dj?")
    await page.screenshot(path=str(ARTIFACTS / "console-knowledge-fields.png"), full_page=True)

    # An add-on added, then deleted (asked once).
    addon = page.locator('form[data-addon="new"]')
    await addon.get_by_label("New add-on name").fill("Wagyu steak")
    await addon.get_by_label("New add-on price").fill("25")
    await addon.get_by_label("New add-on kind").select_option("premium_protein")
    await addon.get_by_label("Other words customers use for it").fill("wagyu, kobe")
    await addon.get_by_role("button", name="Add add-on").click()
    wagyu = page.locator('form[data-addon="wagyu_steak"]')
    await expect(wagyu).to_contain_text("Wagyu steak")
    page.once("dialog", lambda dialog: dialog.accept())
    await wagyu.get_by_role("button", name="Delete").click()
    await expect(page.locator('form[data-addon="wagyu_steak"]')).to_have_count(0)

    agent = await browser.new_page(viewport={"width": 390, "height": 844})
    await sign_in(agent, base, "Lou", "/console/knowledge")
    await expect(
        agent.get_by_text("You can read the knowledge here; only an admin can change it.")
    ).to_be_visible()
    await expect(agent.locator('form[data-faq="new"]')).to_have_count(0)
    await expect(
        agent.locator('form[data-rule="pricing"]').get_by_role("button", name="Save")
    ).to_be_disabled()
    await expect(
        agent.locator('form[data-rule="pricing"]').get_by_label("adult price")
    ).to_be_disabled()
    found = await serious_violations(agent)
    assert found == []
