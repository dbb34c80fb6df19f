"""DataLoaders, built per request for one tenant: each batches its keys into one query per tick.

A page of entries costs the same few statements whatever its size: entries, their postings (one
query), then accounts, balances and reversal links (one query each) as the client asks for them.
Likewise a page of loans: loans, then installments, transactions, borrowers and products, one
statement each (`WHERE loan_id IN (...)`), however many loans the page holds.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.dataloader import DataLoader

from graphql_api.core.threads import read, read_statement
from ledger import queries as ledger_queries
from ledger.model import Account, PostedEntry
from ledger.queries import Balance, load_accounts
from loans import queries as loan_queries
from loans.pii import BorrowerRecord, FieldCipher
from loans.queries import ProductRecord

# Bounds the IN (...) list of one batched statement.
batch_size_max = 500
BalanceKey = tuple[str, "dt.date | None"]
ScheduleKey = tuple[uuid.UUID, int]  # (loan id, schedule version)
HistoryKey = tuple[uuid.UUID, int, "tuple[str, ...] | None"]  # (loan id, how many of its latest, of which types)


@dataclass(frozen=True)
class Loaders:
    account: DataLoader[str, Account | None]
    balances: DataLoader[BalanceKey, list[Balance]]
    entry: DataLoader[uuid.UUID, PostedEntry | None]
    reversal_id: DataLoader[uuid.UUID, uuid.UUID | None]
    borrower: DataLoader[uuid.UUID, BorrowerRecord | None]
    product: DataLoader[tuple[str, int], ProductRecord | None]
    loan: DataLoader[uuid.UUID, sa.Row | None]
    installments: DataLoader[ScheduleKey, list[sa.Row]]
    loan_history: DataLoader[HistoryKey, list[sa.Row]]
    loan_transaction: DataLoader[uuid.UUID, sa.Row | None]
    loan_transaction_reversal: DataLoader[uuid.UUID, sa.Row | None]

    def clear(self) -> None:
        """Forget what this request read: a mutation just changed it."""
        for f in fields(self):
            getattr(self, f.name).clear_all()


def build_loaders(engine: Engine, tenant_id: int, cipher: FieldCipher, reader: Engine | AsyncEngine | None = None) -> Loaders:
    """Loaders for one request; single-statement batches run on `reader` (graphql_api.core.threads), default `engine`."""
    reader = engine if reader is None else reader

    # `query(conn, tenant_id, keys) -> {key: value}`; absent keys load None.
    def by_key(query, *, one_statement: bool = True) -> DataLoader:  # noqa: ANN001
        async def load(keys: Sequence) -> list:
            found = await (read_statement(reader, query, tenant_id, list(keys)) if one_statement
                           else read(engine, query, tenant_id, list(keys)))
            return [found.get(key) for key in keys]

        return DataLoader(load_fn=load, max_batch_size=batch_size_max)

    async def load_accounts_batch(codes: Sequence[str]) -> list[Account | None]:
        found = await read_statement(reader, load_accounts, tenant_id, list(codes))
        return [found.get(code) for code in codes]

    async def load_balances_batch(keys: Sequence[BalanceKey]) -> list[list[Balance]]:
        codes_by_date: dict[dt.date | None, list[str]] = defaultdict(list)
        for code, as_of in keys:
            codes_by_date[as_of].append(code)
        found: dict[BalanceKey, list[Balance]] = {}
        for as_of, codes in codes_by_date.items():
            by_code = await read_statement(reader, ledger_queries.balances_by_account, tenant_id, sorted(set(codes)), as_of)
            found.update({(code, as_of): balances for code, balances in by_code.items()})
        return [found.get(key, []) for key in keys]

    async def load_borrowers_batch(ids: Sequence[uuid.UUID]) -> list[BorrowerRecord | None]:
        found = await read_statement(reader, loan_queries.borrowers_by_id, tenant_id, cipher, list(ids))
        return [found.get(borrower_id) for borrower_id in ids]

    async def load_installments_batch(keys: Sequence[ScheduleKey]) -> list[list[sa.Row]]:
        found = await read_statement(reader, loan_queries.installments_by_schedule, tenant_id, list(keys))
        return [found[key] for key in keys]

    async def load_history_batch(keys: Sequence[HistoryKey]) -> list[list[sa.Row]]:
        # One statement per distinct `last` in the request (in practice one).
        loans_by_last: dict[tuple, list[uuid.UUID]] = defaultdict(list)
        for loan_id, last, kinds in keys:
            loans_by_last[(last, kinds)].append(loan_id)
        found: dict[HistoryKey, list[sa.Row]] = {}
        for (last, kinds), loan_ids in loans_by_last.items():
            by_loan = await read_statement(
                reader, loan_queries.transactions_by_loan, tenant_id, sorted(set(loan_ids)), last, kinds
            )
            found.update({(loan_id, last, kinds): rows for loan_id, rows in by_loan.items()})
        return [found[key] for key in keys]

    def loader(load_fn) -> DataLoader:  # noqa: ANN001
        return DataLoader(load_fn=load_fn, max_batch_size=batch_size_max)

    return Loaders(
        account=loader(load_accounts_batch),
        balances=loader(load_balances_batch),
        entry=by_key(ledger_queries.entries_by_id, one_statement=False),  # entries, then their postings: two statements
        reversal_id=by_key(ledger_queries.reversals_of),
        borrower=loader(load_borrowers_batch),
        product=by_key(loan_queries.products_by_key),
        loan=by_key(loan_queries.loans_by_id),
        installments=loader(load_installments_batch),
        loan_history=loader(load_history_batch),
        loan_transaction=by_key(loan_queries.transactions_by_id),
        loan_transaction_reversal=by_key(loan_queries.reversals_of_transactions),
    )
