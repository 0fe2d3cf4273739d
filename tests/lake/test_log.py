"""The commit log: a head must descend, link by link, from the snapshot just before it."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from t0lake.errors import IntegrityError
from t0lake.lake import log
from t0lake.lake.layout import manifest_path
from t0lake.lake.storage import LakeStorage, open_storage
from tests.lake.synth import EP, day_table, days, export_days

FIRST = date(2026, 3, 1)


def _three_snapshots(tmp_path: Path) -> LakeStorage:
    storage = open_storage(str(tmp_path / "lake"))
    for i, day in enumerate(days(FIRST, 3)):
        export_days(storage, {day: day_table(day, 5 + i)})
    return storage


def _reseal(storage: LakeStorage, snapshot_id: int, **changes: object) -> None:
    """Rewrite a stored manifest with ``changes`` and a checksum that matches them, as a
    forger who knows the format would."""
    forged = replace(log.load(storage, EP, snapshot_id), sha256="", **changes).sealed()
    storage.delete(manifest_path(EP, snapshot_id))
    storage.put_if_absent(manifest_path(EP, snapshot_id), forged.to_bytes())


def test_an_untouched_chain_gives_the_head(tmp_path: Path) -> None:
    storage = _three_snapshots(tmp_path)
    head = log.head(storage, EP)
    assert head is not None and head.snapshot_id == 3
    assert [m.snapshot_id for m in log.check_chain(storage, head)] == [1, 2, 3]


def test_a_resealed_head_without_a_parent_is_refused(tmp_path: Path) -> None:
    storage = _three_snapshots(tmp_path)
    head = log.load(storage, EP, 3)
    only_last_day = tuple(f for f in head.files if f.days[0].day == days(FIRST, 3)[-1])
    _reseal(storage, 3, parent_snapshot_id=None, parent_sha256=None, files=only_last_day)
    with pytest.raises(IntegrityError, match="names parent none, not 2") as caught:
        log.head(storage, EP)
    assert caught.value.context["snapshot_id"] == 3


def test_a_head_skipping_its_parent_is_refused(tmp_path: Path) -> None:
    storage = _three_snapshots(tmp_path)
    first = log.load(storage, EP, 1)
    _reseal(storage, 3, parent_snapshot_id=1, parent_sha256=first.sha256)
    with pytest.raises(IntegrityError, match="names parent 1, not 2"):
        log.head(storage, EP)


def test_a_first_snapshot_claiming_a_parent_is_refused(tmp_path: Path) -> None:
    storage = open_storage(str(tmp_path / "lake"))
    export_days(storage, {FIRST: day_table(FIRST, 3)})
    _reseal(storage, 1, parent_snapshot_id=0, parent_sha256="0" * 64)
    with pytest.raises(IntegrityError, match="names parent 0, not none"):
        log.head(storage, EP)


def test_a_parent_id_without_its_checksum_is_refused(tmp_path: Path) -> None:
    storage = _three_snapshots(tmp_path)
    _reseal(storage, 3, parent_sha256=None)
    with pytest.raises(IntegrityError, match="history was rewritten"):
        log.head(storage, EP)
