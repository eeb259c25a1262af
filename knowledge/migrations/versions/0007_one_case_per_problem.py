"""one case per problem: escalations know their problem; duplicate open cases are merged

Every open case of one conversation (or, with no conversation, of one customer and booking)
was opened about the one problem the customer kept writing about: the oldest case keeps them
all (the highest priority, the earliest deadline, every request, reason and action) and the
others are kept as "merged" into it, so nothing is lost.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RANK = {"LOW": 0, "MEDIUM": 1, "HIGH": 2, "URGENT": 3}
BEFORE = ("open", "in_progress", "resolved", "closed")
AFTER = (*BEFORE, "merged")


def _statuses(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _joined(parts: list[str | None], separator: str) -> str | None:
    kept = list(dict.fromkeys(p for p in parts if p))
    return separator.join(kept) if kept else None


def upgrade() -> None:
    op.add_column("escalations", sa.Column("problem", sa.String(length=40), nullable=True))
    op.add_column("escalations", sa.Column("merged_into_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_escalations_merged_into_id_escalations"),
        "escalations",
        "escalations",
        ["merged_into_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.drop_constraint(op.f("ck_escalations_status_known"), "escalations", type_="check")
    op.create_check_constraint(op.f("ck_escalations_status_known"), "escalations", _statuses(AFTER))
    _merge_open_duplicates()


def _merge_open_duplicates() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, conversation_id, customer_id, booking_id, priority, reason,"
            " customer_request, action_required, deadline FROM escalations"
            " WHERE status IN ('open', 'in_progress') ORDER BY id"
        )
    ).mappings()
    groups: dict[tuple[object, ...], list[dict[str, object]]] = {}
    for row in rows:
        key = (
            ("conversation", row["conversation_id"])
            if row["conversation_id"] is not None
            else ("customer", row["customer_id"], row["booking_id"])
        )
        groups.setdefault(key, []).append(dict(row))
    for cases in groups.values():
        if len(cases) < 2:
            continue
        keep, rest = cases[0], cases[1:]
        bind.execute(
            sa.text(
                "UPDATE escalations SET priority = :priority, deadline = :deadline,"
                " reason = :reason, customer_request = :request, action_required = :action"
                " WHERE id = :id"
            ),
            {
                "id": keep["id"],
                "priority": max((c["priority"] for c in cases), key=lambda p: RANK[str(p)]),
                "deadline": min(c["deadline"] for c in cases),  # type: ignore[type-var]
                "reason": (_joined([str(c["reason"]) for c in cases], "; ") or "")[:255],
                "request": _joined([c["customer_request"] for c in cases], "\n\n"),  # type: ignore[misc]
                "action": _joined([str(c["action_required"]) for c in cases], "; "),
            },
        )
        bind.execute(
            sa.text(
                "UPDATE escalations SET status = 'merged', merged_into_id = :keep"
                " WHERE id = ANY(:ids)"
            ),
            {"keep": keep["id"], "ids": [c["id"] for c in rest]},
        )


def downgrade() -> None:
    op.execute("UPDATE escalations SET status = 'closed' WHERE status = 'merged'")
    op.drop_constraint(op.f("ck_escalations_status_known"), "escalations", type_="check")
    op.create_check_constraint(
        op.f("ck_escalations_status_known"), "escalations", _statuses(BEFORE)
    )
    op.drop_constraint(
        op.f("fk_escalations_merged_into_id_escalations"), "escalations", type_="foreignkey"
    )
    op.drop_column("escalations", "merged_into_id")
    op.drop_column("escalations", "problem")
