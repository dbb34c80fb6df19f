"""The reconciliation package's SQL: statements and lines in, links and statuses, reads for the service."""
from __future__ import annotations

import datetime as dt
import json
import operator
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from reconciliation.store.tables import (
    mappings,
    matched_lines,
    matched_postings,
    matches,
    rule_settings,
    statement_lines,
    statements,
)

rows_per_statement_max = 5_000  # rows per executemany: bounded parameters per round trip
keys_per_query = 900
copy_rows_min = 1_000  # from this many rows on PostgreSQL, COPY instead of INSERT


def _insert(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, object]]) -> None:
    """Insert rows: by COPY on PostgreSQL for a large batch (one stream, no per-row parameters), else
    executemany in bounded chunks. A COPY's constraint violation is raised as SQLAlchemy's IntegrityError,
    as an INSERT's would be.

    The COPY is in PostgreSQL's binary format when every column's type has a binary form here (ids,
    integers, dates, timestamps, text): the client packs ids and integers as bytes instead of writing
    them out as text, and the server reads them back without parsing. The server still checks each
    value against its column (a varchar's length, a constraint), as for any insert."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= copy_rows_min:
        import psycopg  # noqa: PLC0415 (only on PostgreSQL)

        columns = [c.name for c in table.columns]
        types = _binary_types(conn, table)
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN" + (" (FORMAT BINARY)" if types else "")
        values = operator.itemgetter(*columns)  # rows carry every column: C speed, not a loop per row
        cursor = conn.connection.driver_connection.cursor()
        try:
            with cursor.copy(statement) as copy:
                if types:
                    copy.set_types(types)
                write = copy.write_row
                for row in rows:
                    write(values(row))
        except psycopg.errors.IntegrityError as exc:
            raise sa.exc.IntegrityError(statement, None, exc) from exc
        return
    for start in range(0, len(rows), rows_per_statement_max):
        conn.execute(sa.insert(table), list(rows[start:start + rows_per_statement_max]))


# PostgreSQL's column types (as SQLAlchemy names them, without a length) -> the type whose binary
# form psycopg writes for that column in a binary COPY (a varchar's binary form is its text's).
_binary_copy_types = {"bigint": "int8", "integer": "int4", "smallint": "int2", "uuid": "uuid", "varchar": "text",
                      "text": "text", "date": "date", "timestamp with time zone": "timestamptz", "boolean": "bool"}


def _binary_types(conn: Connection, table: sa.Table) -> list[str] | None:
    """The binary COPY types of the table's columns, in order; None if a column has none here."""
    names = [c.type.compile(dialect=conn.dialect).split("(")[0].strip().lower() for c in table.columns]
    if not all(name in _binary_copy_types for name in names):
        return None
    return [_binary_copy_types[name] for name in names]


def statement_by_hash(conn: Connection, tenant_id: int, account: str, content_hash: str) -> sa.Row | None:
    return conn.execute(sa.select(statements).where(
        statements.c.tenant_id == tenant_id, statements.c.bank_account_code == account, statements.c.content_hash == content_hash,
    )).first()


def latest_statement(conn: Connection, tenant_id: int, account: str, on_or_before: dt.date | None = None) -> sa.Row | None:
    query = sa.select(statements).where(statements.c.tenant_id == tenant_id, statements.c.bank_account_code == account,
                                        statements.c.closing_minor.is_not(None))
    if on_or_before is not None:
        query = query.where(statements.c.closing_date <= on_or_before)
    return conn.execute(query.order_by(statements.c.closing_date.desc(), statements.c.imported_at.desc()).limit(1)).first()


def statements_closing_between(conn: Connection, tenant_id: int, date_from: dt.date, date_to: dt.date) -> list[sa.Row]:
    """Statements with a closing balance dated in [date_from, date_to], by account, closing date, import."""
    s = statements
    return conn.execute(sa.select(s).where(
        s.c.tenant_id == tenant_id, s.c.closing_minor.is_not(None), s.c.closing_date >= date_from, s.c.closing_date <= date_to,
    ).order_by(s.c.bank_account_code, s.c.closing_date, s.c.imported_at, s.c.id)).all()


def any_statement_currency(conn: Connection, tenant_id: int, account: str) -> str | None:
    return conn.execute(sa.select(statements.c.currency).where(
        statements.c.tenant_id == tenant_id, statements.c.bank_account_code == account).limit(1)).scalar()


