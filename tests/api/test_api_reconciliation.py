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
