"""Reads prove what they return: tampering with any file or manifest is refused."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import t0lake
from t0lake import hashing
from t0lake.cli import main
from t0lake.lake import commit
from t0lake.lake.layout import data_path
from t0lake.lake.manifest import DayEntry, FileEntry
from t0lake.lake.storage import open_storage
from t0lake.lake.writer import write_parquet
from tests.lake.synth import EP as SYN
from tests.lake.synth import day_table, export_days
from tests.lakecases import (
    DAYS,
    EP,
    ROWS_PER_DAY,
    day_file,
    synthetic_manifest,
    tamper_one_value,
)

TAMPERED = date(2026, 3, 2)
UNTOUCHED = date(2026, 3, 4)


def _refused(snap: t0lake.Snapshot, **kwargs: object) -> t0lake.IntegrityError:
    with pytest.raises(t0lake.IntegrityError) as info:
        snap.read(**kwargs)  # type: ignore[arg-type]
    return info.value


def test_a_flipped_value_is_refused_naming_file_day_and_column(lake: str) -> None:
    tamper_one_value(day_file(lake, TAMPERED), "score")
    snap = t0lake.open(lake).snapshot(EP)
    error = _refused(snap, start=TAMPERED, end=TAMPERED)
    assert error.context["day"] == TAMPERED.isoformat() and error.context["column"] == "score"
    assert error.context["file"].endswith(day_file(lake, TAMPERED).name)
    # a filter cannot hide the tampered row from the proof: it runs after it
    _refused(snap, start=TAMPERED, end=TAMPERED, filters=pl.col("id") < 0)
    _refused(snap)  # the whole range includes the day
    # untouched days, and untouched columns of the tampered day, are still served
    assert snap.read(start=UNTOUCHED, end=UNTOUCHED).height == ROWS_PER_DAY
    assert snap.read(TAMPERED, TAMPERED, columns=["grp", "id"]).height == ROWS_PER_DAY
    # only an explicit verify=False serves the tampered value
    assert snap.read(TAMPERED, TAMPERED, columns=["score"], verify=False).height == ROWS_PER_DAY
    with pytest.raises(t0lake.IntegrityError):
        snap.verify()


def test_lazy_scan_refuses_at_collect(lake: str) -> None:
    tamper_one_value(day_file(lake, TAMPERED), "ratio")
    lazy = t0lake.open(lake).snapshot(EP).scan(start="2026-03-01", end="2026-03-03")
    with pytest.raises(t0lake.IntegrityError, match="ratio"):
        lazy.select("id", "ratio").collect()


def test_truncated_file_is_refused(lake: str) -> None:
    path = day_file(lake, TAMPERED)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    snap = t0lake.open(lake).snapshot(EP)
    _refused(snap, start=TAMPERED, end=TAMPERED)
    assert snap.read(start=UNTOUCHED, end=UNTOUCHED).height == ROWS_PER_DAY


def test_swapped_files_are_refused(lake: str) -> None:
    a, b = day_file(lake, date(2026, 3, 1)), day_file(lake, TAMPERED)
    tmp = a.with_suffix(".swap")
    shutil.move(a, tmp)
    shutil.move(b, a)
    shutil.move(tmp, b)
    snap = t0lake.open(lake).snapshot(EP)
    _refused(snap, start="2026-03-01", end="2026-03-01")
    _refused(snap, start=TAMPERED, end=TAMPERED)
    assert snap.read(start=UNTOUCHED, end=UNTOUCHED).height == ROWS_PER_DAY


def test_deleted_file_is_refused(lake: str) -> None:
    day_file(lake, TAMPERED).unlink()
    snap = t0lake.open(lake).snapshot(EP)
    error = _refused(snap, start=TAMPERED, end=TAMPERED)
    assert "missing" in error.message
    assert snap.read(start=UNTOUCHED, end=UNTOUCHED).height == ROWS_PER_DAY


def test_edited_manifest_is_refused(lake: str) -> None:
    path = Path(lake) / EP / "_manifests" / "00000001.json"
    doc = json.loads(path.read_text())
    for entry in doc["files"]:
        if entry["days"][0]["day"] == TAMPERED.isoformat():
            entry["rows"] += 1
    path.write_text(json.dumps(doc))
    with pytest.raises(t0lake.IntegrityError, match="modified"):
        t0lake.open(lake).snapshot(EP)


def test_manifest_hash_edited_to_match_tampered_data_is_still_caught(lake: str) -> None:
    """Rewriting data and manifest together still breaks the manifest's own checksum."""
    path = Path(lake) / EP / "_manifests" / "00000001.json"
    doc = json.loads(path.read_text())
    doc["files"][0]["days"][0]["columns"]["score"] = "0" * 64
    path.write_text(json.dumps(doc))
    with pytest.raises(t0lake.IntegrityError):
        t0lake.open(lake).snapshot(EP).read()


