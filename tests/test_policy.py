"""Every row of the policy table, at its boundaries, decided from the booking and the clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from agent.nodes.compose import render_body
from tests.rules import rules_with, seed_addons, seed_rules
from tools import policy
from tools.policy import BookingView, Decision

NOW = datetime(2026, 6, 10, 22, 0, tzinfo=UTC)
RULES = seed_rules()
ADDONS = seed_addons()
D, H, M = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


def booking(until: timedelta, booked_ago: timedelta = 30 * D, **kw: Any) -> BookingView:
    fields: dict[str, Any] = {
        "reference": "MH-TEST1",
        "event_at": NOW + until,
        "created_at": NOW - booked_ago,
        "adults": 12,
        "kids": 3,
        "toddlers": 0,
        "deposit_amount": Decimal("100"),
    }
    return BookingView(**{**fields, **kw})


def summary(d: Decision) -> tuple[str, str | None]:
    return d.outcome, d.escalation.priority if d.escalation else None


class TestCancellation:
    @pytest.mark.parametrize(
        ("until", "expected", "kind"),
        [
            (30 * D, ("handled", None), "cancel_options"),
            (7 * D, ("handled", None), "cancel_options"),
            (7 * D - H, ("escalated", "HIGH"), "cancel_no_refund_reschedule"),
            (6 * D + 23 * H, ("escalated", "HIGH"), "cancel_no_refund_reschedule"),
            (3 * D, ("escalated", "HIGH"), "cancel_no_refund_reschedule"),
            (3 * D - M, ("escalated", "HIGH"), "cancel_late"),
            (24 * H, ("escalated", "HIGH"), "cancel_late"),
            (23 * H + 59 * M, ("escalated", "URGENT"), "cancel_late"),
            (1 * H, ("escalated", "URGENT"), "cancel_late"),
        ],
    )
    def test_outcome_by_time_to_event(
        self, until: timedelta, expected: tuple[str, str | None], kind: str
    ) -> None:
        decision = policy.decide_cancellation(booking(until), NOW, RULES)
        assert summary(decision) == expected
        assert decision.kind == kind

    def test_seven_days_out_offers_refund_or_reschedule_and_waits_for_the_answer(self) -> None:
        decision = policy.decide_cancellation(booking(7 * D), NOW, RULES)
        assert decision.pending == "cancel_choice"
        assert decision.facts["deposit_amount"] == "$100"
        assert decision.updates == {}

    def test_under_24_hours_texts_the_team(self) -> None:
        decision = policy.decide_cancellation(booking(23 * H + 59 * M), NOW, RULES)
        assert decision.escalation is not None
        assert "team_sms" in decision.escalation.notify

    @pytest.mark.parametrize(
        ("booked_ago", "free"),
        [(48 * H, True), (48 * H + M, False), (2 * H, True), (10 * D, False)],
    )
    def test_three_to_six_days_reschedule_terms_depend_on_booking_age(
        self, booked_ago: timedelta, free: bool
    ) -> None:
        decision = policy.decide_cancellation(booking(5 * D, booked_ago), NOW, RULES)
        assert decision.facts["free_reschedule"] is free
        assert decision.facts["reschedule_fee"] == "$100"

    def test_fee_comes_from_the_rules(self) -> None:
        decision = policy.decide_cancellation(booking(5 * D), NOW, rules_with(reschedule_fee=150))
        assert decision.facts["reschedule_fee"] == "$150"

    def test_answer_1_cancels_and_opens_a_medium_refund_escalation(self) -> None:
        decision = policy.decide_cancel_choice(booking(10 * D), "1", NOW, RULES)
        assert summary(decision) == ("escalated", "MEDIUM")
        assert decision.updates == {"status": "cancelled", "deposit_refund_due": True}

    def test_a_deposit_never_received_is_not_refunded(self) -> None:
        """Shown failing before: with the deposit unpaid, "1" told the customer it would be
        refunded and asked the team to refund money that never came."""
        unpaid = replace(booking(10 * D), deposit_paid=False)
        offered = policy.decide_cancellation(unpaid, NOW, RULES)
        assert offered.kind == "cancel_options" and offered.facts["deposit_paid"] is False
        decision = policy.decide_cancel_choice(unpaid, "1", NOW, RULES)
        assert decision.updates == {"status": "cancelled", "deposit_refund_due": False}
        assert decision.escalation is not None
        assert "refund" not in decision.escalation.action_required.lower()
        assert decision.facts["deposit_paid"] is False

    def test_answer_1_after_the_refund_window_closed_is_decided_again(self) -> None:
        decision = policy.decide_cancel_choice(booking(6 * D), "1", NOW, RULES)
        assert summary(decision) == ("escalated", "HIGH")
        assert decision.updates == {}

    def test_answer_2_is_a_date_change(self) -> None:
        decision = policy.decide_cancel_choice(booking(10 * D), "2", NOW, RULES)
        assert decision.intent == "date_change"
        assert summary(decision) == ("escalated", "MEDIUM")


class TestStaffCancellation:
    """A person cancels from the console: the same refund window as the customer's own
    cancellation, read from the live rule."""

    @pytest.mark.parametrize(
        ("until", "refund", "late", "rule"),
        [
            (10 * D, True, False, "cancellation:staff:refund"),
            (7 * D, True, False, "cancellation:staff:refund"),
            (7 * D - M, False, False, "cancellation:staff:no_refund"),
            (3 * D, False, False, "cancellation:staff:no_refund"),
            (3 * D - M, False, True, "cancellation:staff:late"),
            (12 * H, False, True, "cancellation:staff:late"),
        ],
    )
    def test_refund_by_time_to_event(
        self, until: timedelta, refund: bool, late: bool, rule: str
    ) -> None:
        decision = policy.decide_staff_cancellation(booking(until), NOW, RULES)
        assert (decision.facts["refund"], decision.facts["late"], decision.rule) == (
            refund,
            late,
            rule,
        )
        assert decision.updates["status"] == "cancelled"
        assert decision.updates.get("deposit_refund_due", False) is refund

    def test_a_deposit_never_received_is_not_refunded_by_a_person_either(self) -> None:
        unpaid = replace(booking(10 * D), deposit_paid=False)
        decision = policy.decide_staff_cancellation(unpaid, NOW, RULES)
        assert decision.facts["refund"] is False
        assert decision.rule == "cancellation:staff:no_refund"
        assert "deposit_refund_due" not in decision.updates
        assert decision.escalation is None

    def test_the_refund_window_comes_from_the_rules(self) -> None:
        later = rules_with(refund_full_days=4, late_cancel_days=2)
        assert policy.decide_staff_cancellation(booking(5 * D), NOW, later).facts["refund"]
        assert not policy.decide_staff_cancellation(booking(5 * D), NOW, RULES).facts["refund"]

    def test_a_staff_move_costs_the_fee_from_the_rules_unless_free(self) -> None:
        new_at = NOW + 20 * D
        paid = policy.decide_staff_reschedule(
            booking(10 * D), new_at, NOW, rules_with(reschedule_fee=150)
        )
        assert (paid.facts["free_reschedule"], paid.facts["fee"]) == (False, "$150")
        free = policy.decide_staff_reschedule(booking(10 * D, 2 * H), new_at, NOW, RULES)
        assert (free.facts["free_reschedule"], free.facts["fee"]) == (True, "$0")
        assert free.updates == {"event_at": new_at}


class TestDateChange:
    @pytest.mark.parametrize(
        ("until", "priority"),
        [(30 * D, "MEDIUM"), (24 * H, "MEDIUM"), (23 * H + 59 * M, "URGENT"), (2 * H, "URGENT")],
    )
    def test_always_escalated_urgent_inside_24_hours(self, until: timedelta, priority: str) -> None:
        assert summary(policy.decide_date_change(booking(until), NOW, RULES)) == (
            "escalated",
            priority,
        )

    @pytest.mark.parametrize(
        ("booked_ago", "count", "free"),
        [(48 * H, 0, True), (48 * H + M, 0, False), (1 * H, 1, False)],
    )
    def test_one_free_reschedule_within_48_hours_of_booking(
        self, booked_ago: timedelta, count: int, free: bool
    ) -> None:
        b = booking(20 * D, booked_ago, reschedule_count=count)
        assert policy.decide_date_change(b, NOW, RULES).facts["free_reschedule"] is free


class TestHeadcount:
    @pytest.mark.parametrize(
        ("until", "new_adults", "expected"),
        [
            (3 * D, 30, ("handled", None)),  # any change while 3+ days out
            (3 * D - M, 14, ("handled", None)),  # +2 is minor
            (3 * D - M, 15, ("escalated", "HIGH")),  # +3 > max(2, 10% of 15)
            (24 * H, 10, ("handled", None)),  # -2
            (24 * H, 9, ("escalated", "HIGH")),
            (23 * H + 59 * M, 9, ("escalated", "URGENT")),
            # The seed's final-day stage: a minor change inside 24 h is still the agent's.
            (23 * H + 59 * M, 13, ("handled", None)),
        ],
    )
    def test_by_time_and_size(
        self, until: timedelta, new_adults: int, expected: tuple[str, str | None]
    ) -> None:
        b = booking(until)
        counts = policy.new_counts(b, None, new_adults - b.adults, "adults")
        assert summary(policy.decide_headcount(b, counts, NOW, RULES, ADDONS)) == expected

    def test_ten_percent_of_a_large_party_is_minor(self) -> None:
        b = booking(2 * D, adults=40, kids=0)
        counts = policy.new_counts(b, 44, None, "guests")
        assert summary(policy.decide_headcount(b, counts, NOW, RULES, ADDONS)) == ("handled", None)
        counts = policy.new_counts(b, 45, None, "guests")
        assert summary(policy.decide_headcount(b, counts, NOW, RULES, ADDONS)) == (
            "escalated",
            "HIGH",
        )

    def test_update_quotes_a_new_estimate_with_the_party_minimum(self) -> None:
        b = booking(10 * D, adults=4, kids=0)
        counts = policy.new_counts(b, None, 2, "adults")
        decision = policy.decide_headcount(b, counts, NOW, RULES, ADDONS)
        assert decision.updates == {"adults": 6, "kids": 0, "toddlers": 0}
        assert decision.facts["estimate_total"] == "$550"
        assert decision.facts["minimum_applied"] is True

    def test_totals_keep_kids_and_toddlers(self) -> None:
        b = booking(10 * D, adults=10, kids=2, toddlers=1)
        assert policy.new_counts(b, 14, None, "guests") == (11, 2, 1)
        assert policy.new_counts(b, None, -1, "kids") == (10, 1, 1)
        assert policy.new_counts(b, None, -5, "kids") is None


class TestQuote:
    def test_prices_minimum_travel_and_upgrades(self) -> None:
        q = policy.quote(
            12, 3, 1, ["lobster", "yakisoba"], RULES, ADDONS, Decimal("100"), Decimal("40")
        )
        assert q.food == Decimal("750.00")  # 12 x 55 + 3 x 30 + toddler free
        assert q.upgrades == Decimal("230.00")  # lobster 15 x 15 eaters + yakisoba 5
        assert q.travel == Decimal("20.00")  # 10 miles past the free 30, at $2
        assert q.total == Decimal("1000.00")
        assert q.balance == Decimal("900.00")


class TestMenu:
    def test_choices_are_stored_and_upgrades_priced(self) -> None:
        decision = policy.decide_menu(
            "menu_selection", booking(10 * D), ["chicken", "lobster"], [], [], NOW, RULES, ADDONS
        )
        assert decision.outcome == "handled"
        assert decision.updates["proteins"] == ["chicken", "lobster"]
        assert decision.updates["upgrades"] == ["lobster"]
        assert "Lobster +$15/person" in decision.facts["upgrade_prices"]
        assert decision.facts["stored_proteins"] == "chicken and lobster"  # alike in a sentence

    def test_unknown_protein_asks_with_the_list(self) -> None:
        decision = policy.decide_menu(
            "menu_selection", booking(10 * D), [], [], ["ostrich"], NOW, RULES, ADDONS
        )
        assert decision.kind == "menu_ask"
        assert decision.pending == "menu"
        assert "chicken" in decision.facts["included_proteins"]

    def test_proteins_already_on_a_full_menu_change_nothing(self) -> None:
        booked = booking(10 * D, proteins=("chicken", "steak"))
        decision = policy.decide_menu(
            "menu_selection", booked, ["chicken"], [], [], NOW, RULES, ADDONS
        )
        assert decision.kind == "menu_saved"
        assert "proteins" not in decision.updates  # never down to one protein
        assert decision.facts["stored_proteins"] == "chicken and steak"
        assert decision.pending is None
        assert decision.facts["unchanged"] is True  # the reply says the menu "still has" them

    def test_a_menu_said_again_is_unchanged_and_a_new_one_is_not(self) -> None:
        booked = booking(10 * D, proteins=("chicken", "steak"))
        again = policy.decide_menu(
            "protein_swap", booked, ["steak", "chicken"], [], [], NOW, RULES, ADDONS
        )
        assert again.facts["unchanged"] is True
        swapped = policy.decide_menu(
            "protein_swap", booked, ["chicken", "shrimp"], [], [], NOW, RULES, ADDONS
        )
        assert swapped.facts["unchanged"] is False

    def test_more_proteins_than_a_plate_holds_ask_which(self) -> None:
        """Shown failing before: "adults want steak n lobster, kids just chicken and shrimp"
        stored four proteins for every plate, the third and fourth unpriced."""
        booked = booking(10 * D, proteins=("chicken", "steak"))
        decision = policy.decide_menu(
            "menu_selection",
            booked,
            ["steak", "lobster", "chicken", "shrimp"],
            [],
            [],
            NOW,
            RULES,
            ADDONS,
        )
        assert decision.kind == "menu_ask" and decision.pending == "menu"
        assert not decision.updates
        reply = render_body(decision.kind, decision.facts)
        assert "you named steak, lobster, chicken and shrimp" in reply, reply
        assert "third protein (+$10/person)" in reply

    def test_the_extra_protein_makes_room_for_a_third(self) -> None:
        booked = booking(10 * D, proteins=("chicken", "steak"))
        three = ["chicken", "steak", "shrimp"]
        with_extra = policy.decide_menu(
            "menu_selection", booked, three, ["third_protein"], [], NOW, RULES, ADDONS
        )
        assert with_extra.kind == "menu_saved"
        assert with_extra.updates["proteins"] == three
        assert with_extra.updates["upgrades"] == ["third_protein"]
        without = policy.decide_menu("menu_selection", booked, three, [], [], NOW, RULES, ADDONS)
        assert without.kind == "menu_ask" and not without.updates

    def test_the_extra_protein_asks_for_its_protein_and_then_adds_it(self) -> None:
        booked = booking(10 * D, proteins=("chicken", "steak"))
        added = policy.decide_menu(
            "menu_selection", booked, [], ["third_protein"], [], NOW, RULES, ADDONS
        )
        assert added.updates["upgrades"] == ["third_protein"]
        assert added.facts["missing_proteins"] == 1 and added.pending == "menu"
        assert "Each guest gets 3 proteins" in render_body(added.kind, added.facts)
        with_it = booking(10 * D, proteins=("chicken", "steak"), upgrades=("third_protein",))
        named = policy.decide_menu(
            "menu_selection", with_it, ["shrimp"], [], [], NOW, RULES, ADDONS
        )
        assert named.updates["proteins"] == ["chicken", "steak", "shrimp"]
        assert named.facts["missing_proteins"] == 0

    def test_a_new_protein_short_of_a_full_menu_asks_which_it_joins(self) -> None:
        booked = booking(10 * D, proteins=("chicken", "steak"))
        decision = policy.decide_menu(
            "menu_selection", booked, ["shrimp"], [], [], NOW, RULES, ADDONS
        )
        assert decision.kind == "menu_ask" and decision.pending == "menu"
        assert not decision.updates
        assert decision.facts["stored_proteins"] == "chicken and steak"
        assert decision.facts["example"] == "shrimp and chicken"

    def test_a_protein_taken_off_a_full_menu_with_none_in_its_place_asks_for_the_pair(
        self,
    ) -> None:
        """ "no more steak, shrimp instead" read with both proteins going out leaves chicken
        alone: the reply asks for the pair (the one named but not booked as the example),
        never says the menu "still has" steak."""
        booked = booking(10 * D, proteins=("chicken", "steak"))
        decision = policy.decide_menu(
            "protein_swap",
            booked,
            ["chicken"],
            [],
            [],
            NOW,
            RULES,
            ADDONS,
            removed_proteins=["steak", "shrimp"],
        )
        assert decision.kind == "menu_ask" and decision.pending == "menu"
        assert not decision.updates
        assert decision.facts["removing"] == "steak"
        assert decision.facts["partial"] == "chicken"
        assert decision.facts["example"] == "chicken and shrimp"
        reply = render_body(decision.kind, decision.facts)
        # The booking as stored, true however the message was read; never "still has".
        assert "your party has chicken and steak now" in reply and "still has" not in reply

    def test_an_add_on_named_beside_a_protein_short_of_the_menu_is_kept(self) -> None:
        """ "the lobster for the adults, and can we get extra noodles too" on chicken and
        steak: the noodles are added, and the proteins asked about."""
        booked = booking(10 * D, proteins=("chicken", "steak"))
        decision = policy.decide_menu(
            "menu_selection", booked, ["lobster"], ["yakisoba"], [], NOW, RULES, ADDONS
        )
        assert decision.kind == "menu_ask" and decision.pending == "menu"
        assert decision.updates == {"upgrades": ["yakisoba"]}
        assert "proteins" not in decision.updates
        reply = render_body(decision.kind, decision.facts)
        assert reply.startswith("I've added yakisoba noodles.")
        assert "Which 2 would you like?" in reply

    def test_an_add_on_only_asked_about_is_quoted_in_a_sentence_and_stores_nothing(
        self,
    ) -> None:
        booked = booking(10 * D, adults=12, kids=2, proteins=("chicken", "steak"))
        decision = policy.decide_what_if("protein_swap", booked, None, ["salmon"], RULES, ADDONS)
        assert decision.kind == "change_quote" and not decision.updates
        reply = render_body(decision.kind, decision.facts)
        assert reply.startswith("With salmon your estimate would be $790")  # 14 eaters x $5

    def test_a_swap_only_asked_about_is_named_and_an_unchanged_estimate_said_so(self) -> None:
        """Shown failing before: "With that change your estimate would be $720, compared with
        $720 now" for steak swapped for shrimp."""
        booked = booking(10 * D, adults=12, kids=2, proteins=("chicken", "steak"))
        decision = policy.decide_what_if(
            "protein_swap",
            booked,
            None,
            [],
            RULES,
            ADDONS,
            proteins=["shrimp"],
            removed_proteins=["steak"],
        )
        reply = render_body(decision.kind, decision.facts)
        assert reply.startswith("With shrimp instead of steak your estimate would stay at $720.")

    def test_a_menu_still_being_chosen_is_filled_in_and_asks_for_the_rest(self) -> None:
        first = policy.decide_menu(
            "menu_selection", booking(10 * D), ["tofu"], [], [], NOW, RULES, ADDONS
        )
        assert first.updates["proteins"] == ["tofu"]
        assert first.updates["menu_selected"] is False and first.pending == "menu"
        assert first.facts["missing_proteins"] == 1
        second = policy.decide_menu(
            "menu_selection",
            booking(10 * D, proteins=("tofu",)),
            ["salmon"],
            [],
            [],
            NOW,
            RULES,
            ADDONS,
        )
        assert second.updates["proteins"] == ["tofu", "salmon"]
        assert second.updates["menu_selected"] is True and second.pending is None


