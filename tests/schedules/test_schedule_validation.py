"""Bad input: every refusal is a typed ScheduleInputError with a stable code naming the field."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal as D

import pytest

from schedules import (
    ErrorCode,
    Method,
    ScheduleError,
    ScheduleInputError,
    ScheduleTerms,
    build_schedule,
    check_terms,
    parse_terms,
)

GOOD = dict(principal="10000", currency="CNY", annual_rate="0.12", term_periods="12",
            method="EQUAL_INSTALLMENT", disbursement_date="2024-01-31")
TERMS = ScheduleTerms(principal=D("10000"), currency="CNY", annual_rate=D("0.12"),
                      term_periods=12, method=Method.EQUAL_INSTALLMENT,
                      disbursement_date=date(2024, 1, 31))


def refusal(**changes) -> tuple[str, str]:
    with pytest.raises(ScheduleInputError) as caught:
        parse_terms(**{**GOOD, **changes})
    return caught.value.field, caught.value.code


@pytest.mark.parametrize(("changes", "field", "code"), [
    ({"principal": "0"}, "principal", "PRINCIPAL_NOT_POSITIVE"),
    ({"principal": "-5"}, "principal", "PRINCIPAL_NOT_POSITIVE"),
    ({"principal": "100000000000000"}, "principal", "PRINCIPAL_TOO_LARGE"),
    ({"principal": "100.001"}, "principal", "AMOUNT_TOO_PRECISE"),
    ({"principal": "100.5", "currency": "JPY"}, "principal", "AMOUNT_TOO_PRECISE"),
    ({"principal": 100.5}, "principal", "FLOAT_REFUSED"),
    ({"principal": "NaN"}, "principal", "NOT_A_DECIMAL"),
    ({"principal": "1e5"}, "principal", "NOT_A_DECIMAL"),
    ({"principal": "1_000"}, "principal", "NOT_A_DECIMAL"),
    ({"principal": None}, "principal", "REQUIRED"),
    ({"annual_rate": "-0.01"}, "annual_rate", "RATE_NEGATIVE"),
    ({"annual_rate": 0.049}, "annual_rate", "FLOAT_REFUSED"),
    ({"annual_rate": "10.5"}, "annual_rate", "RATE_TOO_HIGH"),
    ({"annual_rate": "0.04900000001"}, "annual_rate", "RATE_TOO_PRECISE"),
    ({"term_periods": "0"}, "term_periods", "TERM_OUT_OF_RANGE"),
    ({"term_periods": "601"}, "term_periods", "TERM_OUT_OF_RANGE"),
    ({"term_periods": "twelve"}, "term_periods", "NOT_AN_INTEGER"),
    ({"term_periods": True}, "term_periods", "NOT_AN_INTEGER"),
    ({"grace_on_principal_periods": 12}, "grace_on_principal_periods", "GRACE_OUT_OF_RANGE"),
    ({"first_due_date": "2024-01-31"}, "first_due_date", "FIRST_DUE_BEFORE_DISBURSEMENT"),
    ({"first_due_date": "2024-01-01"}, "first_due_date", "FIRST_DUE_BEFORE_DISBURSEMENT"),
    ({"first_due_date": "2024-04-01"}, "first_due_date", "FIRST_PERIOD_TOO_LONG"),
    ({"disbursement_date": "2024-02-30"}, "disbursement_date", "NOT_A_DATE"),
    ({"disbursement_date": "9999-01-01"}, "disbursement_date", "DATE_OUT_OF_RANGE"),
    ({"method": "ANNUITY"}, "method", "UNKNOWN_METHOD"),
    ({"method": "equal_installment"}, "method", "UNKNOWN_METHOD"),
    ({"day_count": "ACT_365"}, "day_count", "UNKNOWN_DAY_COUNT"),
    ({"frequency": "DAILY"}, "frequency", "UNKNOWN_FREQUENCY"),
    ({"rounding_mode": "BANKERS"}, "rounding_mode", "UNKNOWN_ROUNDING_MODE"),
    ({"upfront_fee_treatment": "WAIVED"}, "upfront_fee_treatment", "UNKNOWN_FEE_TREATMENT"),
    ({"business_day_convention": "PRECEDING"}, "business_day_convention",
     "UNKNOWN_BUSINESS_DAY_CONVENTION"),
    ({"currency": "RMB"}, "currency", "UNKNOWN_CURRENCY"),
    ({"currency": "cny"}, "currency", "UNKNOWN_CURRENCY"),
    ({"upfront_fee": "-1"}, "upfront_fee", "FEE_NEGATIVE"),
    ({"upfront_fee": "10000"}, "upfront_fee", "FEE_NOT_LESS_THAN_PRINCIPAL"),
    ({"periodic_fee": "0.001"}, "periodic_fee", "AMOUNT_TOO_PRECISE"),
    ({"installment_multiple": "0"}, "installment_multiple", "AMOUNT_NOT_POSITIVE"),
    ({"installment_multiple": "10", "method": "EQUAL_PRINCIPAL"}, "installment_multiple",
     "MULTIPLE_NOT_APPLICABLE"),
    ({"due_day_of_month": 32}, "due_day_of_month", "DUE_DAY_OUT_OF_RANGE"),
    ({"due_day_of_month": 5, "frequency": "WEEKLY"}, "due_day_of_month",
     "DUE_DAY_NOT_APPLICABLE"),
    ({"holidays": ["2024-13-01"]}, "holidays", "NOT_A_DATE"),
])
def test_bad_input_is_refused_with_the_field_named(changes, field, code):
    assert refusal(**changes) == (field, code)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ScheduleInputError) as caught:
        parse_terms(**{**GOOD, "principal": "-1", "term_periods": "0", "currency": "XYZ"})
    fields = {(p.field, p.code) for p in caught.value.problems}
    assert fields == {("principal", ErrorCode.PRINCIPAL_NOT_POSITIVE),
                      ("term_periods", ErrorCode.TERM_OUT_OF_RANGE),
                      ("currency", ErrorCode.UNKNOWN_CURRENCY)}
    assert str(caught.value).startswith("currency: ")  # the first problem leads the message


def test_error_codes_are_plain_strings_and_errors_share_a_root():
    error = ScheduleInputError("principal", ErrorCode.PRINCIPAL_NOT_POSITIVE, "0 is not positive")
    assert error.code == "PRINCIPAL_NOT_POSITIVE"
    assert isinstance(error, ScheduleError)


@pytest.mark.parametrize(("field", "value", "code"), [
    ("principal", 10000.0, ErrorCode.FLOAT_REFUSED),
    ("principal", D("Infinity"), ErrorCode.NOT_FINITE),
    ("principal", D("NaN"), ErrorCode.NOT_FINITE),
    ("principal", 10000, ErrorCode.NOT_A_DECIMAL),
    ("annual_rate", float("nan"), ErrorCode.FLOAT_REFUSED),
    ("annual_rate", D("-Infinity"), ErrorCode.NOT_FINITE),
    ("upfront_fee", 1.5, ErrorCode.FLOAT_REFUSED),
    ("disbursement_date", datetime(2024, 1, 31, 12, 0), ErrorCode.NOT_A_DATE),
    ("method", "BALLOON", ErrorCode.UNKNOWN_METHOD),
    ("day_count", "30/360", ErrorCode.UNKNOWN_DAY_COUNT),
    ("fixed_level_amount", D("100"), None),
])
def test_terms_built_in_code_are_checked_before_any_arithmetic(field, value, code):
    terms = replace(TERMS, **{field: value})
    problems = check_terms(terms)
    if code is None:
        assert problems == ()
        return
    assert [(p.field, p.code) for p in problems] == [(field, code)]
    with pytest.raises(ScheduleInputError) as caught:
        build_schedule(terms)
    assert (caught.value.field, caught.value.code) == (field, code)


def test_level_amount_only_for_level_methods():
    terms = replace(TERMS, method=Method.BULLET, fixed_level_amount=D("100"))
    assert [p.code for p in check_terms(terms)] == [ErrorCode.LEVEL_AMOUNT_NOT_APPLICABLE]


def test_defaults_come_from_none_so_an_api_can_pass_omitted_fields_through():
    terms = parse_terms(**GOOD, frequency=None, day_count=None, upfront_fee=None,
                        rounding_mode=None, installment_multiple=None, holidays=None)
    assert terms == replace(TERMS, principal=D("10000"))
