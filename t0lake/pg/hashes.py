"""The SQL side of the proof chain: ``audit.t0_column_hashes`` and ``audit.t0_dataset_hash``
(docs/hashing.md), called with bound parameters and their bad input raised as typed errors.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql

from t0lake.pg.errors import sql_errors

__all__ = ["sql_column_hashes", "sql_dataset_hash"]


def sql_column_hashes(
    conn: psycopg.Connection, query: str, key: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """``audit.t0_column_hashes``: column name -> (type tag, hex digest)."""
    with sql_errors():
        rows = conn.execute(
            "SELECT column_name, type_tag, column_hash FROM audit.t0_column_hashes(%s, %s)",
            (query, list(key)),
        ).fetchall()
    return {name: (tag, digest) for name, tag, digest in rows}


def sql_dataset_hash(
    conn: psycopg.Connection, query: str | sql.Composable, key: Sequence[str]
) -> str:
    """``audit.t0_dataset_hash`` of a query (a string or a ``psycopg.sql`` composition)."""
    if isinstance(query, sql.Composable):
        query = query.as_string(conn)
    with sql_errors():
        row = conn.execute("SELECT audit.t0_dataset_hash(%s, %s)", (query, list(key))).fetchone()
    assert row is not None
    return str(row[0])
