"""FAQ search finds the right answer for customers' own wording, and admits when it has none."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge import repository as repo
from knowledge.models import FaqItem
from knowledge.service import KnowledgeService

# (customer's words, the seeded FAQ question that answers them)
PARAPHRASES = [
    ("what comes with the package?", "What is included in a hibachi party?"),
    ("what food do we get with the party", "What is included in a hibachi party?"),
    ("do I need to bring plates and forks?", "What do I need to provide for the party?"),
    ("what should we have ready, tables and chairs?", "What do I need to provide for the party?"),
    ("can you cook inside my garage?", "Can the chef cook indoors?"),
    ("is indoor cooking allowed", "Can the chef cook indoors?"),
    ("does the chef bring his own grill?", "Does the chef bring the grill and equipment?"),
    ("what time will the chef get here", "When does the chef arrive?"),
    ("how early does the chef show up for setup", "When does the chef arrive?"),
    ("how many hours is the show", "How long does the party last?"),
    ("can I pay with venmo", "How do I pay the remaining balance?"),
    ("do you take credit cards or zelle for the balance", "How do I pay the remaining balance?"),
    ("is the deposit refundable", "How much is the deposit and is it refundable?"),
    ("how far will you travel and is there a charge", "Do you charge a travel fee?"),
    ("how much for children", "How much do kids cost?"),
    ("do toddlers eat free?", "How much do kids cost?"),
    ("what's the price per adult", "How much does it cost per person?"),
    ("is there a minimum spend", "Is there a minimum order for a party?"),
    ("what if it rains that day", "What happens if it rains?"),
    ("my son has a peanut allergy", "Can you handle food allergies?"),
    ("do you have vegan food", "Do you have vegetarian or vegan options?"),
    (
        "when is the deadline to pick our proteins",
        "When do I need to choose the menu and final guest count?",
    ),
    ("what meats can we pick from", "What proteins can we choose?"),
    ("how much is lobster", "What upgrades and extras do you offer?"),
    ("do you offer filet mignon as an upgrade", "What upgrades and extras do you offer?"),
    ("what's your cancellation policy", "What is your cancellation policy?"),
    ("how do I reserve a date", "How do I book a party?"),
    ("can we add more people later", "Can I change the number of guests?"),
    ("what areas do you cover", "What areas do you serve?"),
    ("how big of a crowd can you handle", "How many guests can you cook for?"),
    ("do you guys do birthday parties?", "What kinds of parties do you cater?"),
    ("who are your customers?", "What kinds of parties do you cater?"),
]

UNRELATED = [
    "what's your wifi password",
    "do you do weddings in Hawaii",
    "asdkjh qwe zzz",
    "",
    "!!!",
]


class TestFaqSearchQuality:
    async def test_top_answer_is_right_for_at_least_90_percent(
        self, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        misses = []
        for question, expected in PARAPHRASES:
            match = await knowledge.search_faq(session, question, count_view=False)
            got = match.question if match else None
            if got != expected:
                misses.append((question, expected, got))
        accuracy = 1 - len(misses) / len(PARAPHRASES)
        assert len(PARAPHRASES) >= 20
        assert accuracy >= 0.9, f"top-1 accuracy {accuracy:.0%}; misses: {misses}"

    async def test_beats_the_word_overlap_baseline(
        self, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        """The first design matched by Jaccard word overlap of question texts; measure both."""
        faqs = [f for f in await repo.faqs(session) if f.is_active]

        def overlap(a: str, b: str) -> float:
            x, y = set(a.lower().split()), set(b.lower().split())
            return len(x & y) / len(x | y) if x | y else 0.0

        baseline = ours = 0
        for question, expected in PARAPHRASES:
            best = max(faqs, key=lambda f: overlap(question, f.question))
            baseline += overlap(question, best.question) > 0.3 and best.question == expected
            match = await knowledge.search_faq(session, question, count_view=False)
            ours += match is not None and match.question == expected
        print(f"top-1: full-text {ours}/{len(PARAPHRASES)}, word overlap {baseline}")
        assert ours >= baseline + 10

    @pytest.mark.parametrize(
        ("question", "expected"),
        [
            (
                "ok so the neighbors keep asking me and honestly i have no clue what to tell "
                "them, how many hours does the whole thing usually go for?",
                "How long does the party last?",
            ),
            (
                "party isn't till the middle of july, just thinking ahead here because my "
                "sister is a worrier, what's the plan if it ends up raining that day?",
                "What happens if it rains?",
            ),
        ],
    )
    async def test_a_long_message_is_searched_by_the_words_the_faqs_use(
        self, session: AsyncSession, knowledge: KnowledgeService, question: str, expected: str
    ) -> None:
        """Shown failing before: every word of a long message, "neighbors" and "sister"
        alike, diluted the rank of its question below the bar."""
        match = await knowledge.search_faq(session, question, count_view=False)
        assert match is not None and match.question == expected

    @pytest.mark.parametrize(
        ("question", "expected"),
        [
            # "meat" is in two FAQs, and it is all the question asks: the closer one answers
            ("what meats do you have", "What proteins can we choose?"),
            # "come" is in two FAQs, beside a word none uses: too little to answer with
            ("if something comes up", None),
            # "chef" is in several: alone it answers nothing
            ("can the chef make sushi too", None),
            # a deadline asked as the latest time (shown failing before: no FAQ, "let me check")
            (
                "whats the latest i can change the menu",
                "When do I need to choose the menu and final guest count?",
            ),
        ],
    )
    async def test_a_word_counts_by_how_few_faqs_use_it(
        self,
        session: AsyncSession,
        knowledge: KnowledgeService,
        question: str,
        expected: str | None,
    ) -> None:
        match = await knowledge.search_faq(session, question, count_view=False)
        assert (match.question if match else None) == expected

    @pytest.mark.parametrize("question", UNRELATED)
    async def test_unrelated_questions_get_no_answer(
        self, session: AsyncSession, knowledge: KnowledgeService, question: str
    ) -> None:
        assert await knowledge.search_faq(session, question) is None

    async def test_an_answer_counts_a_view(
        self, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        match = await knowledge.search_faq(session, "is the deposit refundable")
        assert match is not None
        faq = await session.get(FaqItem, match.faq_id)
        assert faq is not None
        await session.refresh(faq)
        before, edited = faq.view_count, faq.last_updated
        await knowledge.search_faq(session, "can I get my deposit back")
        await session.refresh(faq)
        assert faq.view_count == before + 1
        assert faq.last_updated == edited  # a view is not an edit

    async def test_inactive_faqs_are_never_answers(
        self, session: AsyncSession, knowledge: KnowledgeService
    ) -> None:
        for faq in await repo.faqs(session):
            if faq.question == "Can the chef cook indoors?":
                faq.is_active = False
        await session.flush()
        match = await knowledge.search_faq(session, "can you cook indoors in the kitchen")
        assert match is None or match.question != "Can the chef cook indoors?"
