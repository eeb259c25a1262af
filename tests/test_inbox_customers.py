"""The console's inbox and customer pages: every conversation, newest activity first, filtered by
channel, open case and "waiting for us", searched by name, phone, email or booking reference; a
customer's bookings with ratings, channels with opt-outs, threads and cases; a staff reply on
any thread takes it over until it is handed back."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.infra.clock import FrozenClock
from knowledge.models import Conversation, CustomerAddress, Escalation, Feedback
from tests.conftest import bearer
from tests.factories import make_booking, make_conversation, make_customer, make_message


async def people(session: AsyncSession, clock: FrozenClock) -> dict[str, int]:
    rosa = await make_customer(session, name="Rosa Diaz", phone="+19165550101")
    sms = await make_conversation(session, rosa)
    await make_message(session, sms, body="can we add 2 kids?")
    await make_message(
        session, sms, direction="outbound", author="agent", body="Done!", status="sent"
    )
    booking = await make_booking(
        session, rosa, event_at=clock.now() - timedelta(days=3), status="completed"
    )
    session.add(Feedback(booking_id=booking.id, rating=5, review_source="google"))
    upcoming = await make_booking(session, rosa, event_at=clock.now() + timedelta(days=12))
    session.add(
        CustomerAddress(customer_id=rosa.id, channel="sms", address="+19165550101", opted_out=True)
    )

    ben = await make_customer(
        session, name="Ben Okafor", phone="+19165550102", email="ben@example.com"
    )
    web = await make_conversation(session, ben, channel="web")
    await make_message(session, web, channel="web", body="is the chef late?? nobody is here")
    session.add(
        Escalation(
            customer_id=ben.id,
            conversation_id=web.id,
            priority="URGENT",
            reason="Chef not arrived",
            action_required="Call the chef",
            deadline=clock.now() + timedelta(hours=2),
        )
    )
    await session.commit()
    return {
        "rosa": rosa.id,
        "rosa_sms": sms.id,
        "ben_web": web.id,
        "booking": upcoming.id,
        "reference": upcoming.reference,  # type: ignore[dict-item]
    }


class TestInbox:
    async def test_newest_first_with_filters(
        self, client: httpx.AsyncClient, session: AsyncSession, clock: FrozenClock
    ) -> None:
        ids = await people(session, clock)
        kim = await bearer(session, "Kim", "agent")
        rows = (await client.get("/api/v1/inbox", headers=kim)).json()
        ours = [r for r in rows if r["conversation_id"] in (ids["rosa_sms"], ids["ben_web"])]
        assert [r["conversation_id"] for r in ours] == [ids["ben_web"], ids["rosa_sms"]]
        ben, rosa = ours
        assert ben["waiting"] is True and ben["open_cases"] == 1
        assert rosa["waiting"] is False and rosa["last_body"] == "Done!"
        assert rosa["customer_name"] == "Rosa Diaz" and rosa["channel"] == "sms"

        def only(rows: list[dict[str, object]]) -> set[object]:
            return {r["conversation_id"] for r in rows} & {ids["rosa_sms"], ids["ben_web"]}

        for query, expected in (
            ("waiting=true", {ids["ben_web"]}),
            ("open_case=true", {ids["ben_web"]}),
            ("channel=sms", {ids["rosa_sms"]}),
            ("channel=web&waiting=true", {ids["ben_web"]}),
        ):
            found = (await client.get(f"/api/v1/inbox?{query}", headers=kim)).json()
            assert only(found) == expected, query
            if "waiting" in query:
                assert all(r["waiting"] for r in found)

    async def test_search_by_name_phone_email_or_booking_reference(
        self, client: httpx.AsyncClient, session: AsyncSession, clock: FrozenClock
    ) -> None:
        ids = await people(session, clock)
        kim = await bearer(session, "Kim", "agent")
        for q, who in (
            ("rosa", ids["rosa_sms"]),
            ("(916) 555-0102", ids["ben_web"]),
            ("BEN@example", ids["ben_web"]),
            (str(ids["reference"]).lower(), ids["rosa_sms"]),
        ):
            found = (await client.get("/api/v1/inbox", params={"q": q}, headers=kim)).json()
            assert [r["conversation_id"] for r in found] == [who], q
        nothing = await client.get("/api/v1/inbox", params={"q": "MH-NOPE00"}, headers=kim)
        assert nothing.json() == []
        bad = await client.get("/api/v1/inbox?channel=fax", headers=kim)
        assert bad.status_code == 422


class TestCustomerPage:
    async def test_bookings_ratings_channels_threads_and_cases(
        self, client: httpx.AsyncClient, session: AsyncSession, clock: FrozenClock
    ) -> None:
        ids = await people(session, clock)
        kim = await bearer(session, "Kim", "agent")
        page = (await client.get(f"/api/v1/customers/{ids['rosa']}", headers=kim)).json()
        assert page["customer"]["name"] == "Rosa Diaz"
        assert [b["status"] for b in page["bookings"]] == ["confirmed", "completed"]
        assert page["bookings"][1]["ratings"][0]["rating"] == 5
        assert page["addresses"] == [
            {
                "channel": "sms",
                "address": "+19165550101",
                "opted_out": True,
                "verified": False,
                "undeliverable": False,
                "last_seen_at": None,
            }
        ]
        assert [c["id"] for c in page["conversations"]] == [ids["rosa_sms"]]
        assert page["cases"] == []
        missing = await client.get("/api/v1/customers/999999", headers=kim)
        assert missing.status_code == 404


class TestReplyOnAnyThread:
    async def test_a_reply_takes_the_thread_over_until_it_is_handed_back(
        self, client: httpx.AsyncClient, session: AsyncSession, clock: FrozenClock
    ) -> None:
        ids = await people(session, clock)
        kim = await bearer(session, "Kim", "agent")
        lee = await bearer(session, "Lee", "agent")
        sent = await client.post(
            f"/api/v1/conversations/{ids['rosa_sms']}/reply",
            json={"text": "Hi Rosa, checking in!"},
            headers=kim,
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["body"] == "Hi Rosa, checking in!\n– Kim"
        assert sent.json()["author"] == "human"
        thread = await session.get(Conversation, ids["rosa_sms"], populate_existing=True)
        assert thread is not None and thread.owner == "human"
        taken = await client.post(
            f"/api/v1/conversations/{ids['rosa_sms']}/reply", json={"text": "me too"}, headers=lee
        )
        assert taken.status_code == 409 and "Kim has taken" in taken.json()["error"]["message"]
        back = await client.post(f"/api/v1/conversations/{ids['rosa_sms']}/hand-back", headers=kim)
        assert back.status_code == 200 and back.json()["owner"] == "ai"