def known_keys(conn: Connection, tenant_id: int, account: str, keys: Sequence[str]) -> set[str]:
    """Which of these line keys the account already has: on PostgreSQL one statement with the keys as an
    array (a 100k-line statement in one round trip), elsewhere IN lists of bounded length."""
    if conn.dialect.name == "postgresql":
        return set(conn.execute(sa.text(
            "SELECT line_key FROM bank_statement_lines WHERE tenant_id = :tenant AND bank_account_code = :account "
            "AND line_key = ANY(:keys)"), {"tenant": tenant_id, "account": account, "keys": list(keys)}).scalars())
    found: set[str] = set()
    for start in range(0, len(keys), keys_per_query):
        chunk = keys[start:start + keys_per_query]
        found.update(conn.execute(sa.select(statement_lines.c.line_key).where(
            statement_lines.c.tenant_id == tenant_id, statement_lines.c.bank_account_code == account,
            statement_lines.c.line_key.in_(chunk))).scalars())
    return found


def insert_statement(conn: Connection, row: Mapping[str, object]) -> None:
    conn.execute(sa.insert(statements), [dict(row)])


def insert_lines(conn: Connection, rows: Sequence[Mapping[str, object]]) -> None:
    _insert(conn, statement_lines, rows)


def mapping_definition(conn: Connection, tenant_id: int, name: str) -> dict | None:
    text = conn.execute(sa.select(mappings.c.definition).where(mappings.c.tenant_id == tenant_id, mappings.c.name == name)).scalar()
    return None if text is None else json.loads(text)


def save_mapping(conn: Connection, tenant_id: int, name: str, definition: str, actor: str, now: dt.datetime) -> bool:
    """Insert or replace the named mapping; True if it replaced one."""
    existed = conn.execute(sa.delete(mappings).where(mappings.c.tenant_id == tenant_id, mappings.c.name == name)).rowcount > 0
    conn.execute(sa.insert(mappings).values(tenant_id=tenant_id, name=name, definition=definition, saved_at=now, saved_by=actor))
    return existed


def rules_definition(conn: Connection, tenant_id: int) -> list | None:
    text = conn.execute(sa.select(rule_settings.c.definition).where(rule_settings.c.tenant_id == tenant_id)).scalar()
    return None if text is None else json.loads(text)


def save_rules(conn: Connection, tenant_id: int, definition: str, actor: str, now: dt.datetime) -> None:
    conn.execute(sa.delete(rule_settings).where(rule_settings.c.tenant_id == tenant_id))
    conn.execute(sa.insert(rule_settings).values(tenant_id=tenant_id, definition=definition, saved_at=now, saved_by=actor))


class OpenLine(NamedTuple):
    id: uuid.UUID
    bank_account_code: str
    booking_date: dt.date
    currency: str
    amount_minor: int
    bank_reference: str | None
    end_to_end_id: str | None
    counterparty_name: str | None
    counterparty_account: str | None
    remittance: str | None
    status: str


def open_lines(conn: Connection, tenant_id: int, account: str, through: dt.date) -> list[OpenLine]:
    """Lines not matched yet (UNMATCHED or PROPOSED) booked on or before `through`, as named tuples
    (a field of a named tuple reads in ~40 ns, of a Row in ~1 us; matching reads each several times)."""
    t = statement_lines
    result = conn.execute(sa.select(*(t.c[name] for name in OpenLine._fields)).where(
        t.c.tenant_id == tenant_id, t.c.bank_account_code == account, t.c.status != "MATCHED", t.c.booking_date <= through,
    ).order_by(t.c.booking_date, t.c.id))
    return list(map(OpenLine._make, result))


def matched_posting_keys(conn: Connection, tenant_id: int, account: str) -> set[tuple[uuid.UUID, int]]:
    return {(row.entry_id, row.posting_line_no) for row in conn.execute(
        sa.select(matched_postings.c.entry_id, matched_postings.c.posting_line_no).where(
            matched_postings.c.tenant_id == tenant_id, matched_postings.c.bank_account_code == account))}


def insert_matches(conn: Connection, match_rows: Sequence[dict], line_rows: Sequence[dict], posting_rows: Sequence[dict]) -> None:
    for table, rows in ((matches, match_rows), (matched_lines, line_rows), (matched_postings, posting_rows)):
        _insert(conn, table, rows)