class TestRating:
    @pytest.mark.parametrize(
        ("rating", "expected"),
        [
            (5, ("handled", None)),
            (4, ("handled", None)),
            (3, ("escalated", "HIGH")),
            (1, ("escalated", "HIGH")),
        ],
    )
    def test_routing(self, rating: int, expected: tuple[str, str | None]) -> None:
        decision = policy.decide_rating(booking(-1 * D), rating, NOW, RULES)
        assert summary(decision) == expected
        assert decision.updates["feedback"] == rating

    def test_low_ratings_still_get_review_links_by_default(self) -> None:
        decision = policy.decide_rating(booking(-1 * D), 2, NOW, RULES)
        assert decision.facts["review_links"] is True
        assert decision.escalation is not None
        assert "management_email" in decision.escalation.notify
        strict = rules_with(review_links_for_low_ratings=False)
        assert policy.decide_rating(booking(-1 * D), 2, NOW, strict).facts["review_links"] is False


class TestOtherRows:
    def test_serious_dietary_need_goes_to_the_chef(self) -> None:
        assert summary(policy.decide_dietary(booking(10 * D), True, NOW, RULES)) == (
            "escalated",
            "MEDIUM",
        )
        assert summary(policy.decide_dietary(booking(10 * D), False, NOW, RULES)) == (
            "handled",
            None,
        )

    def test_weather_is_urgent(self) -> None:
        assert summary(policy.decide_weather(booking(6 * D), NOW, RULES)) == (
            "escalated",
            "URGENT",
        )
        assert summary(policy.decide_weather(None, NOW, RULES)) == ("escalated", "URGENT")

    def test_a_rain_plan_question_beyond_the_forecast_is_for_the_faqs(self) -> None:
        """Shown failing before: "what's the plan if it rains?" five weeks out opened an
        URGENT case although the FAQ answers it."""
        assert policy.weather_is_a_question(booking(35 * D), NOW)
        assert policy.weather_is_a_question(None, NOW)
        assert not policy.weather_is_a_question(booking(6 * D), NOW)
        assert not policy.weather_is_a_question(booking(35 * D), NOW, ["unsafe_weather"])
        assert not policy.weather_is_a_question(None, NOW, ["allergy", "safety"])

    @pytest.mark.parametrize(("until", "priority"), [(24 * H, "MEDIUM"), (23 * H, "URGENT")])
    def test_human_request(self, until: timedelta, priority: str) -> None:
        assert summary(policy.decide_human_request(booking(until), NOW, RULES)) == (
            "escalated",
            priority,
        )

    def test_faq_without_a_match_is_a_low_escalation(self) -> None:
        assert summary(policy.decide_faq(None, None, NOW, RULES)) == ("escalated", "LOW")
        assert summary(policy.decide_faq("It is $55.", None, NOW, RULES)) == ("handled", None)

    def test_stop_is_silent_and_start_opts_back_in(self) -> None:
        stop = policy.decide_opt_out("stop", RULES)
        assert (stop.outcome, stop.updates) == ("silent", {"opted_out": True})
        start = policy.decide_opt_out("start", RULES)
        assert start.updates == {"opted_out": False}
        assert "(916) 740-8768" in policy.decide_opt_out("help", RULES).facts["phone"]


