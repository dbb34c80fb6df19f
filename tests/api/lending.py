"""A lending desk over HTTP for the API tests: documents and steps that read like the back office's day.

Each step sends one mutation with the token of the desk that does it in real life and returns the
payload, failing loudly on anything but the expected payload type.
"""
from __future__ import annotations

from collections.abc import Callable

from identity.model import Role

LOAN_FIELDS = """
  id status currency principal { amount currency } annualRate annualizedRate termPeriods disbursedOn closedOn
  businessDate daysPastDue bucket bucketShortName class nonAccrual scheduleVersion submittedBy decidedBy
  balances { principal { amount } interest { amount } fee { amount } penalty { amount } overpayment { amount }
             allowance { amount } totalOutstanding { amount } }
"""
MONEY_FIELDS = """
  ... on LoanMoneyPayload {
    replayed
    loan { id status balances { principal { amount } interest { amount } overpayment { amount } } }
    transaction { id type effectiveDate amount { amount currency } }
    allocation { penalty { amount } fee { amount } interest { amount } principal { amount } overpayment { amount } total { amount } }
    journalEntry { id postings { accountCode side amount { amount } } }
  }
  ... on Error { code message }
  ... on InvalidInputError { field }
"""
MUTATIONS = {
    name: f"mutation($i: {name[0].upper() + name[1:]}Input!) {{ {name}(input: $i) {{ __typename {fields} }} }}"
    for name, fields in {
        "createLoanProduct": "... on CreateLoanProductPayload { product { code version } replayed } ... on Error { code message } "
                             "... on InvalidProductError { field }",
        "createBorrower": "... on CreateBorrowerPayload { borrower { id name nationalId phone bankAccount piiMasked } replayed } "
                          "... on Error { code message } ... on InvalidBorrowerError { field }",
        "submitLoanApplication": "... on SubmitLoanApplicationPayload { loan { id status submittedBy } replayed } "
                                 "... on Error { code message } ... on OutsideProductRangeError { field } ... on UnknownBorrowerError { borrowerId }",
        "approveLoan": "... on ApproveLoanPayload { loan { id status decidedBy } replayed } ... on Error { code message }",
        "rejectLoan": "... on RejectLoanPayload { loan { id status decisionReason } replayed } ... on Error { code message }",
        "withdrawLoanApplication": "... on WithdrawLoanApplicationPayload { loan { id status } replayed } ... on Error { code message }",
        "runCloseOfBusiness": "... on RunCloseOfBusinessPayload { businessDate loansProcessed entriesPosted alreadyDone replayed } "
                              "... on Error { code message }",
        **{name: MONEY_FIELDS for name in (
            "disburseLoan", "recordRepayment", "payOffLoan", "prepayLoan", "chargeFee", "waiveFee", "writeOffLoan",
            "recordRecovery", "restructureLoan",
        )},
        "reverseRepayment": MONEY_FIELDS + " ... on ReverseRepaymentPayload { reversedTransaction { id type reversedBy { id } } }",
        "receiveUnidentifiedReceipt": "... on ReceiveUnidentifiedReceiptPayload { replayed receipt { id status receivedOn reference "
                                      "amount { amount currency } recordedBy journalEntry { postings { accountCode side amount { amount } } } "
                                      "appliedLoanId appliedTransaction { id } } } ... on Error { code message } ... on InvalidReceiptError { field }",
        "openAccount": "... on OpenAccountPayload { replayed account { code name type normalBalance status parentCode } } "
                       "... on Error { code message } ... on InvalidInputError { field }",
        "closeAccount": "... on CloseAccountPayload { replayed account { code status } } ... on Error { code message }",
        "setClassificationPolicy": "... on SetClassificationPolicyPayload { replayed policy { specialMentionFromDpd substandardFromDpd "
                                   "doubtfulFromDpd lossFromDpd provisionRates { loanClass rate } } } ... on Error { code message } "
                                   "... on InvalidInputError { field }",
        "createApiToken": "... on CreateApiTokenPayload { replayed secret token { id name role tokenPrefix createdBy active } } "
                          "... on Error { code message } ... on InvalidInputError { field }",
        "revokeApiToken": "... on RevokeApiTokenPayload { replayed token { id name active revokedBy revokedAt } } "
                          "... on Error { code message } ... on InvalidInputError { field }",
        "applyUnidentifiedReceipt": MONEY_FIELDS + " ... on UnknownReceiptError { receiptId } ... on ReceiptAlreadyAppliedError { receiptId }",
    }.items()
}
CASH_PRODUCT = {
    "code": "CASH12", "name": "Cash loan 12m", "currency": "CNY", "originationFeeRate": "0.02",
    "penaltyDailyRate": "0.0005", "lateFee": "50", "lateFeeGraceDays": 3,
}
ZHANG_SAN = {"name": "张三", "nationalId": "110105199001011234", "phone": "13800138000", "bankAccount": "6222020200112233445"}
DISBURSED_ON = "2026-01-15"


