"""Money is Decimal; this is the one place that turns it into text."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def to_money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def format_money(value: Decimal | int | str) -> str:
    """$55, $2.50, $1,250: whole dollars without cents."""
    amount = to_money(value)
    if amount == amount.to_integral_value():
        return f"${int(amount):,}"
    return f"${amount:,.2f}"
