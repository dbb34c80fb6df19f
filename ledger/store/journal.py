"""Writes a batch of posted entries: journal rows, postings, balance counters and audit events.

On PostgreSQL the whole batch is one statement: a data-modifying CTE fed by JSON documents typed
by the tables' own row types, so one entry or ten thousand cost one round trip, the text never
changes (psycopg prepares it once per connection) and foreign keys are checked when the statement
ends, with every row in place. The balance upserts run in the global lock order of
ledger.store.balances: the period rows wait for the current-balance rows
(`WHERE (SELECT count(*) FROM current_rows) >= 0`), each set sorted by key. The same statement
tries for the tenant's sealer lock when the unit of work asks for sealing (see ledger.store.sealer).
Other databases take the portable path, one executemany per table.
"""
from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import NoReturn

import orjson
import sqlalchemy as sa
from psycopg.rows import namedtuple_row
from sqlalchemy.engine import Connection, Engine

from ledger import errors
from ledger.actor import Actor
from ledger.model import Account, AccountStatus
from ledger.queries import account_from_row, currencies_to_text, load_accounts
from ledger.store.balances import BalanceRows, Movement, apply_movements, balance_rows
from ledger.store.periods import check_open, closed_through, period_open_sql
from ledger.store.sealer import try_lock_sql
from ledger.store.tables import audit_events, audit_unsealed, journal_entries, postings
from ledger.unit_of_work import current

_upsert_counter = """
    ON CONFLICT ({key}) DO UPDATE SET
        debit_minor = b.debit_minor + excluded.debit_minor,
        credit_minor = b.credit_minor + excluded.credit_minor"""


def counter_upserts(condition: str) -> str:
    """The CTEs `current_rows` and `period_rows` adding %(current)s and %(periods)s.

    The period rows wait for the current-balance rows, each set in its given (key) order: the global
    lock order of ledger.store.balances. Rows are written only where `condition` (SQL) holds.
    """
    current = f"""current_rows AS (
    INSERT INTO account_balances AS b (tenant_id, account_code, currency, slot, debit_minor, credit_minor)
    SELECT %(tenant)s, r.account_code, r.currency, r.slot, r.debit_minor, r.credit_minor
    FROM json_populate_recordset(NULL::account_balances, %(current)s::json) WITH ORDINALITY AS r
    WHERE {condition}
    ORDER BY r.ordinality
    {_upsert_counter.format(key="tenant_id, account_code, currency, slot")}
    RETURNING 1
)"""
    return current + f""", period_rows AS (
    INSERT INTO account_period_balances AS b
        (tenant_id, account_code, currency, grain, period_start, slot, debit_minor, credit_minor)
    SELECT %(tenant)s, r.account_code, r.currency, r.grain, r.period_start, r.slot, r.debit_minor, r.credit_minor
    FROM json_populate_recordset(NULL::account_period_balances, %(periods)s::json) WITH ORDINALITY AS r
    WHERE (SELECT count(*) FROM current_rows) >= 0 AND {condition}
    ORDER BY r.ordinality
    {_upsert_counter.format(key="tenant_id, account_code, currency, grain, period_start, slot")}
)"""


# A posting statement's snapshot is taken when it starts: one that started before a close of its
# account committed would still find the account open. So closing an account takes an advisory
# lock on it exclusively, and the posting statement tries it shared, which never waits: while a
# close runs (or queues, waiting for the postings in flight), the statement writes nothing, and
# the posting waits for the close to end (wait_for_closes) and runs again on a fresh snapshot.
def _account_lock_key(tenant_sql: str, code_sql: str) -> str:
    return f"(({tenant_sql})::bigint << 32) | (hashtext({code_sql})::bigint & 4294967295)"


