"""An entrypoint's days: the loose index scan and DISTINCT find the same days as Python does
from the rows, with or without an index on the day expression, within any bounds; the
index walk is taken only when it reads the table through index probes alone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from t0lake import pg
from t0lake.pg.days import _probes_only

_DAY0 = dt.datetime(2026, 1, 1)
# event times over ten days (many rows share a day), some NULL
_TIMES = st.lists(
    st.none() | st.integers(0, 10 * 86_400 - 1).map(lambda s: _DAY0 + dt.timedelta(seconds=s)),
    max_size=60,
)
# rows with no event time: no day, but a DISTINCT reads them
_NULLS = 500
# index entries the planner reads itself while it plans a range condition (the actual
# bounds of the index, for its estimates): a few per plan
_PEEKS = 20
_BOUND = st.none() | st.integers(-1, 10).map(lambda d: _DAY0.date() + dt.timedelta(days=d))


@pytest.fixture(scope="module")
def conn(pg_dsn: str) -> Iterator[psycopg.Connection]:
    with pg.connect(pg_dsn, autocommit=True) as c:
        c.execute("DROP SCHEMA IF EXISTS days_prop CASCADE")
        c.execute("CREATE SCHEMA days_prop")
        yield c
        c.execute("DROP SCHEMA days_prop CASCADE")


def _load(
    conn: psycopg.Connection, times: list[dt.datetime | None], indexed: bool, nulls: int = 0
) -> None:
    """The table of ``times``, and ``nulls`` more rows without an event time."""
    conn.execute("DROP TABLE IF EXISTS days_prop.src CASCADE")
    conn.execute("CREATE TABLE days_prop.src (id int PRIMARY KEY, t0 timestamp)")
    with conn.cursor().copy("COPY days_prop.src (id, t0) FROM STDIN") as copy:
        for i, t in enumerate([*times, *[None] * nulls]):
            copy.write_row((i, t))
    if indexed:
        conn.execute("CREATE INDEX ON days_prop.src ((t0::date))")
    conn.execute("CREATE VIEW days_prop.v AS SELECT * FROM days_prop.src")
    conn.execute("ANALYZE days_prop.src")


def _days(conn: psycopg.Connection, first: dt.date | None, last: dt.date | None) -> list[dt.date]:
    found = pg.day_queries(conn, "days_prop.v", "t0::date", ["id"], set(), first, last)
    return list(found.queries)


def _reads(conn: psycopg.Connection) -> int:
    """Rows and index entries the table and its indexes have handed out in the current
    transaction (Postgres counts them before commit)."""
    row = conn.execute(
        "SELECT sum(pg_stat_get_xact_tuples_returned(c.oid)) FROM pg_catalog.pg_class c"
        " WHERE c.oid = 'days_prop.src'::regclass"
        " OR c.oid IN (SELECT indexrelid FROM pg_catalog.pg_index"
        " WHERE indrelid = 'days_prop.src'::regclass)"
    ).fetchone()
    assert row is not None
    return int(row[0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(times=_TIMES, indexed=st.booleans(), first=_BOUND, last=_BOUND)
def test_the_days_are_the_distinct_days_of_the_rows_within_the_bounds(
    conn: psycopg.Connection,
    times: list[dt.datetime | None],
    indexed: bool,
    first: dt.date | None,
    last: dt.date | None,
) -> None:
    _load(conn, times, indexed, nulls=_NULLS)
    want = sorted(
        {
            t.date()
            for t in times
            if t is not None
            and (first is None or t.date() >= first)
            and (last is None or t.date() <= last)
        }
    )
    with conn.transaction():
        # tables this small are scanned, not probed, unless the planner is told otherwise
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute("SET LOCAL enable_bitmapscan = off")
        before = _reads(conn)
        assert _days(conn, first, last) == want
        reads = _reads(conn) - before
    if indexed:  # walked: a probe a day and one past the last (and the planner's own peeks)
        assert reads <= 2 * (len(want) + 1) + _PEEKS
    else:  # every row read
        assert reads >= len(times) + _NULLS


def test_an_index_on_the_day_expression_spares_the_full_scan(conn: psycopg.Connection) -> None:
    """With the index, the planner itself picks the walk: a probe a day; without it, one
    DISTINCT scan of every row (a probe a day would each be a scan)."""
    times = [_DAY0 + dt.timedelta(hours=7 * i) for i in range(5_000)]
    want = sorted({t.date() for t in times})
    for indexed in (True, False):
        _load(conn, times, indexed)
        with conn.transaction():
            conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            before = _reads(conn)
            assert _days(conn, None, None) == want
            reads = _reads(conn) - before
        assert reads <= 2 * (len(want) + 1) + _PEEKS if indexed else reads == len(times)


def _node(kind: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {"Node Type": kind, "Plans": list(children)}


@pytest.mark.parametrize(
    ("plan", "probes"),
    [
        (_node("Result", _node("Limit", _node("Index Only Scan"))), True),
        (
            _node("Recursive Union", _node("Limit", _node("Index Scan")), _node("WorkTable Scan")),
            True,
        ),
        (_node("Limit", _node("Merge Append", _node("Index Scan"), _node("Index Scan"))), True),
        (_node("Aggregate", _node("Index Only Scan")), False),  # an index read in full
        (_node("Limit", _node("Sort", _node("Index Scan"))), False),  # read in full, sorted
        (_node("Limit", _node("Nested Loop", _node("Index Scan"), _node("Index Scan"))), False),
        (_node("Limit", _node("Seq Scan")), False),
        (_node("Limit", _node("Bitmap Heap Scan", _node("Bitmap Index Scan"))), False),
        (_node("Result", _node("Limit", _node("Index Scan")), _node("Seq Scan")), False),
    ],
)
def test_probes_only_accepts_index_probes_under_a_limit_alone(
    plan: dict[str, Any], probes: bool
) -> None:
    assert _probes_only(plan) is probes
