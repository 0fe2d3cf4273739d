"""An entrypoint's days as SQL: which days exist, each day's rows, their certified baselines.

The queries are composed here with ``psycopg.sql`` once, as plain text that travels to the
workers of an export (ADBC takes query text as it is). The day expression is trusted: it is
declared in ``audit.t0_entrypoint`` by the owner of the audit schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

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


def _days(
    conn: psycopg.Connection, relation: sql.Identifier, expr: sql.SQL, bounds: list[sql.Composed]
) -> list[date]:
    """The distinct non-NULL days, ascending.

    ``SELECT DISTINCT`` reads every row of the relation before any day can be exported
    (``benchmarks/bench_export.py`` prints both for its 1.2M-row table). Where an index on the day
    expression lets Postgres answer each "first day after this one" by a probe down the
    index, a recursive query walks the days instead (the loose index scan of the PostgreSQL
    wiki): one probe a day. It is used only when its plan reaches the relation through
    index probes alone; otherwise each probe would be a scan, and DISTINCT is cheaper."""
    day = sql.SQL("({})::date").format(expr)
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(bounds) if bounds else sql.SQL("")
    within = sql.SQL("").join(sql.SQL(" AND ") + b for b in bounds)
    # ORDER BY ... LIMIT 1 rather than min(): the planner may answer min() by aggregating a
    # range of the index, which reads every row of that range
    loose = sql.SQL(
        "WITH RECURSIVE t0lake_days(day) AS ("
        "(SELECT {day} FROM {rel} WHERE {day} IS NOT NULL{within} ORDER BY 1 LIMIT 1) "
        "UNION ALL "
        "SELECT (SELECT {day} FROM {rel} WHERE {day} > t0lake_days.day{within}"
        " ORDER BY 1 LIMIT 1) "
        "FROM t0lake_days WHERE t0lake_days.day IS NOT NULL"
        ") SELECT day FROM t0lake_days WHERE day IS NOT NULL"
    ).format(day=day, rel=relation, within=within)
    explained = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + loose).fetchone()
    assert explained is not None
    if _probes_only(explained[0][0]["Plan"]):
        return [r[0] for r in conn.execute(loose).fetchall()]
    distinct = sql.SQL("SELECT DISTINCT {} FROM {}{} ORDER BY 1").format(day, relation, where)
    return [r[0] for r in conn.execute(distinct).fetchall() if r[0] is not None]


# plan nodes that read no table rows of their own (the recursion's work table, wrappers)
_NOT_READING = frozenset({"CTE Scan", "WorkTable Scan", "Subquery Scan"})
# nodes between a Limit and its index scans that pass rows on in index order as they come
# (a partitioned table's merge); a Sort, an aggregate or a join in between reads everything
_IN_ORDER = frozenset({"Merge Append", "Append", "Result", "Subquery Scan"})


def _probes_only(plan: dict[str, Any]) -> bool:
    """Whether every scan of a plan reads a table through an index, right under a Limit:
    with an index on ``x``, ``ORDER BY x LIMIT 1`` is a probe of one entry. Any other scan
    (sequential, bitmap, an index read in full or sorted) reads rows in proportion to the
    table."""
    for node, limited in _walk(plan):
        kind = node["Node Type"]
        reads = kind.endswith("Scan") and kind not in _NOT_READING
        if reads and not (limited and kind in ("Index Scan", "Index Only Scan")):
            return False
    return True


def _walk(plan: dict[str, Any]) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every node of ``plan``, with whether a Limit takes its rows as it yields them."""
    stack = [(plan, False)]
    while stack:
        node, limited = stack.pop()
        yield node, limited
        kind = node["Node Type"]
        below = kind == "Limit" or (limited and kind in _IN_ORDER)
        stack.extend((child, below) for child in node.get("Plans", ()))


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
    days = _days(conn, relation, expr, bounds)
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
