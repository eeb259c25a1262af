"""Every query on the knowledge tables; callers own the transaction."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from functools import cache
from typing import TypeVar

from sqlalchemy import Float, Integer, Select, column, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import (
    AddonItem,
    BusinessRule,
    BusinessRuleVersion,
    FaqItem,
    SavedReply,
    SeasonalOffer,
)
from knowledge.models.base import Base

M = TypeVar("M", bound=Base)

_WORD = re.compile(r"[a-z0-9]+")


async def get(session: AsyncSession, model: type[M], ident: int, *, lock: bool = False) -> M | None:
    return await session.get(model, ident, with_for_update=lock)


async def all_rules(session: AsyncSession, *, active_only: bool = False) -> Sequence[BusinessRule]:
    query = select(BusinessRule).order_by(BusinessRule.rule_type)
    if active_only:
        query = query.where(BusinessRule.is_active)
    return (await session.scalars(query)).all()


async def rule_by_type(session: AsyncSession, rule_type: str) -> BusinessRule | None:
    query = select(BusinessRule).where(BusinessRule.rule_type == rule_type)
    return (await session.scalars(query)).one_or_none()


async def rule_versions(session: AsyncSession, rule_id: int) -> Sequence[BusinessRuleVersion]:
    query = (
        select(BusinessRuleVersion)
        .where(BusinessRuleVersion.rule_id == rule_id)
        .order_by(BusinessRuleVersion.version.desc())
    )
    return (await session.scalars(query)).all()


async def addons(session: AsyncSession, *, available_only: bool = False) -> Sequence[AddonItem]:
    query = select(AddonItem).order_by(AddonItem.display_order, AddonItem.id)
    if available_only:
        query = query.where(AddonItem.is_available)
    return (await session.scalars(query)).all()


async def addon_by_slug(session: AsyncSession, slug: str) -> AddonItem | None:
    return (await session.scalars(select(AddonItem).where(AddonItem.slug == slug))).one_or_none()


async def faqs(session: AsyncSession, *, active_only: bool = False) -> Sequence[FaqItem]:
    query = select(FaqItem).order_by(FaqItem.category, FaqItem.id)
    if active_only:
        query = query.where(FaqItem.is_active)
    return (await session.scalars(query)).all()


async def saved_replies(session: AsyncSession) -> Sequence[SavedReply]:
    return (await session.scalars(select(SavedReply).order_by(SavedReply.title))).all()


async def faq_by_question(session: AsyncSession, question: str) -> FaqItem | None:
    query = select(FaqItem).where(func.lower(FaqItem.question) == question.lower())
    return (await session.scalars(query)).first()


async def offers(session: AsyncSession) -> Sequence[SeasonalOffer]:
    query = select(SeasonalOffer).order_by(SeasonalOffer.valid_from, SeasonalOffer.id)
    return (await session.scalars(query)).all()


async def offers_active_on(session: AsyncSession, day: date) -> Sequence[SeasonalOffer]:
    query = (
        select(SeasonalOffer)
        .where(
            SeasonalOffer.is_active,
            SeasonalOffer.valid_from <= day,
            SeasonalOffer.valid_to >= day,
        )
        .order_by(SeasonalOffer.valid_from, SeasonalOffer.id)
    )
    return (await session.scalars(query)).all()


async def offer_by_title(session: AsyncSession, title: str) -> SeasonalOffer | None:
    query = select(SeasonalOffer).where(SeasonalOffer.title == title)
    return (await session.scalars(query)).first()


async def search_faqs(
    session: AsyncSession, question: str, limit: int = 3
) -> list[tuple[FaqItem, float]]:
    """Active FAQs ranked by how much of the question they name (best first), in one
    statement: each of the question's words that an FAQ's question or keywords use counts by
    how few FAQs use it (its inverse document frequency over the active FAQs), so "propane"
    says more than "chef", and a word no FAQ uses says nothing. Ties go to the FAQ the words
    are the larger part of."""
    if not _WORD.search(question.lower()):
        return []
    found = await session.execute(_faq_search(limit), {"question": question})
    return [(faq, float(score)) for faq, score in found.all()]


#: Each active FAQ's score for the question: the summed inverse document frequency of the
#: question's words it uses with weight A (its question and keywords), half a point more when
#: it uses every one of them ("what meats do you have": "meat" is all it asks, though two FAQs
#: use it), and a tie-break.
_FAQ_SCORES = text(
    """
    WITH asked AS (
        SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', :question))
    ),
    active AS (SELECT count(*) AS n FROM faq_items WHERE is_active),
    hits AS (
        SELECT f.id, v.lexeme, count(*) OVER (PARTITION BY v.lexeme) AS ndoc
        FROM faq_items f
        CROSS JOIN LATERAL unnest(f.search_vector) AS v(lexeme, positions, weights)
        JOIN asked ON asked.lexeme = v.lexeme
        WHERE f.is_active AND 'A' = ANY(v.weights)
    )
    SELECT hits.id,
        sum(ln((active.n + 1.0) / hits.ndoc))
            + CASE WHEN count(*) = (SELECT count(*) FROM asked) THEN 0.5 ELSE 0 END AS score,
        ts_rank(f.search_vector, string_agg(quote_literal(hits.lexeme), ' | ')::tsquery, 1) AS tie
    FROM hits
    CROSS JOIN active
    JOIN faq_items f ON f.id = hits.id
    GROUP BY hits.id, f.search_vector
    """
)


@cache
def _faq_search(limit: int) -> Select[FaqItem, float]:
    """Built once per limit (building it costs about as much as running it)."""
    scores = _FAQ_SCORES.columns(
        column("id", Integer), column("score", Float), column("tie", Float)
    ).subquery()
    return (
        select(FaqItem, scores.c.score)
        .join(scores, scores.c.id == FaqItem.id)
        .order_by(scores.c.score.desc(), scores.c.tie.desc(), FaqItem.id)
        .limit(limit)
    )


# Several FAQs' views in one statement; the rows are locked in id order first, so two
# processes storing views at once never deadlock.
_COUNT_VIEWS = text(
    """
    WITH locked AS (
        SELECT id FROM faq_items WHERE id = ANY(CAST(:ids AS integer[])) ORDER BY id FOR UPDATE
    )
    UPDATE faq_items SET view_count = faq_items.view_count + v.n
    FROM unnest(CAST(:ids AS integer[]), CAST(:ns AS integer[])) AS v(id, n)
    WHERE faq_items.id = v.id AND faq_items.id IN (SELECT id FROM locked)
    """
)


async def count_faq_views(session: AsyncSession, views: Mapping[int, int]) -> None:
    """Add `views[faq_id]` to each FAQ's view count; a view is not an edit, so the admin's
    last_updated stays as it is."""
    ids = sorted(views)
    await session.execute(_COUNT_VIEWS, {"ids": ids, "ns": [views[i] for i in ids]})


async def notify(session: AsyncSession, channel: str, payload: str) -> None:
    """Queue a NOTIFY; PostgreSQL delivers it when the transaction commits."""
    await session.execute(select(func.pg_notify(channel, payload)))
