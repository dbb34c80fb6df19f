"""DataLoaders: a page of entries with their accounts, balances and reversal links costs a constant
number of SQL statements, whatever the page size. In-process, on both databases."""
from __future__ import annotations

import asyncio
import datetime as dt
import threading

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from graphql_api.loans.cob_runner import CobRunner
from graphql_api.context import ApiContext
from loanbook.db import make_reader
from graphql_api.schema import schema
from strawberry.types import ExecutionResult
from identity import service as identity_service
from identity.model import Role
from loans.pii import FieldCipher
from ledger import service as ledger_service
from ledger.model import EntryDraft, credit, debit
from ledger.unit_of_work import run_in_transaction
from tests.conftest import actor_for, new_tenant

# Any fixed key will do: these tests write and read their own borrowers.
test_cipher = FieldCipher(bytes(range(32)))

PAGE = """
query Page($first: Int!) {
  journalEntries(first: $first) {
    edges { node {
      id description reverses { id } reversedBy { id }
      postings { side amount { amount } account { code name parent { code } balances { balance { amount } } } }
    } }
    pageInfo { hasNextPage }
  }
}"""


def context(engine: sa.Engine, token: str, reader: sa.Engine | AsyncEngine | None = None) -> ApiContext:
    scope = {"type": "http", "method": "POST", "path": "/graphql", "query_string": b"",
             "headers": [(b"authorization", f"Bearer {token}".encode())]}
    clock = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731
    return ApiContext(
        engine, clock, Request(scope), Response(), "test", cipher=test_cipher, cob_runner=CobRunner(engine, clock), reader=reader
    )


def statements_for_page(engine: sa.Engine, token: str, first: int, document: str = PAGE) -> tuple[int, dict]:
    seen: list[str] = []
    lock = threading.Lock()

    def count(conn, cursor, statement, *_):  # noqa: ANN001
        with lock:
            seen.append(statement)

    # As `loanbook serve` reads: single statements on an AsyncEngine on PostgreSQL, on the engine on SQLite.
    reader = make_reader(engine)
    engines = {engine, reader.sync_engine if isinstance(reader, AsyncEngine) else reader}
    for listened in engines:
        sa.event.listen(listened, "before_cursor_execute", count)

    async def execute() -> ExecutionResult:
        try:
            return await schema.execute(document, variable_values={"first": first}, context_value=context(engine, token, reader))
        finally:
            if isinstance(reader, AsyncEngine):
                await reader.dispose()

    try:
        result = asyncio.run(execute())
    finally:
        for listened in engines:
            sa.event.remove(listened, "before_cursor_execute", count)
    assert result.errors is None, result.errors
    return len(seen), result.data


def books_with(engine: sa.Engine, entries: int, reversed_: int) -> str:
    """A tenant with `entries` entries over six accounts, the first `reversed_` of them reversed; an auditor token."""
    tenant_id = new_tenant(engine)
    now = dt.datetime.now(dt.timezone.utc)
    accounts = ["1100", "1200", "1210", "1220", "4100", "4200"]
    drafts = [
        EntryDraft(
            dt.date(2026, 3, 1 + i % 28),
            (debit(accounts[i % 3], f"{i + 1}.00", "CNY"), credit(accounts[3 + i % 3], f"{i + 1}.00", "CNY")),
            f"entry {i}",
        )
        for i in range(entries)
    ]
    posted = run_in_transaction(engine, lambda c: ledger_service.post_entries(c, actor_for(tenant_id), drafts))
    for entry in posted[:reversed_]:
        run_in_transaction(
            engine, lambda c, e=entry: ledger_service.reverse_entry(c, actor_for(tenant_id, reason="test"), e.id, dt.date(2026, 3, 30))
        )
    return run_in_transaction(
        engine, lambda c: identity_service.create_token(c, tenant_id, Role.AUDITOR, actor_name="test", now=now)
    ).secret


def test_a_page_costs_the_same_statements_whatever_its_size(engine):
    small, small_page = statements_for_page(engine, books_with(engine, entries=2, reversed_=1), first=3)
    large, large_page = statements_for_page(engine, books_with(engine, entries=40, reversed_=10), first=50)
    assert len(small_page["journalEntries"]["edges"]) == 3 and len(large_page["journalEntries"]["edges"]) == 50
    assert large == small, f"{small} statements for 3 entries but {large} for 50"