# Rows travel as JSON documents typed by the tables' own row types (json_populate_recordset):
# a handful of parameters whatever the batch size, cheap to build in Python and to parse in C.
def _journal_sql() -> str:
    """The posting statement, in the caller's transaction: one entry or a batch, the same text.

    It writes everything or, if an account changed (the guard), nothing; a duplicate id or
    idempotency key raises, and run_in_transaction retries the work, which then finds the replay.
    The entries' postings go to the current-balance counters and to the day/month/year period rows
    in the same statement, so a balance as of any date is exact the moment the entry commits.
    """
    written = "(SELECT ok FROM guard)"
    seal = f"CASE WHEN g.ok AND %(seal)s THEN {try_lock_sql('tenant')} ELSE false END"
    close_free_sql = f"pg_try_advisory_xact_lock_shared({_account_lock_key('%(tenant)s', 'c.code')})"
    return f"""
WITH checks AS MATERIALIZED (
    -- Each account's close lock, tried shared (never waits; see lock_account_for_close), and one
    -- primary-key probe per account (a join would let a generic plan scan the whole chart).
    SELECT {close_free_sql} AS free, EXISTS (
        SELECT 1 FROM accounts AS a
        WHERE a.tenant_id = %(tenant)s AND a.code = c.code AND a.status = 'OPEN'
          AND a.currencies IS NOT DISTINCT FROM c.currencies AND a.balance_slots = c.slots
    ) AS open
    FROM json_to_recordset(%(chart)s::json) AS c(code text, currencies text, slots int)
), period AS MATERIALIZED (
    -- The entries' earliest date against the tenant's closed periods (ledger.store.periods).
    SELECT {period_open_sql} AS open
), guard AS MATERIALIZED (
    SELECT coalesce(bool_and(free AND open), true) AND (SELECT open FROM period) AS ok,
           coalesce(bool_and(free), true) AS free, (SELECT open FROM period) AS period_open
    FROM checks
), entry_rows AS (
    INSERT INTO journal_entries (tenant_id, id, effective_date, recorded_at, description, metadata, actor,
                                 idempotency_key, request_hash, reverses_entry_id, content_hash)
    SELECT %(tenant)s, r.id, r.effective_date, %(now)s, r.description, r.metadata, %(actor)s,
           r.idempotency_key, r.request_hash, r.reverses_entry_id, r.content_hash
    FROM json_populate_recordset(NULL::journal_entries, %(entries)s::json) AS r
    WHERE (SELECT ok FROM guard)
), posting_rows AS (
    INSERT INTO postings (tenant_id, entry_id, line_no, account_code, currency, amount_minor, effective_date)
    SELECT %(tenant)s, r.entry_id, r.line_no, r.account_code, r.currency, r.amount_minor, r.effective_date
    FROM json_populate_recordset(NULL::postings, %(postings)s::json) AS r
    WHERE {written}
), {counter_upserts(written)}, event_rows AS (
    INSERT INTO audit_events (tenant_id, id, occurred_at, actor, action, entity_type, entity_id, before, after,
                              reason, request_id)
    SELECT %(tenant)s, r.id, %(now)s, %(actor)s, r.action, r.entity_type, r.entity_id, r.before, r.after,
           r.reason, %(request_id)s
    FROM json_populate_recordset(NULL::audit_events, %(events)s::json) AS r
    WHERE {written}
    RETURNING id
), unsealed_rows AS (
    INSERT INTO audit_unsealed (tenant_id, event_id, occurred_at) SELECT %(tenant)s, id, %(now)s FROM event_rows
)
SELECT g.ok, {seal}, g.free, g.period_open FROM guard AS g
"""


journal_sql = _journal_sql()


_wait_for_closes_sql = f"""
SELECT count(pg_advisory_xact_lock_shared({_account_lock_key('%(tenant)s', 'c.code')}))
FROM unnest(%(codes)s::text[]) AS c(code)
"""
_close_lock_sql = f"SELECT pg_advisory_xact_lock({_account_lock_key('%(tenant)s', '%(code)s::text')})"


def lock_account_for_close(conn: Connection, tenant_id: int, code: str) -> None:
    """On PostgreSQL, wait for the postings in flight to the account and keep new ones out until commit."""
    if conn.dialect.name != "postgresql":
        return  # SQLite runs one writer at a time
    with _as_sqlalchemy_errors(conn, _close_lock_sql, None):
        conn.connection.driver_connection.execute(_close_lock_sql, {"tenant": tenant_id, "code": code})


