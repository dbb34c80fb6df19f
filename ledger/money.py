"""Exact money: Decimal in the domain, signed integer minor units in storage.

Currency exponents come from py-moneyed (JPY 0, CNY 2, KWD 3). Floats, NaN, infinities and amounts
with more decimals than the currency allows are refused, never rounded: a silently rounded amount
is a cent that leaves the books without an entry.
"""
from __future__ import annotations

import decimal
from decimal import Decimal
from functools import lru_cache

import moneyed

from ledger.errors import AmountOutOfRange, AmountTooPrecise, FloatAmountRefused, InvalidAmount, UnknownCurrency

# BIGINT holds +-9.2e18; keeping a margin of 1000x lets any sum of a year's postings fit too.
amount_minor_max = 9_000_000_000_000_000


@lru_cache(maxsize=512)
def currency_exponent(currency: str) -> int:
    """Number of decimals of the currency's minor unit (CNY 2, JPY 0, KWD 3)."""
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise UnknownCurrency(f"currency must be an ISO 4217 code such as CNY, got {currency!r}", currency=currency)
    try:
        sub_unit = moneyed.get_currency(currency).sub_unit
    except moneyed.CurrencyDoesNotExist:
        raise UnknownCurrency(f"unknown ISO 4217 currency {currency!r}", currency=currency) from None
    exponent = len(str(sub_unit)) - 1
    assert 10**exponent == sub_unit, (currency, sub_unit)
    return exponent


def parse_decimal(value: object, field: str = "amount") -> Decimal:
    """Decimal from a str, int or Decimal; floats and non-finite values are refused."""
    if isinstance(value, bool):
        raise InvalidAmount(f"{field} must be a decimal string, got a boolean", field=field)
    if isinstance(value, float):
        raise FloatAmountRefused(
            f"{field} was given as a binary float ({value!r}); send a decimal string such as \"12.34\"",
            field=field,
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = Decimal(text)
        except decimal.InvalidOperation:
            raise InvalidAmount(f"{field} {value!r} is not a decimal number", field=field) from None
    else:
        raise InvalidAmount(f"{field} must be a decimal string, got {type(value).__name__}", field=field)
    if not result.is_finite():
        raise InvalidAmount(f"{field} must be a finite number, got {value!r}", field=field)
    return result


def to_minor(value: object, currency: str, field: str = "amount") -> int:
    """Signed integer minor units of an amount in `currency`; refuses anything inexact."""
    amount = parse_decimal(value, field)
    exponent = currency_exponent(currency)
    if amount and amount.adjusted() > 18:
        raise AmountOutOfRange(f"{field} {amount} {currency} is out of range", field=field)
    if amount and amount.adjusted() < -(exponent + 1):
        raise AmountTooPrecise(
            f"{field} {amount} has more than {exponent} decimal place(s), the most {currency} allows",
            field=field,
            currency=currency,
        )
    scaled = amount.scaleb(exponent)
    if scaled != scaled.to_integral_value(rounding=decimal.ROUND_DOWN):
        raise AmountTooPrecise(
            f"{field} {amount} has more than {exponent} decimal place(s), the most {currency} allows",
            field=field,
            currency=currency,
        )
    minor = int(scaled)
    if abs(minor) > amount_minor_max:
        raise AmountOutOfRange(f"{field} {amount} {currency} is out of range", field=field)
    return minor


def from_minor(minor: int, currency: str) -> Decimal:
    """Decimal amount with exactly the currency's number of decimals."""
    assert isinstance(minor, int) and not isinstance(minor, bool), minor
    return Decimal(minor).scaleb(-currency_exponent(currency))


def format_amount(minor: int, currency: str) -> str:
    """Decimal string with the currency's decimals, as the API and CLI print it."""
    exponent = currency_exponent(currency)
    return f"{from_minor(minor, currency):.{exponent}f}"
