"""Pins and expiry: the head and pinned snapshots stay, the chain still checks across gaps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

import t0lake
from t0lake.lake import log
from t0lake.lake.layout import manifest_path
from t0lake.lake.manifest import Operation
from t0lake.lake.storage import open_storage
from tests.lake.synth import EP, day_table, days, export_days, model_table

AS_OF = date(2026, 12, 1)


def _history(root: str) -> dict[date, pa.Table]:
    """Snapshots 1..4: three exports (the second changes a day), then a compaction; returns
    what the head serves, day by day."""
    storage = open_storage(root)
    model = {d: day_table(d, 5) for d in days(date(2025, 11, 1), 40)}
    export_days(storage, model)  # 1
    changed = date(2025, 11, 20)
    model[changed] = day_table(changed, 3, version=1)
    export_days(storage, {changed: model[changed]})  # 2
    extra = {d: day_table(d, 5) for d in days(date(2025, 12, 11), 5)}
    model.update(extra)
    export_days(storage, extra)  # 3
    t0lake.compact(root, as_of=AS_OF, progress=False)  # 4
    return model


def test_expire_keeps_the_head_and_pins_and_says_what_was_expired(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    _history(root)
    before_pin = t0lake.open(root).snapshot(EP, 1).to_arrow()
    compacted = t0lake.open(root).snapshot(EP).manifest.files
    pinned = t0lake.pin(root, EP, 1, "paper-2026")  # 5
    assert pinned["committed"] and pinned["pins"] == {"paper-2026": 1}
    (result,) = t0lake.expire(root, EP, keep_last=1)
    assert result.expired == [2, 3, 4] and result.head == 6  # 5 was the head: never expired
    assert result.kept == [1, 5, 6] and result.pinned == {"paper-2026": 1}
    lake = t0lake.open(root)
    head = lake.snapshot(EP)
    assert head.manifest.operation == Operation.EXPIRE
    assert head.manifest.files == compacted  # expiry changes the history, not the data
    # the pinned snapshot still reads and verifies
    assert lake.snapshot(EP, 1).to_arrow().equals(before_pin)
    lake.snapshot(EP, 1).verify()
    # an expired one says so
    with pytest.raises(t0lake.SnapshotExpiredError, match="expired") as info:
        lake.snapshot(EP, 3)
    assert info.value.context["expired_by"] == 6 and info.value.exit_code == 2
    assert isinstance(info.value, t0lake.SnapshotNotFoundError)
    # the chain still checks: 5's parent (4) is gone, its checksum is in the record
    storage = open_storage(root)
    assert not storage.exists(manifest_path(EP, 4))
    assert [m.snapshot_id for m in log.check_chain(storage, head.manifest)] == [1, 5, 6]
    assert [s.snapshot_id for s in lake.snapshots(EP)] == [1, 5, 6]
    assert lake.snapshots(EP)[0].pins == ["paper-2026"]


def test_expire_commits_nothing_when_nothing_is_old_enough(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    _history(root)
    (result,) = t0lake.expire(root, EP, older_than="30d")
    assert result.expired == [] and result.head == 4
    later = datetime.now(UTC) + timedelta(days=31)
    (none,) = t0lake.expire(root, EP, older_than=40, now=later.replace(tzinfo=None))  # days, UTC
    assert none.expired == []
    (result,) = t0lake.expire(root, EP, older_than="30d", now=later)
    assert result.expired == [1, 2, 3] and result.kept == [4, 5]  # 4 was the head


def test_unpinned_snapshots_can_then_be_expired(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    _history(root)
    t0lake.pin(root, EP, 2, "a")
    with pytest.raises(t0lake.ConfigError, match="already names snapshot 2"):
        t0lake.pin(root, EP, 3, "a")
    again = t0lake.pin(root, EP, 2, "a")
    assert not again["committed"]  # the same pin twice is a no-op
    t0lake.unpin(root, EP, "a")
    with pytest.raises(t0lake.ConfigError, match="no pin named 'a'"):
        t0lake.unpin(root, EP, "a")
    (result,) = t0lake.expire(root, EP, keep_last=1)
    assert 2 in result.expired
    with pytest.raises(t0lake.SnapshotExpiredError):
        t0lake.pin(root, EP, 2, "late")


@pytest.mark.parametrize("name", ["", "../x", "a b", "-x", "x" * 101, "release\n"])
def test_pin_names_are_plain(tmp_path: Path, name: str) -> None:
    root = str(tmp_path / "lake")
    _history(root)
    with pytest.raises(t0lake.ConfigError, match="pin name"):
        t0lake.pin(root, EP, 1, name)
    assert log.head(open_storage(root), EP).snapshot_id == 4  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"keep_last": 1, "older_than": "1d"},
        {"keep_last": 0},
        {"older_than": "soon"},
        {"older_than": -1},
        {"older_than": timedelta(seconds=-1)},
    ],
)
def test_bad_expire_arguments_write_nothing(tmp_path: Path, kwargs: dict[str, object]) -> None:
    root = str(tmp_path / "lake")
    _history(root)
    with pytest.raises(t0lake.ConfigError):
        t0lake.expire(root, EP, **kwargs)  # type: ignore[arg-type]
    assert log.snapshot_ids(open_storage(root), EP) == [1, 2, 3, 4]


@pytest.mark.parametrize("entrypoint", ["", "0"])
def test_an_empty_entrypoint_name_is_refused_not_taken_for_every_one(
    tmp_path: Path, entrypoint: str
) -> None:
    """Only None means "every entrypoint": an empty name used to expire, compact and vacuum
    them all."""
    root = str(tmp_path / "lake")
    _history(root)
    with pytest.raises(t0lake.ConfigError, match=r"schema\.view"):
        t0lake.expire(root, entrypoint, keep_last=1)
    with pytest.raises(t0lake.ConfigError, match=r"schema\.view"):
        t0lake.compact(root, as_of=AS_OF, entrypoint=entrypoint, progress=False)
    with pytest.raises(t0lake.ConfigError, match=r"schema\.view"):
        t0lake.vacuum(root, entrypoint, grace=0)
    assert log.snapshot_ids(open_storage(root), EP) == [1, 2, 3, 4]


def test_a_deleted_manifest_is_not_an_expired_one(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    _history(root)
    storage = open_storage(root)
    storage.delete(manifest_path(EP, 3))
    with pytest.raises(t0lake.IntegrityError, match="never expired"):
        log.check_chain(storage, log.head(storage, EP))  # type: ignore[arg-type]
    with pytest.raises(t0lake.IntegrityError):
        t0lake.expire(root, EP, keep_last=1)
    assert log.snapshot_ids(storage, EP) == [1, 2, 4]


def test_a_crash_between_recording_and_deleting_is_finished_by_the_next_run(
    tmp_path: Path,
) -> None:
    root = str(tmp_path / "lake")
    model = _history(root)
    storage = open_storage(root)
    kept = {i: storage.read_bytes(manifest_path(EP, i)) for i in (1, 2)}
    t0lake.expire(root, EP, keep_last=2)  # expires 1 and 2, head 5
    for i, data in kept.items():  # as if the process died before deleting them
        storage.write_bytes(manifest_path(EP, i), data)
    with pytest.raises(t0lake.SnapshotExpiredError):
        t0lake.open(root).snapshot(EP, 1)
    assert [s.snapshot_id for s in t0lake.open(root).snapshots(EP)] == [3, 4, 5]
    (again,) = t0lake.expire(root, EP, keep_last=3)  # 3, 4, 5: nothing new to expire
    assert again.expired == [] and sorted(again.deleted_manifests) == [
        manifest_path(EP, 1),
        manifest_path(EP, 2),
    ]
    assert not storage.exists(manifest_path(EP, 1))
    assert t0lake.open(root).snapshot(EP).to_arrow().equals(model_table(model))
