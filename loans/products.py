"""Loan products: the terms a loan is booked under, versioned (a loan keeps its version).

Amounts are Decimal in the product's currency; rates are Decimal fractions (0.24 = 24 % a year,
0.0005 = 0.05 % a day). `gl_accounts` maps each money role to a GL account code of the tenant.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import ROUND_HALF_UP, Decimal

from ledger.money import currency_exponent, parse_decimal, to_minor
from loans.errors import InvalidProduct
from loans.model import GlRole
from schedules import DayCount, FeeTreatment, Frequency, Method, RoundingMode, term_periods_max
from schedules.regenerate import PrepaymentMode


class AllocationOrder(str, enum.Enum):
    # Across all due installments: every penalty, then fees oldest first, then interest, then principal.
    PENALTY_FEE_INTEREST_PRINCIPAL = "PENALTY_FEE_INTEREST_PRINCIPAL"
    # Oldest installment first, settling its fee, interest and principal before the next one.
    INSTALLMENT_BY_INSTALLMENT = "INSTALLMENT_BY_INSTALLMENT"


class AccountingBasis(str, enum.Enum):
    ACCRUAL = "ACCRUAL"
    CASH = "CASH"


# Money roles a product maps to GL accounts (in GlRole's order); the defaults are the default chart's codes.
money_roles = tuple(role.value for role in GlRole)
default_gl_accounts = {
    "bank": "1100", "loans_receivable": "1200", "interest_receivable": "1210", "fee_receivable": "1220",
    "penalty_receivable": "1230", "allowance": "1290", "overpayments": "2100", "suspense": "2200",
    "interest_income": "4100", "fee_income": "4200", "penalty_income": "4300", "recoveries": "4400",
    "write_off_expense": "5100",
}
product_code_length_max = 40


@dataclass(frozen=True, slots=True, kw_only=True)
class Product:
    code: str
    name: str
    currency: str
    method: Method = Method.EQUAL_INSTALLMENT
    frequency: Frequency = Frequency.MONTHLY
    day_count: DayCount = DayCount.THIRTY_360
    rounding_mode: RoundingMode = RoundingMode.HALF_UP
    amount_min: Decimal = Decimal(1)
    amount_max: Decimal = Decimal(1_000_000)
    term_min: int = 1
    term_max: int = 36
    rate_min: Decimal = Decimal(0)
    rate_max: Decimal = Decimal("0.24")
    origination_fee_rate: Decimal = Decimal(0)  # fraction of the principal
    origination_fee_fixed: Decimal = Decimal(0)
    fee_treatment: FeeTreatment = FeeTreatment.DEDUCTED
    periodic_fee: Decimal = Decimal(0)
    late_fee: Decimal = Decimal(0)  # charged once per installment past late_fee_grace_days
    late_fee_grace_days: int = 0
    penalty_daily_rate: Decimal = Decimal(0)  # on overdue principal, per day past the grace days
    penalty_grace_days: int = 0
    allocation_order: AllocationOrder = AllocationOrder.PENALTY_FEE_INTEREST_PRINCIPAL
    accounting_basis: AccountingBasis = AccountingBasis.ACCRUAL
    non_accrual_dpd: int = 90
    prepayment_mode: PrepaymentMode = PrepaymentMode.REDUCE_INSTALLMENT
    gl_accounts: Mapping[str, str] = field(default_factory=lambda: dict(default_gl_accounts))
    version: int = 1

    def account(self, role: str) -> str:
        return self.gl_accounts[role]


_decimal_fields = {
    "amount_min", "amount_max", "rate_min", "rate_max", "origination_fee_rate", "origination_fee_fixed",
    "periodic_fee", "late_fee", "penalty_daily_rate",
}
_enum_fields = {
    "method": Method, "frequency": Frequency, "day_count": DayCount, "rounding_mode": RoundingMode,
    "fee_treatment": FeeTreatment, "allocation_order": AllocationOrder, "accounting_basis": AccountingBasis,
    "prepayment_mode": PrepaymentMode,
}
_int_fields = {"term_min", "term_max", "late_fee_grace_days", "penalty_grace_days", "non_accrual_dpd", "version"}


def parse_product(values: Mapping[str, object]) -> Product:
    """A validated Product from loose input (decimal strings, enum names); errors name the field."""
    known = {f.name for f in fields(Product)}
    unknown = set(values) - known
    if unknown:
        raise InvalidProduct(f"unknown product field(s): {', '.join(sorted(unknown))}")
    kwargs: dict[str, object] = {}
    for name, raw in values.items():
        if raw is None:
            continue
        if name in _decimal_fields:
            kwargs[name] = parse_decimal(raw, name)
        elif name in _enum_fields:
            try:
                kwargs[name] = _enum_fields[name](raw)
            except ValueError:
                choices = ", ".join(m.value for m in _enum_fields[name])
                raise InvalidProduct(f"{name} must be one of {choices}, got {raw!r}", field=name) from None
        elif name in _int_fields:
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise InvalidProduct(f"{name} must be an integer", field=name)
            kwargs[name] = raw
        elif name == "gl_accounts":
            kwargs[name] = {**default_gl_accounts, **dict(raw)}  # type: ignore[arg-type]
        else:
            kwargs[name] = raw
    for required in ("code", "name", "currency"):
        if not kwargs.get(required):
            raise InvalidProduct(f"{required} is required", field=required)
    product = Product(**kwargs)  # type: ignore[arg-type]
    check_product(product)
    return product


def check_product(p: Product) -> None:
    def bad(field_name: str, message: str) -> InvalidProduct:
        return InvalidProduct(f"{field_name}: {message}", field=field_name)

    if not isinstance(p.code, str) or not 0 < len(p.code) <= product_code_length_max:
        raise bad("code", f"must be 1 to {product_code_length_max} characters")
    currency_exponent(p.currency)
    for name in ("amount_min", "amount_max", "origination_fee_fixed", "periodic_fee", "late_fee"):
        to_minor(getattr(p, name), p.currency, name)  # refuses over-precise amounts
    if p.amount_min <= 0 or p.amount_max < p.amount_min:
        raise bad("amount_min", "amounts must satisfy 0 < amount_min <= amount_max")
    if not 1 <= p.term_min <= p.term_max <= term_periods_max:
        raise bad("term_min", f"terms must satisfy 1 <= term_min <= term_max <= {term_periods_max}")
    if p.rate_min < 0 or p.rate_max < p.rate_min or p.rate_max > 10:
        raise bad("rate_max", "rates must satisfy 0 <= rate_min <= rate_max <= 10 (fractions a year)")
    for name in ("origination_fee_rate", "penalty_daily_rate"):
        if not 0 <= getattr(p, name) < 1:
            raise bad(name, "must be a fraction between 0 and 1")
    for name in ("origination_fee_fixed", "periodic_fee", "late_fee"):
        if getattr(p, name) < 0:
            raise bad(name, "must not be negative")
    for name in ("late_fee_grace_days", "penalty_grace_days"):
        if not 0 <= getattr(p, name) <= 3650:
            raise bad(name, "must be between 0 and 3650 days")
    if not 1 <= p.non_accrual_dpd <= 3650:
        raise bad("non_accrual_dpd", "must be between 1 and 3650 days")
    missing = [r for r in money_roles if r not in p.gl_accounts]
    if missing:
        raise bad("gl_accounts", f"no account for role(s) {', '.join(missing)}")


def product_to_json(p: Product) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in fields(Product):
        value = getattr(p, f.name)
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, enum.Enum):
            value = value.value
        elif f.name == "gl_accounts":
            value = dict(value)
        out[f.name] = value
    return out


def product_from_json(data: Mapping[str, object]) -> Product:
    return parse_product(data)


def origination_fee(p: Product, principal: Decimal) -> Decimal:
    """Percentage plus fixed fee, rounded half-up to the currency's minor unit."""
    exponent = currency_exponent(p.currency)
    quantum = Decimal(1).scaleb(-exponent)
    return (principal * p.origination_fee_rate).quantize(quantum, rounding=ROUND_HALF_UP) + p.origination_fee_fixed
