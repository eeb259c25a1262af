"""console sign-in: passwords, lockout, set-up links and browser sessions

People sign in to the console with a name and a password (argon2) instead of pasting a token;
wrong passwords lock the account for a while; an admin adds a teammate with a one-time set-up
link. Each signed-in browser is a `console_sessions` row (its cookie's hash and CSRF token),
ended at sign-out, on deactivation or when it lapses.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_users", sa.Column("password_hash", sa.String(200), nullable=True))
    op.add_column(
        "api_users",
        sa.Column("failed_sign_ins", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("api_users", sa.Column("locked_until", sa.DateTime(timezone=True)))
    op.add_column("api_users", sa.Column("setup_token_hash", sa.String(64), nullable=True))
    op.add_column("api_users", sa.Column("setup_expires_at", sa.DateTime(timezone=True)))
    op.add_column("api_users", sa.Column("last_sign_in_at", sa.DateTime(timezone=True)))
    op.create_unique_constraint("uq_api_users_setup_token_hash", "api_users", ["setup_token_hash"])
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["api_users.id"],
            name="fk_console_sessions_user_id_api_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_console_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_console_sessions_token_hash"),
    )
    op.create_index("ix_console_sessions_user_id", "console_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_user_id", table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_constraint("uq_api_users_setup_token_hash", "api_users")
    for column in (
        "last_sign_in_at",
        "setup_expires_at",
        "setup_token_hash",
        "locked_until",
        "failed_sign_ins",
        "password_hash",
    ):
        op.drop_column("api_users", column)
