"""The Iceberg mirror of a lake's life cycle (t0lake.mirror.sync), on a real PostgreSQL
catalog: every retained snapshot readable exactly, by pyiceberg and polars.scan_iceberg, at
its tag (a compacted file serving part of its rows, with a position-delete file); catch-up
of missed steps and of a crash before a commit, idempotently; refusal of a head that is not
the lake's."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.io.pyarrow import parquet_file_to_data_file
from pyiceberg.manifest import ManifestContent
from pyiceberg.table import Table, Transaction

import t0lake
from t0lake.errors import IntegrityError
from t0lake.lake.layout import manifest_path
from t0lake.lake.storage import open_storage
from t0lake.mirror import mirror
from t0lake.mirror.catalog import open_catalog, table_location
from t0lake.mirror.deletes import read_deletes
from t0lake.mirror.schema import iceberg_schema
from tests.lake.synth import EP, SCHEMA, day_table, days, export_days
from tests.mirror.conftest import check_mirror, load_table

FIRST = date(2025, 10, 1)
AS_OF = date(2025, 12, 1)  # October goes warm, November stays hot
OCT_7, OCT_9 = date(2025, 10, 7), date(2025, 10, 9)  # days inside the warm October file


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


def test_a_partial_file_is_mirrored_with_a_position_delete_file(
    tmp_path: Path, catalog_url: str
) -> None:
    root = str(tmp_path / "lake")
    _export(root, {d: day_table(d, 3) for d in days(FIRST, 40)})  # 1
    t0lake.compact(root, as_of=AS_OF, progress=False)  # 2: October → one warm file
    _export(root, {OCT_7: day_table(OCT_7, 4, version=2)})  # 3: drift inside it
    (result,) = mirror(root, EP, catalog=catalog_url)
    assert result.mirrored == [1, 2, 3] and result.skipped == {}
    table = load_table(catalog_url, root, EP)
    ids = check_mirror(table, root, EP)  # rows at every tag, delete files of tag 3
    partial = table.snapshot_by_id(ids[3])
    assert partial is not None and partial.summary is not None
    assert partial.summary["added-delete-files"] == "1"
    assert partial.summary["added-position-deletes"] == "3"  # October 7's 3 old rows
    assert partial.summary["total-delete-files"] == "1"
    (delete_uri,) = _delete_uris(table)
    # beside the table's metadata, never among the lake's files that vacuum owns
    assert delete_uri.startswith(f"{root}/_iceberg/{EP}/data/t0lake-deletes/")
    (swept,) = t0lake.vacuum(root, EP, dry_run=True, grace=0)
    assert swept.unknown == [] and "t0lake-deletes" not in str(swept.to_dict())

    before = table.metadata_location
    (again,) = mirror(root, EP, catalog=catalog_url)  # nothing to catch up
    assert again.mirrored == [] and not again.committed
    assert load_table(catalog_url, root, EP).metadata_location == before

    _export(root, {OCT_9: day_table(OCT_9, 2, version=3)})  # 4: a second day dead
    t0lake.expire(root, EP, keep_last=2)  # 5: expires 1 and 2 (3 and 4 stay)
    t0lake.pin(root, EP, 3, "paper-2026")  # 6
    (caught,) = mirror(root, EP, catalog=catalog_url)
    assert caught.mirrored == [4, 5, 6]
    table = load_table(catalog_url, root, EP)
    ids = check_mirror(table, root, EP)
    assert sorted(ids) == [3, 4, 5, 6]
    widened = table.snapshot_by_id(ids[4])
    assert widened is not None and widened.summary is not None
    assert widened.summary["removed-delete-files"] == "1"  # replaced, not stacked
    assert widened.summary["added-position-deletes"] == "6"
    (second_uri,) = _delete_uris(table)
    assert second_uri != delete_uri
    assert table.refs()["paper-2026"].snapshot_id == ids[3]

    t0lake.compact(root, as_of=AS_OF, progress=False)  # 7: October rewritten whole
    (compacted,) = mirror(root, EP, catalog=catalog_url)
    assert compacted.mirrored == [7]
    table = load_table(catalog_url, root, EP)
    check_mirror(table, root, EP)
    assert _delete_uris(table) == []  # the delete file left with its data file
    head = table.current_snapshot()
    assert head is not None and head.summary is not None
    assert head.summary["removed-delete-files"] == "1"
    assert head.summary["total-delete-files"] == "0"


def test_a_partial_s3_lake_reads_exactly_through_pyiceberg_and_polars(
    s3_bucket: str, s3_options: dict[str, object], catalog_url: str
) -> None:
    url = f"s3://{s3_bucket}/lake"
    options = dict(s3_options)
    storage = open_storage(url, options)
    export_days(storage, {d: day_table(d, 3) for d in days(FIRST, 35)})  # 1
    t0lake.compact(url, as_of=AS_OF, storage_options=options, progress=False)  # 2
    export_days(storage, {OCT_7: day_table(OCT_7, 5, version=2)})  # 3
    (result,) = mirror(url, EP, catalog=catalog_url, storage_options=options)
    assert result.mirrored == [1, 2, 3] and result.skipped == {}
    table = load_table(catalog_url, url, EP, options)
    check_mirror(table, url, EP, options)
    (delete_uri,) = _delete_uris(table)
    assert delete_uri.startswith(f"s3://{s3_bucket}/lake/_iceberg/{EP}/data/t0lake-deletes/")
    assert all("t0lake-deletes" not in path for path in storage.walk(EP))
    (again,) = mirror(url, EP, catalog=catalog_url, storage_options=options)
    assert again.mirrored == []


class _Crash(BaseException):
    """The process dies here (not an Exception: nothing on the way may catch it)."""


def test_a_crash_between_the_delete_file_and_the_commit_is_caught_up(
    tmp_path: Path, catalog_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = str(tmp_path / "lake")
    _export(root, {d: day_table(d, 3) for d in days(FIRST, 40)})
    t0lake.compact(root, as_of=AS_OF, progress=False)
    assert mirror(root, EP, catalog=catalog_url)[0].mirrored == [1, 2]
    _export(root, {OCT_7: day_table(OCT_7, 4, version=2)})  # 3

    def crash(self: Transaction) -> None:
        raise _Crash

    deletes_dir = tmp_path / "lake" / "_iceberg" / EP / "data" / "t0lake-deletes"
    with monkeypatch.context() as patch:  # the real commit never runs: the process "dies"
        patch.setattr(Transaction, "commit_transaction", crash)
        with pytest.raises(_Crash):
            mirror(root, EP, catalog=catalog_url)
        (written,) = deletes_dir.iterdir()  # written, never committed
        payload, stamp = written.read_bytes(), written.stat().st_mtime_ns
        with pytest.raises(_Crash):  # crashes again: the intact file is found and kept
            mirror(root, EP, catalog=catalog_url)
        assert written.stat().st_mtime_ns == stamp
    assert "t0lake-00000003" not in load_table(catalog_url, root, EP).refs()

    written.write_bytes(payload[: len(payload) // 2])  # as if the crash cut the write short
    (caught,) = mirror(root, EP, catalog=catalog_url)
    assert caught.mirrored == [3]
    assert [p.name for p in deletes_dir.iterdir()] == [written.name]
    assert written.read_bytes() == payload  # the same name, the same bytes
    check_mirror(load_table(catalog_url, root, EP), root, EP)
    assert mirror(root, EP, catalog=catalog_url)[0].mirrored == []


def test_a_head_whose_delete_file_was_changed_is_refused(tmp_path: Path, catalog_url: str) -> None:
    root = str(tmp_path / "lake")
    _export(root, {d: day_table(d, 3) for d in days(FIRST, 40)})
    t0lake.compact(root, as_of=AS_OF, progress=False)
    _export(root, {OCT_7: day_table(OCT_7, 4, version=2)})
    mirror(root, EP, catalog=catalog_url)
    table = load_table(catalog_url, root, EP)
    (delete_uri,) = _delete_uris(table)
    deleted = read_deletes(table.io, delete_uri)
    (data_uri,) = deleted
    # one dead row fewer: a reader would now serve a row of the replaced October 7
    pq.write_table(
        pa.table({"file_path": [data_uri] * 2, "pos": pa.array(deleted[data_uri][:2], pa.int64())}),
        delete_uri,
    )
    _export(root, {OCT_9: day_table(OCT_9, 2, version=3)})
    with pytest.raises(IntegrityError, match="deletes other rows") as caught:
        mirror(root, EP, catalog=catalog_url)
    assert caught.value.context["t0lake_snapshot_id"] == 3
    assert caught.value.context["file"].startswith(f"{EP}/tier=warm/")
    assert load_table(catalog_url, root, EP).metadata_location == table.metadata_location
    Path(delete_uri).unlink()  # gone altogether: refused too
    with pytest.raises(IntegrityError, match="cannot be read"):
        mirror(root, EP, catalog=catalog_url)


def _delete_uris(table: Table) -> list[str]:
    """The live delete files of the table's head."""
    head = table.current_snapshot()
    assert head is not None
    return sorted(
        entry.data_file.file_path
        for manifest in head.manifests(table.io)
        if manifest.content == ManifestContent.DELETES
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True)
    )


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


