"""What admins edit: business rules (with version history), add-ons, FAQs and offers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import Computed

from knowledge.models.base import Base, created_at, in_list, updated_at

ADDON_CATEGORIES = ("premium_protein", "enhancement", "extra")
ADDON_UNITS = ("per_person", "per_order")
FAQ_CATEGORIES = ("booking", "menu", "pricing", "policies", "setup", "event", "general")
DISCOUNT_TYPES = ("percentage", "fixed_amount", "free_addon")


class BusinessRule(Base):
    """One policy or fact sheet: text the agent may quote, values the policy code reads."""

    __tablename__ = "business_rules"
    __table_args__ = (CheckConstraint("version >= 1", name="version_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_type: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    value: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    is_active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = created_at()
    last_updated: Mapped[datetime] = updated_at()
    updated_by: Mapped[str | None] = mapped_column(String(100))


class BusinessRuleVersion(Base):
    """A rule as it was before an edit: who set it, when, and what it said."""

    __tablename__ = "business_rule_versions"
    __table_args__ = (UniqueConstraint("rule_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("business_rules.id", ondelete="CASCADE"))
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    value: Mapped[dict[str, Any]] = mapped_column(JSONB)
    is_active: Mapped[bool]
    updated_by: Mapped[str | None] = mapped_column(String(100))
    valid_from: Mapped[datetime]
    replaced_at: Mapped[datetime] = created_at()
    replaced_by: Mapped[str | None] = mapped_column(String(100))


class AddonItem(Base):
    __tablename__ = "addon_items"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_non_negative"),
        CheckConstraint(in_list("category", ADDON_CATEGORIES), name="category_known"),
        CheckConstraint(in_list("unit", ADDON_UNITS), name="unit_known"),
        Index("ix_addon_items_category_available", "category", postgresql_where="is_available"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal]
    unit: Mapped[str] = mapped_column(String(20), default="per_person")
    category: Mapped[str] = mapped_column(String(50))
    aliases: Mapped[list[str]] = mapped_column(JSONB, default=list)
    display_order: Mapped[int] = mapped_column(default=0)
    is_available: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = created_at()
    last_updated: Mapped[datetime] = updated_at()


class FaqItem(Base):
    __tablename__ = "faq_items"
    __table_args__ = (
        CheckConstraint("length(btrim(question)) > 0", name="question_not_empty"),
        CheckConstraint("length(btrim(answer)) > 0", name="answer_not_empty"),
        CheckConstraint(in_list("category", FAQ_CATEGORIES), name="category_known"),
        CheckConstraint("view_count >= 0", name="view_count_non_negative"),
        CheckConstraint("helpful_count >= 0", name="helpful_count_non_negative"),
        Index("ix_faq_items_search", "search_vector", postgresql_using="gin"),
        Index("ix_faq_items_category_active", "category", postgresql_where="is_active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(Text, default="", server_default="")
    category: Mapped[str] = mapped_column(String(50))
    view_count: Mapped[int] = mapped_column(default=0, server_default="0")
    helpful_count: Mapped[int] = mapped_column(default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(default=True)
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(
            "setweight(to_tsvector('english', coalesce(question, '')), 'A') || "
            "setweight(to_tsvector('english', coalesce(keywords, '')), 'A') || "
            "setweight(to_tsvector('english', coalesce(answer, '')), 'C')",
            persisted=True,
        ),
        deferred=True,
    )
    created_at: Mapped[datetime] = created_at()
    last_updated: Mapped[datetime] = updated_at()


class SavedReply(Base):
    """A reply the team keeps to insert into a case's message with one click (edited by admins
    with the rest of the knowledge; never sent by the agent on its own)."""

    __tablename__ = "saved_replies"
    __table_args__ = (
        CheckConstraint("length(btrim(title)) > 0", name="title_not_empty"),
        CheckConstraint("length(btrim(body)) > 0", name="body_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100), unique=True)
    body: Mapped[str] = mapped_column(Text)
    last_updated: Mapped[datetime] = updated_at()


class SeasonalOffer(Base):
    __tablename__ = "seasonal_offers"
    __table_args__ = (
        CheckConstraint("discount_value >= 0", name="discount_non_negative"),
        CheckConstraint(in_list("discount_type", DISCOUNT_TYPES), name="discount_type_known"),
        CheckConstraint("valid_to >= valid_from", name="dates_ordered"),
        CheckConstraint(
            "discount_type <> 'percentage' OR discount_value <= 100", name="percentage_at_most_100"
        ),
        Index("ix_seasonal_offers_dates", "valid_from", "valid_to", postgresql_where="is_active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    discount_type: Mapped[str] = mapped_column(String(50))
    discount_value: Mapped[Decimal]
    valid_from: Mapped[date]
    valid_to: Mapped[date]
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = created_at()
