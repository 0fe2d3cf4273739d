"""t0lake.export against the real Postgres: round trip, refusals, idempotency, drift."""

from __future__ import annotations

import json
import math
import os
import pty
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from psycopg import sql

import t0lake
from t0lake import pg
from t0lake.lake.storage import open_storage
from tests.lakecases import (
    DAYS,
    EP,
    ROWS_PER_DAY,
    make_store,
    run_sql,
    tree_digest,
)

KEY = ["grp", "id"]


def _source_rows(dsn: str) -> list[dict[str, Any]]:
    with pg.connect(dsn) as conn:
        cur = conn.execute(
            sql.SQL('SELECT * FROM {} ORDER BY grp COLLATE "C", id').format(
                sql.Identifier(*EP.split("."))
            )
        )
        names = [c.name for c in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _same(lake_value: Any, pg_value: Any, column: str) -> bool:
    """Equal values across the two representations; never a loose match."""
    if pg_value is None or lake_value is None:
        return pg_value is None and lake_value is None
    if column == "payload":
        return bool(json.loads(lake_value) == json.loads(json.dumps(pg_value), parse_float=float))
    if column == "raw":  # unconstrained numeric travels as its exact text
        return isinstance(lake_value, str) and Decimal(lake_value) == pg_value
    if isinstance(pg_value, float) and math.isnan(pg_value):
        return isinstance(lake_value, float) and math.isnan(lake_value)
    return bool(lake_value == pg_value)


def test_round_trip_equals_the_entrypoint(store_dsn: str, lake_dir: str) -> None:
    result = t0lake.export(store_dsn, EP, lake_dir)
    assert result.committed and result.snapshot_id == 1
    assert len(result.days_written) == DAYS and result.rows_written == DAYS * ROWS_PER_DAY

    frame = t0lake.open(lake_dir).snapshot(EP).read()
    schema = frame.schema
    assert schema["tz"] == pl.Datetime("us", "UTC")
    assert schema["ts"] == pl.Datetime("us", None)
    assert schema["amount"] == pl.Decimal(12, 3)
    assert schema["tags"] == pl.List(pl.String) and schema["blob"] == pl.Binary
    assert schema["small"] == pl.Int16 and schema["ratio"] == pl.Float32

    expected = _source_rows(store_dsn)
    got = frame.sort(KEY).to_dicts()  # the lake is in day order, then key order
    assert len(got) == len(expected)
    for lake_row, pg_row in zip(got, expected, strict=True):
        assert set(lake_row) == set(pg_row)
        for column, value in pg_row.items():
            assert _same(lake_row[column], value, column), (column, lake_row[column], value)
    assert frame["score"].is_nan().sum() > 0 and frame["score"].null_count() > 0


def test_second_export_of_unchanged_days_writes_nothing(store_dsn: str, lake_dir: str) -> None:
    t0lake.export(store_dsn, EP, lake_dir)
    before = tree_digest(lake_dir)
    again = t0lake.export(store_dsn, EP, lake_dir)
    assert not again.committed and again.snapshot_id == 1
    assert len(again.days_unchanged) == DAYS and again.days_written == []
    assert tree_digest(lake_dir) == before


def test_files_are_deterministic_and_named_by_content(store_dsn: str, tmp_path: Path) -> None:
    first, second = str(tmp_path / "a"), str(tmp_path / "b")
    t0lake.export(store_dsn, EP, first)
    t0lake.export(store_dsn, EP, second, executor=None)
    files_a = sorted(Path(first).rglob("*.parquet"))
    files_b = sorted(Path(second).rglob("*.parquet"))
    assert [p.relative_to(first) for p in files_a] == [p.relative_to(second) for p in files_b]
    for a, b in zip(files_a, files_b, strict=True):
        assert a.read_bytes() == b.read_bytes()
    snap = t0lake.open(first).snapshot(EP)
    for entry in snap.manifest.files:
        (day,) = entry.days
        assert entry.path == f"{EP}/tier=hot/day={day.day}/{day.dataset_hash}.parquet"


def test_day_hashes_equal_sql_and_the_certified_baselines(store_dsn: str, lake_dir: str) -> None:
    t0lake.export(store_dsn, EP, lake_dir)
    with pg.connect(store_dsn) as conn:
        baselines = dict(
            conn.execute(
                "SELECT day, dataset_hash FROM audit.t0_dataset_hash_baseline"
                " WHERE entrypoint = %s",
                (EP,),
            ).fetchall()
        )
    days = t0lake.open(lake_dir).snapshot(EP).manifest.days()
    assert {d: e.dataset_hash for d, (_, e) in days.items()} == baselines


def test_uncertified_or_expired_entrypoint_writes_nothing(fresh_dsn: str, lake_dir: str) -> None:
    make_store(fresh_dsn, certify=False)
    with pytest.raises(t0lake.NotCertifiedError, match=r"run: t0lake certify lk\.features_v$"):
        t0lake.export(fresh_dsn, EP, lake_dir)
    assert not Path(lake_dir).exists()
    t0lake.certify(fresh_dsn, EP)
    time.sleep(1.2)
    with pytest.raises(t0lake.NotCertifiedError, match=r"expired|older|age") as info:
        t0lake.export(fresh_dsn, EP, lake_dir, max_age="1s")
    assert "run: t0lake certify lk.features_v (or raise --max-age)" in info.value.message
    assert not Path(lake_dir).exists()
    # a certification that fails says what accepts a reviewed change
    run_sql(fresh_dsn, "UPDATE lk.src SET score = -1 WHERE id = 170")  # a checked day
    with pytest.raises(t0lake.DriftError) as drift:
        t0lake.certify(fresh_dsn, EP)
    assert "t0lake certify lk.features_v --accept-changes" in drift.value.message
    with pytest.raises(t0lake.DriftError, match="last certification"):
        t0lake.export(fresh_dsn, EP, lake_dir)


@pytest.mark.parametrize(
    ("check_days", "change", "drifted"),
    [
        (DAYS, "UPDATE lk.src SET score = -1 WHERE id = 3", "2026-03-01"),
        (2, "UPDATE lk.src SET score = -1 WHERE id = 170", "2026-03-05"),
    ],
    ids=["every-day-judged", "fresh-days-in-flight"],
)
def test_strict_drift_refuses_before_writing(
    fresh_dsn: str, lake_dir: str, check_days: int, change: str, drifted: str
) -> None:
    """With two checked days, days 1-3 have no baseline and no version in the lake: they
    are fetched and proven while days 4-5 are judged, and day 5 drifts. None of them may be
    written either."""
    make_store(fresh_dsn, certify=False)
    t0lake.certify(fresh_dsn, EP, check_days=check_days)
    run_sql(fresh_dsn, change)
    with pytest.raises(t0lake.DriftError) as info:
        t0lake.export(fresh_dsn, EP, lake_dir)
    assert info.value.context["days"] == [drifted]
    assert not Path(lake_dir).exists()


def test_days_fetched_before_the_verdict_are_the_files_of_an_export_after_it(
    fresh_dsn: str, tmp_path: Path
) -> None:
    """The default pool starts on the days without a baseline while the others are judged;
    a caller's executor runs every day after the verdict. The two lakes hold the same
    files."""
    from concurrent.futures import ThreadPoolExecutor

    make_store(fresh_dsn, certify=False)
    t0lake.certify(fresh_dsn, EP, check_days=2)
    early = t0lake.export(fresh_dsn, EP, str(tmp_path / "early"))
    with ThreadPoolExecutor(2) as pool:
        after = t0lake.export(fresh_dsn, EP, str(tmp_path / "after"), executor=pool)
    assert early.days_written == after.days_written == [date(2026, 3, d) for d in range(1, 6)]
    a = t0lake.open(str(tmp_path / "early")).snapshot(EP).manifest
    b = t0lake.open(str(tmp_path / "after")).snapshot(EP).manifest
    assert [(f.path, f.sha256) for f in a.files] == [(f.path, f.sha256) for f in b.files]
    assert t0lake.open(str(tmp_path / "early")).snapshot(EP).read().height == DAYS * ROWS_PER_DAY


def test_tolerant_drift_is_a_new_partition_version(fresh_dsn: str, lake_dir: str) -> None:
    make_store(fresh_dsn, policy="tolerant")
    t0lake.export(fresh_dsn, EP, lake_dir)
    run_sql(fresh_dsn, "UPDATE lk.src SET score = -1 WHERE id = 3")
    result = t0lake.export(fresh_dsn, EP, lake_dir)
    assert result.committed and result.snapshot_id == 2
    assert result.days_written == [date(2026, 3, 1)] and result.days_drifted == [date(2026, 3, 1)]
    lake = t0lake.open(lake_dir)
    file, _ = lake.snapshot(EP).manifest.days()[date(2026, 3, 1)]
    assert file.version == 2 and file.drift is not None
    assert file.drift["baseline_hash"] != file.drift["exported_hash"]
    # time travel: snapshot 1 still serves the certified value
    old = lake.snapshot(EP, snapshot_id=1).read(filters=pl.col("id") == 3)
    new = lake.snapshot(EP).read(filters=pl.col("id") == 3)
    assert old["score"].to_list() == [1.5] and new["score"].to_list() == [-1.0]
    assert [s.snapshot_id for s in lake.snapshots(EP)] == [1, 2]


def test_range_export_and_the_export_registry(store_dsn: str, lake_dir: str) -> None:
    first = t0lake.export(store_dsn, EP, lake_dir, start="2026-03-02", end="2026-03-03")
    assert first.days_written == [date(2026, 3, 2), date(2026, 3, 3)]
    second = t0lake.export(store_dsn, EP, lake_dir, end=date(2026, 3, 5))
    assert len(second.days_written) == 3 and len(second.days_unchanged) == 2
    snap = t0lake.open(lake_dir).snapshot(EP)
    assert snap.days() == [date(2026, 3, d) for d in range(1, 6)]
    with pg.connect(store_dsn) as conn:
        rows = conn.execute(
            "SELECT snapshot_id, manifest_sha256, cardinality(days), lake_url"
            " FROM audit.t0_export_registry ORDER BY snapshot_id"
        ).fetchall()
    assert [(r[0], r[2], r[3]) for r in rows] == [(1, 2, lake_dir), (2, 5, lake_dir)]
    assert rows[1][1] == snap.manifest.sha256


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": "2026-03-05", "end": "2026-03-01"}, "after"),
        ({"start": "yesterday"}, "date"),
        ({"max_age": "forever"}, "max age"),
    ],
)
def test_bad_arguments_are_config_errors_and_write_nothing(
    store_dsn: str, lake_dir: str, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(t0lake.ConfigError, match=match):
        t0lake.export(store_dsn, EP, lake_dir, **kwargs)
    assert not Path(lake_dir).exists()


@pytest.mark.parametrize("name", ["../etc", "lk.features_v/../x", "lk", "a.b.c", "lk.'x'"])
def test_unsafe_entrypoint_names_are_refused(store_dsn: str, lake_dir: str, name: str) -> None:
    with pytest.raises(t0lake.ConfigError):
        t0lake.export(store_dsn, name, lake_dir)
    assert not Path(lake_dir).exists()


def test_export_to_s3(store_dsn: str, s3_bucket: str, s3_options: dict[str, object]) -> None:
    url = f"s3://{s3_bucket}/features"
    result = t0lake.export(store_dsn, EP, url, storage_options=s3_options)
    assert result.committed
    again = t0lake.export(store_dsn, EP, url, storage_options=s3_options)
    assert not again.committed
    lake = t0lake.open(url, storage_options=s3_options)
    assert lake.entrypoints() == [EP]
    frame = lake.snapshot(EP).read(start="2026-03-02", end="2026-03-02")
    assert frame.height == ROWS_PER_DAY
    storage = open_storage(url, s3_options)
    assert storage.exists(f"{EP}/_manifests/00000001.json")
    assert not storage.exists(f"{EP}/_manifests/00000002.json")


def test_dask_local_cluster_runs_the_same_tasks(store_dsn: str, tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    threads = str(tmp_path / "threads")
    t0lake.export(store_dsn, EP, threads)
    cluster_lake = str(tmp_path / "dask")
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        result = t0lake.export(store_dsn, EP, cluster_lake, executor=client.get_executor())
    assert result.committed and len(result.days_written) == DAYS
    a = t0lake.open(threads).snapshot(EP).manifest
    b = t0lake.open(cluster_lake).snapshot(EP).manifest
    assert [(f.path, f.sha256) for f in a.files] == [(f.path, f.sha256) for f in b.files]


def test_a_failing_background_sql_hash_reaches_every_waiting_day() -> None:
    """If Postgres cannot hash, each day waiting for its hash gets the error (no day waits
    forever, none is written unproven)."""
    from t0lake.exporter.tasks import DayTask, hash_in_background

    closed = "host=127.0.0.1 port=1 user=postgres dbname=none connect_timeout=2"
    tasks = [
        DayTask(
            dsn=closed,
            snapshot="none",
            entrypoint="lk.features_v",
            day=date(2026, 3, d),
            query="SELECT 1 AS k",
            fetch_order="",
            key=("k",),
            schema_b64="",
            lake_url="",
        )
        for d in (1, 2)
    ]
    futures = hash_in_background(tasks)
    assert sorted(futures) == [date(2026, 3, 1), date(2026, 3, 2)]
    for future in futures.values():
        with pytest.raises(t0lake.ConfigError, match="connect"):
            future.result(timeout=30)
    assert hash_in_background([]) == {}


def _cli(args: list[str], *, terminal: bool) -> tuple[int, str]:
    """Run ``python -m t0lake`` with its output on a pseudo-terminal (or on pipes); returns
    the exit code and everything it wrote, escape sequences included."""
    command = [sys.executable, "-m", "t0lake", *args]
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm-256color"}
    if not terminal:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)
        return done.returncode, done.stdout + done.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(command, stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child has closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=180)
    os.close(leader)
    return code, b"".join(chunks).decode("utf-8", errors="replace")


_BAR = "━"  # rich's bar glyph


def test_export_draws_a_progress_bar_only_on_a_terminal_without_json(
    store_dsn: str, tmp_path: Path
) -> None:
    base = ["export", EP, "--dsn", store_dsn]
    code, shown = _cli([*base, "--lake", str(tmp_path / "a")], terminal=True)
    assert code == 0, shown
    assert f"export {EP}" in shown and _BAR in shown
    code, as_json = _cli([*base, "--lake", str(tmp_path / "b"), "--json"], terminal=True)
    assert code == 0, as_json
    assert _BAR not in as_json and f"export {EP}" not in as_json
    assert json.loads(as_json[as_json.index("{") :])["days_written"]
    code, piped = _cli([*base, "--lake", str(tmp_path / "c")], terminal=False)
    assert code == 0, piped
    assert _BAR not in piped


def test_strict_drift_of_a_day_outside_the_checked_days_is_refused(
    fresh_dsn: str, lake_dir: str
) -> None:
    """The lake's version of a day is a baseline too: 2026-03-01 is older than the two
    checked days, so only the lake vouches for it."""
    make_store(fresh_dsn, certify=False)
    t0lake.certify(fresh_dsn, EP, check_days=2)
    t0lake.export(fresh_dsn, EP, lake_dir)
    run_sql(fresh_dsn, "UPDATE lk.src SET score = -1 WHERE id = 3")
    before = tree_digest(lake_dir)
    with pytest.raises(t0lake.DriftError) as info:
        t0lake.export(fresh_dsn, EP, lake_dir)
    assert info.value.context["days"] == ["2026-03-01"]
    assert "t0lake certify lk.features_v --accept-changes --check-days 5" in info.value.message
    assert tree_digest(lake_dir) == before
    # the command the message names accepts the change
    t0lake.certify(fresh_dsn, EP, check_days=5, accept_changes=True)
    result = t0lake.export(fresh_dsn, EP, lake_dir)
    assert result.days_written == [date(2026, 3, 1)] and result.days_drifted == []


def test_tolerant_drift_outside_the_checked_days_is_recorded_against_the_lake(
    fresh_dsn: str, lake_dir: str
) -> None:
    make_store(fresh_dsn, policy="tolerant", certify=False)
    t0lake.certify(fresh_dsn, EP, check_days=2)
    first = t0lake.export(fresh_dsn, EP, lake_dir)
    run_sql(fresh_dsn, "UPDATE lk.src SET score = -1 WHERE id = 3")
    result = t0lake.export(fresh_dsn, EP, lake_dir)
    assert result.days_drifted == [date(2026, 3, 1)]
    file, entry = t0lake.open(lake_dir).snapshot(EP).manifest.days()[date(2026, 3, 1)]
    assert file.version == 2 and file.drift is not None
    assert file.drift["against"] == "lake" and file.drift["exported_hash"] == entry.dataset_hash
    old = t0lake.open(lake_dir).snapshot(EP, first.snapshot_id).manifest.days()
    assert file.drift["baseline_hash"] == old[date(2026, 3, 1)][1].dataset_hash


def test_the_registry_holds_one_canonical_url_and_a_typo_writes_nothing(
    store_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(t0lake.ConfigError, match="two slashes"):
        t0lake.export(store_dsn, EP, "s3:/bucket/lake")
    assert list(tmp_path.iterdir()) == []
    t0lake.export(store_dsn, EP, "rel/lake/", end="2026-03-02")
    t0lake.export(store_dsn, EP, str(tmp_path / "rel" / "lake"))
    t0lake.export(store_dsn, EP, "/" + str(tmp_path / "rel" / "lake") + "/")  # //dir/
    with pg.connect(store_dsn) as conn:
        urls = conn.execute("SELECT DISTINCT lake_url FROM audit.t0_export_registry").fetchall()
    assert urls == [(str(tmp_path / "rel" / "lake"),)]


def test_a_storage_that_cannot_commit_is_refused_before_any_data_file(store_dsn: str) -> None:
    import fsspec

    memory = fsspec.filesystem("memory")
    before = sorted(memory.find("/", withdirs=True))
    with pytest.raises(t0lake.ConfigError, match="no put-if-absent"):
        t0lake.export(store_dsn, EP, "memory://t0lake-refused/lake")
    assert sorted(memory.find("/", withdirs=True)) == before
