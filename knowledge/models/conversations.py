"""Conversations, every message in and out, escalations and planned touchpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.models.base import Base, created_at, in_list, updated_at
from knowledge.models.customers import CHANNELS

DIRECTIONS = ("inbound", "outbound")
AUTHORS = ("customer", "agent", "human", "system")
MESSAGE_STATUSES = (
    "received",
    "processed",
    "pending",
    "queued",
    "sending",
    "sent",
    "delivered",
    "read",
    "undelivered",
    "failed",
    "simulated",
)
PRIORITIES = ("LOW", "MEDIUM", "HIGH", "URGENT")
#: "merged": folded into another case about the same problem (`merged_into_id`), kept for history.
ESCALATION_STATUSES = ("open", "in_progress", "resolved", "closed", "merged")
REMINDER_KINDS = (
    "confirmation",
    "7_day",
    "4_day",
    "menu_deadline",
    "24_hour",
    "on_the_way",
    "arriving",
    "post_event",
    "lead_follow_up",  # a prospect's quote, a day later (the row names a lead, not a booking)
)
REMINDER_STATUSES = (
    "pending",
    "claimed",
    "sent",
    "skipped",
    "failed",
    "cancelled",
    "suppressed",
)
ROLES = ("admin", "agent")
ALERT_CHANNELS = ("sms", "email", "console")
ALERT_STATUSES = ("pending", "sent", "failed", "simulated", "read")


class ApiUser(Base):
    """A person who uses the console (name and password, a session cookie) or the admin API (a
    bearer token's hash). `revoked_at` set: deactivated, every way in refused."""

    __tablename__ = "api_users"
    __table_args__ = (CheckConstraint(in_list("role", ROLES), name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # argon2 (pwdlib); None until the person chooses one through their set-up link
    password_hash: Mapped[str | None] = mapped_column(String(200))
    failed_sign_ins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None]
    # a one-time set-up link (its token's hash) for choosing a password, and when it lapses
    setup_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    setup_expires_at: Mapped[datetime | None]
    last_sign_in_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in browser: its cookie's hash, the CSRF token its page sends back on every
    change, and when it lapses (idle or at most). `ended_at`: signed out or ended by an admin."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("api_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class Conversation(Base):
    """One customer on one channel; owned by the agent (`ai`) or by a human user."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("customer_id", "channel"),
        CheckConstraint(in_list("channel", CHANNELS), name="channel_known"),
        CheckConstraint(in_list("owner", ("ai", "human")), name="owner_known"),
        CheckConstraint(
            "(owner = 'human') = (owner_user_id IS NOT NULL)", name="human_owner_has_user"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str] = mapped_column(String(10), default="ai")
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_users.id", ondelete="SET NULL")
    )
    last_inbound_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Message(Base):
    """A message in or out; a row before and after it moves."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(in_list("direction", DIRECTIONS), name="direction_known"),
        CheckConstraint(in_list("channel", CHANNELS), name="channel_known"),
        CheckConstraint(in_list("author", AUTHORS), name="author_known"),
        CheckConstraint(in_list("status", MESSAGE_STATUSES), name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_messages_conversation_created", "conversation_id", "created_at"),
        Index(
            "ix_messages_outbox",
            "id",
            postgresql_where="direction = 'outbound' AND status IN ('pending', 'sending')",
        ),
        Index(
            "ix_messages_unprocessed_inbound",
            "created_at",
            postgresql_where="direction = 'inbound' AND status = 'received'",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(20))
    author: Mapped[str] = mapped_column(String(10))
    author_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_users.id", ondelete="SET NULL")
    )
    kind: Mapped[str | None] = mapped_column(String(50))
    body: Mapped[str] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]  # an outbound send waiting to be retried
    meta: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


MAIL_OUTCOMES = (
    "stored",
    "auto_reply",
    "bounce",
    "mailing_list",
    "too_large",
    "no_text",
    "from_us",
)


class InboundEmail(Base):
    """Every email the shop's mailbox delivered, once per Message-ID: stored as a customer's
    message, or recorded here with why it was not answered (an auto-reply, a bounce, ...)."""

    __tablename__ = "inbound_emails"
    __table_args__ = (CheckConstraint(in_list("outcome", MAIL_OUTCOMES), name="outcome_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # a hash of its Message-ID
    message_id_header: Mapped[str] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(20))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()


class Escalation(Base):
    """A case for a human: priority, reason, action required, deadline and owner."""

    __tablename__ = "escalations"
    __table_args__ = (
        CheckConstraint(in_list("priority", PRIORITIES), name="priority_known"),
        CheckConstraint(in_list("status", ESCALATION_STATUSES), name="status_known"),
        Index(
            "ix_escalations_open_queue",
            "priority",
            "deadline",
            postgresql_where="status IN ('open', 'in_progress')",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    priority: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(255))
    #: What the case is about (tools.escalations.problem_of): a later message about the same
    #: problem joins this case instead of opening another.
    problem: Mapped[str | None] = mapped_column(String(40))
    customer_request: Mapped[str | None] = mapped_column(Text)
    action_required: Mapped[str] = mapped_column(Text)
    deadline: Mapped[datetime]
    assigned_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_users.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), default="open")
    resolution_notes: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    resolved_at: Mapped[datetime | None]
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalations.id", ondelete="SET NULL")
    )


