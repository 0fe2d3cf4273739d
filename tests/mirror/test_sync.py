"""The Iceberg mirror of a lake's life cycle (t0lake.mirror.sync), on a real PostgreSQL
catalog: every retained snapshot readable exactly, by pyiceberg and polars.scan_iceberg, at
its tag; catch-up of missed steps, idempotently; refusal of a head that is not the lake's."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.io.pyarrow import parquet_file_to_data_file

import t0lake
from t0lake.errors import IntegrityError
from t0lake.lake.layout import manifest_path
from t0lake.lake.storage import open_storage
from t0lake.mirror import mirror
from tests.lake.synth import EP, day_table, days, export_days
from tests.mirror.conftest import check_mirror, load_table

FIRST = date(2025, 10, 1)
AS_OF = date(2025, 12, 1)  # October goes warm, November stays hot


def _export(root: str, tables: dict[date, pa.Table]) -> None:
    export_days(open_storage(root), tables)


def test_every_commit_of_the_life_cycle_is_one_tagged_exact_snapshot(
    tmp_path: Path, catalog_url: str
) -> None:
    root = str(tmp_path / "lake")
    _export(root, {d: day_table(d, 4) for d in days(FIRST, 45)})  # 1: export
    (first,) = mirror(root, EP, catalog=catalog_url)
    assert first.mirrored == [1] and first.mirrored_before is None
    _export(root, {d: day_table(d, 5, version=1) for d in days(date(2025, 11, 3), 2)})  # 2
    assert mirror(root, EP, catalog=catalog_url)[0].mirrored == [2]
    t0lake.compact(root, as_of=AS_OF, progress=False)  # 3: October → one warm file
    t0lake.expire(root, EP, keep_last=1)  # 4: expires 1 and 2
    t0lake.pin(root, EP, 3, "paper-2026")  # 5
    (caught,) = mirror(root, EP, catalog=catalog_url)
    assert caught.mirrored == [3, 4, 5] and caught.mirrored_before == 2
    assert set(caught.tags_removed) == {"t0lake-00000001", "t0lake-00000002"}
    table = load_table(catalog_url, root, EP)
    ids = check_mirror(table, root, EP)
    assert sorted(ids) == [3, 4, 5]
    # the Iceberg snapshots of the expired ones are gone from the metadata, not their files
    assert len(table.metadata.snapshots) == 3
    # compaction replaced 31 hot files by one warm file: the snapshot deleted exactly those
    compacted = table.snapshot_by_id(ids[3])
    assert compacted is not None and compacted.summary is not None
    assert compacted.summary["deleted-data-files"] == "31"
    assert compacted.summary["added-data-files"] == "1"

    before = table.metadata_location
    (again,) = mirror(root, EP, catalog=catalog_url)
    assert again.mirrored == [] and not again.committed
    assert load_table(catalog_url, root, EP).metadata_location == before

    t0lake.unpin(root, EP, "paper-2026")  # 6: the pin's tag goes with it
    (unpinned,) = mirror(root, EP, catalog=catalog_url)
    assert unpinned.mirrored == [6] and unpinned.tags_removed == ["paper-2026"]
    table = load_table(catalog_url, root, EP)
    assert "paper-2026" not in table.refs()
    check_mirror(table, root, EP)


def test_a_partial_file_skips_its_snapshot_until_the_next_compaction(
    tmp_path: Path, catalog_url: str
) -> None:
    root = str(tmp_path / "lake")
    _export(root, {d: day_table(d, 3) for d in days(FIRST, 40)})
    t0lake.compact(root, as_of=AS_OF, progress=False)  # 2
    _export(root, {date(2025, 10, 7): day_table(date(2025, 10, 7), 4, version=2)})  # 3
    (result,) = mirror(root, EP, catalog=catalog_url)
    assert result.mirrored == [1, 2] and list(result.skipped) == [3]
    table = load_table(catalog_url, root, EP)
    assert "t0lake-00000003" not in table.refs()
    (again,) = mirror(root, EP, catalog=catalog_url)  # still skipped, nothing committed
    assert again.mirrored == [] and list(again.skipped) == [3]
    t0lake.compact(root, as_of=AS_OF, progress=False)  # 4: October rewritten whole
    assert mirror(root, EP, catalog=catalog_url)[0].mirrored == [4]
    check_mirror(load_table(catalog_url, root, EP), root, EP, skipped=frozenset({3}))


def test_a_head_the_lake_did_not_commit_is_refused(tmp_path: Path, catalog_url: str) -> None:
    root = str(tmp_path / "lake")
    _export(root, {d: day_table(d, 3) for d in days(FIRST, 3)})
    mirror(root, EP, catalog=catalog_url)
    # another writer appends one of the lake's files again, outside the mirror
    table = load_table(catalog_url, root, EP)
    path = next(iter(task.file.file_path for task in table.scan().plan_files()))
    with table.transaction() as tx, tx.update_snapshot().fast_append() as append:
        append.append_data_file(parquet_file_to_data_file(table.io, tx.table_metadata, path))
    _export(root, {FIRST: day_table(FIRST, 3, version=1)})
    foreign = load_table(catalog_url, root, EP).metadata_location
    with pytest.raises(IntegrityError, match="not committed by t0lake's mirror"):
        mirror(root, EP, catalog=catalog_url)
    assert load_table(catalog_url, root, EP).metadata_location == foreign  # nothing written


def test_a_mirror_ahead_of_a_rolled_back_lake_is_refused(tmp_path: Path, catalog_url: str) -> None:
    root = str(tmp_path / "lake")
    _export(root, {d: day_table(d, 3) for d in days(FIRST, 3)})
    _export(root, {FIRST: day_table(FIRST, 3, version=1)})
    mirror(root, EP, catalog=catalog_url)
    (Path(root) / manifest_path(EP, 2)).unlink()  # the lake loses its head
    with pytest.raises(IntegrityError, match="after the lake's head 1") as caught:
        mirror(root, EP, catalog=catalog_url)
    assert caught.value.context["t0lake_snapshot_id"] == 2
    # a rewritten snapshot 2 (other content, so another manifest checksum) is refused too
    _export(root, {FIRST: day_table(FIRST, 3, version=7)})
    with pytest.raises(IntegrityError, match="other checksum"):
        mirror(root, EP, catalog=catalog_url)
