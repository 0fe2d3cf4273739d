"""The SQL side of the proof chain: ``audit.t0_column_hashes`` and ``audit.t0_dataset_hash``
(docs/hashing.md), called with bound parameters and their bad input raised as typed errors.

The query to hash is the caller's: when PostgreSQL cannot run it (a syntax error, an unknown
table or column, a division by zero, a write in a read-only transaction) that is bad input,
a ConfigError carrying PostgreSQL's own message, not an internal error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg import sql

from t0lake.errors import ConfigError
from t0lake.pg.errors import sql_errors

__all__ = ["sql_column_hashes", "sql_dataset_hash"]


def sql_column_hashes(
    conn: psycopg.Connection, query: str, key: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """``audit.t0_column_hashes``: column name -> (type tag, hex digest)."""
    with _query_errors(), sql_errors():
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
    with _query_errors(), sql_errors():
        row = conn.execute("SELECT audit.t0_dataset_hash(%s, %s)", (query, list(key))).fetchone()
    assert row is not None
    return str(row[0])


# SQLSTATE classes of a query PostgreSQL cannot run: 42 syntax error or access rule
# violation (unknown table, column, function; no privilege), 22 data exception, 21
# cardinality violation, 0A feature not supported; and 25006, a write in a read-only
# transaction.
_QUERY_CLASSES = ("42", "22", "21", "0A")


@contextmanager
def _query_errors() -> Iterator[None]:
    """A query the hash functions' EXECUTE cannot run, as a ConfigError. Only errors raised
    inside them (they carry a CONTEXT): ``audit.t0_*`` itself missing is not the query's
    fault, and t0lake's own refusals (T0L04) keep their typed errors."""
    try:
        yield
    except psycopg.Error as exc:
        state = exc.sqlstate or ""
        if not exc.diag.context or not (state[:2] in _QUERY_CLASSES or state == "25006"):
            raise
        message = exc.diag.message_primary or str(exc)
        hint = f" ({exc.diag.message_hint})" if exc.diag.message_hint else ""
        raise ConfigError(
            f"PostgreSQL cannot run the query to hash: {message}{hint}; pass one SELECT "
            "statement that returns the rows and the key columns",
            parameter="query",
            sqlstate=state,
        ) from exc
