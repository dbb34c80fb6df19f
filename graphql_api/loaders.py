"""DataLoaders, built per request for one tenant: each batches its keys into one query per tick.

A page of entries costs the same few statements whatever its size: entries, their postings (one
query), then accounts, balances and reversal links (one query each) as the client asks for them.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from strawberry.dataloader import DataLoader

from graphql_api import reads
from graphql_api.threads import read
from ledger.model import Account, PostedEntry
from ledger.queries import Balance, load_accounts

# Bounds the IN (...) list of one batched statement.
batch_size_max = 500
BalanceKey = tuple[str, "dt.date | None"]


@dataclass(frozen=True)
class Loaders:
    account: DataLoader[str, Account | None]
    balances: DataLoader[BalanceKey, list[Balance]]
    entry: DataLoader[uuid.UUID, PostedEntry | None]
    reversal_id: DataLoader[uuid.UUID, uuid.UUID | None]


def build_loaders(engine: Engine, tenant_id: int) -> Loaders:
    async def load_accounts_batch(codes: Sequence[str]) -> list[Account | None]:
        found = await read(engine, load_accounts, tenant_id, list(codes))
        return [found.get(code) for code in codes]

    async def load_balances_batch(keys: Sequence[BalanceKey]) -> list[list[Balance]]:
        codes_by_date: dict[dt.date | None, list[str]] = defaultdict(list)
        for code, as_of in keys:
            codes_by_date[as_of].append(code)
        found: dict[BalanceKey, list[Balance]] = {}
        for as_of, codes in codes_by_date.items():
            by_code = await read(engine, reads.balances_by_account, tenant_id, sorted(set(codes)), as_of)
            found.update({(code, as_of): balances for code, balances in by_code.items()})
        return [found.get(key, []) for key in keys]

    async def load_entries_batch(ids: Sequence[uuid.UUID]) -> list[PostedEntry | None]:
        found = await read(engine, reads.entries_by_id, tenant_id, list(ids))
        return [found.get(entry_id) for entry_id in ids]

    async def load_reversals_batch(ids: Sequence[uuid.UUID]) -> list[uuid.UUID | None]:
        found = await read(engine, reads.reversals_of, tenant_id, list(ids))
        return [found.get(entry_id) for entry_id in ids]

    return Loaders(
        account=DataLoader(load_fn=load_accounts_batch, max_batch_size=batch_size_max),
        balances=DataLoader(load_fn=load_balances_batch, max_batch_size=batch_size_max),
        entry=DataLoader(load_fn=load_entries_batch, max_batch_size=batch_size_max),
        reversal_id=DataLoader(load_fn=load_reversals_batch, max_batch_size=batch_size_max),
    )
