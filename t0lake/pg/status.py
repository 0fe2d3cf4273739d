"""What ``t0lake status`` says of the server itself: version, database, hash implementation."""

from __future__ import annotations

import psycopg

__all__ = ["server_status"]


def server_status(conn: psycopg.Connection) -> dict[str, object]:
    """What the server is and what of t0lake is installed in it."""
    row = conn.execute(
        "SELECT current_setting('server_version'), current_database(),"
        " to_regprocedure('audit.t0_dataset_hash(text, text[])') IS NOT NULL,"
        " to_regprocedure('audit.t0_hash_impl()') IS NOT NULL"
    ).fetchone()
    assert row is not None
    impl = None
    if row[3]:
        impl_row = conn.execute("SELECT audit.t0_hash_impl()").fetchone()
        assert impl_row is not None
        impl = str(impl_row[0])
    return {
        "server_version": row[0],
        "database": row[1],
        "hash_installed": bool(row[2]),
        "hash_impl": impl,
    }
