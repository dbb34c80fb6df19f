"""Unidentified receipts over HTTP: money that names no loan waits in suspense, is applied to a loan,
returns to suspense when that repayment is reversed, and can then be applied again."""
from __future__ import annotations

import uuid

from graphql_api.core.scalars import encode_id
from identity.model import Role
from tests.api.lending import DISBURSED_ON, MUTATIONS, Desk, expect, send

RECEIPT = """query($id: ID!) { unidentifiedReceipt(id: $id) {
  id status amount { amount currency } reference appliedLoanId appliedTransaction { id type } } }"""
QUEUE = """query($status: UnidentifiedReceiptStatus, $first: Int!, $after: String) {
  unidentifiedReceipts(status: $status, first: $first, after: $after) {
    edges { node { id status reference } } pageInfo { hasNextPage endCursor } } }"""


def receive(desk: Desk, amount: str, reference: str, **extra: str) -> dict:
    data = {"amount": amount, "currency": "CNY", "receivedOn": DISBURSED_ON, "reference": reference, **extra}
    return send(desk.api, desk.tokens[Role.FINANCE], "receiveUnidentifiedReceipt", data)


def test_a_receipt_waits_in_suspense_is_applied_returned_by_a_reversal_and_applied_again(api):
    desk = Desk(api)
    finance, auditor = desk.tokens[Role.FINANCE], desk.tokens[Role.AUDITOR]
    loan_id = desk.active()
    booked = receive(desk, "300.00", "ZHANG S 0115 转账")
    assert booked["__typename"] == "ReceiveUnidentifiedReceiptPayload" and booked["replayed"] is False
    receipt = booked["receipt"]
    assert receipt["status"] == "UNAPPLIED" and receipt["amount"] == {"amount": "300.00", "currency": "CNY"}
    assert receipt["appliedLoanId"] is None and receipt["appliedTransaction"] is None
    assert [(p["accountCode"], p["side"], p["amount"]["amount"]) for p in receipt["journalEntry"]["postings"]] == [
        ("1100", "DEBIT", "300.00"), ("2200", "CREDIT", "300.00"),
    ]
    queue = api.graphql(QUEUE, {"status": "UNAPPLIED", "first": 10}, token=auditor)["data"]["unidentifiedReceipts"]
    assert [n["node"]["id"] for n in queue["edges"]] == [receipt["id"]]

    apply = {"receiptId": receipt["id"], "loanId": loan_id, "effectiveDate": DISBURSED_ON}
    applied = expect(api, finance, "applyUnidentifiedReceipt", apply)
    assert applied["transaction"]["type"] == "SUSPENSE_REPAYMENT" and applied["transaction"]["amount"]["amount"] == "300.00"
    lines = [(p["accountCode"], p["side"], p["amount"]["amount"]) for p in applied["journalEntry"]["postings"]]
    assert lines[0] == ("2200", "DEBIT", "300.00") and all(code != "1100" for code, _, _ in lines)
    seen = api.graphql(RECEIPT, {"id": receipt["id"]}, token=auditor)["data"]["unidentifiedReceipt"]
    assert seen["status"] == "APPLIED" and seen["appliedLoanId"] == loan_id
    assert seen["appliedTransaction"] == {"id": applied["transaction"]["id"], "type": "SUSPENSE_REPAYMENT"}
    assert api.graphql(QUEUE, {"status": "UNAPPLIED", "first": 10}, token=auditor)["data"]["unidentifiedReceipts"]["edges"] == []

    again = send(api, finance, "applyUnidentifiedReceipt", apply)
    assert again["__typename"] == "ReceiptAlreadyAppliedError" and again["receiptId"] == receipt["id"]

    undone = expect(api, finance, "reverseRepayment", {
        "loanId": loan_id, "transactionId": applied["transaction"]["id"], "effectiveDate": DISBURSED_ON, "reason": "wrong loan",
    })
    back = [(p["accountCode"], p["side"], p["amount"]["amount"]) for p in undone["journalEntry"]["postings"]]
    assert ("2200", "CREDIT", "300.00") in back and all(code != "1100" for code, _, _ in back)
    assert api.graphql(RECEIPT, {"id": receipt["id"]}, token=auditor)["data"]["unidentifiedReceipt"]["status"] == "UNAPPLIED"

    other_loan = desk.active()
    reapplied = expect(api, finance, "applyUnidentifiedReceipt", {**apply, "loanId": other_loan})
    assert reapplied["loan"]["id"] == other_loan
    assert api.graphql(RECEIPT, {"id": receipt["id"]}, token=auditor)["data"]["unidentifiedReceipt"]["appliedLoanId"] == other_loan
    # Suspense is empty again: in 300.00 (received), out (applied), in (reversed), out (applied again).
    suspense = api.graphql('{ account(code: "2200") { balances { balance { amount } debits { amount } } } }', token=auditor)
    assert suspense["data"]["account"]["balances"] == [{"balance": {"amount": "0.00"}, "debits": {"amount": "600.00"}}]


def test_receiving_is_idempotent_and_bad_input_writes_nothing(api):
    desk = Desk(api)
    first = receive(desk, "88.00", "WANG W", idempotencyKey="bank-line-17")
    replay = receive(desk, "88.00", "WANG W", idempotencyKey="bank-line-17")
    assert replay["replayed"] is True and replay["receipt"]["id"] == first["receipt"]["id"]
    conflict = receive(desk, "89.00", "WANG W", idempotencyKey="bank-line-17")
    assert conflict["__typename"] == "IdempotencyConflictError"
    for amount, reference, typename in [
        ("0", "X", "AmountNotPositiveError"), ("1.001", "X", "AmountTooPreciseError"), ("1.00", "", "InvalidReceiptError"),
    ]:
        refused = receive(desk, amount, reference)
        assert refused["__typename"] == typename and refused["code"] and refused["message"], refused
    assert receive(desk, "1.00", "x" * 201) == {
        "__typename": "InvalidReceiptError", "code": "INVALID_RECEIPT", "field": "reference",
        "message": "reference must be 1 to 200 characters (the bank's narrative or payer)",
    }
    queue = api.graphql(QUEUE, {"first": 10}, token=desk.tokens[Role.AUDITOR])["data"]["unidentifiedReceipts"]["edges"]
    assert len(queue) == 1


def test_another_tenants_receipt_is_invisible_and_cannot_be_applied(api):
    ours, theirs = Desk(api), Desk(api)
    receipt_id = ours.receipt()
    assert api.graphql(RECEIPT, {"id": receipt_id}, token=theirs.tokens[Role.AUDITOR])["data"]["unidentifiedReceipt"] is None
    loan_id = theirs.active()
    probe = send(api, theirs.tokens[Role.FINANCE], "applyUnidentifiedReceipt",
                 {"receiptId": receipt_id, "loanId": loan_id, "effectiveDate": DISBURSED_ON})
    assert probe["__typename"] == "UnknownReceiptError" and probe["receiptId"] == receipt_id
    nowhere = encode_id("UnidentifiedReceipt", uuid.uuid4())
    assert api.graphql(RECEIPT, {"id": nowhere}, token=ours.tokens[Role.AUDITOR])["data"]["unidentifiedReceipt"] is None
    assert "applyUnidentifiedReceipt" in MUTATIONS
