"""web chat identity: verification over several messages, or by a code texted to the booking

A visitor's reference and phone are kept as they come (in any order); a six-digit code sent
to the phone on a booking is kept as a hash with its expiry; the message that needed
verification is remembered, to be answered once the visitor is verified. The widget's
greeting, disclosure and suggested questions join the knowledge as the `web_chat` rule, with
the values the seed gives a new database.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 21:20:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEB_CHAT = {
    "greeting": "Hi there! Planning a hibachi party or have a question about yours?",
    "disclosure": "You're chatting with our automated assistant; a person from our team takes "
    "over whenever you need one.",
    "suggestions": [
        "How much for 20 guests?",
        "Are you available on my date?",
        "What's included?",
        "When is my party?",
    ],
}


def upgrade() -> None:
    op.add_column("web_sessions", sa.Column("claimed_reference", sa.String(length=20)))
    op.add_column("web_sessions", sa.Column("claimed_phone", sa.String(length=16)))
    op.add_column("web_sessions", sa.Column("code_hash", sa.String(length=64)))
    op.add_column("web_sessions", sa.Column("code_expires_at", sa.DateTime(timezone=True)))
    op.add_column("web_sessions", sa.Column("code_customer_id", sa.Integer()))
    op.add_column("web_sessions", sa.Column("waiting_message_id", sa.Integer()))
    op.create_foreign_key(
        op.f("fk_web_sessions_code_customer_id_customers"),
        "web_sessions",
        "customers",
        ["code_customer_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_foreign_key(
        op.f("fk_web_sessions_waiting_message_id_messages"),
        "web_sessions",
        "messages",
        ["waiting_message_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.get_bind().execute(
        sa.text(
            "INSERT INTO business_rules (rule_type, title, content, value, is_active, version,"
            " updated_by) VALUES ('web_chat', 'Chat widget', :content, CAST(:value AS jsonb),"
            " true, 1, 'migration') ON CONFLICT (rule_type) DO NOTHING"
        ),
        {
            "content": "What the chat on the website shows when it opens: a greeting, a line "
            "saying an automated assistant answers and a person takes over when needed, and up "
            "to four suggested questions.",
            "value": json.dumps(WEB_CHAT),
        },
    )


def downgrade() -> None:
    op.execute("DELETE FROM business_rules WHERE rule_type = 'web_chat'")
    op.drop_constraint(
        op.f("fk_web_sessions_waiting_message_id_messages"), "web_sessions", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_web_sessions_code_customer_id_customers"), "web_sessions", type_="foreignkey"
    )
    for column in (
        "waiting_message_id",
        "code_customer_id",
        "code_expires_at",
        "code_hash",
        "claimed_phone",
        "claimed_reference",
    ):
        op.drop_column("web_sessions", column)
