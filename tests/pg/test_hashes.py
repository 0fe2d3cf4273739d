"""SQL audit.t0_dataset_hash == Python t0lake.dataset_hash on the real Postgres, for every
supported type, in any row order; a NULL flipped or a row removed changes both."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import t0lake
from t0lake import hashing, pg
from t0lake.errors import ConfigError, UnsupportedTypeError
from tests.conftest import use_hash_impl
from tests.hashcases import Columns, arrow_table, pg_table

INT2, INT4, INT8 = (st.integers(-(2**b), 2**b - 1) for b in (15, 31, 63))
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
FLOAT8 = st.one_of(
    st.floats(), st.sampled_from([5e-324, -5e-324, 1e308, -0.0, 2.2250738585072014e-308])
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | TEXT
    | st.decimals(
        allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)

VALUES: dict[str, st.SearchStrategy[Any]] = {
    "bool": st.booleans(),
    "int2": INT2,
    "int4": INT4,
    "int8": INT8,
    "float4": st.floats(width=32),
    "float8": FLOAT8,
    "numeric": st.decimals(
        allow_nan=False, allow_infinity=False, places=10, min_value=-(10**20), max_value=10**20
    ),
    "text": TEXT,
    "bytea": st.binary(max_size=10),
    "date": st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)),
    "timestamp": st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2200, 12, 31)),
    "timestamptz": st.datetimes(
        dt.datetime(1900, 1, 1), dt.datetime(2200, 12, 31), timezones=st.just(dt.UTC)
    ),
    "jsonb": JSON.map(lambda v: json.dumps(v, default=str)),
    "int4[]": st.lists(st.none() | INT4, max_size=4),
    "text[]": st.lists(st.none() | TEXT, max_size=4),
    "float8[]": st.lists(st.none() | FLOAT8, max_size=4),
}


@st.composite
def cases(draw: st.DrawFn) -> tuple[Columns, list[list[Any]], list[str]]:
    types = draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=1, max_size=6, unique=True))
    n = draw(st.integers(0, 12))
    if draw(st.booleans()):
        key_columns: Columns = [("id", "int8")]
        keys = [[k] for k in draw(st.lists(INT8, min_size=n, max_size=n, unique=True))]
    else:  # composite key with a text part: byte-order collation matters
        key_columns = [("k ü", "text"), ("g", "int2")]
        pairs = draw(
            st.lists(st.tuples(TEXT, st.integers(0, 3)), min_size=n, max_size=n, unique=True)
        )
        keys = [list(p) for p in pairs]
    columns = [*key_columns, *[(f"c_{t}", t) for t in types]]
    rows = [keys[i] + [draw(st.none() | VALUES[t]) for t in types] for i in range(n)]
    return columns, rows, [c for c, _ in key_columns]


@pytest.fixture(scope="module")
def conn(pg_dsn: str, hash_impl: str) -> Iterator[psycopg.Connection]:
    """Every test here runs twice: SQL digests by the C aggregate, then by pure SQL."""
    with pg.connect(pg_dsn, autocommit=True) as c:
        use_hash_impl(c, hash_impl)
        c.execute("CREATE SCHEMA IF NOT EXISTS hash_prop")
        c.execute("SET search_path = hash_prop, public")
        yield c


def sql_hash(conn: psycopg.Connection, key: list[str]) -> str:
    return pg.sql_dataset_hash(conn, "SELECT * FROM hash_prop.h", key)


PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(case=cases(), data=st.data())
def test_sql_and_python_agree_in_any_row_order(
    conn: psycopg.Connection, case: Any, data: st.DataObject
) -> None:
    columns, rows, key = case
    pg_table(conn, "h", columns, rows)
    shuffled = data.draw(st.permutations(rows))
    table = arrow_table(columns, shuffled)
    python = {h.name: (h.type, h.digest) for h in hashing.column_hashes(table, key).values()}
    assert pg.sql_column_hashes(conn, "SELECT * FROM hash_prop.h", key) == python
    assert sql_hash(conn, key) == t0lake.dataset_hash(table, key)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), data=st.data())
def test_a_flipped_null_or_a_removed_row_changes_both_sides(
    conn: psycopg.Connection, case: Any, data: st.DataObject
) -> None:
    columns, rows, key = case
    if not rows:
        return
    before = t0lake.dataset_hash(arrow_table(columns, rows), key)
    changed = [list(r) for r in rows]
    r = data.draw(st.integers(0, len(rows) - 1))
    if data.draw(st.booleans()):
        del changed[r]
    else:
        c = data.draw(st.integers(len(key), len(columns) - 1))
        changed[r][c] = data.draw(VALUES[columns[c][1]]) if changed[r][c] is None else None
    after = t0lake.dataset_hash(arrow_table(columns, changed), key)
    assert after != before
    pg_table(conn, "h", columns, changed)
    assert sql_hash(conn, key) == after


def test_the_extremes_of_every_type(conn: psycopg.Connection) -> None:
    columns: Columns = [
        ("id", "int4"),
        ("f8", "float8"),
        ("f4", "float4"),
        ("t", "text"),
        ("ts", "timestamptz"),
    ]
    rows = [
        [1, float("nan"), float("nan"), "", dt.datetime(1999, 12, 31, 23, 59, 59, 999999, dt.UTC)],
        [2, -0.0, -0.0, None, dt.datetime(2000, 1, 1, tzinfo=dt.UTC)],
        [
            3,
            float("inf"),
            float("-inf"),
            "😀 \u2028 \t",
            dt.datetime(1900, 1, 1, 0, 0, 0, 1, dt.UTC),
        ],
        [4, 5e-324, 1.401298464324817e-45, "a\\b'c\"", None],
        [5, 1e308, 3.4028234663852886e38, "ä", dt.datetime(2200, 1, 1, tzinfo=dt.UTC)],
    ]
    pg_table(conn, "h", columns, rows)
    assert sql_hash(conn, ["id"]) == t0lake.dataset_hash(arrow_table(columns, rows), ["id"])


def test_session_time_zone_does_not_change_the_sql_hash(conn: psycopg.Connection) -> None:
    columns: Columns = [("id", "int4"), ("ts", "timestamptz"), ("d", "date")]
    pg_table(
        conn,
        "h",
        columns,
        [[1, dt.datetime(2026, 11, 20, 23, 30, tzinfo=dt.UTC), dt.date(2026, 11, 20)]],
    )
    utc = sql_hash(conn, ["id"])
    conn.execute("SET TIME ZONE 'Pacific/Kiritimati'")
    try:
        assert sql_hash(conn, ["id"]) == utc
    finally:
        conn.execute("SET TIME ZONE 'UTC'")


def test_unconstrained_numeric_trims_scale_like_python(conn: psycopg.Connection) -> None:
    conn.execute("DROP TABLE IF EXISTS hash_prop.h")
    conn.execute(
        "CREATE TABLE hash_prop.h AS SELECT * FROM"
        " (VALUES (1, 1.500::numeric), (2, 100::numeric), (3, -0.000100)) v(id, n)"
    )
    columns: Columns = [("id", "int4"), ("n", "numeric")]
    rows = [[1, Decimal("1.5")], [2, Decimal("100")], [3, Decimal("-0.0001")]]
    assert sql_hash(conn, ["id"]) == t0lake.dataset_hash(arrow_table(columns, rows), ["id"])


@pytest.mark.parametrize(
    ("query", "key", "error", "message"),
    [
        ("SELECT 1 AS id, 1 AS id", ["id"], ConfigError, "unique"),
        ("SELECT 1 AS id", ["nope"], ConfigError, "not in the query"),
        ("SELECT 1 AS id", [], ConfigError, "at least one"),
        ("SELECT x AS id FROM (VALUES (1), (1)) v(x)", ["id"], ConfigError, "not unique"),
        (
            "SELECT 1 AS id, '12:00'::time AS t",
            ["id"],
            UnsupportedTypeError,
            "time without time zone",
        ),
        ("SELECT 1 AS id, ARRAY[[1,2],[3,4]] AS a", ["id"], ConfigError, "multi-dimensional"),
        ("SELECT '{}'::jsonb AS id", ["id"], ConfigError, "cannot order"),
    ],
)
def test_sql_refuses_what_it_cannot_hash(
    conn: psycopg.Connection, query: str, key: list[str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        pg.sql_dataset_hash(conn, query, key)


@pytest.mark.parametrize(
    ("query", "sqlstate", "message"),
    [
        ("SELEC", "42601", "syntax error"),
        ("SELECT 1 AS id FROM no_such_table", "42P01", "no_such_table"),
        ("SELECT nope AS id", "42703", "nope"),
        ("SELECT 1 / 0 AS id", "22012", "division by zero"),
        ("SELECT (SELECT g FROM generate_series(1, 2) g) AS id", "21000", "more than one row"),
    ],
)
def test_a_query_postgres_cannot_run_is_a_config_error_with_its_message(
    pg_dsn: str, query: str, sqlstate: str, message: str
) -> None:
    with pg.connect(pg_dsn) as c:
        with pytest.raises(ConfigError, match="PostgreSQL cannot run the query") as info:
            pg.sql_dataset_hash(c, query, ["id"])
        assert message in info.value.message
        assert info.value.context == {"parameter": "query", "sqlstate": sqlstate}
    with pg.connect(pg_dsn) as c, pytest.raises(ConfigError, match=message):
        pg.sql_column_hashes(c, query, ["id"])


def test_a_write_in_the_read_only_hash_is_a_config_error(fresh_dsn: str) -> None:
    with pg.connect(fresh_dsn, autocommit=True) as c:
        c.execute("CREATE SEQUENCE s")
    with pg.connect(fresh_dsn) as c:
        c.execute("SET TRANSACTION READ ONLY")
        with pytest.raises(ConfigError, match="read-only transaction") as info:
            pg.sql_dataset_hash(c, "SELECT nextval('s') AS id", ["id"])
        assert info.value.context["sqlstate"] == "25006"


def test_sql_hash_runs_in_a_read_only_transaction(pg_dsn: str) -> None:
    with pg.connect(pg_dsn) as c:
        c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        digest = pg.sql_dataset_hash(c, "SELECT g AS id FROM generate_series(1, 3) g", ["id"])
    import pyarrow as pa

    assert digest == t0lake.dataset_hash(pa.table({"id": pa.array([1, 2, 3], pa.int32())}), ["id"])
