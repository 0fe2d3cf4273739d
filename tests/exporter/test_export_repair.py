"""Re-running an export is the repair, a stale writer never wins, and the export registry
stays in step with the lake (issue 21: items 1, 2, 3 and 13)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import t0lake
from t0lake import pg
from t0lake.cli import main
from t0lake.errors import IntegrityError
from t0lake.lake import log
from t0lake.lake.layout import manifest_path
from t0lake.lake.manifest import FileEntry
from t0lake.lake.storage import open_storage
from tests.lakecases import EP, day_file, make_store, run_sql

DAY = date(2026, 3, 2)  # ids 41..80


def _registry(dsn: str) -> dict[int, str]:
    with pg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT snapshot_id, manifest_sha256 FROM audit.t0_export_registry"
        ).fetchall()
    return {int(r[0]): str(r[1]) for r in rows}


# --------------------------------------------------------------------------- repair


def _delete(path: Path) -> None:
    path.unlink()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def _alter(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage", [_delete, _truncate, _alter], ids=["delete", "truncate", "alter"]
)
def test_a_re_export_rewrites_a_damaged_hot_file(
    lake: str, store_dsn: str, damage: Callable[[Path], None]
) -> None:
    path = day_file(lake, DAY)
    original = path.read_bytes()
    damage(path)

    result = t0lake.export(store_dsn, EP, lake)

    assert result.days_repaired == [DAY] and result.days_written == [DAY]
    assert list(result.damaged_files) == [str(path.relative_to(lake))]
    # the same deterministic bytes under the same name: the manifest needs no new snapshot
    assert not result.committed and result.snapshot_id == 1
    assert path.read_bytes() == original
    assert t0lake.open(lake).snapshot(EP).verify()["files"] == 5


def test_a_sound_lake_re_exports_nothing(lake: str, store_dsn: str) -> None:
    result = t0lake.export(store_dsn, EP, lake)
    assert not result.committed and result.days_written == [] and result.damaged_files == {}


def test_a_damaged_compacted_file_is_replaced_for_the_days_exported(
    lake: str, store_dsn: str
) -> None:
    t0lake.compact(lake, as_of="2027-01-01", entrypoint=EP)
    head = t0lake.open(lake).snapshot(EP).manifest
    (warm,) = [f for f in head.files if f.tier != "hot"]
    _alter(Path(lake) / warm.path)

    result = t0lake.export(store_dsn, EP, lake, start=DAY, end=DAY)

    assert result.committed and result.days_repaired == [DAY]
    assert result.damaged_files == {warm.path: "altered (sha256 differs from the manifest's)"}
    snap = t0lake.open(lake).snapshot(EP)
    file, _ = snap.manifest.days()[DAY]
    assert file.tier == "hot" and file.version == 2
    assert snap.read(start=DAY, end=DAY).height == 40
    with pytest.raises(IntegrityError):  # the days still in the damaged file stay refused
        snap.read(start=date(2026, 3, 1), end=date(2026, 3, 1))


# --------------------------------------------------------------------------- stale writer


class _Interrupting(ThreadPoolExecutor):
    """A pool that runs ``meanwhile`` once, before the first task it is given: another
    writer's whole export happens after this export opened its Postgres snapshot."""

    def __init__(self, meanwhile: Callable[[], None]) -> None:
        super().__init__(max_workers=2)
        self._meanwhile: Callable[[], None] | None = meanwhile

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            meanwhile()
        return super().submit(fn, *args, **kwargs)


def test_a_writer_that_read_an_older_snapshot_does_not_supersede_a_later_one(
    fresh_dsn: str, tmp_path: Path
) -> None:
    make_store(fresh_dsn, policy="tolerant")
    lake = str(tmp_path / "lake")
    t0lake.export(fresh_dsn, EP, lake)
    run_sql(fresh_dsn, "UPDATE lk.src SET score = -2 WHERE id = 42")  # what A will see

    def later_writer() -> None:
        run_sql(fresh_dsn, "UPDATE lk.src SET score = -3 WHERE id = 42")
        b = t0lake.export(fresh_dsn, EP, lake, start=DAY, end=DAY)
        assert b.committed and b.snapshot_id == 2

    with _Interrupting(later_writer) as pool:
        a = t0lake.export(fresh_dsn, EP, lake, start=DAY, end=DAY, executor=pool)

    assert a.days_written == [DAY] and a.days_superseded == [DAY]
    assert not a.committed and a.snapshot_id == 2
    served = t0lake.open(lake).snapshot(EP).read(filters=pl.col("id") == 42)
    assert served["score"].to_list() == [-3.0]


