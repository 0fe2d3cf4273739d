"""The C aggregate of ext/t0lake_hash gives the pure-SQL digests, byte for byte, including
on what the Python side never sends it (TOASTed values, domains, a NaN with its sign bit,
numeric NaN and infinities), and refuses what has no canonical encoding."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

import t0lake
from t0lake import pg
from t0lake.errors import ConfigError
from t0lake.testing import TempPostgres
from tests.conftest import require_native_hash, use_hash_impl

# Every scalar type, NULLs in every column, values Postgres compresses or stores out of
# line (TOAST).
_TABLE = """
DROP TABLE IF EXISTS native_h;
DROP DOMAIN IF EXISTS native_small;
CREATE DOMAIN native_small AS int4 CHECK (VALUE > -1000000);
CREATE TABLE native_h AS
SELECT g AS id,
       CASE WHEN g % 7 = 0 THEN NULL ELSE g % 2 = 0 END AS b,
       CASE WHEN g % 5 = 0 THEN NULL ELSE (g % 300)::int2 END AS i2,
       CASE WHEN g % 6 = 0 THEN NULL ELSE (g * 7919)::int4 END AS i4,
       CASE WHEN g % 8 = 0 THEN NULL ELSE g::int8 * 1000000007 END AS i8,
       CASE WHEN g % 9 = 0 THEN NULL
            WHEN g % 11 = 0 THEN 'NaN'::float4 ELSE (g / 3.0)::float4 END AS f4,
       CASE WHEN g % 10 = 0 THEN NULL
            WHEN g % 13 = 0 THEN 'inf'::float8 + '-inf'::float8  -- a NaN with its sign bit
            WHEN g % 17 = 0 THEN '-0'::float8 ELSE g / 7.0 END AS f8,
       CASE WHEN g % 4 = 0 THEN NULL ELSE date '2000-01-01' + (g * 37 % 100000 - 50000) END AS d,
       CASE WHEN g % 3 = 0 THEN NULL
            ELSE timestamp '2000-01-01' + g * interval '17 minutes 3.000001 seconds' END AS ts,
       CASE WHEN g % 3 = 1 THEN NULL
            ELSE timestamptz '1999-12-31 23:00+00' + g * interval '1 day 1 microsecond' END AS tz,
       CASE WHEN g % 12 = 0 THEN NULL
            WHEN g % 97 = 0 THEN repeat('é' || g::text, 4000)  -- > 8 kB: stored out of line
            ELSE 'city-' || (g % 50) END AS t,
       CASE WHEN g % 14 = 0 THEN NULL ELSE ('v' || g)::varchar(20) END AS vc,
       CASE WHEN g % 15 = 0 THEN NULL
            WHEN g % 89 = 0 THEN (SELECT decode(string_agg(md5(g::text || i), ''), 'hex')
                                    FROM generate_series(1, 200) AS i)  -- 3.2 kB, incompressible
            ELSE decode(lpad(to_hex(g), 8, '0'), 'hex') END AS by,
       CASE WHEN g % 16 = 0 THEN NULL WHEN g % 31 = 0 THEN 'NaN'::numeric
            WHEN g % 37 = 0 THEN 'Infinity'::numeric WHEN g % 41 = 0 THEN '-Infinity'::numeric
            ELSE (g * 1.2500)::numeric(14, 4) - 30 END AS n,
       CASE WHEN g % 18 = 0 THEN NULL
            ELSE jsonb_build_object('g', g, 'x', g / 4.0, 'a', jsonb_build_array(g, 'y')) END AS j,
       CASE WHEN g % 19 = 0 THEN NULL ELSE (g % 1000)::native_small END AS dom
  FROM generate_series(1, 3000) AS g;
