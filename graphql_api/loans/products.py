"""Loan products: the list (latest versions by default), one product, and createLoanProduct (a new version)."""
from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Annotated, Union

import strawberry
from strawberry.types import Info

from graphql_api.core import error_types as e
from graphql_api.core.errors import BadUserInput
from graphql_api.core.idempotency import run_once
from graphql_api.core.inputs import RefusedInput, input_key
from graphql_api.core.scalars import check_page_size
from loans.queries import ProductRecord, products_page
from graphql_api.core.scalars import decode_cursor, encode_cursor, utc
from graphql_api.schedules.preview import DayCountEnum, FeeTreatmentEnum, FrequencyEnum, MethodEnum, RoundingModeEnum
from graphql_api.core.threads import read, write
from graphql_api.core.types import Connection, Money, as_mirror, connection, mirror_enum, money_from_decimal
from ledger import errors as ledger_errors
from loans import catalogue
from loans.products import AccountingBasis, AllocationOrder, money_roles, product_code_length_max
from schedules.regenerate import PrepaymentMode

products_page_size_default = 50

AllocationOrderEnum = mirror_enum(
    AllocationOrder, "How a repayment is split: every penalty, fee, interest then principal; or oldest installment first, in full."
)
AccountingBasisEnum = mirror_enum(AccountingBasis, "ACCRUAL recognises interest daily; CASH when it is paid.")
PrepaymentModeEnum = mirror_enum(PrepaymentMode, "After a partial prepayment: REDUCE_INSTALLMENT keeps the maturity, REDUCE_TERM keeps the installment.")
MoneyRoleEnum = strawberry.enum(
    enum.Enum("MoneyRole", {role.upper(): role.upper() for role in money_roles}),
    name="MoneyRole", description="A role money plays in a loan; a product maps each to a GL account.",
)


@strawberry.type(description="Which GL account a money role posts to.")
class GlAccountMapping:
    role: MoneyRoleEnum  # type: ignore[valid-type]
    account_code: str


@strawberry.type(description="A loan product version: the terms a loan is booked under. Loans keep their version.")
class LoanProduct:
    record: strawberry.Private[ProductRecord]

    @strawberry.field
    def code(self) -> str:
        return self.record.product.code

    @strawberry.field
    def version(self) -> int:
        return self.record.product.version

    @strawberry.field
    def name(self) -> str:
        return self.record.product.name

    @strawberry.field
    def currency(self) -> str:
        return self.record.product.currency

    @strawberry.field
    def method(self) -> MethodEnum:  # type: ignore[valid-type]
        return as_mirror(MethodEnum, self.record.product.method)

    @strawberry.field
    def frequency(self) -> FrequencyEnum:  # type: ignore[valid-type]
        return as_mirror(FrequencyEnum, self.record.product.frequency)

    @strawberry.field
    def day_count(self) -> DayCountEnum:  # type: ignore[valid-type]
        return as_mirror(DayCountEnum, self.record.product.day_count)

    @strawberry.field
    def rounding_mode(self) -> RoundingModeEnum:  # type: ignore[valid-type]
        return as_mirror(RoundingModeEnum, self.record.product.rounding_mode)

    @strawberry.field
    def amount_min(self) -> Money:
        return money_from_decimal(self.record.product.amount_min, self.record.product.currency)

    @strawberry.field
    def amount_max(self) -> Money:
        return money_from_decimal(self.record.product.amount_max, self.record.product.currency)

    @strawberry.field
    def term_min(self) -> int:
        return self.record.product.term_min

    @strawberry.field
    def term_max(self) -> int:
        return self.record.product.term_max

    @strawberry.field(description='Nominal annual rates as fractions: "0.24" is 24 %.')
    def rate_min(self) -> Decimal:
        return self.record.product.rate_min

    @strawberry.field
    def rate_max(self) -> Decimal:
        return self.record.product.rate_max

    @strawberry.field(description="Fraction of the principal.")
    def origination_fee_rate(self) -> Decimal:
        return self.record.product.origination_fee_rate

    @strawberry.field
    def origination_fee_fixed(self) -> Money:
        return money_from_decimal(self.record.product.origination_fee_fixed, self.record.product.currency)

    @strawberry.field
    def fee_treatment(self) -> FeeTreatmentEnum:  # type: ignore[valid-type]
        return as_mirror(FeeTreatmentEnum, self.record.product.fee_treatment)

    @strawberry.field
    def periodic_fee(self) -> Money:
        return money_from_decimal(self.record.product.periodic_fee, self.record.product.currency)

    @strawberry.field(description="Charged once per installment still unpaid `lateFeeGraceDays` after it fell due.")
    def late_fee(self) -> Money:
        return money_from_decimal(self.record.product.late_fee, self.record.product.currency)

    @strawberry.field
    def late_fee_grace_days(self) -> int:
        return self.record.product.late_fee_grace_days

    @strawberry.field(description='Penalty interest per day on overdue principal: "0.0005" is 0.05 % a day.')
    def penalty_daily_rate(self) -> Decimal:
        return self.record.product.penalty_daily_rate

    @strawberry.field
    def penalty_grace_days(self) -> int:
        return self.record.product.penalty_grace_days

    @strawberry.field
    def allocation_order(self) -> AllocationOrderEnum:  # type: ignore[valid-type]
        return as_mirror(AllocationOrderEnum, self.record.product.allocation_order)

    @strawberry.field
    def accounting_basis(self) -> AccountingBasisEnum:  # type: ignore[valid-type]
        return as_mirror(AccountingBasisEnum, self.record.product.accounting_basis)

    @strawberry.field(description="Days past due beyond which interest stops being recognised as income.")
    def non_accrual_dpd(self) -> int:
        return self.record.product.non_accrual_dpd

    @strawberry.field(description="The default for a partial prepayment that names no mode.")
    def prepayment_mode(self) -> PrepaymentModeEnum:  # type: ignore[valid-type]
        return as_mirror(PrepaymentModeEnum, self.record.product.prepayment_mode)

    @strawberry.field
    def gl_accounts(self) -> list[GlAccountMapping]:
        mapping = self.record.product.gl_accounts
        return [GlAccountMapping(role=MoneyRoleEnum[role.upper()], account_code=mapping[role]) for role in money_roles]

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return utc(self.record.created_at)

    @strawberry.field
    def created_by(self) -> str:
        return self.record.created_by


