"""policy texts name their figures: {{ placeholders }} filled from the rule values

The seeded policy texts wrote their prices and days out ("Adults are $55 each"), so a changed
value left the text behind. Where a text is still the seeded one, it becomes the same sentence
with placeholders, filled from the live values wherever it is shown. Texts an admin rewrote are
left as they are.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 03:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: rule type: (the seeded text, the same text with placeholders)
TEXTS: dict[str, tuple[str, str]] = {
    "pricing": (
        "Adults are $55 each and kids aged 6 to 12 are $30; children 5 and under eat free. Every party has a $550 minimum.",
        "Adults are {{ adult_price }} each and kids aged {{ child_age_range }} are {{ child_price }}; children {{ toddler_max_age }} and under eat free. Every party has a {{ party_minimum }} minimum.",
    ),
    "deposit": (
        "A $100 deposit reserves the date and is credited to the bill. It is refunded in full when a cancellation comes at least 7 days before the event.",
        "A {{ deposit_amount }} deposit reserves the date and is credited to the bill. It is refunded in full when a cancellation comes at least {{ refund_full_days }} days before the event.",
    ),
    "travel": (
        "Travel is free for the first 30 miles; after that it is $2 per mile.",
        "Travel is free for the first {{ travel_free_miles }} miles; after that it is {{ travel_fee_per_mile }} per mile.",
    ),
    "cancellation": (
        "Cancel 7 or more days before the event for a full refund of the deposit. Within 7 days the deposit is non-refundable, and inside 3 days management handles every request personally.",
        "Cancel {{ refund_full_days }} or more days before the event for a full refund of the deposit. Within {{ refund_full_days }} days the deposit is non-refundable, and inside {{ late_cancel_days }} days management handles every request personally.",
    ),
    "rescheduling": (
        "One reschedule is free when requested within 48 hours of booking; after that a reschedule costs $100, and the deposit moves to the new date.",
        "One reschedule is free when requested within {{ free_reschedule_hours }} hours of booking; after that a reschedule costs {{ reschedule_fee }}, and the deposit moves to the new date.",
    ),
    "event": (
        "A party lasts 90 minutes, longer for 30 guests or more. The chef arrives 15 to 20 minutes early to set up. The balance is due on the day by cash, Zelle, Venmo or card.",
        "A party lasts {{ duration_minutes }} minutes, longer for {{ extended_duration_guests }} guests or more. The chef arrives {{ arrival_lead_minutes }} minutes early to set up. The balance is due on the day by {{ payment_methods }}.",
    ),
    "menu": (
        "Every guest gets 2 proteins, fried rice, vegetables, salad, the chef's show and our sauces. Protein choices and the final guest count are due 3 days before the event; without a choice we cook our most popular combination, chicken and steak.",
        "Every guest gets {{ proteins_per_person }} proteins, fried rice, vegetables, salad, the chef's show and our sauces. Protein choices and the final guest count are due {{ menu_deadline_days }} days before the event; without a choice we cook our most popular combination, {{ default_proteins }}.",
    ),
}

_SET = sa.text(
    "UPDATE business_rules SET content = :to WHERE rule_type = :rule_type AND content = :was"
)


def upgrade() -> None:
    for rule_type, (seeded, templated) in TEXTS.items():
        op.execute(_SET.bindparams(to=templated, rule_type=rule_type, was=seeded))


def downgrade() -> None:
    for rule_type, (seeded, templated) in TEXTS.items():
        op.execute(_SET.bindparams(to=seeded, rule_type=rule_type, was=templated))
