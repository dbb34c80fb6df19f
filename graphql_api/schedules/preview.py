"""previewSchedule: an amortization schedule for proposed terms, computed by `schedules` (pure, no database).

Bad terms come back as one BAD_USER_INPUT error listing every problem in `extensions.problems`, each
naming its input field (camelCase, as the client wrote it) with the schedules package's stable code.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry
from anyio import to_thread
from strawberry.types import Info

import schedules
from graphql_api.core.errors import PublicError
from graphql_api.core.types import mirror_enum


MethodEnum = mirror_enum(
    schedules.Method,
    "EQUAL_INSTALLMENT (annuity, 等额本息), EQUAL_PRINCIPAL (等额本金), INTEREST_ONLY (先息后本), "
    "BULLET (一次性还本付息), FLAT (interest on the original principal, spread evenly).",
)
FrequencyEnum = mirror_enum(schedules.Frequency, "How often installments fall due.")
DayCountEnum = mirror_enum(schedules.DayCount, "THIRTY_360 accrues equal periods (monthly rate = annual / 12); the others count actual days.")
RoundingModeEnum = mirror_enum(schedules.RoundingMode, "How amounts are rounded to the currency's minor unit.")
FeeTreatmentEnum = mirror_enum(schedules.FeeTreatment, "DEDUCTED: the borrower receives principal - fee; FINANCED: the fee is added to the loan.")
BusinessDayConventionEnum = mirror_enum(schedules.BusinessDayConvention, "How a due date on a weekend or holiday moves.")


@strawberry.input(description="Proposed loan terms. Amounts and rates are decimal strings; \"0.049\" is 4.9 % a year.")
class ScheduleInput:
    principal: Decimal
    currency: str = strawberry.field(description="ISO 4217 code; amounts are rounded to its minor unit.")
    annual_rate: Decimal = strawberry.field(description='Nominal annual rate as a fraction: "0.049" is 4.9 %.')
    term_periods: int
    method: MethodEnum  # type: ignore[valid-type]
    disbursement_date: dt.date
    frequency: FrequencyEnum = FrequencyEnum.MONTHLY  # type: ignore[valid-type, attr-defined]
    first_due_date: dt.date | None = strawberry.field(default=None, description="Default: one period after disbursement.")
    day_count: DayCountEnum = DayCountEnum.THIRTY_360  # type: ignore[valid-type, attr-defined]
    grace_on_principal_periods: int = strawberry.field(default=0, description="Interest-only periods before principal starts.")
    upfront_fee: Decimal | None = strawberry.field(default=None, description="Charged at disbursement; default 0.")
    upfront_fee_treatment: FeeTreatmentEnum = FeeTreatmentEnum.DEDUCTED  # type: ignore[valid-type, attr-defined]
    periodic_fee: Decimal | None = strawberry.field(default=None, description="Charged with every period; default 0.")
    rounding_mode: RoundingModeEnum = RoundingModeEnum.HALF_UP  # type: ignore[valid-type, attr-defined]
    installment_multiple: Decimal | None = strawberry.field(
        default=None, description='Round installments to multiples of this (e.g. "10"); the last one takes the remainder.'
    )
    business_day_convention: BusinessDayConventionEnum = BusinessDayConventionEnum.NONE  # type: ignore[valid-type, attr-defined]
    holidays: list[dt.date] | None = strawberry.field(default=None, description="Non-business days besides weekends.")
    due_day_of_month: int | None = strawberry.field(default=None, description="Day monthly dates anchor on; 31 means month-end.")


@strawberry.type(name="ScheduleInstallment")
class ScheduleInstallment:
    number: int
    due_date: dt.date = strawberry.field(description="When the borrower pays (business-day adjusted).")
    principal: Decimal
    interest: Decimal
    fee: Decimal
    total: Decimal
    balance_after: Decimal = strawberry.field(description="Principal still owed once this installment is paid.")
    accrual_start: dt.date
    accrual_end: dt.date


@strawberry.type(description="A repayment schedule and its totals; every amount in the currency's minor unit.")
class Schedule:
    currency: str
    installments: list[ScheduleInstallment]
    financed_principal: Decimal = strawberry.field(description="What the schedule amortises: principal, plus the fee if financed.")
    disbursed_amount: Decimal = strawberry.field(description="Cash the borrower receives: principal, less the fee if deducted.")
    upfront_fee: Decimal
    total_principal: Decimal
    total_interest: Decimal
    total_fees: Decimal = strawberry.field(description="Periodic fees; the upfront fee is reported separately.")
    total_payment: Decimal
    annualized_rate: Decimal = strawberry.field(
        description="All-in nominal annual rate: IRR of the borrower's cash flows (fees included) x periods per year; rounded up to 6 places."
    )
    effective_annual_rate: Decimal = strawberry.field(description="(1 + periodic IRR) ^ periods per year - 1; rounded up to 6 places.")


def _camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


def schedule_for(data: ScheduleInput) -> schedules.Schedule:
    terms = schedules.parse_terms(
        principal=data.principal, currency=data.currency, annual_rate=data.annual_rate,
        term_periods=data.term_periods, method=data.method.name, disbursement_date=data.disbursement_date,
        frequency=data.frequency.name, first_due_date=data.first_due_date, day_count=data.day_count.name,
        grace_on_principal_periods=data.grace_on_principal_periods, upfront_fee=data.upfront_fee,
        upfront_fee_treatment=data.upfront_fee_treatment.name, periodic_fee=data.periodic_fee,
        rounding_mode=data.rounding_mode.name, installment_multiple=data.installment_multiple,
        holidays=data.holidays, business_day_convention=data.business_day_convention.name,
        due_day_of_month=data.due_day_of_month,
    )
    return schedules.build_schedule(terms)


def schedule_type(schedule: schedules.Schedule) -> Schedule:
    return Schedule(
        currency=schedule.terms.currency,
        installments=[
            ScheduleInstallment(
                number=i.number, due_date=i.due_date, principal=i.principal, interest=i.interest, fee=i.fee,
                total=i.total, balance_after=i.balance_after, accrual_start=i.accrual_start, accrual_end=i.accrual_end,
            )
            for i in schedule.installments
        ],
        financed_principal=schedule.financed_principal, disbursed_amount=schedule.disbursed_amount,
        upfront_fee=schedule.upfront_fee, total_principal=schedule.total_principal,
        total_interest=schedule.total_interest, total_fees=schedule.total_fees, total_payment=schedule.total_payment,
        annualized_rate=schedule.annualized_rate, effective_annual_rate=schedule.effective_annual_rate,
    )


@strawberry.type
class ScheduleQuery:
    @strawberry.field(description="An amortization schedule for proposed terms, with the all-in annualised rate. Nothing is stored.")
    async def preview_schedule(self, info: Info, input: ScheduleInput) -> Schedule:  # noqa: A002
        await info.context.authorize("previewSchedule")
        try:
            # Up to 600 periods and a root finder: CPU work, kept off the event loop like database work.
            schedule = await to_thread.run_sync(schedule_for, input)
        except schedules.ScheduleInputError as exc:
            problems = [{"field": _camel(p.field), "code": str(p.code), "message": p.message} for p in exc.problems]
            message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
            raise PublicError(message, field=problems[0]["field"], problems=problems) from None
        except schedules.RateNotFound as exc:
            raise PublicError(exc.message, code=str(exc.code)) from None
        return schedule_type(schedule)