@strawberry.input(description="Map a money role to one of your GL account codes; roles you leave out keep the default chart's account.")
class GlAccountMappingInput:
    role: MoneyRoleEnum  # type: ignore[valid-type]
    account_code: str


@strawberry.input(description="A loan product, or a new version of an existing code. Unset fields take the defaults shown in `loanProduct`.")
class CreateLoanProductInput:
    code: str
    name: str
    currency: str
    method: MethodEnum | None = None  # type: ignore[valid-type]
    frequency: FrequencyEnum | None = None  # type: ignore[valid-type]
    day_count: DayCountEnum | None = None  # type: ignore[valid-type]
    rounding_mode: RoundingModeEnum | None = None  # type: ignore[valid-type]
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    term_min: int | None = None
    term_max: int | None = None
    rate_min: Decimal | None = None
    rate_max: Decimal | None = None
    origination_fee_rate: Decimal | None = None
    origination_fee_fixed: Decimal | None = None
    fee_treatment: FeeTreatmentEnum | None = None  # type: ignore[valid-type]
    periodic_fee: Decimal | None = None
    late_fee: Decimal | None = None
    late_fee_grace_days: int | None = None
    penalty_daily_rate: Decimal | None = None
    penalty_grace_days: int | None = None
    allocation_order: AllocationOrderEnum | None = None  # type: ignore[valid-type]
    accounting_basis: AccountingBasisEnum | None = None  # type: ignore[valid-type]
    non_accrual_dpd: int | None = None
    prepayment_mode: PrepaymentModeEnum | None = None  # type: ignore[valid-type]
    gl_accounts: list[GlAccountMappingInput] | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="Replaying the same key with the same input returns the version it created."
    )


@strawberry.type
class CreateLoanProductPayload:
    product: LoanProduct
    replayed: bool


