"""Which role may run which operation: the role x operation matrix, in one place.

Every root field of the schema appears here or in `open_operations`; a test fails when a new field
is added without a decision. README documents the same matrix.

The shape of it: everyone reads the loan book (borrowers with masked PII, products, loans, the
journal, the portfolio); the audit log and its verification are for auditors and admins. Writes
follow the desk that does the work: loan officers originate (borrowers, applications, withdrawals),
approvers decide, finance moves money and closes the business day, collectors record the money they
collect (repayments, recoveries after write-off). Auditors change nothing. Admins do everything.
Maker-checker on top of roles: loans.applications refuses an approval by the application's submitter, and
manual_entries refuses an approval (or rejection) of a manual journal entry by the person who created it.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from identity.model import Role

every_role = frozenset(Role)
# The chart of accounts is finance's, like manual entries (opening and closing accounts needs no checker:
# an account moves no money, and a closed account must be empty).
# Manual journal entries move money outside any loan workflow, so only finance and admins make them, and
# they post only when a second person checks them (manual_entries: never the maker, whatever the role).
# Checkers are finance and admins too: approving a journal entry is an accounting judgement, not a credit
# decision, so the approver role (loans) does not check the books. Reversals post at once (see README).
journal_writers = frozenset({Role.ADMIN, Role.FINANCE})
journal_checkers = frozenset({Role.ADMIN, Role.FINANCE})
# Close of business runs (jobs) are finance's to start and follow; auditors see them too.
cob_run_readers = frozenset({Role.ADMIN, Role.FINANCE, Role.AUDITOR})
# Pending and decided requests are the finance desk's work queue; auditors see them too.
journal_request_readers = frozenset({Role.ADMIN, Role.FINANCE, Role.AUDITOR})
originators = frozenset({Role.ADMIN, Role.LOAN_OFFICER})
deciders = frozenset({Role.ADMIN, Role.APPROVER})
# Money in and out of a loan, its terms after disbursement, and the business day's close.
servicers = frozenset({Role.ADMIN, Role.FINANCE})
# Cash a collector brings in: a repayment, or a recovery on a written-off loan. Reversing one is finance's.
collectors = frozenset({Role.ADMIN, Role.FINANCE, Role.COLLECTOR})
auditors = frozenset({Role.ADMIN, Role.AUDITOR})
# Financial statements, GL detail and the loan tape are finance's and the examiners'.
report_readers = frozenset({Role.ADMIN, Role.FINANCE, Role.AUDITOR})
# Who works here: issuing and revoking API tokens (people's access) is the administrator's alone.
admins = frozenset({Role.ADMIN})
# Bank reconciliation is the finance desk's: it imports statements, matches and books bank items; auditors
# (and admins) read the statements, the lines and the report.
reconcilers = frozenset({Role.ADMIN, Role.FINANCE})
reconciliation_readers = frozenset({Role.ADMIN, Role.FINANCE, Role.AUDITOR})

# Who sees a borrower's national ID, phone and bank account unmasked (on `borrower(id)` only; every
# such read writes a borrower.pii_revealed audit event). Officers run KYC, collectors phone borrowers;
# finance, approvers and auditors work from masked values (an auditor sees every reveal in the log).
pii_readers = frozenset({Role.ADMIN, Role.LOAN_OFFICER, Role.COLLECTOR})

open_operations = frozenset({"health"})

operation_roles: Mapping[str, frozenset[Role]] = MappingProxyType(
    {
        "me": every_role,
        "accounts": every_role,
        "account": every_role,
        "trialBalance": every_role,
        "journalEntries": every_role,
        "journalEntry": every_role,
        "previewSchedule": every_role,
        "borrowers": every_role,
        "borrower": every_role,
        "loanProducts": every_role,
        "loanProduct": every_role,
        "loans": every_role,
        "loan": every_role,
        "loanStatement": every_role,
        "payoffQuote": every_role,
        "restructurePreview": every_role,
        "portfolio": every_role,
        "auditEvents": auditors,
        "verifyAudit": auditors,
        "auditDigest": auditors,
        "journalEntryRequests": journal_request_readers,
        "journalEntryRequest": journal_request_readers,
        "postJournalEntry": journal_writers,
        "cancelJournalEntry": journal_writers,
        "approveJournalEntry": journal_checkers,
        "rejectJournalEntry": journal_checkers,
        "reverseJournalEntry": journal_writers,
        "createBorrower": originators,
        "createLoanProduct": servicers,
        "submitLoanApplication": originators,
        "withdrawLoanApplication": originators,
        "approveLoan": deciders,
        "rejectLoan": deciders,
        "disburseLoan": servicers,
        "recordRepayment": collectors,
        "reverseRepayment": servicers,
        "payOffLoan": servicers,
        "prepayLoan": servicers,
        "chargeFee": servicers,
        "waiveFee": servicers,
        "writeOffLoan": servicers,
        "recordRecovery": collectors,
        "restructureLoan": servicers,
        "classificationPolicy": every_role,
        "setClassificationPolicy": servicers,
        "openAccount": journal_writers,
        "closeAccount": journal_writers,
        "closedThrough": every_role,
        "balanceSheet": report_readers,
        "incomeStatement": report_readers,
        "generalLedgerDetail": report_readers,
        "loanTape": report_readers,
        "classificationSummary": report_readers,
        "periodClosures": every_role,
        "closePeriod": journal_writers,
        "closeFiscalYear": journal_writers,
        "reopenPeriod": admins,
        "apiTokens": admins,
        "createApiToken": admins,
        "revokeApiToken": admins,
        "unidentifiedReceipts": every_role,
        "unidentifiedReceipt": every_role,
        "receiveUnidentifiedReceipt": servicers,
        "applyUnidentifiedReceipt": servicers,
        "runCloseOfBusiness": servicers,
        "closeOfBusinessRun": cob_run_readers,
        "closeOfBusinessRuns": cob_run_readers,
        "bankStatements": reconciliation_readers,
        "bankStatement": reconciliation_readers,
        "statementLines": reconciliation_readers,
        "reconciliationReport": reconciliation_readers,
        "importBankStatement": reconcilers,
        "autoReconcile": reconcilers,
        "matchStatementLines": reconcilers,
        "unmatchStatementLines": reconcilers,
        "bookStatementLine": reconcilers,
        "unbookStatementLine": reconcilers,
        "reconciliationRules": reconciliation_readers,
        "setReconciliationRules": reconcilers,
    }
)


def may_run(role: Role, operation: str) -> bool:
    assert operation in operation_roles, f"operation {operation!r} has no entry in the permission matrix"
    return role in operation_roles[operation]


def may_see_pii(role: Role) -> bool:
    return role in pii_readers


def operations_for(role: Role) -> list[str]:
    return sorted(op for op, roles in operation_roles.items() if role in roles)
