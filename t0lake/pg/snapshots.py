"""One database state shared by many connections: ``pg_export_snapshot``.

An export proves certification, hashes days in SQL and fetches their rows on several
connections (and processes); all of them must see exactly the same rows, or the proof
would compare two different states of the database.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

__all__ = ["begin_snapshot", "join_snapshot", "snapshot_position"]


def begin_snapshot(conn: psycopg.Connection) -> str:
    """Start a REPEATABLE READ, READ ONLY transaction on ``conn`` (a fresh, non-autocommit
    connection) and export its snapshot, so other connections and processes read exactly the
    same state of the database while ``conn``'s transaction stays open."""
    _repeatable_read(conn)
    row = conn.execute("SELECT pg_export_snapshot()").fetchone()
    assert row is not None
    return str(row[0])


def snapshot_position(conn: psycopg.Connection) -> dict[str, str | int]:
    """Where the open snapshot of ``conn`` stands in the server's history: the server's
    identity, the snapshot's xmax (the first transaction id it cannot see) and the time it
    is read at. A later snapshot of the same server has a higher xmax, or the same xmax and
    a later time; an export older than the version a lake holds must not replace it."""
    row = conn.execute(
        "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint,"
        " to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
        " (SELECT system_identifier::text FROM pg_control_system())"
    ).fetchone()
    if row is None:  # a SELECT without FROM always answers one row
        raise RuntimeError("Postgres returned no snapshot position")
    return {"server": str(row[2]), "xmax": int(row[0]), "at": str(row[1])}


def join_snapshot(conn: psycopg.Connection, snapshot: str) -> None:
    """Make ``conn``'s next transaction see the snapshot exported by :func:`begin_snapshot`."""
    _repeatable_read(conn)
    conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))


def _repeatable_read(conn: psycopg.Connection) -> None:
    if conn.autocommit or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("a snapshot needs a non-autocommit connection outside a transaction")
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
