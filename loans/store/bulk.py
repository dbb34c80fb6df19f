"""Batch writes (close of business, a money command's installments): one statement per batch on
PostgreSQL, executemany elsewhere.

On PostgreSQL an update of N rows is a single `UPDATE ... FROM json_populate_recordset(...)`, the
rows travelling as one JSON document typed by the table's own row type (cheap to build with orjson
and to parse in C, where arrays of every column would be quoted element by element), and an insert
of N rows is a COPY, inside the caller's transaction; per-row statements would spend most of a
COB run in round trips.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection


def update_rows(conn: Connection, table: sa.Table, keys: Sequence[str], values: Sequence[str], rows: Sequence[dict]) -> None:
    """UPDATE table SET values... for each row matched on keys (every row has every key and value)."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        params = [{**{f"k_{k}": r[k] for k in keys}, **{f"v_{v}": r[v] for v in values}} for r in rows]
        conn.execute(_generic_update(table, tuple(keys), tuple(values)), params)
        return
    conn.execute(_update_sql(table, tuple(keys), tuple(values)), {"rows": orjson.dumps(rows, default=str).decode()})


@functools.cache
def _generic_update(table: sa.Table, keys: tuple[str, ...], values: tuple[str, ...]) -> sa.Update:
    return (
        sa.update(table)
        .where(*[table.c[k] == sa.bindparam(f"k_{k}") for k in keys])
        .values({v: sa.bindparam(f"v_{v}") for v in values})
    )


@functools.cache
def _update_sql(table: sa.Table, keys: tuple[str, ...], values: tuple[str, ...]) -> sa.TextClause:
    assignments = ", ".join(f"{v} = v.{v}" for v in values)
    matches = " AND ".join(f"t.{k} = v.{k}" for k in keys)
    return sa.text(
        f"UPDATE {table.name} AS t SET {assignments} "
        f"FROM json_populate_recordset(NULL::{table.name}, CAST(:rows AS json)) AS v WHERE {matches}"
    )


def insert_rows(conn: Connection, table: sa.Table, rows: Sequence[dict]) -> None:
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(sa.insert(table), list(rows))
        return
    columns = list(rows[0])
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])
