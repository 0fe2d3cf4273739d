"""Spark (pyspark, local mode, one JVM for the module) reads a snapshot exactly: through the
file list of ``t0lake files`` (latest and time-travelled), and through the verified
``t0lake.spark.read``, whose executors prove every file and fail the job on a tampered one.

What Spark changes, and so what the comparisons normalise (``docs/other-engines.md``): a
timestamptz comes back labelled with the session time zone (the same instant; here the
session is deliberately not UTC), and Arrow field metadata and list element names are not
kept. int16 stays int16, numeric(p, s) stays decimal(p, s), timestamp stays without zone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import t0lake
from t0lake.cli import main
from t0lake.testing import TempPostgres
from tests.enginecases import History, doc_blocks, history_in, sorted_rows
from tests.lakecases import DAYS, EP, ROWS_PER_DAY, tamper_one_value

pyspark = pytest.importorskip("pyspark")
from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import types as T  # noqa: E402

import t0lake.spark  # noqa: E402

SESSION_ZONE = "America/New_York"


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    """One local JVM for the module: one core, small memory, no UI."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors run this Python too
    session = (
        SparkSession.builder.master("local[1]")
        .appName("t0lake-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "512m")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", SESSION_ZONE)
        .config("spark.python.worker.reuse", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def history(pg_server: TempPostgres) -> Iterator[History]:
    yield from history_in(pg_server)


def _polars(frame: DataFrame) -> pl.DataFrame:
    """A Spark frame as t0lake's Polars frame would be: the one normalisation is the time
    zone label of timestamptz columns (Spark labels instants with its session zone)."""
    table = frame.toArrow()
    out = pl.DataFrame(table)
    zoned = [n for n, t in out.schema.items() if isinstance(t, pl.Datetime) and t.time_zone]
    return out.with_columns(pl.col(zoned).dt.convert_time_zone("UTC"))


def _run_doc_block(
    index: int, spark: SparkSession, history: History, listing: dict[str, Any] | None = None
) -> DataFrame:
    """Block ``index`` of the Spark section of docs/other-engines.md, as a user runs it:
    with ``files.json`` (``t0lake files --json``) in the working directory, if given."""
    block = doc_blocks("Spark")[index]
    namespace: dict[str, Any] = {"spark": spark, "LAKE": history.lake, "ENTRYPOINT": EP}
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        if listing is not None:
            Path("files.json").write_text(json.dumps(listing))
        exec(compile(block, "docs/other-engines.md", "exec"), namespace)
    rows: DataFrame = namespace["rows"]
    return rows


def _listing(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["files", EP, *args, "--json"]) == 0
    listing: dict[str, Any] = json.loads(capsys.readouterr().out)
    return listing


def test_spark_reads_the_listed_files_and_rows_exactly(
    spark: SparkSession, history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = _listing(capsys, "--lake", history.lake)  # the latest: a month read in part
    assert listing["partial_files"] == 1
    frame = _run_doc_block(0, spark, history, listing)  # the doc's file-list block
    types = {f.name: f.dataType for f in frame.schema.fields}
    assert types["small"] == T.ShortType()  # int16 stays int16
    assert types["tz"] == T.TimestampType() and types["ts"] == T.TimestampNTZType()
    assert types["amount"] == T.DecimalType(12, 3)  # numeric(12, 3)
    assert types["raw"] == T.StringType()  # unconstrained numeric: its exact text
    expected = history.snapshot().read()
    assert sorted_rows(_polars(frame)).equals(sorted_rows(expected))


def test_spark_time_travels_through_t0lake_files(
    spark: SparkSession, history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    """Snapshot 2 (the drifted day 1 re-exported): the hive glob Spark would read counts
    re-exported days twice; the listed files are exactly the snapshot."""
    glob = spark.read.parquet(f"{history.lake}/{EP}/tier=hot")
    # the bug, in Spark: every hot file ever written, days 1 and 2 twice
    assert glob.count() == (DAYS + 2) * ROWS_PER_DAY
    listing = _listing(capsys, "--lake", history.lake, "--snapshot", "2")
    assert listing["partial_files"] == 0
    frame = _run_doc_block(0, spark, history, listing)
    expected = history.snapshot(2).read()
    assert sorted_rows(_polars(frame)).equals(sorted_rows(expected))


def test_the_verified_read_is_t0lakes_read(spark: SparkSession, history: History) -> None:
    snap = history.snapshot()
    columns = ["grp", "id", "ts", "tz", "amount", "raw", "score", "small", "payload", "tags"]
    frame = t0lake.spark.read(spark, snap, "2026-03-02", "2026-03-04", columns)
    assert frame.rdd.getNumPartitions() == 2  # one task per file: the hot day 2, the month
    expected = snap.read("2026-03-02", "2026-03-04", columns)
    assert sorted_rows(_polars(frame)).equals(sorted_rows(expected))
    month = _run_doc_block(1, spark, history)  # the doc's verified block: all of March
    assert sorted_rows(_polars(month)).equals(sorted_rows(snap.read("2026-03-01", "2026-03-31")))
    old = t0lake.spark.read(spark, history.snapshot(1))  # time travel: five hot files
    assert sorted_rows(_polars(old)).equals(sorted_rows(history.snapshot(1).read()))
    empty = t0lake.spark.read(spark, snap, "2027-01-01", "2027-01-31", ["id"])
    assert empty.count() == 0 and empty.columns == ["id"]
    with pytest.raises(t0lake.ConfigError):
        t0lake.spark.read(spark, snap, columns=["nope"])


def test_a_tampered_file_fails_the_spark_job(
    spark: SparkSession, history: History, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(history.lake, lake)
    snap = t0lake.open(str(lake)).snapshot(EP)
    month = next(f for f in snap.live_files() if not f.whole)
    tamper_one_value(Path(month.uri), "score")  # valid Parquet, one value changed
    frame = t0lake.spark.read(spark, snap, columns=["id", "score"])
    with pytest.raises(Exception, match="IntegrityError") as info:
        frame.collect()
    assert month.path in str(info.value) and "differ from the manifest (sha256)" in str(info.value)
    # the session survives a failed job; the hot day 2 file is sound
    assert t0lake.spark.read(spark, snap, "2026-03-02", "2026-03-02").count() == ROWS_PER_DAY


def test_the_verified_read_of_an_s3_lake(
    spark: SparkSession, store_dsn: str, s3_bucket: str, s3_options: dict[str, Any]
) -> None:
    """The executors reopen an S3 lake with its storage options (moto here); Spark itself
    needs no S3 connector for it."""
    url = f"s3://{s3_bucket}/lake"
    t0lake.export(store_dsn, EP, url, storage_options=dict(s3_options), progress=False)
    snap = t0lake.open(url, dict(s3_options)).snapshot(EP)
    assert all(f.uri.startswith(f"s3://{s3_bucket}/lake/{EP}/") for f in snap.live_files())
    columns = ["grp", "id", "tz", "amount", "small", "tags", "blob"]
    frame = t0lake.spark.read(spark, snap, "2026-03-02", "2026-03-03", columns)
    expected = snap.read("2026-03-02", "2026-03-03", columns)
    assert sorted_rows(_polars(frame)).equals(sorted_rows(expected))
