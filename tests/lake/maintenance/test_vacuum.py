"""Vacuum deletes exactly what no retained manifest references, and never a young file."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import t0lake
from t0lake.lake import log
from t0lake.lake.layout import manifest_path
from t0lake.lake.storage import LakeStorage, open_storage
from tests.lake.synth import EP, day_table, days, export_days, model_table

AS_OF = date(2026, 12, 1)
LATER = datetime.now(UTC) + timedelta(hours=2)  # every file written by the test is old then


def _referenced(storage: LakeStorage) -> set[str]:
    head = log.head(storage, EP)
    assert head is not None
    return {f.path for m in log.check_chain(storage, head) for f in m.files}


def _data_files(storage: LakeStorage) -> set[str]:
    return {p for p in storage.walk(EP) if "/tier=" in p}


def _compacted_lake(root: str, **options: Any) -> tuple[LakeStorage, dict[date, Any]]:
    storage = open_storage(root, options or None)
    model = {d: day_table(d, 4) for d in days(date(2025, 11, 1), 70)}
    export_days(storage, model)  # 1
    t0lake.pin(root, EP, 1, "before-compaction", storage_options=options or None)  # 2
    t0lake.compact(root, as_of=AS_OF, storage_options=options or None, progress=False)  # 3
    return storage, model


def _life_cycle(root: str, **options: Any) -> None:
    storage, model = _compacted_lake(root, **options)
    pinned_rows = t0lake.open(root, options or None).snapshot(EP, 1).to_arrow()
    opts = options or None
    # while snapshot 1 is pinned, its hot files are referenced: nothing goes
    (kept,) = t0lake.vacuum(root, EP, grace=0, now=LATER, storage_options=opts)
    assert kept.deleted == []
    t0lake.unpin(root, EP, "before-compaction", storage_options=opts)  # 4
    t0lake.expire(root, EP, keep_last=1, storage_options=opts)  # 5: expires 1..3
    orphans = _data_files(storage) - _referenced(storage)
    assert len(orphans) == 70  # every hot file, now in a month or year file
    before = set(storage.walk(EP))
    (dry,) = t0lake.vacuum(root, EP, dry_run=True, grace=0, now=LATER, storage_options=opts)
    assert {d["path"] for d in dry.deleted} == orphans and set(storage.walk(EP)) == before
    assert dry.bytes == sum(storage.size(p) for p in orphans) > 0
    (done,) = t0lake.vacuum(root, EP, grace=0, now=LATER, storage_options=opts)
    assert {d["path"] for d in done.deleted} == orphans
    assert _data_files(storage) == _referenced(storage)
    snap = t0lake.open(root, opts).snapshot(EP)
    snap.verify()
    assert snap.to_arrow().equals(model_table(model)) and pinned_rows.equals(snap.to_arrow())


def test_vacuum_after_compaction_and_expiry_on_local_disk(tmp_path: Path) -> None:
    _life_cycle(str(tmp_path / "lake"))


def test_vacuum_after_compaction_and_expiry_on_s3(
    s3_bucket: str, s3_options: dict[str, Any]
) -> None:
    _life_cycle(f"s3://{s3_bucket}/lake", **s3_options)


def test_time_travel_to_a_pinned_snapshot_survives_expire_and_vacuum(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    _, model = _compacted_lake(root)
    t0lake.expire(root, EP, keep_last=1)  # 4: expires 2, not the pinned 1 or the head 3
    (result,) = t0lake.vacuum(root, EP, grace=0, now=LATER)
    assert result.deleted == []  # the pinned snapshot still references every hot file
    old = t0lake.open(root).snapshot(EP, 1)
    old.verify()
    assert old.to_arrow().equals(model_table(model))
    with pytest.raises(t0lake.SnapshotExpiredError):
        t0lake.open(root).snapshot(EP, 2)


def test_young_files_are_kept_whoever_wrote_them(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    storage, _ = _compacted_lake(root)
    t0lake.unpin(root, EP, "before-compaction")
    t0lake.expire(root, EP, keep_last=1)
    (result,) = t0lake.vacuum(root, EP)  # the default grace: one hour
    assert result.deleted == [] and len(result.young) == 70
    assert len(_data_files(storage)) == 72


def test_temp_files_go_and_foreign_files_stay(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    storage, _ = _compacted_lake(root)
    t0lake.set_policy(root, EP, t0lake.get_policy(root, EP))
    torn = f"{EP}/tier=hot/day=2025-11-02/abc.parquet.tmp-1-2-3"
    storage.write_bytes(torn, b"half a file")
    torn_manifest = f"{manifest_path(EP, 9)}.tmp-4-5-6"
    storage.write_bytes(torn_manifest, b"{")
    storage.write_bytes(f"{EP}/README.txt", b"someone's notes")
    (result,) = t0lake.vacuum(root, EP, grace=0, now=LATER)
    kinds = {d["path"]: d["kind"] for d in result.deleted}
    assert kinds == {torn: "temporary file", torn_manifest: "temporary file"}
    assert result.temporary == result.to_dict()["temporary"] == 2
    assert result.unknown == [f"{EP}/README.txt"]
    assert storage.exists(f"{EP}/_policy.json") and storage.exists(f"{EP}/README.txt")


def test_a_broken_chain_deletes_nothing(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    storage, _ = _compacted_lake(root)
    t0lake.unpin(root, EP, "before-compaction")
    t0lake.expire(root, EP, keep_last=1)
    storage.delete(manifest_path(EP, 4))  # not expired: deleted behind t0lake's back
    before = set(storage.walk(EP))
    with pytest.raises(t0lake.IntegrityError):
        t0lake.vacuum(root, EP, grace=0, now=LATER)
    assert set(storage.walk(EP)) == before


def test_bad_arguments_delete_nothing(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    storage, _ = _compacted_lake(root)
    before = set(storage.walk(EP))
    for bad in ("soon", "-1h"):
        with pytest.raises(t0lake.ConfigError, match="grace"):
            t0lake.vacuum(root, EP, grace=bad)
    with pytest.raises(t0lake.ConfigError, match="entrypoint"):
        t0lake.vacuum(root, "../etc")
    assert set(storage.walk(EP)) == before
