"""Rows as Arrow through ADBC: with ADBC's built-in type table (what an export fetches with)
every type the lake holds, and domains over them, decode exactly as with the server's type
catalog; a type outside that table does not, which is why only checked queries use it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings

from t0lake import pg
from t0lake.pg.types import _SCALAR
from tests.hashcases import pg_table
from tests.pg.test_hashes import cases


@pytest.fixture(scope="module")
def conn(pg_dsn: str) -> Iterator[psycopg.Connection]:
    with pg.connect(pg_dsn, autocommit=True) as c:
        c.execute("DROP SCHEMA IF EXISTS arrow_prop CASCADE")
        c.execute("CREATE SCHEMA arrow_prop")
        c.execute("SET search_path = arrow_prop")
        yield c
        c.execute("DROP SCHEMA arrow_prop CASCADE")


def _plain(value: Any) -> Any:
    """A value with every NaN as a marker (a NaN equals nothing, not even itself)."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _assert_same(builtin: pa.Table, catalog: pa.Table) -> None:
    assert builtin.schema == catalog.schema
    assert [_plain(c.to_pylist()) for c in builtin.columns] == [
        _plain(c.to_pylist()) for c in catalog.columns
    ]


def _both(dsn: str, query: str) -> tuple[pa.Table, pa.Table]:
    with pg.arrow_reader(dsn, builtin_types=True) as builtin, pg.arrow_reader(dsn) as catalog:
        return builtin(None, query), catalog(None, query)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
@example(case=([("id", "int8"), ("c_float4", "float4")], [[0, float("nan")]], ["id"]))
def test_the_builtin_type_table_decodes_every_lake_type_as_the_catalog_does(
    conn: psycopg.Connection, pg_dsn: str, case: Any
) -> None:
    columns, rows, _ = case
    pg_table(conn, "t", columns, rows)
    builtin, catalog = _both(pg_dsn, "SELECT * FROM arrow_prop.t")
    _assert_same(builtin, catalog)
    assert builtin.num_rows == len(rows)


def test_domains_varchar_and_arrays_decode_alike(conn: psycopg.Connection, pg_dsn: str) -> None:
    conn.execute("CREATE DOMAIN arrow_prop.money3 AS numeric(12, 3)")
    conn.execute(
        "CREATE TABLE arrow_prop.d (m arrow_prop.money3, v varchar(5), t text[], f float4[],"
        " j jsonb, ts timestamptz, b bytea, s int2)"
    )
    conn.execute(
        "INSERT INTO arrow_prop.d VALUES (1.25, 'ab', '{a,NULL}', '{1.5}', '{\"k\": 1}',"
        " '2026-01-01 00:00+00', '\\x00ff', 7), (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
    )
    builtin, catalog = _both(pg_dsn, "SELECT * FROM arrow_prop.d")
    _assert_same(builtin, catalog)
    assert builtin.column("m").to_pylist()[0] is not None  # a domain is its base type here


# a value of every scalar type the export's plan admits (pg/types.py), as SQL text
_SAMPLES = {
    "bool": "true",
    "int2": "-7",
    "int4": "2147483647",
    "int8": "-9223372036854775808",
    "float4": "1.5",
    "float8": "-0.1",
    "text": "'é'",
    "varchar": "'ab'",
    "bytea": "'\\x00ff'",
    "date": "'2026-01-01'",
    "timestamp": "'2026-01-01 12:00'",
    "timestamptz": "'2026-01-01 12:00+02'",
    "jsonb": "'{\"k\": [1, 2.50]}'",
    "numeric": "12.500",
    "numeric(12, 3)": "-1.250",
}


def test_every_type_the_plan_admits_decodes_alike_as_scalar_and_array(pg_dsn: str) -> None:
    assert set(_SCALAR) <= set(_SAMPLES)  # a type the plan learns needs a sample here
    columns = []
    for name, literal in _SAMPLES.items():
        columns.append(f"({literal})::{name}")
        if name != "jsonb":  # the plan refuses jsonb[]
            columns.append(f"ARRAY[({literal})::{name}, NULL]")
    query = "SELECT " + ", ".join(f"{c} AS c{i}" for i, c in enumerate(columns))
    builtin, catalog = _both(
        pg_dsn,
        query + " UNION ALL SELECT " + ", ".join(f"NULL AS c{i}" for i in range(len(columns))),
    )
    assert builtin.num_rows == 2
    _assert_same(builtin, catalog)


def test_an_enum_is_opaque_to_the_builtin_table(conn: psycopg.Connection, pg_dsn: str) -> None:
    conn.execute("CREATE TYPE arrow_prop.mood AS ENUM ('calm', 'keen')")
    conn.execute("CREATE TABLE arrow_prop.e (m arrow_prop.mood)")
    conn.execute("INSERT INTO arrow_prop.e VALUES ('keen')")
    builtin, catalog = _both(pg_dsn, "SELECT * FROM arrow_prop.e")
    assert catalog.column("m").to_pylist() == ["keen"]
    assert builtin.column("m").type != catalog.column("m").type