"""


@pytest.fixture(scope="module")
def conn(pg_dsn: str) -> Iterator[psycopg.Connection]:
    require_native_hash(pg_dsn)
    with pg.connect(pg_dsn, autocommit=True) as c:
        c.execute(_TABLE)
        yield c


def _digests(conn: psycopg.Connection, impl: str, query: str) -> dict[str, tuple[str, str]]:
    use_hash_impl(conn, impl)
    return pg.sql_column_hashes(conn, query, ["id"])


def test_the_table_holds_what_it_claims(conn: psycopg.Connection) -> None:
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE pg_column_size(t) < octet_length(t)),"
        " count(*) FILTER (WHERE pg_column_size(by) > 3000),"
        " count(*) FILTER (WHERE float8send(f8) = '\\xfff8000000000000'::bytea)"
        " FROM native_h"
    ).fetchone()
    assert row is not None
    compressed, out_of_line, signed_nan = row
    assert compressed > 0 and out_of_line > 0 and signed_nan > 0


def test_every_type_matches_the_pure_sql_digests(conn: psycopg.Connection) -> None:
    native = _digests(conn, "native", "SELECT * FROM native_h")
    reference = _digests(conn, "sql", "SELECT * FROM native_h")
    assert len(native) == 16
    assert native == reference


@pytest.mark.parametrize(
    "where", ["false", "id = 1", "id % 3 = 0", "id % 12 = 0 OR id % 14 = 0"], ids=str
)
def test_empty_single_and_null_heavy_subsets_match(conn: psycopg.Connection, where: str) -> None:
    query = sql.SQL("SELECT * FROM native_h WHERE {}").format(sql.SQL(where)).as_string(conn)
    assert _digests(conn, "native", query) == _digests(conn, "sql", query)


@pytest.mark.parametrize("rows", [4095, 4096, 4097, 20_000])
def test_streams_longer_than_the_aggregates_buffer_match(
    conn: psycopg.Connection, rows: int
) -> None:
    """The aggregate hashes each stream through a 4 KiB buffer: validity and bool values at,
    just past and far past one buffer, values that straddle a refill (odd widths), and
    values longer than a whole buffer arriving with one partly full."""
    query = (
        sql.SQL(
            "SELECT g AS id, CASE WHEN g % 7 = 0 THEN NULL ELSE g % 2 = 0 END AS b,"
            " (g % 300)::int2 AS i2, (g * 7919)::int4 AS i4,"
            " CASE WHEN g % 3 = 0 THEN repeat('x', g % 11) ELSE 'é' END AS t,"
            " CASE WHEN g % 1000 = 1 THEN repeat(md5(g::text), 300) ELSE md5(g::text) END AS long,"
            " (g * 1.25)::numeric(12, 2) AS n"
            " FROM generate_series(1, {}) AS g"
        )
        .format(sql.Literal(rows))
        .as_string(conn)
    )
    native = _digests(conn, "native", query)
    assert len(native) == 7
    assert native == _digests(conn, "sql", query)


def test_arrays_use_the_aggregate_for_their_elements(conn: psycopg.Connection) -> None:
    query = (
        "SELECT g AS id, CASE WHEN g % 4 = 0 THEN NULL"
        " ELSE ARRAY[g::numeric / 8, NULL, 'NaN'] END AS a,"
        " ARRAY['x' || g, NULL] AS s FROM generate_series(1, 50) g"
    )
    assert _digests(conn, "native", query) == _digests(conn, "sql", query)


def test_rows_wider_than_one_call_are_split_over_several(conn: psycopg.Connection) -> None:
    # 250 columns: the aggregate takes at most 99 per call, so three calls feed one row
    columns = sql.SQL(", ").join(
        sql.SQL("CASE WHEN g % {} = 0 THEN NULL ELSE g * {} END AS {}").format(
            sql.Literal(3 + i % 5), sql.Literal(i), sql.Identifier(f"c{i}")
        )
        for i in range(249)
    )
    query = (
        sql.SQL("SELECT g AS id, {} FROM generate_series(1, 40) AS g")
        .format(columns)
        .as_string(conn)
    )
    native = _digests(conn, "native", query)
    assert len(native) == 250
    assert native == _digests(conn, "sql", query)


@pytest.mark.parametrize(
    ("rows", "key", "duplicate"),
    [
        ("(0.0::float8, 1), ('-0'::float8, 2)", ["a"], True),
        ("('NaN'::float8, 1), ('NaN'::float8, 2)", ["a"], True),
        ("(NULL::int4, 1), (NULL::int4, 2)", ["a"], True),
        ("(1.50::numeric, 1), (1.5::numeric, 2)", ["a"], True),
        ("('a'::text, 1), ('A'::text, 2)", ["a"], False),
        ("('x'::text, 1), ('x'::text, 1)", ["a", "b"], True),
        ("('x'::text, 1), ('x'::text, 2)", ["a", "b"], False),
        ("('x'::text, NULL::int2), ('x'::text, NULL::int2)", ["a", "b"], True),
        ("(1::int8, 1), (2::int8, 1), (1::int8, 3)", ["a"], True),  # apart until sorted
    ],
)
def test_both_paths_find_the_same_duplicate_keys(
    conn: psycopg.Connection, rows: str, key: list[str], duplicate: bool
) -> None:
    query = sql.SQL("SELECT * FROM (VALUES {}) AS v(a, b)").format(sql.SQL(rows)).as_string(conn)
    for impl in ("native", "sql"):
        use_hash_impl(conn, impl)
        if duplicate:
            with pytest.raises(ConfigError, match="not unique"):
                pg.sql_dataset_hash(conn, query, key)
        else:
            assert len(pg.sql_dataset_hash(conn, query, key)) == 64


def test_digests_come_back_in_argument_order(conn: psycopg.Connection) -> None:
    use_hash_impl(conn, "native")
    row = conn.execute(
        "SELECT audit.t0_column_digests(i4, t, f8), audit.t0_column_digests(f8, i4, t)"
        " FROM (SELECT * FROM native_h ORDER BY id) AS s"
    ).fetchone()
    assert row is not None
    forward, rotated = row
    assert len(set(forward)) == 3
    assert rotated == [forward[2], forward[0], forward[1]]


def test_a_changed_value_changes_the_native_digest(conn: psycopg.Connection) -> None:
    base = _digests(conn, "native", "SELECT * FROM native_h")
    changed = _digests(
        conn,
        "native",
        "SELECT id, b, i2, i4, i8, f4, f8, d, ts, tz,"
        " CASE WHEN id = 2000 THEN t || '!' ELSE t END AS t, vc, by, n, j, dom FROM native_h",
    )
    assert {k for k in base if base[k] != changed[k]} == {"t"}


def test_the_aggregate_refuses_a_type_without_an_encoding(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT audit.t0_column_digests(1, x) FROM (VALUES ('12:00'::time)) v(x)")
    assert info.value.sqlstate == pg.SQL_STATE_BAD_INPUT
    assert "time without time zone" in str(info.value)


def test_status_says_which_implementation_serves(conn: psycopg.Connection) -> None:
    use_hash_impl(conn, "native")
    assert pg.server_status(conn)["hash_impl"] == "native"
    use_hash_impl(conn, "sql")
    assert pg.server_status(conn)["hash_impl"] == "sql"


def test_db_init_without_the_right_to_create_it_serves_pure_sql(
    pg_server: TempPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    """A role that owns its database but is no superuser cannot create a C extension: db
    init still applies everything else, says so in a warning, and the SQL path serves."""
    require_native_hash(pg_server.dsn)
    with pg.connect(pg_server.dsn, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS native_plain WITH (FORCE)")
        admin.execute("DROP ROLE IF EXISTS native_plain")
        admin.execute("CREATE ROLE native_plain LOGIN")
        admin.execute("CREATE DATABASE native_plain OWNER native_plain")
    dsn = pg_server.dsn.replace("user=postgres", "user=native_plain").replace(
        f"dbname={pg_server.dbname}", "dbname=native_plain"
    )
    try:
        with pg.connect(dsn, autocommit=True) as conn:
            with caplog.at_level(logging.WARNING, logger="t0lake"):
                applied = pg.apply_sql(conn)
            assert applied == [f.name for f in pg.sql_files()]
            assert "t0lake_hash extension not created" in caplog.text
            assert pg.server_status(conn)["hash_impl"] == "sql"
            digest = pg.sql_dataset_hash(conn, "SELECT 1::int4 AS id", ["id"])
            assert digest == t0lake.dataset_hash(
                pa.table({"id": pa.array([1], pa.int32())}), ["id"]
            )
    finally:
        with pg.connect(pg_server.dsn, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS native_plain WITH (FORCE)")
            admin.execute("DROP ROLE IF EXISTS native_plain")
