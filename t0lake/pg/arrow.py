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


@contextmanager
def arrow_reader(dsn: str) -> Iterator[Callable[[str | None, str], pa.Table]]:
    """One ADBC PostgreSQL connection for many queries: yields ``fetch(snapshot, query)``
    returning the rows as Arrow, each query in its own transaction inside ``snapshot`` when
    given.

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