class AutomatedReminder(Base):
    """One planned touchpoint of a booking's journey (unique per booking and kind), or a
    prospect's follow-up (unique per lead)."""

    __tablename__ = "automated_reminders"
    __table_args__ = (
        UniqueConstraint("booking_id", "reminder_type"),
        UniqueConstraint("lead_id", "reminder_type"),
        CheckConstraint("booking_id IS NOT NULL OR lead_id IS NOT NULL", name="has_subject"),
        CheckConstraint(in_list("reminder_type", REMINDER_KINDS), name="kind_known"),
        CheckConstraint(in_list("status", REMINDER_STATUSES), name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_automated_reminders_due", "scheduled_at", postgresql_where="status = 'pending'"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    reminder_type: Mapped[str] = mapped_column(String(50))
    scheduled_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    response_received: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = created_at()


class CaseNote(Base):
    """A note the team writes on a case for each other; never sent to the customer."""

    __tablename__ = "case_notes"
    __table_args__ = (CheckConstraint("length(btrim(body)) > 0", name="body_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(
        ForeignKey("escalations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("api_users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()


class TeamAlert(Base):
    """A notice to the team about an escalation (team SMS, management email, console), queued
    as a row in the turn's transaction and delivered after it commits."""

    __tablename__ = "team_alerts"
    __table_args__ = (
        CheckConstraint(in_list("channel", ALERT_CHANNELS), name="channel_known"),
        CheckConstraint(in_list("status", ALERT_STATUSES), name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_team_alerts_pending", "created_at", postgresql_where="status = 'pending'"),
        # A watched case's alerts (`kind`) are made once each, however many processes watch;
        # a case may be assigned (kind "assigned") any number of times.
        Index(
            "uq_team_alerts_once",
            "escalation_id",
            "kind",
            "channel",
            unique=True,
            postgresql_where="kind IS NOT NULL AND kind <> 'assigned'",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalations.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(20))
    #: Why a watched case alerts again ("unclaimed:URGENT", "owner:URGENT", "deadline:HIGH");
    #: None for the alerts sent as a case opens or changes.
    kind: Mapped[str | None] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(320))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("api_users.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    sent_at: Mapped[datetime | None]


class WebSession(Base):
    """A web chat visitor: anonymous until they prove a booking (its reference and phone, or a
    code texted to that phone)."""

    __tablename__ = "web_sessions"
    __table_args__ = (CheckConstraint("failed_attempts >= 0", name="attempts_non_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    visitor_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    verified_customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    #: What the visitor has told us so far, in any order over any number of messages.
    claimed_reference: Mapped[str | None] = mapped_column(String(20))
    claimed_phone: Mapped[str | None] = mapped_column(String(16))
    #: A six-digit code texted to the phone on a booking: its hash, expiry and customer.
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None]
    code_customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    #: The message that needed verifying first: answered as soon as the visitor is verified.
    waiting_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at()
