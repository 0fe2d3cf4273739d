"""An entrypoint's days as SQL: which days exist, each day's rows, their certified baselines.

The queries are composed here with ``psycopg.sql`` once, as plain text that travels to the
workers of an export (ADBC takes query text as it is). The day expression is trusted: it is
declared in ``audit.t0_entrypoint`` by the owner of the audit schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

__all__ = ["DayQueries", "day_baselines", "day_queries"]


@dataclass(frozen=True)
class DayQueries:
    """Each day's rows as a query, in no particular order, and the ORDER BY a fetch appends
    to get them in canonical key order (text keys in byte order, ``COLLATE "C"``)."""

    queries: dict[date, str]
    fetch_order: str


def _relation(conn: psycopg.Connection, entrypoint: str) -> sql.Identifier:
    row = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.oid = to_regclass(%s)",
        (entrypoint,),
    ).fetchone()
    assert row is not None, "the caller resolved the entrypoint first"
    return sql.Identifier(row[0], row[1])


def day_queries(
    conn: psycopg.Connection,
    entrypoint: str,
    day_expr: str,
    key: Sequence[str],
    text_columns: set[str],
    first: date | None,
    last: date | None,
) -> DayQueries:
    """The days of ``entrypoint`` between ``first`` and ``last`` (inclusive; None is
    unbounded) that hold rows, each as a query of its rows."""
    relation = _relation(conn, entrypoint)
    expr = sql.SQL(day_expr)
    bounds = []
    if first is not None:
        bounds.append(sql.SQL("({}) >= {}").format(expr, sql.Literal(first)))
    if last is not None:
        bounds.append(sql.SQL("({}) <= {}").format(expr, sql.Literal(last)))
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(bounds) if bounds else sql.SQL("")
    days = [
        r[0]
        for r in conn.execute(
            sql.SQL("SELECT DISTINCT ({})::date FROM {}{} ORDER BY 1").format(expr, relation, where)
        ).fetchall()
        if r[0] is not None
    ]
    order = sql.SQL(", ").join(
        sql.SQL('{} COLLATE "C"').format(sql.Identifier(k))
        if k in text_columns
        else sql.Identifier(k)
        for k in key
    )
    queries = {
        day: sql.SQL("SELECT * FROM {} WHERE ({})::date = {}")
        .format(relation, expr, sql.Literal(day))
        .as_string(conn)
        for day in days
    }
    return DayQueries(queries, sql.SQL(" ORDER BY {}").format(order).as_string(conn))


def day_baselines(
    conn: psycopg.Connection, entrypoint: str, days: Sequence[date]
) -> dict[date, str]:
    """The certified dataset hash of each of ``days`` that has one
    (``audit.t0_dataset_hash_baseline``)."""
    return dict(
        conn.execute(
            "SELECT day, dataset_hash FROM audit.t0_dataset_hash_baseline"
            " WHERE entrypoint = %s AND day = ANY(%s)",
            (entrypoint, list(days)),
        ).fetchall()
    )
