"""Batch writes for close of business: one statement per batch on PostgreSQL, executemany elsewhere.

On PostgreSQL an update of N rows is a single `UPDATE ... FROM unnest(array, ...)` and an insert
of N rows is a COPY, inside the caller's transaction; per-row statements would spend most of a
COB run in round trips.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def update_rows(conn: Connection, table: sa.Table, keys: Sequence[str], values: Sequence[str], rows: Sequence[dict]) -> None:
    """UPDATE table SET values... for each row matched on keys (every row has every key and value)."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        stmt = (
            sa.update(table)
            .where(*[table.c[k] == sa.bindparam(f"k_{k}") for k in keys])
            .values({v: sa.bindparam(f"v_{v}") for v in values})
        )
        conn.execute(stmt, [{**{f"k_{k}": r[k] for k in keys}, **{f"v_{v}": r[v] for v in values}} for r in rows])
        return
    columns = list(keys) + list(values)
    arrays = ", ".join(f"CAST(:a{i} AS {table.c[c].type.compile(dialect=conn.dialect)}[])" for i, c in enumerate(columns))
    assignments = ", ".join(f"{v} = v.{v}" for v in values)
    matches = " AND ".join(f"t.{k} = v.{k}" for k in keys)
    sql = f"UPDATE {table.name} AS t SET {assignments} FROM unnest({arrays}) AS v({', '.join(columns)}) WHERE {matches}"
    conn.execute(sa.text(sql), {f"a{i}": [r[c] for r in rows] for i, c in enumerate(columns)})


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
