"""leads: a prospect's party, quote and follow-up; chef capacity and lead rules

A lead is what the agent collects from a prospect (name, date, guests, place, contact) and the
quote it sent; its follow-up is a planned touchpoint that names the lead instead of a booking.
Two rule types join the knowledge (chef capacity per time slot, the prospect's follow-up) and
travel gains the ZIP code distances are measured from, with the values the seed gives a new
database; admins change them in the knowledge pages.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 21:10:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "confirmation",
    "7_day",
    "4_day",
    "menu_deadline",
    "24_hour",
    "on_the_way",
    "arriving",
    "post_event",
)
RULES = (
    (
        "capacity",
        "Chefs and time slots",
        "We have 2 chefs, so we can serve 2 parties at the same time; a party holds its chef "
        "for 3 hours with travel and set-up. Parties start at 12pm, 3pm, 5pm or 7:30pm.",
        {"chefs": 2, "party_slot_hours": 3, "start_times": ["12:00", "15:00", "17:00", "19:30"]},
    ),
    (
        "leads",
        "New customers",
        "A prospect who got a quote and has not booked hears from us once more, the next day "
        "within messaging hours, on the channel they wrote on. Any reply, a booking or an "
        "opt-out cancels it.",
        {"follow_up": True, "follow_up_hours": 24},
    ),
)
BASE_ZIP = "95814"


def _kinds(values: tuple[str, ...]) -> str:
    return "reminder_type IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("event_date", sa.Date(), nullable=True),
        sa.Column("event_time", sa.Time(), nullable=True),
        sa.Column("adults", sa.Integer(), nullable=True),
        sa.Column("kids", sa.Integer(), nullable=True),
        sa.Column("toddlers", sa.Integer(), nullable=True),
        sa.Column("zip_code", sa.String(length=10), nullable=True),
        sa.Column("place", sa.String(length=100), nullable=True),
        sa.Column("travel_miles", sa.Numeric(precision=8, scale=1), nullable=True),
        sa.Column("upgrades", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("quote_total", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("quotes_sent", sa.Integer(), nullable=False),
        sa.Column("quoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("link_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('open', 'booked', 'lost')", name=op.f("ck_leads_status_known")
        ),
        sa.CheckConstraint(
            "coalesce(adults, 0) >= 0 AND coalesce(kids, 0) >= 0 AND coalesce(toddlers, 0) >= 0",
            name=op.f("ck_leads_guests_non_negative"),
        ),
        sa.CheckConstraint("quotes_sent >= 0", name=op.f("ck_leads_quotes_non_negative")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_leads_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_leads_conversation_id_conversations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_leads_booking_id_bookings"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    op.create_index(
        "ix_leads_open_conversation",
        "leads",
        ["conversation_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_leads_created", "leads", ["created_at"])

    op.add_column("automated_reminders", sa.Column("lead_id", sa.Integer(), nullable=True))
    op.alter_column("automated_reminders", "booking_id", nullable=True)
    op.create_foreign_key(
        op.f("fk_automated_reminders_lead_id_leads"),
        "automated_reminders",
        "leads",
        ["lead_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_unique_constraint(
        op.f("uq_automated_reminders_lead_id"), "automated_reminders", ["lead_id", "reminder_type"]
    )
    op.create_check_constraint(
        op.f("ck_automated_reminders_has_subject"),
        "automated_reminders",
        "booking_id IS NOT NULL OR lead_id IS NOT NULL",
    )
    op.drop_constraint(
        op.f("ck_automated_reminders_kind_known"), "automated_reminders", type_="check"
    )
    op.create_check_constraint(
        op.f("ck_automated_reminders_kind_known"),
        "automated_reminders",
        _kinds((*KINDS, "lead_follow_up")),
    )

    bind = op.get_bind()
    for rule_type, title, content, value in RULES:
        bind.execute(
            sa.text(
                "INSERT INTO business_rules (rule_type, title, content, value, is_active, version,"
                " updated_by) VALUES (:t, :title, :content, CAST(:value AS jsonb), true, 1,"
                " 'migration') ON CONFLICT (rule_type) DO NOTHING"
            ),
            {"t": rule_type, "title": title, "content": content, "value": json.dumps(value)},
        )
    bind.execute(
        sa.text(
            "UPDATE business_rules SET value = value || CAST(:extra AS jsonb)"
            " WHERE rule_type = 'travel' AND NOT value ? 'base_zip'"
        ),
        {"extra": json.dumps({"base_zip": BASE_ZIP})},
    )


def downgrade() -> None:
    bind = op.get_bind()
    bind.execute(
        sa.text("UPDATE business_rules SET value = value - 'base_zip' WHERE rule_type = 'travel'")
    )
    bind.execute(sa.text("DELETE FROM business_rules WHERE rule_type IN ('capacity', 'leads')"))
    op.execute("DELETE FROM automated_reminders WHERE lead_id IS NOT NULL")
    op.drop_constraint(
        op.f("ck_automated_reminders_kind_known"), "automated_reminders", type_="check"
    )
    op.create_check_constraint(
        op.f("ck_automated_reminders_kind_known"), "automated_reminders", _kinds(KINDS)
    )
    op.drop_constraint(
        op.f("ck_automated_reminders_has_subject"), "automated_reminders", type_="check"
    )
    op.drop_constraint(
        op.f("uq_automated_reminders_lead_id"), "automated_reminders", type_="unique"
    )
    op.drop_constraint(
        op.f("fk_automated_reminders_lead_id_leads"), "automated_reminders", type_="foreignkey"
    )
    op.alter_column("automated_reminders", "booking_id", nullable=False)
    op.drop_column("automated_reminders", "lead_id")
    op.drop_index("ix_leads_created", table_name="leads")
    op.drop_index("ix_leads_open_conversation", table_name="leads")
    op.drop_table("leads")
