"""watched cases: a case nobody claims alerts the team again, then the owner

Team alerts gain a `kind` for the alerts a watched case sends later (an unclaimed case, its
owner's turn, a deadline near), unique per case, kind and channel, so each is sent once
however many worker processes watch.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("team_alerts", sa.Column("kind", sa.String(40), nullable=True))
    op.create_index(
        "uq_team_alerts_once",
        "team_alerts",
        ["escalation_id", "kind", "channel"],
        unique=True,
        postgresql_where=sa.text("kind IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_team_alerts_once", table_name="team_alerts")
    op.drop_column("team_alerts", "kind")
