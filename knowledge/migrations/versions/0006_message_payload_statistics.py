"""no planner statistics for message payload columns

Autovacuum analyzes `messages` about once a minute under steady traffic, and most of that
work went into statistics on the message text, its JSON meta and the two unique keys, which
no query filters on by value range (the keys are found through their unique indexes, which
the planner knows return one row without statistics). Leaving them out makes each analyze a
third of the CPU time, a burst the service's turns no longer queue behind.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 09:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAYLOAD_COLUMNS = ("body", "meta", "provider_message_id", "idempotency_key")


def upgrade() -> None:
    columns = ", ".join(f"ALTER COLUMN {name} SET STATISTICS 0" for name in PAYLOAD_COLUMNS)
    op.execute(f"ALTER TABLE messages {columns}")


def downgrade() -> None:
    columns = ", ".join(f"ALTER COLUMN {name} SET STATISTICS -1" for name in PAYLOAD_COLUMNS)
    op.execute(f"ALTER TABLE messages {columns}")
