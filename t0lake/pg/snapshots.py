"""One database state shared by many connections: ``pg_export_snapshot``.

An export proves certification, hashes days in SQL and fetches their rows on several
connections (and processes); all of them must see exactly the same rows, or the proof
would compare two different states of the database.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

__all__ = ["begin_snapshot", "join_snapshot"]


def begin_snapshot(conn: psycopg.Connection) -> str:
    """Start a REPEATABLE READ, READ ONLY transaction on ``conn`` (a fresh, non-autocommit
    connection) and export its snapshot, so other connections and processes read exactly the
    same state of the database while ``conn``'s transaction stays open."""
    _repeatable_read(conn)
    row = conn.execute("SELECT pg_export_snapshot()").fetchone()
    assert row is not None
    return str(row[0])


def join_snapshot(conn: psycopg.Connection, snapshot: str) -> None:
    """Make ``conn``'s next transaction see the snapshot exported by :func:`begin_snapshot`."""
    _repeatable_read(conn)
    conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))


def _repeatable_read(conn: psycopg.Connection) -> None:
    if conn.autocommit or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("a snapshot needs a non-autocommit connection outside a transaction")
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
