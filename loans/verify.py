"""Sub-ledger equals GL: the loans' pools, summed per mapped account, equal the control accounts.

Also checks each active loan's pools against its installments (principal = unpaid principal, ...).
"""
from __future__ import annotations

import json
from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.queries import current_balances
from loans.products import product_from_json
from loans.store.repository import load_installments, state_from_rows
from loans.store.tables import loan_products, loans

# role -> (pool column, sign of the GL net balance: receivables are debits, the others credits)
control_roles = {
    "loans_receivable": ("principal", 1),
    "interest_receivable": ("interest", 1),
    "fee_receivable": ("fee", 1),
    "penalty_receivable": ("penalty", 1),
    "allowance": ("allowance", -1),
    "overpayments": ("overpayment", -1),
}


def verify_subledger(conn: Connection, tenant_id: int) -> list[str]:
    problems: list[str] = []
    products = {
        (r.code, r.version): product_from_json(json.loads(r.definition))
        for r in conn.execute(sa.select(loan_products).where(loan_products.c.tenant_id == tenant_id))
    }
    expected: dict[tuple[str, str], int] = defaultdict(int)
    controlled: set[str] = set()
    for product in products.values():
        controlled.update(product.gl_accounts[role] for role in control_roles)
    sums = conn.execute(
        sa.select(
            loans.c.product_code, loans.c.product_version, loans.c.currency,
            *[sa.func.sum(loans.c[column]).label(column) for column, _ in control_roles.values()],
        )
        .where(loans.c.tenant_id == tenant_id, loans.c.disbursed_on.is_not(None))
        .group_by(loans.c.product_code, loans.c.product_version, loans.c.currency)
    ).all()
    for row in sums:
        product = products[(row.product_code, row.product_version)]
        for role, (column, sign) in control_roles.items():
            expected[(product.gl_accounts[role], row.currency)] += sign * int(getattr(row, column) or 0)
    for code in sorted(controlled):
        actual = {b.currency: b.net_minor for b in current_balances(conn, tenant_id, code)}
        for currency in sorted(set(actual) | {c for (a, c) in expected if a == code}):
            want, have = expected.get((code, currency), 0), actual.get(currency, 0)
            if want != have:
                problems.append(
                    f"tenant {tenant_id}: GL account {code} {currency} nets {have} but the loan sub-ledger sums to {want}"
                )
    problems += _verify_loans(conn, tenant_id)
    return problems


def _verify_loans(conn: Connection, tenant_id: int) -> list[str]:
    problems = []
    rows = conn.execute(sa.select(loans).where(loans.c.tenant_id == tenant_id, loans.c.status == "ACTIVE")).all()
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        grouped = load_installments(conn, tenant_id, [r.id for r in chunk], {r.id: r.schedule_version for r in chunk})
        for row in chunk:
            state = state_from_rows(row, grouped[row.id])
            label = f"tenant {tenant_id}: loan {row.id}"
            if state.principal != sum(i.principal_due for i in state.installments):
                problems.append(f"{label} principal {state.principal} differs from its installments' unpaid principal")
            owed_interest = sum(i.interest_accrued - i.interest_paid for i in state.installments)
            if state.interest + state.interest_suspended != owed_interest:
                problems.append(f"{label} interest pools differ from its installments' accrued unpaid interest")
            if min(state.principal, state.interest, state.fee, state.penalty, state.overpayment) < 0:
                problems.append(f"{label} has a negative receivable or credit balance")
    return problems
