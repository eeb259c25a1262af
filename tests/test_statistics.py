"""Autovacuum's analyze leaves out the columns no query filters on by value.

Under steady traffic `messages` and the checkpoint tables are analyzed about once a minute;
statistics on message text, JSON and binary checkpoint state were most of that CPU time, a
burst every turn then queued behind. The first two tests fail with the `SET STATISTICS 0`
removed (shown once); the third shows the lookups keep their plans without those statistics.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from agent.runtime import CHECKPOINT_PAYLOAD_COLUMNS, CHECKPOINT_SCHEMA

MESSAGE_PAYLOAD = {"body", "meta", "provider_message_id", "idempotency_key"}


async def _targets(connection: AsyncConnection, schema: str, table: str) -> dict[str, Any]:
    rows = await connection.execute(
        text(
            """
            SELECT a.attname, a.attstattarget FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = :schema AND c.relname = :table AND a.attnum > 0
                AND NOT a.attisdropped
            """
        ),
        {"schema": schema, "table": table},
    )
    return {name: target for name, target in rows.all()}


async def test_message_payload_columns_have_no_statistics(connection: AsyncConnection) -> None:
    targets = await _targets(connection, "public", "messages")
    assert {name for name, target in targets.items() if target == 0} == MESSAGE_PAYLOAD


async def test_checkpoint_payload_columns_have_no_statistics(
    connection: AsyncConnection, checkpointer: Any
) -> None:
    for table, columns in CHECKPOINT_PAYLOAD_COLUMNS.items():
        targets = await _targets(connection, CHECKPOINT_SCHEMA, table)
        assert {name for name, target in targets.items() if target == 0} == set(columns)
        assert targets["thread_id"] != 0  # looked up by thread: its statistics stay


async def test_messages_are_still_found_through_their_unique_keys(
    connection: AsyncConnection,
) -> None:
    """Without statistics the planner still knows a unique key matches one row."""
    for statement in (
        """
        INSERT INTO customers (name, phone, preferred_channel, is_promoter)
        VALUES ('Plan Check', '+15550009999', 'sms', false)
        """,
        """
        INSERT INTO conversations (customer_id, channel, owner)
        SELECT id, 'sms', 'ai' FROM customers WHERE phone = '+15550009999'
        """,
        """
        INSERT INTO messages (conversation_id, direction, channel, author, body,
            provider_message_id, idempotency_key, status, attempts, meta)
        SELECT c.id, 'inbound', 'sms', 'customer', 'message ' || g, 'SM' || md5(g::text),
            'reply:message:' || g, 'processed', 0, '{}'
        FROM conversations c JOIN customers u ON u.id = c.customer_id,
            generate_series(1, 5000) g
        WHERE u.phone = '+15550009999'
        """,
        "ANALYZE messages",
    ):
        await connection.execute(text(statement))
    by_key = await connection.scalar(
        text("EXPLAIN SELECT id FROM messages WHERE idempotency_key = 'reply:message:7'")
    )
    by_sid = (
        (
            await connection.execute(
                text("EXPLAIN SELECT id FROM messages WHERE provider_message_id = ANY(:sids)"),
                {"sids": ["SM" + str(n) for n in range(50)]},
            )
        )
        .scalars()
        .all()
    )
    assert "uq_messages_idempotency_key" in by_key
    assert any("uq_messages_provider_message_id" in line for line in by_sid)