class TestEscalationDeadlines:
    @pytest.mark.parametrize(
        ("priority", "hours"), [("URGENT", 2), ("HIGH", 24), ("MEDIUM", 72), ("LOW", 168)]
    )
    def test_deadline_by_priority(self, priority: policy.Priority, hours: int) -> None:
        assert policy.escalation_deadline(priority, NOW, None, RULES) == NOW + hours * H

    def test_never_later_than_the_event(self) -> None:
        event = NOW + 30 * H
        assert policy.escalation_deadline("MEDIUM", NOW, event, RULES) == event


class TestBookingQuestions:
    """A question about the customer's own booking is answered from it and live knowledge."""

    def ask(self, *asked: str, **kw: Any) -> Decision:
        view = booking(10 * D, **kw)
        return policy.decide_booking_question(view, asked, "12 Oak St", NOW, RULES, ADDONS)

    def test_it_is_answered_and_opens_no_case(self) -> None:
        decision = self.ask("when")
        assert (decision.outcome, decision.kind, decision.escalation) == (
            "handled",
            "booking_answer",
            None,
        )

    def test_the_chef_arrives_the_live_lead_before_the_start(self) -> None:
        start = datetime(2026, 6, 21, 1, 0, tzinfo=UTC)  # 6:00 PM in Sacramento
        facts = self.ask("arrival", event_at=start).facts
        assert (facts["arrival_from"], facts["arrival_to"]) == ("5:40 PM", "5:45 PM")
        later = rules_with(arrival_lead_minutes="30")
        view = booking(10 * D, event_at=start)
        facts = policy.decide_booking_question(view, ["arrival"], "", NOW, later, ADDONS).facts
        assert facts["arrival_from"] == facts["arrival_to"] == "5:30 PM"

    def test_the_balance_is_the_estimate_less_the_deposit(self) -> None:
        # 12 adults x $55 + 3 kids x $30 = $750, less the $100 deposit
        assert self.ask("balance").facts["balance_due"] == "$650"
        # 8 adults x $55 = $440 is under the $550 minimum
        assert self.ask("balance", adults=8, kids=0).facts["balance_due"] == "$450"

    def test_a_missing_menu_is_due_the_live_deadline_before_the_party(self) -> None:
        facts = self.ask("missing").facts
        assert facts["menu_missing"] is True
        due = (NOW + 10 * D - RULES.menu.menu_deadline_days * D).astimezone(RULES.timezone)
        assert facts["menu_due"] == due.strftime("%A, %B %-d")
        assert facts["menu_overdue"] is False
        assert self.ask("missing", proteins=("chicken", "steak")).facts["menu_missing"] is False

    def test_a_question_naming_nothing_asks_for_the_whole_booking(self) -> None:
        assert self.ask().facts["asked"] == ["details"]

    def test_a_payment_reported_goes_to_the_team_to_record(self) -> None:
        """Nobody here sees a Zelle or Venmo payment arrive: a person finds it and records it
        (LOW), and the reply does not also state the balance as still owed."""
        decision = self.ask("paid", "balance", "arrival")
        assert decision.outcome == "escalated" and decision.escalation is not None
        assert decision.escalation.priority == "LOW"
        assert "record it on the booking" in decision.escalation.action_required
        assert decision.facts["asked"] == ["paid", "arrival"]
