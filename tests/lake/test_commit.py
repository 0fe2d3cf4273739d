"""The commit protocol: racing writers (processes) lose no commit, on local disk and S3."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import t0lake
from t0lake.errors import CommitConflictError
from t0lake.lake import commit, log
from t0lake.lake.manifest import DayEntry, FileEntry, Manifest
from t0lake.lake.storage import Storage, open_storage
from tests.faults import FaultyStorage
from tests.lakecases import DAYS, EP, synthetic_manifest

RACE_EP = "race.features_v"
_SCHEMA = pa.schema([pa.field("id", pa.int64())])
_HEX = "ab" * 32


def _entry(day: date) -> FileEntry:
    path = f"{RACE_EP}/tier=hot/day={day}/{_HEX}.parquet"
    return FileEntry(
        path=path,
        tier="hot",
        bytes=1,
        sha256=_HEX,
        rows=1,
        days=(DayEntry(day=day, rows=1, row_offset=0, dataset_hash=_HEX, columns={"id": _HEX}),),
    )


def _add_day(day: date) -> Any:
    def build(head: Manifest | None) -> Manifest:
        files = [f for f in (head.files if head else ()) if f.days[0].day != day]
        return synthetic_manifest(RACE_EP, _SCHEMA, (*files, _entry(day)), head)

    return build


def _writer(url: str, options: dict[str, Any], worker: int, commits: int, barrier: Any) -> None:
    storage = open_storage(url, options)
    barrier.wait()
    for k in range(commits):
        day = date(2026, 1, 1) + timedelta(days=worker * 100 + k)
        commit.commit(storage, RACE_EP, _add_day(day))


def _race(url: str, options: dict[str, Any], workers: int = 3, commits: int = 4) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers)
    procs = [
        ctx.Process(target=_writer, args=(url, options, w, commits, barrier))
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    storage = open_storage(url, options)
    ids = log.snapshot_ids(storage, RACE_EP)
    assert ids == list(range(1, workers * commits + 1))
    head = log.head(storage, RACE_EP)
    assert head is not None and len(head.days()) == workers * commits
    previous = None
    for sid in ids:  # an unbroken chain: every commit built on the one before
        manifest = log.load(storage, RACE_EP, sid)
        assert manifest.parent_sha256 == (previous.sha256 if previous else None)
        previous = manifest


def test_racing_processes_on_local_disk_lose_no_commit(tmp_path: Path) -> None:
    _race(str(tmp_path / "lake"), {})


def test_racing_processes_on_s3_lose_no_commit(s3_bucket: str, s3_options: dict[str, Any]) -> None:
    _race(f"s3://{s3_bucket}/lake", dict(s3_options))


@pytest.mark.parametrize("really_write", [True, False])
def test_unknown_outcome_is_settled_by_rereading(tmp_path: Path, really_write: bool) -> None:
    storage = FaultyStorage(
        open_storage(str(tmp_path)), unknown_outcomes=1, really_write=really_write
    )
    assert isinstance(storage, Storage)
    committed = commit.commit(storage, RACE_EP, _add_day(date(2026, 1, 1)))
    assert committed is not None and committed.snapshot_id == 1
    assert log.snapshot_ids(storage, RACE_EP) == [1]
    assert storage.unknown_outcomes == 0
    # a write that landed is settled by reading it back; one that did not is written again
    assert len(storage.calls) == (1 if really_write else 2)


def test_put_if_absent_refuses_the_second_writer(
    tmp_path: Path, s3_bucket: str, s3_options: dict[str, Any]
) -> None:
    for storage in (
        open_storage(str(tmp_path)),
        open_storage(f"s3://{s3_bucket}/x", dict(s3_options)),
    ):
        storage.put_if_absent("m/00000001.json", b"first")
        with pytest.raises(t0lake.CommitConflictError):
            storage.put_if_absent("m/00000001.json", b"second")
        assert storage.read_bytes("m/00000001.json") == b"first"


def _export_process(dsn: str, url: str, start: str, end: str, options: dict[str, Any]) -> Any:
    args = [sys.executable, "-m", "t0lake", "export", EP, "--dsn", dsn, "--lake", url]
    args += ["--start", start, "--end", end, "--json"]
    for key, value in options.items():
        args += ["--storage-option", f"{key}={value}"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("where", ["local", "s3"])
def test_two_exporters_racing_both_land(
    store_dsn: str,
    tmp_path: Path,
    s3_bucket: str,
    s3_options: dict[str, Any],
    where: str,
) -> None:
    url, options = (
        (str(tmp_path / "lake"), {})
        if where == "local"
        else (f"s3://{s3_bucket}/lake", dict(s3_options))
    )
    first = _export_process(store_dsn, url, "2026-03-01", "2026-03-03", options)
    second = _export_process(store_dsn, url, "2026-03-03", "2026-03-05", options)
    results = []
    for proc in (first, second):
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    lake = t0lake.open(url, storage_options=options)
    snap = lake.snapshot(EP)
    assert len(snap.days()) == DAYS
    snap.verify()
    committed = sorted(r["snapshot_id"] for r in results if r["committed"])
    assert committed == [1, 2]  # both commits are in the chain


def test_a_manifest_appears_whole_or_not_at_all(lake_dir: str) -> None:
    """put_if_absent links a fully written temporary file into place (so a racing reader
    never opens a half-written manifest): the bytes are all there, the name stays exclusive,
    and no temporary file is left behind, after a success or after a conflict."""
    storage = open_storage(lake_dir)
    payload = b"x" * 1_000_000
    storage.put_if_absent("ep.v/_manifests/00000001.json", payload)
    with pytest.raises(CommitConflictError):
        storage.put_if_absent("ep.v/_manifests/00000001.json", b"other")
    assert storage.read_bytes("ep.v/_manifests/00000001.json") == payload
    assert storage.list_names("ep.v/_manifests") == ["00000001.json"]


def test_walk_lists_every_file_below_a_folder_and_delete_removes_one(
    tmp_path: Path, s3_bucket: str, s3_options: dict[str, Any]
) -> None:
    """What vacuum will use: relative paths of everything below a folder, and a delete that
    is quiet when the object is already gone."""
    for storage in (
        open_storage(str(tmp_path)),
        open_storage(f"s3://{s3_bucket}/x", dict(s3_options)),
    ):
        for path in ("ep.v/tier=hot/day=2026-01-01/a.parquet", "ep.v/_manifests/00000001.json"):
            storage.write_bytes(path, b"x")
        assert storage.walk("ep.v") == [
            "ep.v/_manifests/00000001.json",
            "ep.v/tier=hot/day=2026-01-01/a.parquet",
        ]
        assert storage.walk("nothing.here") == []
        storage.delete("ep.v/tier=hot/day=2026-01-01/a.parquet")
        storage.delete("ep.v/tier=hot/day=2026-01-01/a.parquet")
        assert storage.walk("ep.v") == ["ep.v/_manifests/00000001.json"]
