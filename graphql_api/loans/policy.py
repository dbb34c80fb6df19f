"""The tenant's five-tier classification policy (五级分类): the days past due at which each class starts,
and the provision rate of each class. Close of business classifies loans and provisions by it."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Union

import sqlalchemy as sa
import strawberry
from strawberry.types import Info

from graphql_api.core import error_types as e
from graphql_api.core.idempotency import run_once
from graphql_api.core.inputs import RefusedInput, input_key, input_reason
from graphql_api.loans.types import LoanClassEnum
from graphql_api.core.threads import read, write
from ledger import errors as ledger_errors
from loans import policy as policy_commands
from loans.delinquency import ClassificationPolicy, LoanClass, policy_to_json
from loans import queries as loan_queries


@strawberry.type(description="What share of a class's outstanding principal the allowance for credit losses holds.")
class ProvisionRate:
    loan_class: LoanClassEnum  # type: ignore[valid-type]
    rate: Decimal = strawberry.field(description="A fraction between 0 and 1, e.g. 0.25 for 25 %.")


@strawberry.type(name="ClassificationPolicy", description="Five-tier classification boundaries and provision rates.")
class ClassificationPolicyType:
    policy: strawberry.Private[ClassificationPolicy]

    @strawberry.field(description="Lowest days past due of SPECIAL_MENTION (关注); below it a loan is NORMAL.")
    def special_mention_from_dpd(self) -> int:
        return self.policy.special_mention_from_dpd

    @strawberry.field(description="Lowest days past due of SUBSTANDARD (次级).")
    def substandard_from_dpd(self) -> int:
        return self.policy.substandard_from_dpd

    @strawberry.field(description="Lowest days past due of DOUBTFUL (可疑).")
    def doubtful_from_dpd(self) -> int:
        return self.policy.doubtful_from_dpd

    @strawberry.field(description="Lowest days past due of LOSS (损失).")
    def loss_from_dpd(self) -> int:
        return self.policy.loss_from_dpd

    @strawberry.field(description="A restructured loan's observation period lasts at least this many months from its first "
                      "repayment date after the restructure; through it the loan is at least SPECIAL_MENTION (关注) "
                      "and no better than before the restructure. Default 12.")
    def restructure_observation_months(self) -> int:
        return self.policy.restructure_observation_months

    @strawberry.field(description="... and at least this many repayment periods (default 2); a missed payment restarts it.")
    def restructure_observation_periods(self) -> int:
        return self.policy.restructure_observation_periods

    @strawberry.field
    def provision_rates(self) -> list[ProvisionRate]:
        return [ProvisionRate(loan_class=LoanClassEnum[c.name], rate=self.policy.provision_rates[c]) for c in LoanClass]


@strawberry.input
class ProvisionRateInput:
    loan_class: LoanClassEnum  # type: ignore[valid-type]
    rate: Decimal


@strawberry.input(description="Change what you give; the rest stays. Takes effect from the next close of business.")
class SetClassificationPolicyInput:
    special_mention_from_dpd: int | None = None
    substandard_from_dpd: int | None = None
    doubtful_from_dpd: int | None = None
    loss_from_dpd: int | None = None
    restructure_observation_months: int | None = None
    restructure_observation_periods: int | None = None
    provision_rates: list[ProvisionRateInput] | None = None
    reason: str | None = strawberry.field(default=None, description="Why; kept in the audit trail.")
    idempotency_key: str | None = None


@strawberry.type(description="The policy now in force.")
class SetClassificationPolicyPayload:
    policy: ClassificationPolicyType
    replayed: bool


policy_errors = (e.InvalidInputError, e.InvalidClassificationPolicyError, e.IdempotencyConflictError,
                 e.TransactionRetriesExhaustedError, e.GenericError)
SetClassificationPolicyResult = Annotated[
    Union[(SetClassificationPolicyPayload, *policy_errors)], strawberry.union("SetClassificationPolicyResult")  # noqa: UP007
]


@strawberry.type
class PolicyQuery:
    @strawberry.field(description="Your five-tier classification boundaries (days past due) and provision rates.")
    async def classification_policy(self, info: Info) -> ClassificationPolicyType:
        ctx = info.context
        session = await ctx.authorize("classificationPolicy")
        return ClassificationPolicyType(policy=await read(ctx.engine, loan_queries.classification_policy, session.principal.tenant_id))


@strawberry.type
class PolicyMutation:
    @strawberry.mutation(
        description="Change the five-tier classification boundaries and provision rates, from the next close of business. "
        "Roles: ADMIN, FINANCE."
    )
    async def set_classification_policy(
        self, info: Info, input: SetClassificationPolicyInput  # noqa: A002
    ) -> SetClassificationPolicyResult:  # type: ignore[valid-type]
        ctx = info.context
        session = await ctx.authorize("setClassificationPolicy")
        try:
            key = input_key(input.idempotency_key)
            actor = ctx.actor(reason=input_reason(input.reason))
            rates = {}
            for item in input.provision_rates or []:
                loan_class = LoanClass[item.loan_class.name]
                if loan_class.value in rates:
                    raise RefusedInput(f"provisionRates names {loan_class.value} twice", "provisionRates")
                rates[loan_class.value] = str(item.rate)
        except RefusedInput as refused:
            return refused.result
        bounds = {
            "special_mention_from_dpd": input.special_mention_from_dpd, "substandard_from_dpd": input.substandard_from_dpd,
            "doubtful_from_dpd": input.doubtful_from_dpd, "loss_from_dpd": input.loss_from_dpd,
            "restructure_observation_months": input.restructure_observation_months,
            "restructure_observation_periods": input.restructure_observation_periods,
        }
        request = {**{k: v for k, v in bounds.items() if v is not None}, "provision_rates": rates}

        def command(conn: sa.Connection) -> dict:
            current = policy_to_json(loan_queries.classification_policy(conn, actor.tenant_id))
            changes = {k: v for k, v in bounds.items() if v is not None}
            if rates:
                changes["provision_rates"] = {**current["provision_rates"], **rates}  # type: ignore[dict-item]
            return policy_to_json(policy_commands.set_classification_policy(conn, actor, changes))

        def work(conn: sa.Connection) -> tuple[ClassificationPolicy, bool]:
            _, replayed = run_once(conn, actor, key, "setClassificationPolicy", request, command)
            return loan_queries.classification_policy(conn, actor.tenant_id), replayed

        try:
            policy, replayed = await write(ctx.engine, work)
        except ledger_errors.LedgerError as exc:
            return e.error_result(exc, policy_errors)
        session.loaders.clear()
        return SetClassificationPolicyPayload(policy=ClassificationPolicyType(policy=policy), replayed=replayed)