def _wait_for_closes(driver, tenant_id: int, codes: Sequence[str]) -> None:  # type: ignore[no-untyped-def]
    """Wait until no close holds these accounts (the lock is then held shared, as a posting holds it)."""
    driver.execute(_wait_for_closes_sql, {"tenant": tenant_id, "codes": sorted(codes)})

_chart_columns = "tenant_id, code, name, type, normal_balance, parent_code, status, currencies, balance_slots, is_header"
_chart_sql = f"SELECT {_chart_columns} FROM accounts WHERE tenant_id = %s AND code = ANY(%s::varchar[])"
_open_chart_sql = f"SELECT {_chart_columns} FROM accounts WHERE tenant_id = %s AND status = 'OPEN' ORDER BY code LIMIT %s"


@contextlib.contextmanager
def _as_sqlalchemy_errors(conn: Connection, statement: str, params: object) -> Iterator[None]:
    """Raise driver errors as SQLAlchemy's, as if the statement had gone through the Connection.

    A lost connection is invalidated, as SQLAlchemy does, so the pool drops it and the error says
    so (`connection_invalidated`): run_in_transaction retries on a fresh one.
    """
    try:
        yield
    except conn.dialect.loaded_dbapi.Error as exc:
        disconnected = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)
        if disconnected:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            statement, params, exc, conn.dialect.loaded_dbapi.Error, hide_parameters=True, dialect=conn.dialect,
            connection_invalidated=disconnected,
        ) from exc


class StaleChart(Exception):
    """The accounts a posting was checked against changed before it was written (nothing was)."""


# The tenant's open accounts, by (database, tenant): posting checks drafts against these without a
# round trip, and the posting statement itself confirms (the `guard` above) that every account is
# still open with the same currencies and slots, writing nothing if not. Accounts never change
# except by closing, so a stale copy costs one reload, never a wrong posting. The first posting
# of a tenant in a process (and the first after a reload) reads its whole open chart, up to
# `chart_preload_accounts_max` accounts, in one round trip: a chart is small, and reading account
# by account as they are first named would cost a round trip on most postings of a fresh process.
_chart_cache: dict[tuple[str, int], dict[str, Account]] = {}
# The database an engine names, as text: hashing a URL renders it afresh every time.
_database_keys: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
chart_cache_accounts_max = 100_000
chart_preload_accounts_max = 10_000


def accounts_for_posting(conn: Connection, tenant_id: int, codes: Sequence[str]) -> dict[str, Account]:
    """The tenant's accounts with these codes; on PostgreSQL from the process's chart cache."""
    if conn.dialect.name != "postgresql":
        return load_accounts(conn, tenant_id, codes)
    with _as_sqlalchemy_errors(conn, _chart_sql, None):
        return chart_accounts(conn.engine, conn.connection.driver_connection, tenant_id, codes)


_lock_chart_sql = (
    "SELECT code, status, currencies, balance_slots FROM accounts"
    " WHERE tenant_id = %s AND code = ANY(%s::varchar[]) ORDER BY code FOR SHARE"
)


def locked_accounts(conn: Connection, tenant_id: int, codes: Sequence[str]) -> dict[str, Account]:
    """On PostgreSQL, the accounts with these codes, locked FOR SHARE until commit (none closes meanwhile).

    The lock reads only each account's state; the accounts come from the process's chart, read
    afresh if any differs from what the lock found (it cannot change again before commit).
    """
    driver = conn.connection.driver_connection
    with _as_sqlalchemy_errors(conn, _lock_chart_sql, None):
        found = driver.execute(_lock_chart_sql, (tenant_id, list(codes))).fetchall()
        chart = chart_accounts(conn.engine, driver, tenant_id, codes)
        if len(chart) != len(found) or any(_differs(chart.get(row[0]), *row) for row in found):
            forget_chart(conn.engine, tenant_id)
            chart = chart_accounts(conn.engine, driver, tenant_id, codes)
    return chart


def _differs(account: Account | None, code: str, status: str, currencies: str | None, slots: int) -> bool:
    return (
        account is None or account.status.value != status or account.balance_slots != slots
        or currencies_to_text(account.currencies) != currencies
    )