def mark_matched(conn: Connection, tenant_id: int, account: str) -> None:
    """Every line of the account that is in a match is MATCHED: one statement (a join), not one per line."""
    linked = sa.select(matched_lines.c.line_id).where(matched_lines.c.tenant_id == tenant_id,
                                                      matched_lines.c.line_id == statement_lines.c.id)
    conn.execute(
        sa.update(statement_lines)
        .where(statement_lines.c.tenant_id == tenant_id, statement_lines.c.bank_account_code == account,
               statement_lines.c.status != "MATCHED", sa.exists(linked))
        .values(status="MATCHED", proposal=None)
    )


def set_statuses(conn: Connection, tenant_id: int, updates: Sequence[dict]) -> None:
    """Each update: {"line_id", "status", "proposal"}: few (proposals, lines unmatched by hand), one by one
    in executemany chunks."""
    statement = (
        sa.update(statement_lines)
        .where(statement_lines.c.tenant_id == tenant_id, statement_lines.c.id == sa.bindparam("line_id"))
        .values(status=sa.bindparam("new_status"), proposal=sa.bindparam("new_proposal"))
    )
    for start in range(0, len(updates), rows_per_statement_max):
        conn.execute(statement, [{"line_id": u["line_id"], "new_status": u["status"], "new_proposal": u["proposal"]}
                                 for u in updates[start:start + rows_per_statement_max]])


def lines_by_id(conn: Connection, tenant_id: int, ids: Iterable[uuid.UUID], *, lock: bool = False) -> dict[uuid.UUID, sa.Row]:
    query = sa.select(statement_lines).where(statement_lines.c.tenant_id == tenant_id, statement_lines.c.id.in_(list(ids)))
    if lock:
        query = query.with_for_update()
    return {row.id: row for row in conn.execute(query)}


def match_of_lines(conn: Connection, tenant_id: int, line_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    return set(conn.execute(sa.select(matched_lines.c.match_id).where(
        matched_lines.c.tenant_id == tenant_id, matched_lines.c.line_id.in_(list(line_ids)))).scalars())


def delete_matches(conn: Connection, tenant_id: int, match_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Undo matches (reconciliation state, not posted history); returns their lines."""
    line_ids = list(conn.execute(sa.select(matched_lines.c.line_id).where(
        matched_lines.c.tenant_id == tenant_id, matched_lines.c.match_id.in_(list(match_ids)))).scalars())
    for table in (matched_lines, matched_postings):
        conn.execute(sa.delete(table).where(table.c.tenant_id == tenant_id, table.c.match_id.in_(list(match_ids))))
    conn.execute(sa.delete(matches).where(matches.c.tenant_id == tenant_id, matches.c.id.in_(list(match_ids))))
    return line_ids


def match_links(conn: Connection, tenant_id: int, account: str) -> tuple[list[sa.Row], list[sa.Row]]:
    """Every match's lines (match_id, line_id, booking_date, amount_minor) and postings (match_id, entry_id,
    posting_line_no, effective_date, amount_minor) on the account."""
    lines = conn.execute(
        sa.select(matched_lines.c.match_id, matched_lines.c.line_id, statement_lines.c.booking_date, statement_lines.c.amount_minor)
        .join(statement_lines, sa.and_(statement_lines.c.tenant_id == matched_lines.c.tenant_id,
                                       statement_lines.c.id == matched_lines.c.line_id))
        .where(matched_lines.c.tenant_id == tenant_id, statement_lines.c.bank_account_code == account)
    ).all()
    postings = conn.execute(
        sa.select(matched_postings.c.match_id, matched_postings.c.entry_id, matched_postings.c.posting_line_no,
                  matched_postings.c.effective_date, matched_postings.c.amount_minor)
        .where(matched_postings.c.tenant_id == tenant_id, matched_postings.c.bank_account_code == account)
    ).all()
    return lines, postings


def lines_through(conn: Connection, tenant_id: int, account: str, currency: str, as_of: dt.date) -> list[sa.Row]:
    return conn.execute(sa.select(statement_lines.c.id, statement_lines.c.amount_minor).where(
        statement_lines.c.tenant_id == tenant_id, statement_lines.c.bank_account_code == account,
        statement_lines.c.currency == currency, statement_lines.c.booking_date <= as_of)).all()
