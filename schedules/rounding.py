"""Decimal context, currency minor units and rounding modes.

Every public entry point runs under DECIMAL_CONTEXT via `decimal.localcontext`, so results do not
depend on whatever context the caller's thread happens to carry.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from functools import lru_cache

from moneyed import CURRENCIES

from .terms import RoundingMode

# 40 digits: a balance (<= 16 digits) x annual rate (<= 12) x day-fraction numerator (<= 6) is
# exact, so interest is rounded once, from the exact value, and ties break as the mode says.
decimal_precision = 40

DECIMAL_CONTEXT = decimal.Context(
    prec=decimal_precision,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

decimal_rounding = {
    RoundingMode.HALF_UP: decimal.ROUND_HALF_UP,
    RoundingMode.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    RoundingMode.HALF_DOWN: decimal.ROUND_HALF_DOWN,
    RoundingMode.UP: decimal.ROUND_UP,
    RoundingMode.DOWN: decimal.ROUND_DOWN,
    RoundingMode.CEILING: decimal.ROUND_CEILING,
    RoundingMode.FLOOR: decimal.ROUND_FLOOR,
}


@lru_cache(maxsize=None)
def currency_exponent(code: str) -> int | None:
    """Decimal places of the currency's minor unit (JPY 0, CNY 2, KWD 3); None if unknown."""
    currency = CURRENCIES.get(code)
    if currency is None:
        return None
    digits = str(currency.sub_unit)
    # py-moneyed stores sub_unit as a power of ten; anything else would break exact minor units.
    assert digits.startswith("1") and set(digits[1:]) <= {"0"}, (code, currency.sub_unit)
    return len(digits) - 1


@lru_cache(maxsize=None)
def minor_unit(code: str) -> Decimal:
    """The quantum for amounts in this currency: Decimal('0.01') for CNY, Decimal('1') for JPY."""
    exponent = currency_exponent(code)
    assert exponent is not None, f"unknown currency {code!r} reached minor_unit; validate first"
    return Decimal(1).scaleb(-exponent)


def round_to_multiple(amount: Decimal, multiple: Decimal, rounding: str) -> Decimal:
    """Round to a multiple (e.g. installments in whole yuan or tens of yuan)."""
    return (amount / multiple).quantize(Decimal(1), rounding=rounding) * multiple


def is_multiple_of(amount: Decimal, quantum: Decimal) -> bool:
    """True when the amount has no digits below the quantum (CNY: 1.50 is fine, 1.505 not)."""
    return amount.quantize(quantum, rounding=decimal.ROUND_DOWN) == amount
