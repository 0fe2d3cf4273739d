"""`t0lake retain vectors` on the real Postgres and a local lake: the days the lake proves
leave Postgres, the others are named; bad input is exit 2 with nothing deleted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import t0lake
from t0lake import pg
from t0lake.cli.app import main

EP = "fv.feature_vector_store_t0_v1_v"


def _rows(dsn: str) -> int:
    with pg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM fv.feature_vectors").fetchone()
    assert row is not None
    return int(row[0])


def test_retain_vectors(
    examples_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = str(tmp_path / "lake")
    t0lake.certify(examples_dsn, EP, check_days=7)
    t0lake.export(examples_dsn, EP, lake, start="2026-01-10", end="2026-01-11")
    total = _rows(examples_dsn)
    args = ["retain", "vectors", "--dsn", examples_dsn, "--lake", lake, "--as-of", "2026-01-17"]
    assert main([*args, "--keep", "3x", "--json"]) == 2  # bad input: nothing deleted
    assert main([*args, "--keep", "\u00b2", "--json"]) == 2  # a digit to str, not to int()
    assert _rows(examples_dsn) == total
    capsys.readouterr()
    assert main([*args, "--keep", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["retained"] == ["2026-01-10", "2026-01-11"]
    assert result["kept"] == {"2026-01-12": "not exported"}
    assert _rows(examples_dsn) == total - result["rows_deleted"] == total - 2 * 768
    assert main([*args, "--keep", "4d"]) == 0
    out = capsys.readouterr().out
    assert "0 day(s) retained" in out and "kept 2026-01-12: not exported" in out