def send(api, token: str, mutation: str, data: dict) -> dict:
    body = api.graphql(MUTATIONS[mutation], {"i": data}, token=token)
    assert "errors" not in body, body
    return body["data"][mutation]


def expect(api, token: str, mutation: str, data: dict, typename: str | None = None) -> dict:
    """Send and insist on the payload (or on `typename`)."""
    result = send(api, token, mutation, data)
    wanted = typename or mutation[0].upper() + mutation[1:] + "Payload"
    assert result["__typename"] == wanted, result
    return result


class Desk:
    """One tenant's back office: a token per role, the cash product, helpers for each lifecycle stage."""

    def __init__(self, api, *roles: Role) -> None:
        self.api = api
        self.books = api.tenant(*(roles or Role))
        self.tokens = self.books.tokens
        self._product = False
        self._shared: dict[str, str] = {}

    def shared(self, name: str, make: Callable[[], str]) -> str:
        """One loan (or borrower) per `name` for the whole desk, made on first use."""
        if name not in self._shared:
            self._shared[name] = make()
        return self._shared[name]

    def product(self) -> str:
        if not self._product:
            expect(self.api, self.tokens[Role.ADMIN], "createLoanProduct", CASH_PRODUCT)
            self._product = True
        return CASH_PRODUCT["code"]

    def borrower(self, **values: str) -> str:
        return expect(self.api, self.tokens[Role.LOAN_OFFICER], "createBorrower", {**ZHANG_SAN, **values})["borrower"]["id"]

    def applied(self, principal: str = "10000", term: int = 12, borrower: str | None = None) -> str:
        application = {
            "borrowerId": borrower or self.borrower(), "productCode": self.product(), "principal": principal,
            "annualRate": "0.12", "termPeriods": term, "disbursementDate": DISBURSED_ON,
        }
        return expect(self.api, self.tokens[Role.LOAN_OFFICER], "submitLoanApplication", application)["loan"]["id"]

    def approved(self, **kw: object) -> str:
        loan_id = self.applied(**kw)  # type: ignore[arg-type]
        expect(self.api, self.tokens[Role.APPROVER], "approveLoan", {"loanId": loan_id})
        return loan_id

    def active(self, **kw: object) -> str:
        loan_id = self.approved(**kw)
        expect(self.api, self.tokens[Role.FINANCE], "disburseLoan", {"loanId": loan_id, "effectiveDate": DISBURSED_ON})
        return loan_id

    def repaid(self, amount: str = "100.00", on: str = DISBURSED_ON) -> tuple[str, str]:
        """An active loan with one repayment: (loan id, the repayment's transaction id)."""
        loan_id = self.active()
        paid = expect(self.api, self.tokens[Role.FINANCE], "recordRepayment",
                      {"loanId": loan_id, "amount": amount, "currency": "CNY", "effectiveDate": on})
        return loan_id, paid["transaction"]["id"]

    def receipt(self, amount: str = "100.00", reference: str = "ZHANG S 0115") -> str:
        """An unidentified receipt in suspense, booked by finance: its id."""
        booked = expect(self.api, self.tokens[Role.FINANCE], "receiveUnidentifiedReceipt",
                        {"amount": amount, "currency": "CNY", "receivedOn": DISBURSED_ON, "reference": reference})
        return booked["receipt"]["id"]

    def written_off(self) -> str:
        loan_id = self.active()
        expect(self.api, self.tokens[Role.FINANCE], "writeOffLoan", {"loanId": loan_id, "effectiveDate": DISBURSED_ON, "reason": "fraud"})
        return loan_id