def chart_accounts(engine: Engine, driver, tenant_id: int, codes: Sequence[str]) -> dict[str, Account]:  # type: ignore[no-untyped-def]
    """accounts_for_posting on PostgreSQL, reading what the cache lacks through the driver's connection."""
    key = (_database_key(engine), tenant_id)
    cached = _chart_cache.get(key)
    if cached is None:
        if sum(len(c) for c in _chart_cache.values()) > chart_cache_accounts_max:
            _chart_cache.clear()
        cached = _chart_cache[key] = {
            account.code: account
            for account in _read_chart(driver, _open_chart_sql, (tenant_id, chart_preload_accounts_max))
        }
    missing = [code for code in codes if code not in cached]
    if missing:
        found = {account.code: account for account in _read_chart(driver, _chart_sql, (tenant_id, missing))}
        # Only open accounts are kept: a closed one is read afresh every time it is named.
        cached.update((code, account) for code, account in found.items() if account.status is AccountStatus.OPEN)
        return {code: found.get(code) or cached[code] for code in codes if code in found or code in cached}
    return {code: cached[code] for code in codes}


def _read_chart(driver, statement: str, params: tuple) -> list[Account]:  # type: ignore[no-untyped-def]
    with driver.cursor(row_factory=namedtuple_row) as cursor:
        cursor.execute(statement, params)
        return [account_from_row(row) for row in cursor.fetchall()]


def forget_chart(engine: Engine, tenant_id: int) -> None:
    _chart_cache.pop((_database_key(engine), tenant_id), None)


def _database_key(engine: Engine) -> str:
    key = _database_keys.get(engine)
    if key is None:
        key = _database_keys[engine] = engine.url.render_as_string()
    return key


def write_entries(
    conn: Connection,
    actor: Actor,
    accounts: Mapping[str, Account],
    entry_rows: Sequence[dict],
    posting_rows: Sequence[dict],
    movements: Sequence[Movement],
    events: Sequence[dict],
) -> None:
    """Insert entries, postings and audit events and move the balances, in the caller's transaction.

    `accounts` are those the drafts were checked against; on PostgreSQL the statement confirms
    they are unchanged and raises StaleChart, having written nothing, if not. `entry_rows` and
    `events` carry the actor's timestamp and name (asserted), so they travel once.
    """
    assert all(r["recorded_at"] is actor.now and r["actor"] == actor.name for r in entry_rows)
    assert all(e["occurred_at"] is actor.now and e["actor"] == actor.name and e["request_id"] == actor.request_id for e in events)
    if conn.dialect.name == "postgresql":
        _write_postgresql(conn, actor, accounts, entry_rows, posting_rows, movements, events)
        return
    if not check_open(conn, actor.tenant_id, _earliest(entry_rows)):
        raise_period_closed(conn, actor.tenant_id, _earliest(entry_rows))
    slots = {code: account.balance_slots for code, account in accounts.items()}
    current(conn).audited(actor.tenant_id, [e["id"] for e in events])
    conn.execute(sa.insert(journal_entries), list(entry_rows))
    conn.execute(sa.insert(postings), list(posting_rows))
    apply_movements(conn, actor.tenant_id, movements, slots)
    conn.execute(sa.insert(audit_events), list(events))
    conn.execute(
        sa.insert(audit_unsealed),
        [{"tenant_id": e["tenant_id"], "event_id": e["id"], "occurred_at": e["occurred_at"]} for e in events],
    )


def _write_postgresql(
    conn: Connection,
    actor: Actor,
    accounts: Mapping[str, Account],
    entry_rows: Sequence[dict],
    posting_rows: Sequence[dict],
    movements: Sequence[Movement],
    events: Sequence[dict],
) -> None:
    raw = conn.connection.driver_connection
    unit = current(conn)
    params = _posting_params(actor, accounts, entry_rows, posting_rows, movements, events, raw.info.backend_pid)
    params["seal"] = unit.seal
    with _as_sqlalchemy_errors(conn, journal_sql, None):
        # Prepared at its first use on each connection (psycopg keeps it, and prepares it again
        # after a rollback deallocated its statements): the text never changes, whatever the batch.
        written, is_sealer, free, period_open = raw.execute(journal_sql, params, prepare=True).fetchone()
        if not period_open:
            raise_period_closed(conn, actor.tenant_id, params["earliest"])
        if not written:
            _stale(conn.engine, raw, actor.tenant_id, accounts, free)
    unit.audited(actor.tenant_id, [e["id"] for e in events])
    if is_sealer:
        # We hold the tenant's sealer lock until commit: the unit of work chains the queue, our
        # events included, before it commits, so they commit already sealed (once per transaction,
        # however many entries it posts).
        unit.holds_sealer_lock(actor.tenant_id)