def test_a_later_read_still_replaces_an_earlier_one(fresh_dsn: str, tmp_path: Path) -> None:
    make_store(fresh_dsn, policy="tolerant")
    lake = str(tmp_path / "lake")
    t0lake.export(fresh_dsn, EP, lake)
    run_sql(fresh_dsn, "UPDATE lk.src SET score = -4 WHERE id = 42")
    result = t0lake.export(fresh_dsn, EP, lake)
    assert result.committed and result.days_superseded == []
    snap = t0lake.open(lake).snapshot(EP)
    (_, entry) = snap.manifest.days()[DAY]
    assert entry.read_at is not None and set(entry.read_at) == {"server", "xmax", "at"}
    assert snap.read(filters=pl.col("id") == 42)["score"].to_list() == [-4.0]


# --------------------------------------------------------------------------- registry


def test_a_deleted_head_manifest_is_refused_not_reused(store_dsn: str, tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    t0lake.export(store_dsn, EP, lake, end="2026-03-02")
    t0lake.export(store_dsn, EP, lake)
    registered = _registry(store_dsn)
    assert sorted(registered) == [1, 2]
    (Path(lake) / manifest_path(EP, 2)).unlink()

    with pytest.raises(IntegrityError, match="registered in Postgres but gone") as caught:
        t0lake.export(store_dsn, EP, lake)

    assert caught.value.context["snapshot_id"] == 2
    assert not (Path(lake) / manifest_path(EP, 2)).exists()
    assert _registry(store_dsn) == registered


def test_a_forged_head_is_refused_and_not_registered(lake: str, store_dsn: str) -> None:
    storage = open_storage(lake)
    head = log.load(storage, EP, 1)
    forged = replace(head, sha256="", committed_at="2030-01-01T00:00:00+00:00").sealed()
    storage.delete(manifest_path(EP, 1))
    storage.put_if_absent(manifest_path(EP, 1), forged.to_bytes())

    with pytest.raises(IntegrityError, match="not the manifest registered"):
        t0lake.export(store_dsn, EP, lake)
    assert _registry(store_dsn) == {1: head.sha256}


def test_snapshots_committed_without_postgres_are_registered_by_the_next_export(
    lake: str, store_dsn: str
) -> None:
    t0lake.compact(lake, as_of="2027-01-01", entrypoint=EP)  # snapshot 2
    t0lake.pin(lake, EP, 2, "release")  # snapshot 3
    with pg.connect(store_dsn, autocommit=True) as conn:  # a registration lost to a kill
        conn.execute("DELETE FROM audit.t0_export_registry WHERE snapshot_id = 1")

    t0lake.export(store_dsn, EP, lake, start="2026-03-05", end="2026-03-05")

    storage = open_storage(lake)
    expected = {i: log.load(storage, EP, i).sha256 for i in (1, 2, 3)}
    assert _registry(store_dsn) == expected


def _exporter_without_insert(dsn: str) -> str:
    """A role that may read everything an export reads but not write the registry."""
    run_sql(
        dsn,
        "CREATE ROLE t0_reader LOGIN; GRANT USAGE ON SCHEMA lk, audit TO t0_reader;"
        " GRANT SELECT ON ALL TABLES IN SCHEMA lk, audit TO t0_reader;",
    )
    params = pg.connect(dsn).info.get_parameters()
    return " ".join(f"{k}={v}" for k, v in params.items() if k != "user") + " user=t0_reader"


def test_a_failed_registration_does_not_hide_a_landed_commit(
    store_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reader = _exporter_without_insert(store_dsn)
    lake = str(tmp_path / "lake")

    code = main(["export", EP, "--lake", lake, "--dsn", reader])

    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "committed snapshot 1" in captured.out
    assert "not registered" in captured.out + captured.err
    assert t0lake.open(lake).snapshot(EP).snapshot_id == 1
    assert _registry(store_dsn) == {}
    # the next export, with the right to write, registers it
    t0lake.export(store_dsn, EP, lake)
    assert sorted(_registry(store_dsn)) == [1]
    assert hashlib.sha256(b"").hexdigest() not in _registry(store_dsn).values()


# --------------------------------------------------------------------------- verify --dsn


def test_verify_with_a_dsn_refuses_a_lake_whose_newest_manifest_was_deleted(
    store_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = str(tmp_path / "lake")
    t0lake.export(store_dsn, EP, lake, end="2026-03-02")
    t0lake.export(store_dsn, EP, lake)
    assert main(["verify", "--lake", lake, "--dsn", store_dsn]) == 0
    assert "registry agrees" in capsys.readouterr().out

    (Path(lake) / manifest_path(EP, 2)).unlink()  # a rollback the chain alone cannot see
    assert main(["verify", "--lake", lake]) == 0
    capsys.readouterr()

    assert main(["--json", "verify", "--lake", lake, "--dsn", store_dsn]) == 1
    error = json.loads(capsys.readouterr().out)
    assert error["error"] == "IntegrityError"
    assert "registered in Postgres but gone" in error["message"]

    # a read given the DSN refuses the rolled-back head too; without it, it serves it
    assert main(["scan", EP, "--lake", lake]) == 0
    capsys.readouterr()
    assert main(["--json", "scan", EP, "--lake", lake, "--dsn", store_dsn]) == 1
    assert json.loads(capsys.readouterr().out)["error"] == "IntegrityError"


def test_verify_with_a_dsn_finds_an_entrypoint_whose_manifests_are_all_gone(
    lake: str, store_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(Path(lake) / EP)
    assert main(["verify", "--lake", lake, "--dsn", store_dsn]) == 1
    assert "gone from the lake" in capsys.readouterr().err


def _reseal_head(lake: str, dsn: str, forge: Callable[[FileEntry], FileEntry]) -> FileEntry:
    """Replace the head (snapshot 1) by one whose entry of DAY's file is ``forge``d, with a
    valid checksum, as if never registered: only a structural check can catch it. Returns
    the true entry."""
    storage = open_storage(lake)
    head = log.load(storage, EP, 1)
    file, _ = head.days()[DAY]
    files = tuple(forge(f) if f.path == file.path else f for f in head.files)
    forged = replace(head, files=files, sha256="").sealed()
    storage.delete(manifest_path(EP, 1))
    storage.put_if_absent(manifest_path(EP, 1), forged.to_bytes())
    with pg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM audit.t0_export_registry")
    with pytest.raises(IntegrityError):
        t0lake.open(lake).snapshot(EP).verify()
    return file


def test_a_resealed_manifest_with_a_forged_column_digest_is_repaired_not_built_upon(
    lake: str, store_dsn: str
) -> None:
    """The head's checksum is valid and its files' bytes match, but one day's column digest
    was changed: the digests no longer make the day's dataset hash. A re-export treats the
    day as damaged and commits the true entry, so the head verifies again (it used to
    commit on top of the lie, and the new head failed verify)."""

    def forge(f: FileEntry) -> FileEntry:
        (day,) = f.days
        return replace(f, days=(replace(day, columns={**day.columns, "score": "0" * 64}),))

    file = _reseal_head(lake, store_dsn, forge)

    result = t0lake.export(store_dsn, EP, lake)

    assert result.committed and result.days_repaired == [DAY]
    assert "column digests" in result.damaged_files[file.path]
    assert t0lake.open(lake).snapshot(EP).verify()["files"] == 5


def test_a_resealed_manifest_with_a_forged_file_size_is_repaired(lake: str, store_dsn: str) -> None:
    """Found by the fuzz harness: the head says a day's file is 645,757 bytes; the file is
    intact. The re-export rewrote the same bytes, but the commit took them for "the same
    file rewritten in place" and committed nothing, so the head still failed verify after
    an export that reported success."""
    file = _reseal_head(lake, store_dsn, lambda f: replace(f, bytes=645_757))

    result = t0lake.export(store_dsn, EP, lake)

    assert result.committed and result.days_repaired == [DAY]
    assert "the manifest says 645,757" in result.damaged_files[file.path]
    new_head = log.head(open_storage(lake), EP)
    assert new_head is not None and new_head.days()[DAY][0].bytes == file.bytes
    assert t0lake.open(lake).snapshot(EP).verify()["files"] == 5