create_product_errors = (
    e.InvalidInputError, e.InvalidProductError, e.InvalidAmountError, e.AmountTooPreciseError, e.AmountOutOfRangeError,
    e.UnknownCurrencyError, e.IdempotencyConflictError, e.TransactionRetriesExhaustedError, e.GenericError,
)
CreateLoanProductResult = Annotated[
    Union[(CreateLoanProductPayload, *create_product_errors)], strawberry.union("CreateLoanProductResult")  # noqa: UP007
]
_passed_as_is = (
    "code", "name", "currency", "term_min", "term_max", "late_fee_grace_days", "penalty_grace_days", "non_accrual_dpd",
)
_decimals = (
    "amount_min", "amount_max", "rate_min", "rate_max", "origination_fee_rate", "origination_fee_fixed", "periodic_fee",
    "late_fee", "penalty_daily_rate",
)
_enums = (
    "method", "frequency", "day_count", "rounding_mode", "fee_treatment", "allocation_order", "accounting_basis", "prepayment_mode",
)


def product_values(data: CreateLoanProductInput) -> dict[str, object]:
    """The snake_case values loans.catalogue.create_product takes: decimals as strings, enums by name."""
    values: dict[str, object] = {name: getattr(data, name) for name in _passed_as_is}
    values.update({name: str(getattr(data, name)) for name in _decimals if getattr(data, name) is not None})
    values.update({name: getattr(data, name).name for name in _enums if getattr(data, name) is not None})
    if data.gl_accounts is not None:
        roles = [m.role.name.lower() for m in data.gl_accounts]
        if len(set(roles)) != len(roles):
            raise RefusedInput("glAccounts names a role twice", "glAccounts")
        values["gl_accounts"] = {m.role.name.lower(): m.account_code for m in data.gl_accounts}
    return {name: value for name, value in values.items() if value is not None}


@strawberry.type
class ProductQuery:
    @strawberry.field(description="Loan products by code; each code's latest version unless `allVersions`.")
    async def loan_products(
        self,
        info: Info,
        first: int = products_page_size_default,
        after: str | None = None,
        code: str | None = None,
        all_versions: bool = False,
    ) -> Connection[LoanProduct]:
        ctx = info.context
        session = await ctx.authorize("loanProducts")
        check_page_size(first)
        position = None
        if after is not None:
            after_code, after_version = decode_cursor("LoanProduct", after, 2)
            if not after_version.isdigit():
                raise BadUserInput("the `after` cursor is not one this list returned; start again without it")
            position = (after_code, int(after_version))
        found = await read(
            ctx.engine, lambda conn: products_page(
                conn, session.principal.tenant_id, after=position, limit=first + 1, code=code, all_versions=all_versions,
            )
        )
        items = [
            (encode_cursor("LoanProduct", p.product.code, str(p.product.version)), LoanProduct(record=p)) for p in found[:first]
        ]
        return connection(items, has_next=len(found) > first, has_previous=after is not None)

    @strawberry.field(description="One product by code: its latest version, or `version`.")
    async def loan_product(self, info: Info, code: str, version: int | None = None) -> LoanProduct | None:
        ctx = info.context
        session = await ctx.authorize("loanProduct")
        if len(code) > product_code_length_max:
            return None
        if version is None:
            found = await read(
                ctx.engine, lambda conn: products_page(conn, session.principal.tenant_id, after=None, limit=1, code=code, all_versions=False)
            )
            record = found[0] if found else None
        else:
            record = await session.loaders.product.load((code, version))
        return None if record is None else LoanProduct(record=record)


@strawberry.type
class ProductMutation:
    @strawberry.mutation(description="A loan product, or the next version of a code. Roles: ADMIN, FINANCE.")
    async def create_loan_product(
        self, info: Info, input: CreateLoanProductInput  # noqa: A002
    ) -> CreateLoanProductResult:
        ctx = info.context
        session = await ctx.authorize("createLoanProduct")
        try:
            key = input_key(input.idempotency_key)
            values = product_values(input)
        except RefusedInput as refused:
            return refused.result
        actor = ctx.actor()

        def command(conn) -> dict:  # noqa: ANN001
            product = catalogue.create_product(conn, actor, values)
            return {"code": product.code, "version": product.version}

        try:
            result, replayed = await write(ctx.engine, lambda conn: run_once(conn, actor, key, "createLoanProduct", values, command))
        except ledger_errors.LedgerError as exc:
            return e.error_result(exc, create_product_errors)
        session.loaders.clear()
        record = await session.loaders.product.load((str(result["code"]), int(result["version"])))  # type: ignore[call-overload]
        assert record is not None, "the product version just created is not readable"
        return CreateLoanProductPayload(product=LoanProduct(record=record), replayed=replayed)
