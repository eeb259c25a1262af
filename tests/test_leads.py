"""Prospects: what they say about a party is read, quoted from live prices, checked against the
calendar, kept as a lead across messages, followed up once, and marked booked."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.understanding import prospect
from agent.understanding.reader import default_reader
from agent.understanding.training import default_vocabulary
from knowledge.infra.clock import FrozenClock
from knowledge.models import AutomatedReminder, Booking, Lead, Message
from knowledge.service import KnowledgeService
from scheduler import flows
from tests.factories import make_booking, make_customer
from tests.rules import rules_with, seed_addons, seed_rules
from tools import availability, leads, prospects, travel
from tools.bookings.schemas import BookingCreate, CustomerIn
from tools.prospects import LeadView

RULES = seed_rules()
ADDONS = seed_addons()
LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # 10:00 in Sacramento
PHONE = "+19165550601"


def read(text: str, *answering: str) -> prospect.Details:
    normalised = default_reader().normaliser(default_vocabulary()).normalise(text)
    return prospect.read(
        text, normalised, NOW, "America/Los_Angeles", travel.city_names("CA"), answering=answering
    )


class TestReading:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("quote for 15 adults and 4 kids", {"adults": 15, "kids": 4}),
            (
                "we'll have thirty adults, 5 children and 2 babies",
                {"adults": 30, "kids": 5, "toddlers": 2},
            ),
            ("a party of 12", {"guests": 12}),
            ("looking to book for 20", {"guests": 20}),
            ("about a dozen people", {"guests": 12}),
            ("we're 12", {"guests": 12}),
            ("like 18 ppl, 3 of them r kids", {"guests": 18, "kids": 3}),
        ],
    )
    def test_guest_counts(self, text: str, expected: dict[str, int]) -> None:
        details = read(text)
        assert {k: getattr(details, k) for k in expected} == expected

    @pytest.mark.parametrize(
        "text",
        [
            "hey do u guys charge 4 travel? we r like 40 mi out past folsom",
            "we're about 45 miles from sacramento",
            "we are 25 min from downtown",
            "we're like 2 hrs away lol",
            "we're 30 km out",
        ],
    )
    def test_a_distance_is_no_headcount(self, text: str) -> None:
        assert read(text).guests is None

    def test_an_addition_is_a_change_to_what_was_said(self) -> None:
        assert read("oh and 2 more kids").more == (("kids", 2),)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("at 6", time(18, 0)),
            ("6:30 p.m. works", time(18, 30)),
            ("how about 7:30 then", time(19, 30)),
            ("lunch at noon", time(12, 0)),
            ("starting at 11", time(11, 0)),
            ("prob 6ish", time(18, 0)),
            ("for 8 people", None),
        ],
    )
    def test_start_times(self, text: str, expected: time | None) -> None:
        assert read(text).event_time == expected

    def test_a_date_and_a_place_of_the_business_state(self) -> None:
        details = read("party on july 12 in elk grove")
        assert (details.event_date, details.place) == (date(2027, 7, 12), "elk grove")

    def test_a_zip_code_is_not_a_count(self) -> None:
        details = read("we're at 95630")
        assert (details.zip_code, details.guests, details.adults) == ("95630", None, None)

    def test_a_name_said_outright_and_not_a_description(self) -> None:
        assert read("Hi, this is Mike Chen").name == "Mike Chen"
        assert read("I'm Looking for a quote").name is None

    def test_a_lone_number_is_the_start_time_only_when_that_is_all_we_asked(self) -> None:
        assert read("prob 5", "event_time", "name").event_time == time(17, 0)
        assert read("prob 5", "event_time", "guests").event_time is None
        assert read("prob 5").event_time is None
        assert read("8 adults", "event_time").event_time is None

    @pytest.mark.parametrize(
        "text", ["nvm we found someone cheaper lol", "we'll pass, too expensive for us"]
    )
    def test_deciding_against_it(self, text: str) -> None:
        assert read(text).declines
        assert not read("how much for 14 adults?").declines

    def test_a_name_in_lower_case_only_when_one_was_asked_for(self) -> None:
        assert read("ok cool its maria", "name").name == "Maria"
        assert read("ok cool its maria").name is None
        assert read("its for 25 people", "name").name is None

    def test_a_bare_name_only_when_one_was_asked_for(self) -> None:
        assert read("Sarah Lee", "name").bare_name == "Sarah Lee"
        assert read("Sarah Lee").bare_name is None
        assert read("Perfect", "name").bare_name is None

    def test_a_city_alone_answers_where(self) -> None:
        assert read("Folsom", "place").place == "folsom"

    @pytest.mark.parametrize(
        "text", ["what day did I book the chef for?", "when is my party", "we already paid"]
    )
    def test_own_booking_is_not_a_prospect(self, text: str) -> None:
        assert read(text).about_own_booking

    def test_a_change_word_marks_a_customer_change(self) -> None:
        assert read("we'll be 14 adults now").changes
        assert not read("how much for 14 adults?").changes


class TestTravel:
    def test_miles_between_zip_centres(self) -> None:
        base, city = travel.by_zip("95814"), travel.by_zip("94102")
        assert base is not None and city is not None
        assert travel.miles_between(base, city) == Decimal(75)

    def test_a_city_of_the_state_by_name(self) -> None:
        base, folsom = travel.by_zip("95814"), travel.by_city("folsom", "CA")
        assert base is not None and folsom is not None
        assert folsom.name == "Folsom, CA" and travel.miles_between(base, folsom) == Decimal(19)
        assert travel.by_city("folsom", "NV") is None

    def test_unknown_zip(self) -> None:
        assert travel.by_zip("00000") is None


def at(day: str, clock: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), LA)


class TestAvailability:
    def test_open_when_a_chef_is_free(self) -> None:
        found = availability.check(
            date(2027, 1, 16), time(18), [at("2027-01-16", "18:00")], NOW, RULES
        )
        assert found.open and found.choices == (at("2027-01-16", "18:00"),)

    def test_full_offers_the_nearest_open_starts(self) -> None:
        taken = [at("2027-01-16", "18:00")] * 2
        found = availability.check(date(2027, 1, 16), time(18), taken, NOW, RULES)
        assert not found.open
        # 17:00 and 19:30 overlap the two parties (3 hours each); 15:00 does not
        assert found.choices == (
            at("2027-01-16", "12:00"),
            at("2027-01-16", "15:00"),
            at("2027-01-17", "12:00"),
        )

    def test_more_chefs_more_parties(self) -> None:
        taken = [at("2027-01-16", "18:00")] * 2
        rules = rules_with(chefs=3)
        assert availability.check(date(2027, 1, 16), time(18), taken, NOW, rules).open

    def test_a_date_alone_lists_that_days_open_starts(self) -> None:
        found = availability.check(
            date(2027, 1, 16), None, [at("2027-01-16", "12:00")] * 2, NOW, RULES
        )
        assert found.open
        assert found.choices == (
            at("2027-01-16", "15:00"),
            at("2027-01-16", "17:00"),
            at("2027-01-16", "19:30"),
        )

    def test_a_full_date_alone_offers_the_days_around_it(self) -> None:
        taken = [at("2027-01-16", t) for t in ("12:00", "15:00", "17:00", "19:30")] * 2
        found = availability.check(date(2027, 1, 16), None, taken, NOW, RULES)
        assert not found.open
        assert found.choices == (
            at("2027-01-15", "12:00"),
            at("2027-01-15", "15:00"),
            at("2027-01-15", "17:00"),
        )

    def test_past_starts_are_never_offered(self) -> None:
        today = NOW.astimezone(LA).date()
        found = availability.check(today, None, [], NOW, RULES)
        assert all(choice > NOW for choice in found.choices)


#: A lead with everything the business needs to book.
COMPLETE = LeadView(
    name="Sarah Lee",
    phone=PHONE,
    event_date=date(2027, 1, 16),
    event_time=time(18),
    adults=15,
    kids=4,
    zip_code="95630",
    travel_miles=Decimal(19),
)


class TestQuote:
    def test_minimum_applies_to_a_small_party(self) -> None:
        lines, total = prospects.quote_lines(LeadView(adults=8), RULES, ADDONS)
        assert total == Decimal(550)
        assert lines == ["8 adults × $55 = $440", "party minimum $550 applies"]

    def test_kids_little_ones_upgrades_and_travel(self) -> None:
        lead = LeadView(
            adults=10,
            kids=2,
            toddlers=1,
            upgrades=("filet_mignon",),
            travel_miles=Decimal(40),
            place="Davis, CA",
        )
        lines, total = prospects.quote_lines(lead, RULES, ADDONS)
        # 550 + 60 + 0, filet +5 for the 12 who eat, 10 miles past the free 30 at $2
        assert total == Decimal(550 + 60 + 60 + 20)
        assert not any("minimum" in line for line in lines)
        assert lines[-1] == "travel to Davis, CA (40 mi): 10 mi past the free 30 × $2 = $20"

    def test_asks_only_for_what_is_missing(self) -> None:
        lead = LeadView(adults=12, event_date=date(2027, 1, 16), phone=PHONE)
        decision = prospects.decide_lead(
            lead,
            rules=RULES,
            addons=ADDONS,
            available=None,
            show_quote=True,
            show_availability=False,
        )
        assert decision.facts["asked"] == ["event_time", "place", "name"]
        assert decision.pending == "lead"

    def test_complete_gets_the_prefilled_link(self) -> None:
        decision = prospects.decide_lead(
            COMPLETE,
            rules=RULES,
            addons=ADDONS,
            available=None,
            show_quote=False,
            show_availability=False,
        )
        assert decision.rule == "lead:link" and decision.pending is None
        assert decision.facts["booking_link"] == (
            "https://myhibachi.example/book?name=Sarah+Lee&date=2027-01-16&time=18%3A00"
            "&adults=15&kids=4&zip=95630&phone=%2B19165550601"
        )
        assert decision.facts["deposit_amount"] == "$100"

    def test_a_full_date_gets_no_link(self) -> None:
        lead = replace(COMPLETE, kids=None)
        full = availability.check(
            date(2027, 1, 16), time(18), [at("2027-01-16", "18:00")] * 2, NOW, RULES
        )
        decision = prospects.decide_lead(
            lead,
            rules=RULES,
            addons=ADDONS,
            available=full,
            show_quote=False,
            show_availability=False,
        )
        assert decision.rule == "lead:collect" and "booking_link" not in decision.facts
        assert decision.facts["availability"] == "full"  # said again until another time is chosen


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


async def lead_of(session: AsyncSession, phone: str = PHONE) -> Lead:
    from knowledge.models import Customer

    query = (
        select(Lead).join(Customer, Customer.id == Lead.customer_id).where(Customer.phone == phone)
    )
    lead = (await session.scalars(query.execution_options(populate_existing=True))).first()
    assert lead is not None
    return lead


async def follow_ups_sent(session: AsyncSession) -> int:
    """Follow-up messages stored to go out."""
    query = select(func.count()).select_from(Message).where(Message.kind == leads.FOLLOW_UP)
    return int(await session.scalar(query) or 0)


async def follow_up(session: AsyncSession, lead: Lead) -> AutomatedReminder | None:
    query = select(AutomatedReminder).where(AutomatedReminder.lead_id == lead.id)
    return (await session.scalars(query.execution_options(populate_existing=True))).first()


async def book(session: AsyncSession, knowledge: KnowledgeService) -> Booking:
    """The booking site books Sarah's party for the prospect's phone."""
    data = BookingCreate(
        customer=CustomerIn(name="Sarah Lee", phone=PHONE),
        event_at=NOW + timedelta(days=40),
        address="7 Lake Rd, Folsom, CA 95630",
        adults=15,
    )
    booking, _ = await flows.create_booking(session, data, NOW, await knowledge.charter(session))
    return booking


class TestLeadTurns:
    async def test_a_quote_stores_the_lead_and_plans_one_follow_up(
        self, runtime: Any, session: AsyncSession
    ) -> None:
        result = await runtime.receive(PHONE, "how much for 15 adults and 4 kids on jan 16 at 6pm?")
        assert "Estimated total: $945" in (result.reply or "")
        lead = await lead_of(session)
        assert (lead.adults, lead.kids, lead.event_time, lead.quotes_sent) == (15, 4, time(18), 1)
        assert lead.phone == PHONE  # the number they text from is their contact
        reminder = await follow_up(session, lead)
        assert reminder is not None and reminder.status == "pending"
        assert reminder.scheduled_at == NOW + timedelta(hours=24)

    @pytest.mark.parametrize(
        "text",
        [
            "looking 2 book 4 jan 16, like 18 ppl, 3 of them r kids",
            "how much for a party of 18 and 3 kids on jan 16?",
        ],
    )
    async def test_a_total_with_some_kids_is_the_rest_adults(
        self, runtime: Any, session: AsyncSession, text: str
    ) -> None:
        result = await runtime.receive(PHONE, text)
        assert "15 adults × $55 = $825" in (result.reply or "")
        lead = await lead_of(session)
        assert (lead.adults, lead.kids) == (15, 3)

    async def test_an_upgrade_after_a_quote_is_added_to_it(
        self, runtime: Any, session: AsyncSession
    ) -> None:
        await runtime.receive(PHONE, "how much 4 30ppl next month?")
        result = await runtime.receive(PHONE, "oh n we want lobster 4 everyone")
        assert "Lobster 30 × $15 = $450" in (result.reply or "")
        assert "Estimated total: $2,100" in (result.reply or "")
        assert (await lead_of(session)).upgrades == ["lobster"]

    async def test_a_prospect_asking_the_total_gets_the_quote_again(
        self, runtime: Any, session: AsyncSession
    ) -> None:
        await runtime.receive(PHONE, "how much for 15 adults and 4 kids on jan 16 at 6pm?")
        result = await runtime.receive(PHONE, "wats the total w travel")
        assert "Estimated total: $945" in (result.reply or "")
        assert "couldn't find" not in (result.reply or "")

    async def test_what_was_told_is_not_asked_again(
        self, runtime: Any, session: AsyncSession
    ) -> None:
        await runtime.receive(PHONE, "how much for 15 adults?")
        second = await runtime.receive(PHONE, "jan 16 at 6pm, 95630")
        assert "how many adults" not in (second.reply or "")
        assert "your name" in (second.reply or "")
        lead = await lead_of(session)
        assert (lead.adults, lead.zip_code, lead.event_date) == (15, "95630", date(2027, 1, 16))

    async def test_a_reply_cancels_the_follow_up(self, runtime: Any, session: AsyncSession) -> None:
        await runtime.receive(PHONE, "how much for 15 adults?")
        await runtime.receive(PHONE, "ok thanks, I'll check with my wife")
        reminder = await follow_up(session, await lead_of(session))
        assert reminder is not None and reminder.status == "cancelled"

    async def test_short_answers_fill_what_the_lead_still_misses(
        self, runtime: Any, session: AsyncSession
    ) -> None:
        await runtime.receive(PHONE, "how much for 18 adults on jan 16? we're in 95630")
        await runtime.receive(PHONE, "prob 5")  # the start time, the one number we asked for
        # a reply that is not about the party in between does not lose the thread
        await runtime.receive(PHONE, "hmm let me think")
        done = await runtime.receive(PHONE, "ok its dana")
        lead = await lead_of(session)
        assert (lead.event_time, lead.name) == (time(17, 0), "Dana")
        assert "book?name=Dana&date=2027-01-16&time=17%3A00" in (done.reply or "")

    async def test_a_prospect_who_decides_against_it_closes_the_lead(
        self, runtime: Any, session: AsyncSession
    ) -> None:
        await runtime.receive(PHONE, "how much for 18 adults?")
        bye = await runtime.receive(PHONE, "nvm we found someone cheaper lol")
        assert (bye.reply or "").startswith("No problem at all")
        assert "tell me a bit more" not in (bye.reply or "")
        lead = (await session.scalars(select(Lead).execution_options(populate_existing=True))).one()
        assert lead.status == "lost"
        reminder = await follow_up(session, lead)
        assert reminder is not None and reminder.status == "cancelled"

    async def test_a_zip_code_we_do_not_know_is_asked_again(
        self, runtime: Any, session: AsyncSession
    ) -> None:
        result = await runtime.receive(PHONE, "how much for 15 adults? we're in 00000")
        assert "I couldn't find ZIP code 00000" in (result.reply or "")
        assert "the ZIP code of the party" in (result.reply or "")
        assert (await lead_of(session)).zip_code is None

    async def test_a_follow_up_due_after_hours_waits_for_the_morning(
        self, runtime: Any, worker: Any, session: AsyncSession, clock: FrozenClock
    ) -> None:
        clock.set(NOW + timedelta(hours=11))  # 21:00 in Sacramento, after messaging hours
        await runtime.receive(PHONE, "how much for 15 adults?")
        await worker.advance(clock, timedelta(hours=25))  # due 21:00 the next day: held
        reminder = await follow_up(session, await lead_of(session))
        assert reminder is not None and reminder.status == "pending"
        await worker.advance(clock, timedelta(hours=12))
        reminder = await follow_up(session, await lead_of(session))
        assert reminder is not None and reminder.sent_at is not None
        sent_local = reminder.sent_at.astimezone(LA)
        assert (sent_local.date(), sent_local.hour) == (date(2026, 12, 3), 9)

    async def test_a_prospect_still_giving_details_is_followed_up_from_our_last_reply(
        self, runtime: Any, session: AsyncSession, clock: FrozenClock
    ) -> None:
        await runtime.receive(PHONE, "how much for 15 adults?")
        clock.advance(timedelta(hours=1))
        await runtime.receive(PHONE, "Sarah Lee")
        reminder = await follow_up(session, await lead_of(session))
        assert reminder is not None and reminder.status == "pending"
        assert reminder.scheduled_at == NOW + timedelta(hours=25)

    async def test_no_follow_up_after_an_opt_out(
        self, runtime: Any, worker: Any, session: AsyncSession, clock: FrozenClock
    ) -> None:
        await runtime.receive(PHONE, "how much for 15 adults?")
        await runtime.receive(PHONE, "STOP")
        await worker.advance(clock, timedelta(days=2))
        lead = await lead_of(session)
        reminder = await follow_up(session, lead)
        assert reminder is not None and reminder.status == "cancelled"
        assert reminder.sent_at is None and await follow_ups_sent(session) == 0

    async def test_the_follow_up_goes_once_and_not_after_booking(
        self, runtime: Any, worker: Any, session: AsyncSession, clock: FrozenClock
    ) -> None:
        await runtime.receive(PHONE, "how much for 15 adults?")
        await worker.advance(clock, timedelta(days=2))
        lead = await lead_of(session)
        reminder = await follow_up(session, lead)
        assert reminder is not None and reminder.status == "sent" and reminder.sent_at is not None
        await runtime.receive(PHONE, "one more thing, 2 more kids")
        await worker.advance(clock, timedelta(days=3))
        reminder = await follow_up(session, lead)
        assert reminder is not None and reminder.status == "sent"  # not planned a second time
        assert await follow_ups_sent(session) == 1

    async def test_a_booking_for_the_phone_marks_the_lead_booked(
        self, runtime: Any, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        await runtime.receive(PHONE, "how much for 15 adults?")
        booking = await book(session, knowledge)
        lead = await lead_of(session)
        assert (lead.status, lead.booking_id) == ("booked", booking.id)
        reminder = await follow_up(session, lead)
        assert reminder is not None and reminder.status == "cancelled"

    async def test_a_booked_customer_is_no_prospect(
        self, runtime: Any, session: AsyncSession, clock: FrozenClock
    ) -> None:
        customer = await make_customer(session, phone=PHONE)
        await make_booking(session, customer, event_at=NOW + timedelta(days=20), adults=10)
        await session.commit()
        await runtime.receive(PHONE, "how much would it be for 14 adults?")
        assert (await session.scalars(select(Lead))).first() is None

    async def test_a_full_slot_from_bookings_taken(
        self, runtime: Any, session: AsyncSession
    ) -> None:
        for _ in range(2):
            other = await make_customer(session)
            await make_booking(session, other, event_at=at("2027-01-16", "18:00"))
        await session.commit()
        result = await runtime.receive(PHONE, "are you free jan 16 at 6pm for 20 people?")
        assert "January 16 at 6 PM is already booked up" in (result.reply or "")
        assert "3 PM" in (result.reply or "")


class TestWebProspect:
    async def test_an_anonymous_visitor_gets_a_quote_and_is_asked_for_contact(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        token = (await client.post("/api/v1/chat/sessions")).json()["token"]
        headers = {"X-Chat-Token": token}
        first = await client.post(
            "/api/v1/chat/messages",
            json={"text": "I want to book for 20 people next month"},
            headers=headers,
        )
        reply = first.json()["reply"]
        assert "20 adults × $55 = $1,100" in reply
        assert "a phone number or email" in reply
        second = await client.post(
            "/api/v1/chat/messages", json={"text": "jen@example.com"}, headers=headers
        )
        assert "a phone number or email" not in second.json()["reply"]
        lead = (await session.scalars(select(Lead).execution_options(populate_existing=True))).one()
        assert (lead.channel, lead.email, lead.adults) == ("web", "jen@example.com", 20)


class TestLeadsApi:
    async def test_leads_list_and_stats(
        self,
        client: httpx.AsyncClient,
        runtime: Any,
        session: AsyncSession,
        agent_headers: dict[str, str],
        knowledge: KnowledgeService,
        clock: FrozenClock,
    ) -> None:
        await runtime.receive(PHONE, "how much for 15 adults?")
        await runtime.receive("+19165550602", "quote for 30 adults please")
        await book(session, knowledge)
        await session.commit()
        clock.advance(timedelta(minutes=1))  # the stats period ends now, exclusive

        assert (await client.get("/api/v1/leads")).status_code == 401
        listed = (await client.get("/api/v1/leads", headers=agent_headers)).json()
        assert {(lead["adults"], lead["status"]) for lead in listed} == {
            (15, "booked"),
            (30, "open"),
        }
        open_only = (await client.get("/api/v1/leads?status=open", headers=agent_headers)).json()
        assert [lead["follow_up"] for lead in open_only] == ["pending"]

        stats = (await client.get("/api/v1/stats", headers=agent_headers)).json()
        assert (stats["leads"], stats["quotes_sent"]) == (2, 2)
        assert stats["lead_conversion"]["value"] == 0.5
