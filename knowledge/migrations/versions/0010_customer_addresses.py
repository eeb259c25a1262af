"""customer addresses: a customer is reached at addresses, one per channel; email joins

Customers were known by their phone alone, with one opt-out column per channel. Each address
(a phone number for SMS and for WhatsApp, an email address for email) is now a row of its own
with its opt-out, whether it is verified, whether it bounced and when it was last seen. The
rows are filled from today's columns (every customer's phone for SMS and WhatsApp with its
opt-out, every email address on a customer), then the opt-out columns go. Email becomes a
channel of conversations, messages and a customer's preference, and every email the shop's
mailbox delivers is recorded once (by its Message-ID) with what became of it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "'sms', 'whatsapp', 'web'"
NEW = "'sms', 'whatsapp', 'web', 'email'"
CHECKS = (
    ("customers", "preferred_channel"),
    ("conversations", "channel"),
    ("messages", "channel"),
)


def _channels(values: str) -> None:
    for table, column in CHECKS:
        name = op.f(f"ck_{table}_channel_known")
        op.drop_constraint(name, table, type_="check")
        op.create_check_constraint(name, table, f"{column} IN ({values})")


def upgrade() -> None:
    op.create_table(
        "customer_addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("undeliverable", sa.Boolean(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "channel IN ('sms', 'whatsapp', 'email')",
            name=op.f("ck_customer_addresses_channel_known"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_addresses_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_addresses")),
        sa.UniqueConstraint("channel", "address", name=op.f("uq_customer_addresses_channel")),
    )
    op.create_index(
        "ix_customer_addresses_customer", "customer_addresses", ["customer_id", "channel"]
    )
    # Every phone is an SMS and a WhatsApp address, with the opt-out it had; every email
    # address one for email (the first customer holding it keeps it, as one address has one
    # owner). Nothing is dropped before it is copied.
    op.execute(
        """
        INSERT INTO customer_addresses (customer_id, channel, address, opted_out, verified,
                                        undeliverable, last_seen_at)
        SELECT id, 'sms', phone, sms_opted_out, true, false, NULL::timestamptz
        FROM customers WHERE phone IS NOT NULL
        UNION ALL
        SELECT id, 'whatsapp', phone, whatsapp_opted_out, true, false, NULL::timestamptz
        FROM customers WHERE phone IS NOT NULL
        """
    )
    op.execute(
        """
        INSERT INTO customer_addresses (customer_id, channel, address, opted_out, verified,
                                        undeliverable, last_seen_at)
        SELECT DISTINCT ON (lower(btrim(email))) id, 'email', lower(btrim(email)), false, true,
               false, NULL::timestamptz
        FROM customers WHERE email IS NOT NULL AND btrim(email) <> ''
        ORDER BY lower(btrim(email)), id
        """
    )
    op.create_table(
        "inbound_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("message_id_header", sa.Text(), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "outcome IN ('stored', 'auto_reply', 'bounce', 'mailing_list', 'too_large',"
            " 'no_text', 'from_us')",
            name=op.f("ck_inbound_emails_outcome_known"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_inbound_emails_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_emails")),
        sa.UniqueConstraint("key", name=op.f("uq_inbound_emails_key")),
    )
    op.drop_column("customers", "sms_opted_out")
    op.drop_column("customers", "whatsapp_opted_out")
    _channels(NEW)


def downgrade() -> None:
    op.execute("DELETE FROM messages WHERE channel = 'email'")
    op.execute("DELETE FROM conversations WHERE channel = 'email'")
    op.execute("UPDATE customers SET preferred_channel = 'sms' WHERE preferred_channel = 'email'")
    _channels(OLD)
    for channel in ("sms", "whatsapp"):
        op.add_column(
            "customers",
            sa.Column(
                f"{channel}_opted_out", sa.Boolean(), server_default=sa.false(), nullable=False
            ),
        )
        op.execute(
            f"""
            UPDATE customers AS c SET {channel}_opted_out = a.opted_out
            FROM customer_addresses AS a
            WHERE a.customer_id = c.id AND a.channel = '{channel}' AND a.address = c.phone
            """
        )
        op.alter_column("customers", f"{channel}_opted_out", server_default=None)
    op.drop_table("inbound_emails")
    op.drop_index("ix_customer_addresses_customer", table_name="customer_addresses")
    op.drop_table("customer_addresses")
