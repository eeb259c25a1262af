"""booking history and the deposit refund: what people did to a booking from the console

The console cancels and reschedules bookings and records a deposit refund; each action is a
`booking_history` row (who, when, what, and the policy's details). A booking cancelled inside
the refund window owes its deposit back (`deposit_refund_due`) until someone records the refund
as made (`deposit_refunded_at`).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "bookings",
        sa.Column("deposit_refund_due", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column("bookings", sa.Column("deposit_refunded_at", sa.DateTime(timezone=True)))
    op.create_table(
        "booking_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "action IN ('cancelled', 'rescheduled', 'deposit_refunded')",
            name=op.f("ck_booking_history_action_known"),
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_booking_history_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["api_users.id"],
            name=op.f("fk_booking_history_user_id_api_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_history")),
    )
    op.create_index("ix_booking_history_booking", "booking_history", ["booking_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_booking_history_booking", table_name="booking_history")
    op.drop_table("booking_history")
    op.drop_column("bookings", "deposit_refunded_at")
    op.drop_column("bookings", "deposit_refund_due")
