"""Customers, their bookings, and what the product learns about them."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal, get_args

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.models.base import Base, created_at, in_list, updated_at

#: The channels a customer writes on; `tools.messaging.channels` says how each one works.
ChannelName = Literal["sms", "whatsapp", "web", "email"]
CHANNELS: tuple[ChannelName, ...] = get_args(ChannelName)
#: The channels a customer is reached at by an address of theirs (web chat is by session).
ADDRESS_CHANNELS = ("sms", "whatsapp", "email")
BOOKING_STATUSES = ("pending", "confirmed", "completed", "cancelled")
REVIEW_SOURCES = ("google", "yelp", "internal")
#: What a person did to a booking from the console (or the agent, on a customer's reply).
BOOKING_ACTIONS = ("cancelled", "rescheduled", "deposit_refunded")
#: "open" while the agent collects details and quotes; "booked" once a booking is made for it.
LEAD_STATUSES = ("open", "booked", "lost")


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint(r"phone ~ '^\+[1-9][0-9]{6,14}$'", name="phone_e164"),
        CheckConstraint(in_list("preferred_channel", CHANNELS), name="channel_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(16), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    preferred_channel: Mapped[str] = mapped_column(String(20), default="sms")
    is_promoter: Mapped[bool] = mapped_column(default=False)
    referred_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class CustomerAddress(Base):
    """Where a customer is reached on a channel (a phone number for SMS and WhatsApp, an email
    address for email), and what they said of it: opted out, or no longer deliverable."""

    __tablename__ = "customer_addresses"
    __table_args__ = (
        UniqueConstraint("channel", "address"),
        CheckConstraint(in_list("channel", ADDRESS_CHANNELS), name="channel_known"),
        Index("ix_customer_addresses_customer", "customer_id", "channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(320))  # E.164, or a lower-cased email address
    opted_out: Mapped[bool] = mapped_column(default=False)
    verified: Mapped[bool] = mapped_column(default=False)  # they wrote from it, or booked with it
    undeliverable: Mapped[bool] = mapped_column(default=False)  # it bounced
    last_seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("adults >= 0", name="adults_non_negative"),
        CheckConstraint("kids >= 0", name="kids_non_negative"),
        CheckConstraint("toddlers >= 0", name="toddlers_non_negative"),
        CheckConstraint("adults + kids + toddlers >= 1", name="at_least_one_guest"),
        CheckConstraint("deposit_amount >= 0", name="deposit_non_negative"),
        CheckConstraint("travel_miles IS NULL OR travel_miles >= 0", name="miles_non_negative"),
        CheckConstraint("reschedule_count >= 0", name="reschedules_non_negative"),
        CheckConstraint(in_list("status", BOOKING_STATUSES), name="status_known"),
        Index("ix_bookings_customer_event", "customer_id", "event_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    event_at: Mapped[datetime]
    address: Mapped[str] = mapped_column(Text)
    adults: Mapped[int] = mapped_column(default=0)
    kids: Mapped[int] = mapped_column(default=0)
    toddlers: Mapped[int] = mapped_column(default=0)
    proteins: Mapped[list[str]] = mapped_column(JSONB, default=list)
    upgrades: Mapped[list[str]] = mapped_column(JSONB, default=list)  # add-on slugs
    menu_selected: Mapped[bool] = mapped_column(default=False)
    menu_provisional: Mapped[bool] = mapped_column(default=False)
    deposit_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    deposit_paid: Mapped[bool] = mapped_column(default=False)
    #: The policy gave the deposit back when the booking was cancelled (inside the refund
    #: window); `deposit_refunded_at` says when someone recorded the refund as made.
    deposit_refund_due: Mapped[bool] = mapped_column(default=False, server_default="false")
    deposit_refunded_at: Mapped[datetime | None]
    travel_miles: Mapped[Decimal | None] = mapped_column(Numeric(8, 1))
    status: Mapped[str] = mapped_column(String(20), default="confirmed")
    access_notes: Mapped[str | None] = mapped_column(Text)
    dietary_notes: Mapped[str | None] = mapped_column(Text)
    reschedule_count: Mapped[int] = mapped_column(default=0)
    # The booking site's Idempotency-Key: a retried POST finds this booking instead of a twin.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    @property
    def guests(self) -> int:
        return self.adults + self.kids + self.toddlers


class BookingHistory(Base):
    """One thing done to a booking: who (a console user; None for the agent), when, what, and
    the details the policy decided it with. The booking's audit trail, newest last."""

    __tablename__ = "booking_history"
    __table_args__ = (
        CheckConstraint(in_list("action", BOOKING_ACTIONS), name="action_known"),
        Index("ix_booking_history_booking", "booking_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("api_users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = created_at()


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_1_to_5"),
        CheckConstraint(
            "review_source IS NULL OR " + in_list("review_source", REVIEW_SOURCES),
            name="review_source_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    rating: Mapped[int]
    feedback_text: Mapped[str | None] = mapped_column(Text)
    review_source: Mapped[str | None] = mapped_column(String(50))
    escalated_to_human: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = created_at()


class CustomerSentiment(Base):
    __tablename__ = "customer_sentiment"
    __table_args__ = (
        CheckConstraint(
            "sentiment_score IS NULL OR sentiment_score BETWEEN 0 AND 1", name="score_0_to_1"
        ),
        CheckConstraint("last_rating IS NULL OR last_rating BETWEEN 1 AND 5", name="rating_1_to_5"),
        CheckConstraint("total_bookings >= 0", name="bookings_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), unique=True
    )
    sentiment_score: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    last_rating: Mapped[int | None]
    total_bookings: Mapped[int] = mapped_column(default=0)
    is_repeat_customer: Mapped[bool] = mapped_column(default=False)
    is_referrer: Mapped[bool] = mapped_column(default=False)
    preferred_proteins: Mapped[list[str]] = mapped_column(JSONB, default=list)
    last_updated: Mapped[datetime] = updated_at()


class Lead(Base):
    """A prospect's party as the agent collected it over a conversation: what they told us,
    the quote they got, and the booking it became. One open lead per conversation."""

    __tablename__ = "leads"
    __table_args__ = (
        CheckConstraint(in_list("status", LEAD_STATUSES), name="status_known"),
        CheckConstraint(
            "coalesce(adults, 0) >= 0 AND coalesce(kids, 0) >= 0 AND coalesce(toddlers, 0) >= 0",
            name="guests_non_negative",
        ),
        CheckConstraint("quotes_sent >= 0", name="quotes_non_negative"),
        Index(
            "ix_leads_open_conversation",
            "conversation_id",
            unique=True,
            postgresql_where="status = 'open'",
        ),
        Index("ix_leads_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open")
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(16))
    event_date: Mapped[date | None]
    event_time: Mapped[time | None]
    adults: Mapped[int | None]
    kids: Mapped[int | None]
    toddlers: Mapped[int | None]
    zip_code: Mapped[str | None] = mapped_column(String(10))
    place: Mapped[str | None] = mapped_column(String(100))  # a city named instead of a ZIP
    travel_miles: Mapped[Decimal | None] = mapped_column(Numeric(8, 1))
    upgrades: Mapped[list[str]] = mapped_column(JSONB, default=list)
    quote_total: Mapped[Decimal | None]
    quotes_sent: Mapped[int] = mapped_column(default=0)
    quoted_at: Mapped[datetime | None]
    link_sent_at: Mapped[datetime | None]
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"))
    booked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
