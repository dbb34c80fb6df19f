"""From a product and an application to schedule terms, a schedule and the installments to service. Pure."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from ledger.money import to_minor
from loans.errors import InvalidSchedule, OutsideProductRange
from loans.products import Product, origination_fee
from loans.state import InstallmentState
from schedules import Schedule, ScheduleError, ScheduleTerms, build_schedule


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
