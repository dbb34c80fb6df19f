"""Inputs for the reconciliation's root fields, for the role matrix: each made afresh where it can succeed once."""
from __future__ import annotations

import uuid

from identity.model import Role

RECONCILIATION_MUTATIONS = {
    name: f"mutation($i: {name[0].upper() + name[1:]}Input!) {{ {name}(input: $i) {{ __typename "
          f"... on Error {{ code message }} {fields} }} }}"
    for name, fields in {
        "importBankStatement": "... on ImportBankStatementPayload { linesAdded replayed statement { id } }",
        "autoReconcile": "... on AutoReconcilePayload { matched proposed unmatched }",
        "matchStatementLines": "... on MatchStatementLinesPayload { matchId lines { id status } }",
        "unmatchStatementLines": "... on UnmatchStatementLinesPayload { lines { id status } }",
        "bookStatementLine": "... on BookStatementLinePayload { journalEntryId line { id status } }",
        "unbookStatementLine": "... on UnbookStatementLinePayload { reversalEntryId line { id status } }",
        "setReconciliationRules": "... on SetReconciliationRulesPayload { rules { priority kind days } }",
    }.items()
}
LINES = ("{ statementLines(bankAccountCode: \"1100\", first: 500) "
         "{ edges { node { id bankReference status } } } }")


def camt_without_balances(reference: str, amount: str = "1.00", side: str = "DBIT") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        f"<BkToCstmrStmt><Stmt><Id>{reference}</Id><Acct><Id><IBAN>CN01</IBAN></Id><Ccy>CNY</Ccy></Acct>"
        f'<Ntry><Amt Ccy="CNY">{amount}</Amt><CdtDbtInd>{side}</CdtDbtInd><BookgDt><Dt>2026-01-15</Dt></BookgDt>'
        f"<AcctSvcrRef>{reference}</AcctSvcrRef></Ntry></Stmt></BkToCstmrStmt></Document>"
    )


def send(desk, name: str, data: dict) -> dict:
    body = desk.api.graphql(RECONCILIATION_MUTATIONS[name], {"i": data}, token=desk.tokens[Role.FINANCE])
    result = body["data"][name]
    assert result["__typename"].endswith("Payload"), result
    return result


def fresh_line(desk) -> str:
    reference = f"MX-{uuid.uuid4().hex[:12]}"
    send(desk, "importBankStatement", {"bankAccountCode": "1100", "format": "CAMT053", "content": camt_without_balances(reference)})
    edges = desk.api.graphql(LINES, token=desk.tokens[Role.FINANCE])["data"]["statementLines"]["edges"]
    return next(edge["node"]["id"] for edge in edges if edge["node"]["bankReference"] == reference)


def booked_line(desk) -> tuple[str, str]:
    line_id = fresh_line(desk)
    booked = send(desk, "bookStatementLine", {"bankAccountCode": "1100", "lineId": line_id, "kind": "BANK_FEE",
                                              "accountCode": "5100", "reason": "matrix"})
    return line_id, booked["journalEntryId"]


def reconciliation_input(name: str, desk) -> dict:
    if name == "importBankStatement":
        return {"bankAccountCode": "1100", "format": "CAMT053", "content": camt_without_balances(f"IM-{uuid.uuid4().hex[:12]}")}
    if name == "setReconciliationRules":
        return {"rules": [{"kind": "REFERENCE"}, {"kind": "AMOUNT_DATE", "days": 2}], "reason": "matrix"}
    if name == "autoReconcile":
        return {"bankAccountCode": "1100", "throughDate": "2026-01-31"}
    if name == "bookStatementLine":
        return {"bankAccountCode": "1100", "lineId": fresh_line(desk), "kind": "BANK_FEE", "accountCode": "5100", "reason": "matrix"}
    if name == "unbookStatementLine":
        return {"bankAccountCode": "1100", "lineId": booked_line(desk)[0], "reason": "matrix"}
    if name == "unmatchStatementLines":
        return {"bankAccountCode": "1100", "lineIds": [booked_line(desk)[0]], "reason": "matrix"}
    assert name == "matchStatementLines"
    line_id, entry_id = booked_line(desk)
    send(desk, "unmatchStatementLines", {"bankAccountCode": "1100", "lineIds": [line_id], "reason": "matrix"})
    return {"bankAccountCode": "1100", "lineIds": [line_id], "postingRefs": [f"{entry_id}:1"], "reason": "matrix"}


reconciliation_reads = {
    "bankStatements": ("{ bankStatements(first: 5) { id lineCount } }", {}),
    "bankStatement": ("query($id: ID!) { bankStatement(id: $id) { id } }", None),
    "statementLines": ('{ statementLines(bankAccountCode: "1100", status: UNMATCHED, first: 2) { edges { node { id status } } } }', {}),
    "reconciliationRules": ("{ reconciliationRules { priority kind days sizeMax } }", {}),
    "reconciliationReport": ('{ reconciliationReport(bankAccountCode: "1100", asOf: "2026-01-31") { difference { amount } } }', {}),
}