def _earliest(entry_rows: Sequence[dict]) -> object:
    return min((r["effective_date"] for r in entry_rows), default=None)


def raise_period_closed(conn: Connection, tenant_id: int, earliest: object) -> NoReturn:
    """Nothing was written: an entry is dated in a closed period."""
    through = closed_through(conn, tenant_id)
    raise errors.PeriodClosed(
        f"the books are closed through {through}; an entry dated {earliest} cannot be posted"
        " (post it, or its correction, in the open period)",
        closed_through=str(through), effective_date=str(earliest),
    )


def _stale(engine: Engine, driver, tenant_id: int, accounts: Mapping[str, Account], free: bool) -> NoReturn:  # type: ignore[no-untyped-def]
    """Nothing was written: an account changed, or is being closed (wait for the close to end)."""
    if not free:
        _wait_for_closes(driver, tenant_id, list(accounts))
    forget_chart(engine, tenant_id)
    raise StaleChart()


def _posting_params(
    actor: Actor,
    accounts: Mapping[str, Account],
    entry_rows: Sequence[dict],
    posting_rows: Sequence[dict],
    movements: Sequence[Movement],
    events: Sequence[dict],
    backend_pid: int,
) -> dict:
    """The posting statement's parameters, all but `seal` (the unit of work's)."""
    # Each connection keeps to the slot its server process number picks: connections opened one after
    # another get consecutive numbers, so up to `slots` busy connections touch a hot account's
    # counters on different rows, where a random pick per transaction made ~60 % of 8 collide.
    slots = {code: a.balance_slots for code, a in accounts.items()}
    counters = balance_rows(movements, slots, backend_pid)
    return {
        "tenant": actor.tenant_id, "now": actor.now, "actor": actor.name, "request_id": actor.request_id,
        "earliest": _earliest(entry_rows),
        "chart": orjson.dumps(
            [{"code": a.code, "currencies": currencies_to_text(a.currencies), "slots": a.balance_slots}
             for a in accounts.values()]
        ).decode(),
        "entries": _json(entry_rows, _entry_fields),
        "postings": _json(posting_rows, _posting_fields),
        "events": _json(events, _event_fields),
        **counter_params(counters),
    }


def counter_params(counters: BalanceRows) -> dict[str, str]:
    """The `current` and `periods` parameters of counter_upserts, as JSON documents."""
    return {
        "current": _json_tuples(counters.current, ("account_code", "currency", "slot", "debit_minor", "credit_minor")),
        "periods": _json_tuples(
            counters.periods, ("account_code", "currency", "grain", "period_start", "slot", "debit_minor", "credit_minor")
        ),
    }


_entry_fields = ("id", "effective_date", "description", "metadata", "idempotency_key", "request_hash",
                 "reverses_entry_id", "content_hash")
_posting_fields = ("entry_id", "line_no", "account_code", "currency", "amount_minor", "effective_date")
_event_fields = ("id", "action", "entity_type", "entity_id", "before", "after", "reason")


# Transport only (PostgreSQL parses it back into typed rows; hashes never see this text): orjson
# writes UUIDs and dates natively, several times faster than the standard library's `default=str`.
def _json(rows: Sequence[dict], fields: tuple[str, ...]) -> str:
    return orjson.dumps([{f: row[f] for f in fields} for row in rows]).decode()


def _json_tuples(rows: Sequence[tuple], fields: tuple[str, ...]) -> str:
    return orjson.dumps([dict(zip(fields, row)) for row in rows]).decode()
