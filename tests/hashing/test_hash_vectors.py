"""The test vectors of docs/hashing.md, checked in both languages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

import t0lake
from t0lake import hashing, pg
from tests.conftest import use_hash_impl
from tests.hashcases import Columns, arrow_table, decode_rows, pg_table

VECTORS = json.loads(
    Path(__file__).parents[1].joinpath("golden").joinpath("hash_vectors.json").read_text("utf-8")
)


def _case(vector: dict[str, Any]) -> tuple[Columns, list[list[Any]]]:
    columns = [(c, t) for c, t in vector["columns"]]
    return columns, decode_rows(columns, vector["rows"])


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_in_python(vector: dict[str, Any]) -> None:
    columns, rows = _case(vector)
    table = arrow_table(columns, rows)
    assert t0lake.dataset_hash(table, vector["key"]) == vector["expected"]["dataset_hash"]
    digests = {
        h.name: [h.type, h.digest] for h in hashing.column_hashes(table, vector["key"]).values()
    }
    assert digests == vector["expected"]["columns"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_in_sql(pg_dsn: str, hash_impl: str, vector: dict[str, Any]) -> None:
    columns, rows = _case(vector)
    with pg.connect(pg_dsn, autocommit=True) as conn:
        use_hash_impl(conn, hash_impl)
        table = "vectors_" + vector["name"].replace("-", "_")
        pg_table(conn, table, columns, rows)
        query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)).as_string(conn)
        assert pg.sql_dataset_hash(conn, query, vector["key"]) == vector["expected"]["dataset_hash"]
        assert {
            k: list(v) for k, v in pg.sql_column_hashes(conn, query, vector["key"]).items()
        } == vector["expected"]["columns"]


def test_vectors_cover_every_supported_type() -> None:
    types = {t for v in VECTORS for _, t in v["columns"]}
    assert types >= {
        "bool",
        "int2",
        "int4",
        "int8",
        "float4",
        "float8",
        "numeric",
        "text",
        "bytea",
        "date",
        "timestamp",
        "timestamptz",
        "jsonb",
        "int4[]",
        "text[]",
    }
