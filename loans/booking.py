"""From a product and an application to schedule terms, a schedule and the installments to service. Pure."""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, fields
from decimal import Decimal

from ledger.money import to_minor
from loans.errors import InvalidSchedule, OutsideProductRange
from loans.products import Product, origination_fee
from loans.state import InstallmentState
from schedules import (
    BusinessDayConvention,
    DayCount,
    FeeTreatment,
    Frequency,
    Method,
    RoundingMode,
    Schedule,
    ScheduleError,
    ScheduleTerms,
    build_schedule,
)


@dataclass(frozen=True, slots=True)
class Application:
    principal: Decimal
    annual_rate: Decimal
    term_periods: int
    disbursement_date: dt.date
    first_due_date: dt.date | None = None


def terms_for(product: Product, app: Application) -> ScheduleTerms:
    """Schedule terms under the product; refuses what the product does not allow."""
    to_minor(app.principal, product.currency, "principal")
    if not product.amount_min <= app.principal <= product.amount_max:
        raise OutsideProductRange(
            f"principal {app.principal} is outside the product's range {product.amount_min} to {product.amount_max}", field="principal"
        )
    if not product.term_min <= app.term_periods <= product.term_max:
        raise OutsideProductRange(
            f"term {app.term_periods} is outside the product's range {product.term_min} to {product.term_max}", field="termPeriods"
        )
    if not product.rate_min <= app.annual_rate <= product.rate_max:
        raise OutsideProductRange(
            f"rate {app.annual_rate} is outside the product's range {product.rate_min} to {product.rate_max}", field="annualRate"
        )
    return ScheduleTerms(
        principal=app.principal,
        currency=product.currency,
        annual_rate=app.annual_rate,
        term_periods=app.term_periods,
        method=product.method,
        disbursement_date=app.disbursement_date,
        frequency=product.frequency,
        first_due_date=app.first_due_date,
        day_count=product.day_count,
        upfront_fee=origination_fee(product, app.principal),
        upfront_fee_treatment=product.fee_treatment,
        periodic_fee=product.periodic_fee,
        rounding_mode=product.rounding_mode,
    )


def schedule_for(product: Product, app: Application) -> Schedule:
    try:
        return build_schedule(terms_for(product, app))
    except ScheduleError as exc:
        raise InvalidSchedule(str(exc)) from exc


def installments_from(schedule: Schedule) -> tuple[InstallmentState, ...]:
    currency = schedule.terms.currency
    return tuple(
        InstallmentState(
            number=i.number,
            due_date=i.due_date,
            accrual_start=i.accrual_start,
            accrual_end=i.accrual_end,
            principal=to_minor(i.principal, currency),
            interest=to_minor(i.interest, currency),
            fee=to_minor(i.fee, currency),
        )
        for i in schedule.installments
    )


def terms_to_json(terms: ScheduleTerms) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in fields(ScheduleTerms):
        value = getattr(terms, f.name)
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, frozenset):
            value = sorted(d.isoformat() for d in value)
        elif isinstance(value, enum.Enum):
            value = value.value
        out[f.name] = value
    return out


def terms_from_json(data: dict[str, object]) -> ScheduleTerms:
    kwargs: dict[str, object] = {}
    types = {f.name: f for f in fields(ScheduleTerms)}
    enums = {"method": Method, "frequency": Frequency, "day_count": DayCount, "rounding_mode": RoundingMode,
             "upfront_fee_treatment": FeeTreatment, "business_day_convention": BusinessDayConvention}
    for name, value in data.items():
        if name not in types or value is None:
            continue
        if name in enums:
            value = enums[name](value)
        elif name in ("disbursement_date", "first_due_date"):
            value = dt.date.fromisoformat(value)  # type: ignore[arg-type]
        elif name == "holidays":
            value = frozenset(dt.date.fromisoformat(d) for d in value)  # type: ignore[union-attr]
        elif name in ("principal", "annual_rate", "upfront_fee", "periodic_fee", "installment_multiple", "fixed_level_amount"):
            value = Decimal(value)  # type: ignore[arg-type]
        kwargs[name] = value
    return ScheduleTerms(**kwargs)  # type: ignore[arg-type]
