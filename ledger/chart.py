"""The default chart of accounts a lending company starts with.

Codes are hierarchical: each account may name a parent of the same type (1100 under 1000), and a
parent is a header account, a heading that takes no postings of its own. Roles name what each account is
for; loan products map money roles to these codes. The bank account and suspense are hot (touched by
every disbursement and repayment), and so are the loan control, income and loss accounts (every
repayment, accrual and provision of every loan moves them): their balances are spread over slots.
"""
from __future__ import annotations

from typing import NamedTuple

from ledger.model import AccountType

hot_account_slots = 8


class ChartLine(NamedTuple):
    code: str
    name: str
    type: AccountType
    parent_code: str | None
    role: str | None
    balance_slots: int = 1
    is_header: bool = False
    # The chart's accounts accept the tenant's functional currency alone, but the year-end close
    # moves every currency's result to retained earnings, so that one takes any currency.
    any_currency: bool = False


A, L, E, I, X = AccountType.ASSET, AccountType.LIABILITY, AccountType.EQUITY, AccountType.INCOME, AccountType.EXPENSE

default_chart: tuple[ChartLine, ...] = (
    ChartLine("1000", "Assets", A, None, None, is_header=True),
    ChartLine("1100", "Bank and cash", A, "1000", "bank", hot_account_slots),
    ChartLine("1200", "Loans receivable - principal", A, "1000", "loans_receivable", hot_account_slots),
    ChartLine("1210", "Interest receivable", A, "1000", "interest_receivable", hot_account_slots),
    ChartLine("1220", "Fee receivable", A, "1000", "fee_receivable", hot_account_slots),
    ChartLine("1230", "Penalty receivable", A, "1000", "penalty_receivable", hot_account_slots),
    ChartLine("1290", "Allowance for credit losses (contra-asset)", A, "1000", "allowance", hot_account_slots),
    ChartLine("2000", "Liabilities", L, None, None, is_header=True),
    ChartLine("2100", "Borrower overpayments", L, "2000", "overpayments", hot_account_slots),
    ChartLine("2200", "Suspense - unidentified receipts", L, "2000", "suspense", hot_account_slots),
    ChartLine("3000", "Equity", E, None, None, is_header=True),
    ChartLine("3100", "Paid-in capital", E, "3000", "capital"),
    ChartLine("3200", "Retained earnings", E, "3000", "retained_earnings", any_currency=True),
    ChartLine("4000", "Income", I, None, None, is_header=True),
    ChartLine("4100", "Interest income", I, "4000", "interest_income", hot_account_slots),
    ChartLine("4200", "Fee income", I, "4000", "fee_income", hot_account_slots),
    ChartLine("4300", "Penalty income", I, "4000", "penalty_income", hot_account_slots),
    ChartLine("4400", "Recoveries of written-off loans", I, "4000", "recoveries", hot_account_slots),
    ChartLine("5000", "Expenses", X, None, None, is_header=True),
    ChartLine("5100", "Credit loss expense (provisions and write-offs)", X, "5000", "write_off_expense", hot_account_slots),
)
