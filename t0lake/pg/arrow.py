"""Rows as Arrow without a Python object per row: the ADBC PostgreSQL driver.

ADBC decodes binary COPY into Arrow buffers in C, which is what lets an export fetch a day
faster than it can hash it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pyarrow as pa
from psycopg import sql

from t0lake.errors import ConfigError
from t0lake.pg.connect import redact_dsn

__all__ = ["arrow_reader", "fetch_arrow"]


# ADBC's own table of PostgreSQL's built-in types, instead of the server's catalog read on
# every connect (pg_type and every column of pg_attribute: 24 ms of client and 13 ms of
# server CPU a connection here, against 1.4 and 6.5)
_BUILTIN_TYPES = {"adbc.postgresql.type_resolver_mode": "builtin"}


@contextmanager
def arrow_reader(
    dsn: str, *, builtin_types: bool = False
) -> Iterator[Callable[[str | None, str], pa.Table]]:
    """One ADBC PostgreSQL connection for many queries: yields ``fetch(snapshot, query)``
    returning the rows as Arrow, each query in its own transaction inside ``snapshot`` when
    given.

    ``builtin_types`` spares the connection the server's type catalog, for queries whose
    columns are all of PostgreSQL's built-in types or domains over them (as an export's
    are: its plan refuses any other type first). Another type (an enum, say) would then
    arrive as opaque bytes instead of its text.

    Query texts must already be composed safely (``psycopg.sql``); ADBC takes them as is.
    """
    import adbc_driver_postgresql.dbapi as adbc

    try:
        conn = adbc.connect(
            dsn, autocommit=True, db_kwargs=_BUILTIN_TYPES if builtin_types else None
        )
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