def test_verify_cli_exits_non_zero_and_names_the_problem(
    lake: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "--lake", lake, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (checked,) = report["verified"]
    assert checked["files"] == DAYS and checked["rows"] == DAYS * ROWS_PER_DAY
    tamper_one_value(day_file(lake, TAMPERED), "score")
    assert main(["verify", "--lake", lake, EP, "--json"]) == 1
    error = json.loads(capsys.readouterr().out)
    assert error["error"] == "IntegrityError"
    assert [p["days"] for p in error["problems"]] == [[TAMPERED.isoformat()]]


def test_read_bounds_are_inclusive_and_columns_are_checked(lake: str) -> None:
    snap = t0lake.open(lake).snapshot(EP)
    frame = snap.read("2026-03-02", "2026-03-04", columns=["id", "ts"])
    assert frame.columns == ["id", "ts"] and frame.height == 3 * ROWS_PER_DAY
    assert frame["ts"].dt.date().max() == date(2026, 3, 4)
    assert snap.read("2026-04-01", "2026-04-02").height == 0
    with pytest.raises(t0lake.ConfigError, match="nope"):
        snap.read(columns=["id", "nope"])
    with pytest.raises(t0lake.ConfigError, match="after"):
        snap.read("2026-03-05", "2026-03-01")
    with pytest.raises(t0lake.ConfigError, match="no snapshot"):
        t0lake.open(lake).snapshot("lk.other_v")
    assert snap.scan().select(pl.len()).collect().item() == DAYS * ROWS_PER_DAY
    assert snap.scan().head(7).collect().height == 7


@pytest.mark.parametrize(
    ("start", "end", "columns"),
    [
        (None, None, None),
        ("2026-03-02", "2026-03-04", ["ts", "id"]),
        ("2026-03-04", "2026-03-04", ["score"]),
        ("2026-04-01", "2026-04-02", ["id", "grp"]),  # no day held: an empty frame
    ],
)
def test_a_read_without_filters_returns_what_its_scan_collects(
    lake: str, start: str | None, end: str | None, columns: list[str] | None
) -> None:
    # read() without filters concatenates the reader's frames itself, not through scan()
    snap = t0lake.open(lake).snapshot(EP)
    for verify in (True, False):
        frame = snap.read(start, end, columns, verify=verify)
        collected = snap.scan(start, end, columns, verify=verify).collect()
        assert frame.schema == collected.schema and frame.equals(collected)
        assert frame.columns == (columns or snap.schema.names)
        assert t0lake.frame_fingerprint(frame).record["days"] == [
            [d.isoformat(), e.dataset_hash]
            for d, (_, e) in sorted(snap.manifest.days().items())
            if (start is None or d >= date.fromisoformat(start))
            and (end is None or d <= date.fromisoformat(end))
        ]


def test_reads_carry_a_fingerprint_reproduced_by_the_same_snapshot(lake: str) -> None:
    snap = t0lake.open(lake).snapshot(EP)
    days = sorted(snap.manifest.days())
    first, last = days[1], days[2]
    frame = snap.read(first, last, ["grp", "id"])
    fp = t0lake.frame_fingerprint(frame)
    record = fp.record
    assert (record["entrypoint"], record["snapshot_id"]) == (EP, snap.snapshot_id)
    assert [d for d, _ in record["days"]] == [first.isoformat(), last.isoformat()]
    assert record["verified"] is True
    # a new session, the same snapshot: the same rows, the same fingerprint
    again = t0lake.open(lake).snapshot(EP, snapshot_id=snap.snapshot_id)
    again_frame = again.read(first, last, ["grp", "id"])
    assert again_frame.equals(frame)
    assert t0lake.frame_fingerprint(again_frame) == fp
    # other days, other columns, or an unverified read: another fingerprint
    assert t0lake.frame_fingerprint(snap.read(first, first, ["grp", "id"])) != fp
    assert t0lake.frame_fingerprint(snap.read(first, last, ["grp"])) != fp
    assert t0lake.frame_fingerprint(snap.read(first, last, ["grp", "id"], verify=False)) != fp
    # a frame derived from it is not what t0lake returned: no fingerprint
    with pytest.raises(t0lake.ConfigError):
        t0lake.frame_fingerprint(frame.head(1))


# ------------------------------------------------------------------ files holding several days

MULTI_EP = "multi.days_v"
MULTI_SCHEMA = pa.schema([pa.field("id", pa.int64()), pa.field("x", pa.float64())])


def _multi_day_lake(root: str) -> tuple[t0lake.Snapshot, Path]:
    """A lake of one file holding three days of 4 rows each (as a compaction writes them)."""
    table = pa.table({"id": list(range(12)), "x": [i / 2 for i in range(12)]}, MULTI_SCHEMA)
    days = []
    for i in range(3):
        rows = table.slice(4 * i, 4)
        hashes = hashing.column_hashes(rows, ["id"])
        days.append(
            DayEntry(
                day=date(2026, 5, 1) + timedelta(days=i),
                rows=4,
                row_offset=4 * i,
                dataset_hash=hashing.combine(4, ["id"], hashes.values()),
                columns={name: h.digest for name, h in hashes.items()},
            )
        )
    payload = write_parquet(table)
    path = data_path(MULTI_EP, "warm", "month=2026-05", "cd" * 32)
    storage = open_storage(root)
    storage.write_bytes(path, payload)
    entry = FileEntry(
        path=path,
        tier="warm",
        bytes=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
        rows=12,
        days=tuple(days),
    )
    manifest = synthetic_manifest(MULTI_EP, MULTI_SCHEMA, (entry,))
    commit.commit(storage, MULTI_EP, lambda head: manifest)
    return t0lake.open(root).snapshot(MULTI_EP), Path(root) / path


def test_a_file_of_several_days_proves_and_returns_only_the_days_asked(lake_dir: str) -> None:
    snap, path = _multi_day_lake(lake_dir)
    middle = snap.read("2026-05-02", "2026-05-02")
    assert middle["id"].to_list() == [4, 5, 6, 7]
    assert snap.read()["id"].to_list() == list(range(12))
    # tamper with the last day only: the other days still read, the last one is refused
    table = pq.read_table(path)
    x = table.column("x").to_pylist()
    x[10] = -1.0
    path.write_bytes(write_parquet(table.set_column(1, "x", pa.array(x, pa.float64()))))
    assert snap.read("2026-05-01", "2026-05-02")["id"].to_list() == list(range(8))
    with pytest.raises(t0lake.IntegrityError) as info:
        snap.read("2026-05-02", "2026-05-03")
    assert info.value.context["day"] == "2026-05-03" and info.value.context["column"] == "x"


# --------------------------------------------------------------------------- bad input


def _synthetic_lake(root: Path) -> str:
    """Snapshots 1 and 2 of the synthetic entrypoint, one day each (no Postgres needed)."""
    storage = open_storage(str(root))
    for day in (date(2026, 5, 1), date(2026, 5, 2)):
        export_days(storage, {day: day_table(day, 4)})
    return str(root)


@pytest.mark.parametrize(
    "bad",
    ["abc", "1.9", " 1", "\u0661", "", float("nan"), 1.9, 1.0, [], [1], True, False],
)
def test_a_snapshot_id_is_a_whole_number(tmp_path: Path, bad: object) -> None:
    lake = t0lake.open(_synthetic_lake(tmp_path / "lake"))
    with pytest.raises(t0lake.ConfigError, match="a snapshot id is a whole number") as info:
        lake.snapshot(SYN, bad)  # type: ignore[arg-type]
    assert type(info.value) is t0lake.ConfigError  # not "no such snapshot": bad input
    assert info.value.context["parameter"] == "snapshot_id"
    with pytest.raises(t0lake.ConfigError, match="a snapshot id is a whole number"):
        t0lake.pin(str(tmp_path / "lake"), SYN, bad, "keep")  # type: ignore[arg-type]
    assert lake.snapshot(SYN).manifest.pins == {}  # nothing pinned


def test_snapshot_ids_as_ints_and_digit_strings_still_work(tmp_path: Path) -> None:
    import numpy as np

    lake = t0lake.open(_synthetic_lake(tmp_path / "lake"))
    assert [lake.snapshot(SYN, i).snapshot_id for i in (1, "1", np.int64(1), 2, "2")] == [
        1,
        1,
        1,
        2,
        2,
    ]
    with pytest.raises(t0lake.SnapshotNotFoundError, match="start at 1"):
        lake.snapshot(SYN, 0)


def test_stray_entries_in_the_lake_root_are_not_entrypoints(tmp_path: Path) -> None:
    root = Path(_synthetic_lake(tmp_path / "lake"))
    (root / "README.md").write_text("what this lake is\n")
    (root / "notes.txt").write_text("a file named like schema.view\n")
    (root / "other.dir").mkdir()
    (root / "other.dir" / "_manifests").write_text("not a directory either\n")
    (root / ".DS_Store").write_bytes(b"\0")
    assert t0lake.open(str(root)).entrypoints() == [SYN]


def test_columns_may_be_any_iterable_of_names(tmp_path: Path) -> None:
    snap = t0lake.open(_synthetic_lake(tmp_path / "lake")).snapshot(SYN)
    frame = snap.read(columns=(c for c in ["id", "x"]))
    assert frame.columns == ["id", "x"] and frame.height == 8
    record = t0lake.frame_fingerprint(frame).record
    assert record["columns"] == ["id", "x"]
    assert snap.to_arrow(columns=iter(["s"])).column_names == ["s"]
    assert snap.scan(columns=(c for c in ["d"])).collect().columns == ["d"]
    filtered = snap.read(filters=(e for e in [pl.col("id") < 2]))
    assert filtered.height == 4
    assert t0lake.frame_fingerprint(filtered).record["filters"] != []
    for bad in (5, "id"):
        with pytest.raises(t0lake.ConfigError, match="columns must be a list"):
            snap.read(columns=bad)  # type: ignore[arg-type]


def _unreadable(path: Path, how: str) -> None:
    path.unlink()
    if how == "directory":
        path.mkdir()  # IsADirectoryError
    else:
        path.symlink_to(path.name)  # a symlink to itself: OSError ELOOP, even for root


@pytest.mark.parametrize("how", ["directory", "symlink loop"])
def test_verify_reports_an_unreadable_file_as_a_failed_proof(tmp_path: Path, how: str) -> None:
    root = Path(_synthetic_lake(tmp_path / "lake"))
    snap = t0lake.open(str(root)).snapshot(SYN)
    bad, good = sorted(root.glob(f"{SYN}/tier=hot/day=*/*.parquet"))
    _unreadable(bad, how)
    with pytest.raises(t0lake.IntegrityError) as info:
        snap.verify()
    (problem,) = info.value.context["problems"]
    assert problem["error"] == "IntegrityError" and "cannot be read" in problem["message"]
    assert problem["file"] == str(bad.relative_to(root)) and problem["days"] == ["2026-05-01"]
    assert str(root) not in problem["message"]  # the lake-relative path, as reads name it
    with pytest.raises(t0lake.IntegrityError):
        snap.read("2026-05-01", "2026-05-01")  # a read refuses it the same way
    assert snap.read("2026-05-02", "2026-05-02").height == 4
    assert good.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_verify_reports_a_file_without_read_permission(tmp_path: Path) -> None:
    root = Path(_synthetic_lake(tmp_path / "lake"))
    bad = sorted(root.glob(f"{SYN}/tier=hot/day=*/*.parquet"))[0]
    bad.chmod(0)
    try:
        with pytest.raises(t0lake.IntegrityError, match="PermissionError"):
            t0lake.open(str(root)).snapshot(SYN).verify()
    finally:
        bad.chmod(0o644)


@pytest.mark.parametrize(
    "bad",
    [
        pl.col("nope") > 1,  # no such column: known before reading
        pl.col("x") + 1,  # not a predicate
        pl.col("s") > 1,  # a string compared with a number: known only while reading
    ],
    ids=["unknown-column", "not-boolean", "wrong-type"],
)
def test_a_filter_the_columns_cannot_answer_is_a_config_error(tmp_path: Path, bad: pl.Expr) -> None:
    from t0lake.lake.storage import open_storage
    from tests.lake.synth import EP as SYN
    from tests.lake.synth import day_table, days, export_days

    root = str(tmp_path / "lake")
    export_days(open_storage(root), {d: day_table(d, 5) for d in days(date(2026, 2, 1), 2)})
    with pytest.raises(t0lake.ConfigError, match="cannot be applied") as caught:
        t0lake.open(root).snapshot(SYN).read(filters=bad)
    assert caught.value.context["entrypoint"] == SYN
