"""The reconciliation over HTTP: import (text and base64), typed refusals, the lines as a Relay connection,
auto-reconcile and the report."""
from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal

from identity.model import Role
from tests.reconciliation import samples
from tests.reconciliation.samples import Item

IMPORT = ("mutation($i: ImportBankStatementInput!) { importBankStatement(input: $i) { __typename "
          "... on ImportBankStatementPayload { linesAdded replayed statement { id lineCount closingBalance { amount } } } "
          "... on StatementRejectedError { code message line } } }")
LINES = ("query($after: String) { statementLines(bankAccountCode: \"1100\", first: 2, after: $after) { "
         "edges { node { bankReference amount { amount } status } } pageInfo { hasNextPage endCursor } } }")
D = dt.date(2026, 2, 2)


def test_import_page_reconcile_and_report(api) -> None:
    tenant = api.tenant(Role.FINANCE, Role.AUDITOR)
    finance, auditor = tenant.tokens[Role.FINANCE], tenant.tokens[Role.AUDITOR]
    content = samples.camt053([Item(D, Decimal("10.00"), f"R{i}") for i in range(3)]).decode()
    first = api.graphql(IMPORT, {"i": {"bankAccountCode": "1100", "format": "CAMT053", "content": content}}, token=finance)
    payload = first["data"]["importBankStatement"]
    assert payload["__typename"] == "ImportBankStatementPayload" and payload["linesAdded"] == 3
    assert payload["statement"]["closingBalance"]["amount"] == "30.00"
    again = api.graphql(IMPORT, {"i": {"bankAccountCode": "1100", "format": "CAMT053",
                                       "content": base64.b64encode(content.encode()).decode(), "contentBase64": True}}, token=finance)
    assert again["data"]["importBankStatement"]["replayed"] is True

    seen, after = [], None
    while True:
        page = api.graphql(LINES, {"after": after}, token=auditor)["data"]["statementLines"]
        seen += [edge["node"]["bankReference"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["R0", "R1", "R2"]

    refused = api.graphql(IMPORT, {"i": {"bankAccountCode": "1100", "format": "MT940", "content": ":20:X\n:61:junk\n"}}, token=finance)
    assert refused["data"]["importBankStatement"]["code"] == "STATEMENT_MALFORMED"
    forbidden = api.graphql(IMPORT, {"i": {"bankAccountCode": "1100", "format": "CAMT053", "content": content}}, token=auditor)
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    auto = api.graphql('mutation { autoReconcile(input: {bankAccountCode: "1100", throughDate: "2026-02-28"}) '
                       "{ ... on AutoReconcilePayload { matched unmatched } } }", token=finance)
    assert auto["data"]["autoReconcile"] == {"matched": 0, "unmatched": 3}
    report = api.graphql('{ reconciliationReport(bankAccountCode: "1100", asOf: "2026-02-28") { statementBalance { amount } '
                         "ledgerBalance { amount } unbookedBankItems { amount } difference { amount } } }", token=auditor)
    assert report["data"]["reconciliationReport"] == {
        "statementBalance": {"amount": "30.00"}, "ledgerBalance": {"amount": "0.00"},
        "unbookedBankItems": {"amount": "30.00"}, "difference": {"amount": "0.00"},
    }


RULES = "{ reconciliationRules { priority kind days nameSimilarityMin sizeMax candidatesMax toleranceMinor } }"
SET_RULES = ("mutation($i: SetReconciliationRulesInput!) { setReconciliationRules(input: $i) { __typename "
             "... on SetReconciliationRulesPayload { rules { priority kind days } } "
             "... on InvalidReconciliationRulesError { code message rule field } } }")


def test_the_rules_are_listed_in_order_and_set_as_data(api) -> None:
    tenant = api.tenant(Role.FINANCE, Role.AUDITOR)
    finance, auditor = tenant.tokens[Role.FINANCE], tenant.tokens[Role.AUDITOR]
    defaults = api.graphql(RULES, token=auditor)["data"]["reconciliationRules"]
    assert [rule["kind"] for rule in defaults] == ["REFERENCE", "REFERENCE_IN_TEXT", "PAYER_ACCOUNT", "AMOUNT_DATE", "ONE_TO_MANY",
                                                    "MANY_TO_ONE", "AMOUNT_TOLERANCE"]
    assert defaults[0] == {"priority": 1, "kind": "REFERENCE", "days": None, "nameSimilarityMin": None, "sizeMax": None,
                           "candidatesMax": None, "toleranceMinor": None}
    assert defaults[6]["toleranceMinor"] == 5000 and defaults[3]["nameSimilarityMin"] == 85

    saved = api.graphql(SET_RULES, {"i": {"rules": [{"kind": "AMOUNT_DATE"}, {"kind": "REFERENCE"}], "reason": "dates first"}},
                        token=finance)["data"]["setReconciliationRules"]
    assert saved == {"__typename": "SetReconciliationRulesPayload",
                     "rules": [{"priority": 1, "kind": "AMOUNT_DATE", "days": 3}, {"priority": 2, "kind": "REFERENCE", "days": None}]}
    assert [rule["kind"] for rule in api.graphql(RULES, token=auditor)["data"]["reconciliationRules"]] == ["AMOUNT_DATE", "REFERENCE"]
    events = api.graphql('{ auditEvents(first: 5, action: "reconciliation_rules.saved") { edges { node { actor reason } } } }',
                         token=tenant.tokens[Role.AUDITOR])
    assert events["data"]["auditEvents"]["edges"][0]["node"]["reason"] == "dates first"

    # Each refusal is typed, names the rule and the field, and leaves the rules in force as they were.
    for rules, field in (([{"kind": "REFERENCE", "days": 2}], "days"), ([{"kind": "AMOUNT_DATE", "days": 90}], "days"),
                         ([{"kind": "ONE_TO_MANY"}, {"kind": "MANY_TO_ONE", "sizeMax": 7}], "sizeMax"), ([], None)):
        refused = api.graphql(SET_RULES, {"i": {"rules": rules}}, token=finance)["data"]["setReconciliationRules"]
        assert refused["code"] == "INVALID_RECONCILIATION_RULES" and refused["field"] == field, refused
        assert refused["rule"] == (len(rules) or None)
    assert [rule["kind"] for rule in api.graphql(RULES, token=auditor)["data"]["reconciliationRules"]] == ["AMOUNT_DATE", "REFERENCE"]
    forbidden = api.graphql(SET_RULES, {"i": {"rules": [{"kind": "REFERENCE"}]}}, token=auditor)
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_an_ofx_statement_over_graphql(api) -> None:
    finance = api.tenant(Role.FINANCE).tokens[Role.FINANCE]
    content = samples.ofx([Item(D, Decimal("12.34"), "FIT-1"), Item(D, Decimal("-2.34"), "FIT-2")], currency="CNY").decode()
    done = api.graphql(IMPORT, {"i": {"bankAccountCode": "1100", "format": "OFX", "content": content}}, token=finance)
    payload = done["data"]["importBankStatement"]
    assert (payload["linesAdded"], payload["statement"]["closingBalance"]["amount"]) == (2, "10.00")
