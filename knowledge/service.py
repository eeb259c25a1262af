"""KnowledgeService: the business's live knowledge, cached briefly, invalidated on every write."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge import repository as repo
from knowledge.charter import Charter, PolicyText, Rules
from knowledge.errors import Conflict, InvalidInput, NotFound
from knowledge.infra.clock import Clock, SystemClock
from knowledge.models import (
    AddonItem,
    BusinessRule,
    BusinessRuleVersion,
    FaqItem,
    SavedReply,
    SeasonalOffer,
)
from knowledge.models.base import Base
from knowledge.schemas import (
    RULE_VALUE_SCHEMAS,
    AddonCreate,
    AddonUpdate,
    AddonView,
    FaqCreate,
    FaqUpdate,
    OfferCreate,
    OfferUpdate,
    OfferView,
    RuleCreate,
    RuleUpdate,
    SavedReplyCreate,
    SavedReplyUpdate,
    check_offer,
    validate_rule_value,
)

NOTIFY_CHANNEL = "knowledge_changed"
#: The least score an FAQ answers with (`repository.search_faqs`: the summed inverse document
#: frequency of the question's words in an FAQ's question and keywords): one word only that
#: FAQ uses ("venmo", "propane") is enough; one that two FAQs share ("meat") only when it is
#: all the question asks; one that more share ("chef") needs another beside it.
FAQ_MIN_RANK = 3.0
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z0-9_]+)\s*\}\}")
_FAQ_WORD = re.compile(r"[a-z]{4,}")

M = TypeVar("M", bound=Base)


@dataclass(frozen=True)
class FaqMatch:
    faq_id: int
    question: str
    answer: str
    category: str
    score: float


def render_answer(answer: str, facts: dict[str, str]) -> str:
    """Fill {{ name }} placeholders from the charter's facts; unknown names stay visible."""
    return _PLACEHOLDER.sub(lambda m: facts.get(m.group(1), m.group(0)), answer)


