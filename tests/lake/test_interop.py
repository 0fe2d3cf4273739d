"""The lake is plain hive Parquet: DuckDB and Polars read it with no t0lake code."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

import t0lake
from t0lake.cli import main
from tests.lakecases import DAYS, EP, ROWS_PER_DAY

KEY = ["grp", "id"]


def _comparable(frame: pl.DataFrame) -> pl.DataFrame:
    # payload is JSON text in both; compare everything else as typed values
    return frame.sort(KEY)


def test_duckdb_and_polars_read_the_hot_tier_as_is(lake: str) -> None:
    expected = _comparable(t0lake.open(lake).snapshot(EP).read())
    glob = f"{lake}/{EP}/tier=hot/*/*.parquet"

    polars_frame = pl.scan_parquet(glob, hive_partitioning=True).collect()
    assert polars_frame["day"].n_unique() == DAYS
    assert _comparable(polars_frame.drop("tier", "day")).equals(expected)

    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")  # DuckDB labels timestamptz with its session zone
        hot = {"glob": glob}
        arrow = con.sql(
            "SELECT * EXCLUDE (tier, day) FROM read_parquet($glob, hive_partitioning = true)",
            params=hot,
        ).to_arrow_table()
        days = con.execute(
            "SELECT count(DISTINCT day) FROM read_parquet($glob, hive_partitioning = true)", hot
        ).fetchone()
    assert days == (DAYS,)
    duck = pl.from_arrow(arrow)
    assert isinstance(duck, pl.DataFrame)
    duck = _comparable(duck)
    for column in expected.columns:
        assert duck[column].equals(expected[column]), (column, duck[column].dtype)


def test_snapshot_files_list_only_live_files(lake: str, store_dsn: str) -> None:
    snap = t0lake.open(lake).snapshot(EP)
    files = snap.files("2026-03-02", "2026-03-03")
    assert len(files) == 2 and all(Path(f).exists() for f in files)
    assert pl.read_parquet(files).height == 2 * ROWS_PER_DAY


def test_cli_scan_snapshots_and_out_files(
    lake: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rows.parquet"
    args = ["scan", EP, "--lake", lake, "--start", "2026-03-02", "--end", "2026-03-03"]
    assert main([*args, "--columns", "grp,id,score", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rows"] == 2 * ROWS_PER_DAY and result["verified"] is True
    assert pl.read_parquet(out).columns == ["grp", "id", "score"]
    csv = tmp_path / "rows.csv"
    assert main([*args, "--out", str(csv)]) == 0
    written = pl.read_csv(csv)
    assert written.height == 2 * ROWS_PER_DAY
    assert written["tags"].drop_nulls()[0].startswith('["t')  # lists as JSON arrays
    assert main([*args, "--out", str(tmp_path / "rows.xlsx")]) == 2
    assert not (tmp_path / "rows.xlsx").exists()
    capsys.readouterr()
    assert main(["snapshots", EP, "--lake", lake, "--json"]) == 0
    (snapshot,) = json.loads(capsys.readouterr().out)["snapshots"]
    assert snapshot["snapshot_id"] == 1 and snapshot["days"] == DAYS
    assert main(["snapshots", EP]) == 2  # no lake given
    assert "--lake" in capsys.readouterr().err


def test_cli_export_needs_certification_and_says_so(
    fresh_dsn: str, lake_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.lakecases import make_store

    make_store(fresh_dsn, certify=False)
    code = main(["export", EP, "--dsn", fresh_dsn, "--lake", lake_dir, "--json"])
    assert code == 1
    error = json.loads(capsys.readouterr().out)
    assert error["error"] == "NotCertifiedError"
    assert not Path(lake_dir).exists()
    t0lake.certify(fresh_dsn, EP)
    assert main(["export", EP, "--dsn", fresh_dsn, "--lake", lake_dir, "--max-age", "7d"]) == 0
    assert "committed snapshot 1" in capsys.readouterr().out


def test_what_t0lake_hands_out_hashes_to_the_certified_value(
    lake: str, store_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """numeric and jsonb columns keep their t0lake.type tag in frames and Parquet extracts."""
    day = "2026-03-02"
    snap = t0lake.open(lake).snapshot(EP)
    certified = snap.manifest.days()[date.fromisoformat(day)][1].dataset_hash
    assert t0lake.dataset_hash(snap.read(day, day), KEY) == certified  # a Polars frame
    assert t0lake.dataset_hash(snap.to_arrow(day, day), KEY) == certified
    whole = snap.read()
    query = "SELECT * FROM lk.features_v"
    assert main(["hash", "--query", query, "--key", "grp,id", "--dsn", store_dsn]) == 0
    sql = capsys.readouterr().out.strip()
    assert t0lake.dataset_hash(whole, KEY) == sql
    out = tmp_path / "extract.parquet"
    assert main(["scan", EP, "--lake", lake, "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    assert main(["hash", "--file", str(out), "--key", "grp,id", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dataset_hash"] == sql
    csv = tmp_path / "extract.csv"
    assert main(["scan", EP, "--lake", lake, "--out", str(csv), "--json"]) == 0
    assert "cannot be hashed" in json.loads(capsys.readouterr().out)["note"]
    assert main(["hash", "--file", str(csv), "--key", "grp,id", "--json"]) == 2
    assert "keeps no column types" in json.loads(capsys.readouterr().out)["message"]
