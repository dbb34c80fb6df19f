"""The tenant's matching rules over GraphQL: the list in priority order, and replacing it.

The rules are data (reconciliation.matching): each a kind and the parameters that kind takes. The
query lists them with every parameter at the value it runs with; the mutation replaces the whole
list, checked strictly (a parameter the kind does not take is an error, not ignored) and audited.
"""
from __future__ import annotations

import enum

import sqlalchemy as sa
import strawberry
from strawberry.types import Info

from graphql_api.core import error_types as e
from graphql_api.core.inputs import RefusedInput, input_reason
from graphql_api.core.threads import read, write
from ledger import errors as ledger_errors
from reconciliation import matching, reconciling


@strawberry.enum(description="A matching rule's kind (docs/reconciliation.md): REFERENCE (the bank's reference or end-to-end id "
                             "equals an entry's), REFERENCE_IN_TEXT (a loan or contract number in the narrative), PAYER_ACCOUNT "
                             "(the payer's account is a borrower's registered account), AMOUNT_DATE (equal amount within `days`), "
                             "ONE_TO_MANY and MANY_TO_ONE (batches and splits), AMOUNT_TOLERANCE (bank charges deducted; "
                             "proposals only).")
class ReconciliationRuleKind(enum.Enum):
    REFERENCE = "reference"
    REFERENCE_IN_TEXT = "reference_in_text"
    PAYER_ACCOUNT = "payer_account"
    AMOUNT_DATE = "amount_date"
    ONE_TO_MANY = "one_to_many"
    MANY_TO_ONE = "many_to_one"
    AMOUNT_TOLERANCE = "amount_tolerance"


_parameters = ("days", "name_similarity_min", "size_max", "candidates_max", "tolerance_minor")


@strawberry.type(description="One matching rule; a parameter its kind does not take is null.")
class ReconciliationRule:
    priority: int = strawberry.field(description="1 runs first; each rule sees only what the rules before it left.")
    kind: ReconciliationRuleKind
    days: int | None = strawberry.field(default=None, description="The date window, in days either side.")
    name_similarity_min: int | None = strawberry.field(
        default=None, description="AMOUNT_DATE: the counterparty name similarity (0-100) that picks one candidate; 0 is off.")
    size_max: int | None = strawberry.field(default=None, description="Batches and splits: the most items combined.")
    candidates_max: int | None = strawberry.field(default=None, description="Batches and splits: the items searched for 3 or more.")
    tolerance_minor: int | None = strawberry.field(default=None, description="AMOUNT_TOLERANCE: the difference allowed, in minor units.")


@strawberry.input(description="One matching rule; give only the parameters its kind takes (the others run with their defaults).")
class ReconciliationRuleInput:
    kind: ReconciliationRuleKind
    days: int | None = None
    name_similarity_min: int | None = None
    size_max: int | None = None
    candidates_max: int | None = None
    tolerance_minor: int | None = None


@strawberry.input(description="The tenant's matching rules, in priority order: the list replaces the one in force.")
class SetReconciliationRulesInput:
    rules: list[ReconciliationRuleInput]
    reason: str | None = None


@strawberry.type
class SetReconciliationRulesPayload:
    rules: list[ReconciliationRule]


InvalidReconciliationRulesError = e.InvalidReconciliationRulesError
SetReconciliationRulesResult = e.result_union("SetReconciliationRulesResult", SetReconciliationRulesPayload,
                                              (InvalidReconciliationRulesError, e.InvalidInputError, e.GenericError))


def rules_of(rules) -> list[ReconciliationRule]:  # noqa: ANN001 (the rules as data)
    listed = []
    for priority, rule in enumerate(rules, 1):
        full = matching.with_defaults(rule)
        listed.append(ReconciliationRule(priority=priority, kind=ReconciliationRuleKind(full["kind"]),
                                         **{name: full.get(name) for name in _parameters}))
    return listed


def _as_data(rule: ReconciliationRuleInput) -> dict[str, object]:
    given = {name: getattr(rule, name) for name in _parameters if getattr(rule, name) is not None}
    return {"kind": rule.kind.value, **given}


@strawberry.type
class ReconciliationRulesQuery:
    @strawberry.field(description="The tenant's matching rules in priority order (the defaults until it sets its own).")
    async def reconciliation_rules(self, info: Info) -> list[ReconciliationRule]:
        ctx = info.context
        session = await ctx.authorize("reconciliationRules")
        rules = await read(ctx.engine, reconciling.rules_for, session.principal.tenant_id)
        return rules_of(rules)


@strawberry.type
class ReconciliationRulesMutation:
    @strawberry.mutation(description="Replace the tenant's matching rules (audited with actor and reason); autoReconcile runs them "
                                      "from then on. Roles: ADMIN, FINANCE.")
    async def set_reconciliation_rules(self, info: Info, input: SetReconciliationRulesInput) -> SetReconciliationRulesResult:  # type: ignore[valid-type]  # noqa: A002
        ctx = info.context
        await ctx.authorize("setReconciliationRules")
        try:
            reason = input_reason(input.reason)
        except RefusedInput as refused:
            return refused.result
        actor = ctx.actor(reason)
        rules = [_as_data(rule) for rule in input.rules[:matching.rules_max + 1]]

        def work(conn: sa.Connection):
            return reconciling.save_rules(conn, actor, rules)

        try:
            saved = await write(ctx.engine, work)
        except ledger_errors.LedgerError as exc:
            return e.error_result(exc, (InvalidReconciliationRulesError, e.InvalidInputError, e.GenericError))
        return SetReconciliationRulesPayload(rules=rules_of(saved))