class KnowledgeService:
    """One per process: reads go through a short TTL cache, writes invalidate it everywhere."""

    def __init__(self, clock: Clock | None = None, ttl_seconds: float = 5.0) -> None:
        self.clock = clock or SystemClock()
        self._cache: TTLCache[str, Any] = TTLCache(
            maxsize=64, ttl=ttl_seconds, timer=time.monotonic
        )
        self._generation = 0
        self.hits = 0
        self.misses = 0

    # ---- cache --------------------------------------------------------------------------

    def invalidate(self) -> None:
        """Forget everything cached; fills that started earlier will not be stored."""
        self._generation += 1
        self._cache.clear()

    async def _cached(self, key: str, build: Callable[[], Awaitable[Any]]) -> Any:
        try:
            value = self._cache[key]
        except KeyError:
            pass
        else:
            self.hits += 1
            return value
        self.misses += 1
        generation = self._generation
        value = await build()
        if generation == self._generation:
            self._cache[key] = value
        return value

    async def _changed(self, session: AsyncSession, what: str) -> None:
        self.invalidate()
        await repo.notify(session, NOTIFY_CHANNEL, what)

    # ---- reads --------------------------------------------------------------------------

    async def charter(self, session: AsyncSession) -> Charter:
        """Pricing, policies, add-ons and today's offers (cached for the TTL)."""
        day_key = self.clock.now().date().isoformat()
        charter: Charter = await self._cached(
            f"charter:{day_key}", lambda: self._build_charter(session)
        )
        return charter

    async def faq_words(self, session: AsyncSession) -> frozenset[str]:
        """The words of the active FAQs' questions and keywords (cached for the TTL): what a
        customer's misspelling of an FAQ word ("includd", "resevation") is corrected to."""

        async def build() -> frozenset[str]:
            faqs = await repo.faqs(session, active_only=True)
            return frozenset(
                w for f in faqs for w in _FAQ_WORD.findall(f"{f.question} {f.keywords}".lower())
            )

        words: frozenset[str] = await self._cached("faq_words", build)
        return words

    async def rules(self, session: AsyncSession) -> Rules:
        return (await self.charter(session)).rules

    async def _build_charter(self, session: AsyncSession) -> Charter:
        rules = await repo.all_rules(session, active_only=True)
        by_type = {rule.rule_type: rule for rule in rules}
        missing = [t for t in RULE_VALUE_SCHEMAS if t not in by_type]
        if missing:
            raise Conflict(
                f"the knowledge base has no active rule of type {', '.join(missing)}; "
                "run `hibachi seed` or restore it in the knowledge pages"
            )
        values = {t: by_type[t].value for t in RULE_VALUE_SCHEMAS}
        parsed = Rules.model_validate(values)
        now = self.clock.now().astimezone(parsed.timezone)
        today = now.date()
        addons = await repo.addons(session, available_only=True)
        offers = await repo.offers_active_on(session, today)
        charter = Charter(
            rules=parsed,
            policies=[],
            addons=[AddonView.model_validate(a) for a in addons],
            offers=[OfferView.model_validate(o) for o in offers],
            today=today,
            built_at=self.clock.now(),
        )
        # A policy's text names its figures as {{ placeholders }}: the values are its only
        # source, so a changed price is in every text at once.
        texts = [
            PolicyText(
                rule_type=r.rule_type,
                title=r.title,
                content=render_answer(r.content, charter.facts),
            )
            for r in rules
        ]
        return charter.model_copy(update={"policies": texts})

    async def cancellation_policy(self, session: AsyncSession) -> str:
        policy = (await self.charter(session)).policy("cancellation")
        return policy.content if policy else "Please contact us for our cancellation policy."

    async def search_faq(
        self, session: AsyncSession, question: str, *, count_view: bool = True
    ) -> FaqMatch | None:
        """The best FAQ for a customer's question, or None when nothing is relevant enough."""
        results = await repo.search_faqs(session, question, limit=1)
        if not results or results[0][1] < FAQ_MIN_RANK:
            return None
        faq, score = results[0]
        if count_view:
            await repo.count_faq_views(session, {faq.id: 1})
        charter = await self.charter(session)
        return FaqMatch(
            faq_id=faq.id,
            question=faq.question,
            answer=render_answer(faq.answer, charter.facts),
            category=faq.category,
            score=score,
        )

    async def count_views(self, session: AsyncSession, views: Mapping[int, int]) -> None:
        """Count FAQ answers given, `views[faq_id]` each (see `search_faq(count_view=False)`)."""
        if views:
            await repo.count_faq_views(session, views)

    # ---- admin writes: business rules ---------------------------------------------------

    async def create_rule(
        self, session: AsyncSession, data: RuleCreate, actor: str
    ) -> BusinessRule:
        if await repo.rule_by_type(session, data.rule_type):
            raise Conflict(f"a rule of type '{data.rule_type}' already exists; edit it instead")
        rule = BusinessRule(**data.model_dump(), version=1, updated_by=actor)
        return await self._add(session, rule, f"rule:{data.rule_type}")

    async def update_rule(
        self, session: AsyncSession, rule_id: int, data: RuleUpdate, actor: str
    ) -> BusinessRule:
        """Apply an edit, keeping the previous text and values as a version."""
        rule = await self._get(session, BusinessRule, rule_id, "business rule")
        changes = data.model_dump(exclude_unset=True)
        if "value" in changes:
            changes["value"] = _validated_value(rule.rule_type, changes["value"])
        if changes.get("is_active") is False and rule.rule_type in RULE_VALUE_SCHEMAS:
            raise Conflict(f"the '{rule.rule_type}' rule is required by the agent; edit it instead")
        session.add(
            BusinessRuleVersion(
                rule_id=rule.id,
                version=rule.version,
                title=rule.title,
                content=rule.content,
                value=rule.value,
                is_active=rule.is_active,
                updated_by=rule.updated_by,
                valid_from=rule.last_updated,
                replaced_at=self.clock.now(),
                replaced_by=actor,
            )
        )
        for name, value in changes.items():
            setattr(rule, name, value)
        rule.version += 1
        rule.updated_by = actor
        rule.last_updated = self.clock.now()
        await session.flush()
        await session.refresh(rule)
        await self._changed(session, f"rule:{rule.id}")
        return rule

    async def delete_rule(self, session: AsyncSession, rule_id: int) -> None:
        rule = await self._get(session, BusinessRule, rule_id, "business rule")
        if rule.rule_type in RULE_VALUE_SCHEMAS:
            raise Conflict(f"the '{rule.rule_type}' rule is required by the agent; edit it instead")
        await session.delete(rule)
        await session.flush()
        await self._changed(session, f"rule:{rule_id}")

    async def rule_history(self, session: AsyncSession, rule_id: int) -> list[dict[str, Any]]:
        """The current version first, then every earlier one, newest first."""
        rule = await self._get(session, BusinessRule, rule_id, "business rule")
        current = {
            "version": rule.version,
            "title": rule.title,
            "content": rule.content,
            "value": rule.value,
            "is_active": rule.is_active,
            "updated_by": rule.updated_by,
            "valid_from": rule.last_updated,
            "replaced_at": None,
            "replaced_by": None,
        }
        earlier = [
            {
                "version": v.version,
                "title": v.title,
                "content": v.content,
                "value": v.value,
                "is_active": v.is_active,
                "updated_by": v.updated_by,
                "valid_from": v.valid_from,
                "replaced_at": v.replaced_at,
                "replaced_by": v.replaced_by,
            }
            for v in await repo.rule_versions(session, rule_id)
        ]
        return [current, *earlier]

    # ---- admin writes: add-ons, FAQs, offers --------------------------------------------

    async def create_addon(self, session: AsyncSession, data: AddonCreate) -> AddonItem:
        if await repo.addon_by_slug(session, data.slug):
            raise Conflict(f"an add-on with slug '{data.slug}' already exists")
        return await self._add(session, AddonItem(**data.model_dump()), "addon")

    async def update_addon(
        self, session: AsyncSession, addon_id: int, data: AddonUpdate
    ) -> AddonItem:
        addon = await self._get(session, AddonItem, addon_id, "add-on")
        return await self._apply(session, addon, data.model_dump(exclude_unset=True), "addon")

    async def delete_addon(self, session: AsyncSession, addon_id: int) -> None:
        await self._delete(session, AddonItem, addon_id, "add-on")

    async def create_faq(self, session: AsyncSession, data: FaqCreate) -> FaqItem:
        return await self._add(session, FaqItem(**data.model_dump()), "faq")

    async def update_faq(self, session: AsyncSession, faq_id: int, data: FaqUpdate) -> FaqItem:
        faq = await self._get(session, FaqItem, faq_id, "FAQ")
        return await self._apply(session, faq, data.model_dump(exclude_unset=True), "faq")

    async def delete_faq(self, session: AsyncSession, faq_id: int) -> None:
        await self._delete(session, FaqItem, faq_id, "FAQ")

    async def create_saved_reply(self, session: AsyncSession, data: SavedReplyCreate) -> SavedReply:
        await self._title_free(session, data.title)
        return await self._add(session, SavedReply(**data.model_dump()), "saved reply")

    async def update_saved_reply(
        self, session: AsyncSession, reply_id: int, data: SavedReplyUpdate
    ) -> SavedReply:
        reply = await self._get(session, SavedReply, reply_id, "saved reply")
        if data.title is not None and data.title != reply.title:
            await self._title_free(session, data.title)
        return await self._apply(session, reply, data.model_dump(exclude_unset=True), "saved reply")

    async def delete_saved_reply(self, session: AsyncSession, reply_id: int) -> None:
        await self._delete(session, SavedReply, reply_id, "saved reply")

    async def _title_free(self, session: AsyncSession, title: str) -> None:
        if await session.scalar(select(SavedReply.id).where(SavedReply.title == title)):
            raise Conflict(f"a saved reply titled '{title}' already exists")

    async def create_offer(self, session: AsyncSession, data: OfferCreate) -> SeasonalOffer:
        return await self._add(session, SeasonalOffer(**data.model_dump()), "offer")

    async def update_offer(
        self, session: AsyncSession, offer_id: int, data: OfferUpdate
    ) -> SeasonalOffer:
        offer = await self._get(session, SeasonalOffer, offer_id, "offer")
        changes = data.model_dump(exclude_unset=True)
        merged = {
            name: changes.get(name, getattr(offer, name))
            for name in ("discount_type", "discount_value", "valid_from", "valid_to")
        }
        try:
            check_offer(**merged)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        return await self._apply(session, offer, changes, "offer")

    async def delete_offer(self, session: AsyncSession, offer_id: int) -> None:
        await self._delete(session, SeasonalOffer, offer_id, "offer")

    # ---- plumbing -----------------------------------------------------------------------

    async def _get(self, session: AsyncSession, model: type[M], ident: int, label: str) -> M:
        row = await repo.get(session, model, ident, lock=True)
        if row is None:
            raise NotFound(f"no {label} with id {ident}")
        return row

    async def _add(self, session: AsyncSession, row: M, what: str) -> M:
        session.add(row)
        await session.flush()
        await session.refresh(row)
        await self._changed(session, what)
        return row

    async def _apply(self, session: AsyncSession, row: M, changes: dict[str, Any], what: str) -> M:
        for name, value in changes.items():
            setattr(row, name, value)
        await session.flush()
        await session.refresh(row)
        await self._changed(session, what)
        return row

    async def _delete(self, session: AsyncSession, model: type[M], ident: int, label: str) -> None:
        row = await self._get(session, model, ident, label)
        await session.delete(row)
        await session.flush()
        await self._changed(session, label)


def _validated_value(rule_type: str, value: dict[str, Any]) -> dict[str, Any]:
    try:
        return validate_rule_value(rule_type, value)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