def test_a_partial_snapshot_of_a_v1_table_is_skipped_not_mirrored_wrong(
    tmp_path: Path, catalog_url: str
) -> None:
    root = str(tmp_path / "lake")
    _export(root, {d: day_table(d, 3) for d in days(FIRST, 40)})
    t0lake.compact(root, as_of=AS_OF, progress=False)
    _export(root, {OCT_7: day_table(OCT_7, 4, version=2)})  # 3: partial
    storage = open_storage(root)
    catalog = open_catalog(catalog_url, storage)  # a v1 table (no delete files) made first
    catalog.create_namespace(EP.split(".")[0])
    catalog.create_table(
        tuple(EP.split(".", 1)),
        schema=iceberg_schema(SCHEMA),
        location=table_location(storage, EP),
        properties={"format-version": "1"},
    )
    catalog.engine.dispose()
    (result,) = mirror(root, EP, catalog=catalog_url)
    assert result.mirrored == [1, 2] and list(result.skipped) == [3]
    assert "format-version 2" in result.skipped[3]
    assert load_table(catalog_url, root, EP).format_version == 1
    t0lake.compact(root, as_of=AS_OF, progress=False)  # 4: October whole again
    assert mirror(root, EP, catalog=catalog_url)[0].mirrored == [4]
    check_mirror(load_table(catalog_url, root, EP), root, EP, skipped=frozenset({3}))
