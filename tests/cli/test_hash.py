"""`t0lake hash`: the SQL side and the Python side of the proof chain from the terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from t0lake import pg
from t0lake.cli import main


def test_query_and_parquet_file_give_the_same_hash(
    fresh_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    query = "SELECT g AS id, g * 0.5 AS x, 'n' || g AS s FROM generate_series(1, 50) g"
    with pg.connect(fresh_dsn, autocommit=True) as conn:
        table = conn.execute(query).fetchall()
    arrow = pa.table(
        {
            "id": pa.array([r[0] for r in table], pa.int32()),
            "x": pa.array([r[1] for r in table], pa.decimal128(20, 1)),
            "s": [r[2] for r in table],
        }
    )
    path = tmp_path / "day.parquet"
    pq.write_table(arrow.take(list(reversed(range(50)))), path)

    assert main(["hash", "--key", "id", "--query", query, "--dsn", fresh_dsn, "--json"]) == 0
    from_sql = json.loads(capsys.readouterr().out)
    assert main(["hash", "--key", "id", "--file", str(path), "--columns", "--json"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert from_sql["dataset_hash"] == from_file["dataset_hash"]
    assert set(from_file["columns"]) == {"id", "x", "s"}
    assert from_file["columns"]["x"]["type"] == "numeric"


def test_hash_needs_exactly_one_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hash", "--key", "id"]) == 2
    assert "exactly one of --query or --file" in capsys.readouterr().err


def test_hash_of_a_non_unique_key_is_refused(
    fresh_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    query = "SELECT 1 AS id UNION ALL SELECT 1"
    assert main(["hash", "--key", "id", "--query", query, "--dsn", fresh_dsn]) == 2
    assert "not unique" in capsys.readouterr().err
