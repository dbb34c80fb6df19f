"""Money is exact: Decimal in, integer minor units stored, anything inexact refused."""
from decimal import Decimal

import pytest

from ledger import errors
from ledger.money import currency_exponent, format_amount, from_minor, to_minor


@pytest.mark.parametrize(("currency", "exponent"), [("CNY", 2), ("USD", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3)])
def test_exponents_come_from_iso_4217(currency, exponent):
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        ("12.34", "CNY", 1234),
        ("-12.34", "CNY", -1234),
        ("1.230", "CNY", 123),
        (Decimal("0.01"), "CNY", 1),
        (5, "CNY", 500),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        ("  7.5 ", "USD", 750),
        ("9000000000000000.00", "CNY", None),
    ],
)
def test_to_minor_is_exact(value, currency, minor):
    if minor is None:
        with pytest.raises(errors.AmountOutOfRange):
            to_minor(value, currency)
    else:
        assert to_minor(value, currency) == minor


@pytest.mark.parametrize(
    ("value", "currency", "error"),
    [
        (12.34, "CNY", errors.FloatAmountRefused),
        (0.1, "JPY", errors.FloatAmountRefused),
        ("12.345", "CNY", errors.AmountTooPrecise),
        ("1.5", "JPY", errors.AmountTooPrecise),
        ("0.0001", "KWD", errors.AmountTooPrecise),
        ("1e-30", "CNY", errors.AmountTooPrecise),
        ("NaN", "CNY", errors.InvalidAmount),
        ("Infinity", "CNY", errors.InvalidAmount),
        ("-inf", "CNY", errors.InvalidAmount),
        (Decimal("sNaN"), "CNY", errors.InvalidAmount),
        ("12,34", "CNY", errors.InvalidAmount),
        ("", "CNY", errors.InvalidAmount),
        (True, "CNY", errors.InvalidAmount),
        (None, "CNY", errors.InvalidAmount),
        ("1e400", "CNY", errors.AmountOutOfRange),
        ("1", "XYZ", errors.UnknownCurrency),
        ("1", "cny", errors.UnknownCurrency),
    ],
)
def test_inexact_or_malformed_amounts_are_refused(value, currency, error):
    with pytest.raises(error) as caught:
        to_minor(value, currency)
    assert caught.value.code and caught.value.message


def test_float_message_tells_the_user_what_to_send():
    with pytest.raises(errors.FloatAmountRefused, match="decimal string"):
        to_minor(1.1, "CNY")


def test_round_trip_and_formatting():
    assert from_minor(1234, "CNY") == Decimal("12.34")
    assert format_amount(-5, "CNY") == "-0.05"
    assert format_amount(5, "JPY") == "5"
    assert format_amount(1, "KWD") == "0.001"
    assert str(from_minor(100, "KWD")) == "0.100"
