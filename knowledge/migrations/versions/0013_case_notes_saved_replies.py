"""cases: internal notes and saved replies

The team writes notes on a case for each other (never sent to the customer), and keeps
replies it uses often in the knowledge base, inserted into a case's message with one click. A
case assigned to someone alerts them (team alert kind "assigned"), as often as it is assigned:
the once-only index leaves that kind out.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _once_index(where: str) -> None:
    op.drop_index("uq_team_alerts_once", table_name="team_alerts")
    op.create_index(
        "uq_team_alerts_once",
        "team_alerts",
        ["escalation_id", "kind", "channel"],
        unique=True,
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    _once_index("kind IS NOT NULL AND kind <> 'assigned'")
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("length(btrim(body)) > 0", name=op.f("ck_case_notes_body_not_empty")),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.id"],
            name="fk_case_notes_escalation_id_escalations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["api_users.id"],
            name="fk_case_notes_user_id_api_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_case_notes"),
    )
    op.create_index("ix_case_notes_escalation_id", "case_notes", ["escalation_id"])
    op.create_table(
        "saved_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "last_updated",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint(
            "length(btrim(title)) > 0", name=op.f("ck_saved_replies_title_not_empty")
        ),
        sa.CheckConstraint("length(btrim(body)) > 0", name=op.f("ck_saved_replies_body_not_empty")),
        sa.PrimaryKeyConstraint("id", name="pk_saved_replies"),
        sa.UniqueConstraint("title", name="uq_saved_replies_title"),
    )


def downgrade() -> None:
    op.execute("DELETE FROM team_alerts WHERE kind = 'assigned'")
    _once_index("kind IS NOT NULL")
    op.drop_table("saved_replies")
    op.drop_index("ix_case_notes_escalation_id", table_name="case_notes")
    op.drop_table("case_notes")
