"""Talking to PostgreSQL: connecting, applying ``sql/``, and the SQL hash functions.

Every other module reaches Postgres through here, so connection errors become one typed
error with the password never echoed, and identifiers are only ever composed with
``psycopg.sql``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pyarrow as pa
from psycopg import sql

from t0lake.errors import ConfigError, UnsupportedTypeError

__all__ = [
    "NATIVE_HASH_EXTENSION",
    "SQL_STATE_BAD_INPUT",
    "SqlFile",
    "apply_sql",
    "arrow_reader",
    "begin_snapshot",
    "connect",
    "fetch_arrow",
    "join_snapshot",
    "redact_dsn",
    "resolve_dsn",
    "server_status",
    "sql_column_hashes",
    "sql_dataset_hash",
    "sql_dir",
    "sql_files",
]

_log = logging.getLogger("t0lake")

# SQLSTATE raised by the t0lake SQL functions for bad input (docs/hashing.md).
SQL_STATE_BAD_INPUT = "T0L04"

_PASSWORD = re.compile(r"(password\s*=\s*)(\S+)|(://[^:/@]+:)([^@]+)(@)", re.IGNORECASE)


@dataclass(frozen=True)
class SqlFile:
    """One re-runnable SQL file of ``sql/``; ``example`` files create the demo stores."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def example(self) -> bool:
        return "example" in self.path.stem


def redact_dsn(dsn: str) -> str:
    """The DSN with any password replaced, fit for messages and logs."""
    return _PASSWORD.sub(
        lambda m: (m.group(1) + "***") if m.group(1) else (m.group(3) + "***" + m.group(5)), dsn
    )


def resolve_dsn(dsn: str | None) -> str:
    """The DSN to use: the argument, else ``T0LAKE_PG_DSN``; ConfigError when neither."""
    dsn = dsn or os.environ.get("T0LAKE_PG_DSN")
    if not dsn:
        raise ConfigError("no PostgreSQL connection: pass --dsn or set T0LAKE_PG_DSN")
    return dsn


def connect(dsn: str | None, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection, or raise ConfigError naming the (redacted) DSN and the cause."""
    dsn = resolve_dsn(dsn)
    try:
        return psycopg.connect(dsn, autocommit=autocommit)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot connect to PostgreSQL at {redact_dsn(dsn)}: {reason}", dsn=redact_dsn(dsn)
        ) from exc


def sql_dir() -> Path:
    """Where the SQL files are: inside the installed package, or beside it in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "sql", here.parent / "sql"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"the t0lake SQL files are missing (looked in {here / 'sql'})")


def sql_files(*, examples: bool = False) -> list[SqlFile]:
    """The SQL files in the order ``db init`` applies them (by file name)."""
    files = [SqlFile(p) for p in sorted(sql_dir().glob("*.sql"))]
    return [f for f in files if examples or not f.example]


NATIVE_HASH_EXTENSION = "t0lake_hash"


def apply_sql(conn: psycopg.Connection, *, examples: bool = False) -> list[str]:
    """Apply every SQL file in one transaction; each is re-runnable, so this is idempotent.

    Where the server has the ``t0lake_hash`` extension (``ext/t0lake_hash``) available, it
    is created too: the SQL hash then runs its column digests as a C aggregate, same bytes
    for a fraction of the CPU. Without it (or without the right to create it) the pure-SQL
    path serves, and ``applied`` says which it was.
    """
    applied = []
    with conn.transaction():
        # One transaction-level lock so two concurrent `db init` runs do not interleave.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('t0lake db init'))")
        for f in sql_files(examples=examples):
            conn.execute(f.path.read_text(encoding="utf-8").encode())
            applied.append(f.name)
        if _create_native_hash(conn):
            applied.append(f"extension {NATIVE_HASH_EXTENSION}")
    return applied


def _create_native_hash(conn: psycopg.Connection) -> bool:
    available = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = %s", (NATIVE_HASH_EXTENSION,)
    ).fetchone()
    if available is None:
        return False
    try:
        with conn.transaction():  # a savepoint: a refusal leaves the rest of db init intact
            conn.execute(
                sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
                    sql.Identifier(NATIVE_HASH_EXTENSION)
                )
            )
    except psycopg.Error as exc:  # no right to create it, or a library built for another server
        _log.warning(
            "t0lake_hash extension not created (%s); the pure-SQL hash path serves",
            exc.diag.message_primary or type(exc).__name__,
        )
        return False
    return True


def _bad_input(exc: psycopg.Error) -> ConfigError:
    message = (exc.diag.message_primary or str(exc)).removeprefix("t0lake: ")
    if "canonical hash" in message and "type" in message:
        return UnsupportedTypeError(message)
    return ConfigError(message)


def sql_column_hashes(
    conn: psycopg.Connection, query: str, key: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """``audit.t0_column_hashes``: column name -> (type tag, hex digest)."""
    try:
        rows = conn.execute(
            "SELECT column_name, type_tag, column_hash FROM audit.t0_column_hashes(%s, %s)",
            (query, list(key)),
        ).fetchall()
    except psycopg.Error as exc:
        if exc.sqlstate == SQL_STATE_BAD_INPUT:
            raise _bad_input(exc) from exc
        raise
    return {name: (tag, digest) for name, tag, digest in rows}


def sql_dataset_hash(
    conn: psycopg.Connection, query: str | sql.Composable, key: Sequence[str]
) -> str:
    """``audit.t0_dataset_hash`` of a query (a string or a ``psycopg.sql`` composition)."""
    if isinstance(query, sql.Composable):
        query = query.as_string(conn)
    try:
        row = conn.execute("SELECT audit.t0_dataset_hash(%s, %s)", (query, list(key))).fetchone()
    except psycopg.Error as exc:
        if exc.sqlstate == SQL_STATE_BAD_INPUT:
            raise _bad_input(exc) from exc
        raise
    assert row is not None
    return str(row[0])


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


@contextmanager
def arrow_reader(dsn: str) -> Iterator[Callable[[str | None, str], pa.Table]]:
    """One ADBC PostgreSQL connection for many queries: yields ``fetch(snapshot, query)``
    returning the rows as Arrow (binary COPY decoded into Arrow buffers in C, no Python
    object per row), each query in its own transaction inside ``snapshot`` when given.

    Query texts must already be composed safely (``psycopg.sql``); ADBC takes them as is.
    """
    import adbc_driver_postgresql.dbapi as adbc

    try:
        conn = adbc.connect(dsn, autocommit=True)
    except Exception as exc:
        raise ConfigError(
            f"cannot connect to PostgreSQL at {redact_dsn(dsn)} (ADBC): {exc}",
            dsn=redact_dsn(dsn),
        ) from exc
    cur = conn.cursor()

    def fetch(snapshot: str | None, query: str) -> pa.Table:
        if snapshot is None:
            cur.execute(query)
            table: pa.Table = cur.fetch_arrow_table()
            return table
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            # SET takes no bind parameters: the id is composed as a literal by psycopg.sql
            cur.execute(
                sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)).as_string()
            )
            cur.execute(query)
            table = cur.fetch_arrow_table()
        finally:
            cur.execute("ROLLBACK")
        return table

    try:
        yield fetch
    finally:
        cur.close()
        conn.close()


def fetch_arrow(dsn: str, snapshot: str | None, query: str) -> pa.Table:
    """The rows of one query as Arrow (see :func:`arrow_reader`)."""
    with arrow_reader(dsn) as fetch:
        return fetch(snapshot, query)


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
