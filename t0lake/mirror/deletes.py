"""Position-delete files: how the mirror registers a file that serves only part of its rows.

After a compaction, a day inside a month or year file can be re-exported: the manifest then
keeps the old file's bytes but drops that day's slice from its ``days`` (``FileEntry.complete``
is False). Iceberg says the same with an Iceberg v2 *position-delete file*: a Parquet file of
``(file_path, pos)`` rows (field ids 2147483546 and 2147483545, sorted by path then
position) naming the dead rows of the data file, registered as a ``POSITION_DELETES`` entry
of a *delete manifest* in the same snapshot as the data files.

Why this module exists: pyiceberg 0.12.0 (the version this was written and tested against)
reads position deletes in scans (``table/delete_file_index.py``, ``io/pyarrow.py``
``_read_deletes``), but none of its snapshot producers writes them: ``ManifestWriterV2``
always writes ``content=data``, and ``_OverwriteFiles`` would rewrite a delete manifest as a
data manifest. So :class:`MirrorSnapshot` subclasses pyiceberg's ``_OverwriteFiles`` (a
private class: an upgrade of pyiceberg must re-run ``tests/mirror``) and changes exactly
two things: the manifests of the new snapshot are pyiceberg's data manifests plus one delete
manifest written here (every live delete file of the parent kept as EXISTING with its
sequence numbers, removed ones as DELETED, new ones ADDED), and the summary counts the
delete files too. Everything else (the manifest list, sequence numbers, the commit and its
cleanup on a refused commit) is pyiceberg's.

Where delete files live: under the Iceberg table's own location
(``{lake}/_iceberg/{entrypoint}/data/t0lake-deletes/``), never among the lake's data files,
which t0lake's vacuum owns (it walks ``{entrypoint}/`` only and must never meet a file the
manifests do not name). Each name is derived from its content: the data file's sha256 and a
digest of its URI and dead row ranges, so a re-run after a crash between writing the file
and the commit finds the same name, checks what it holds, and reuses it.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.io import FileIO
from pyiceberg.manifest import (
    DataFile,
    DataFileContent,
    FileFormat,
    ManifestContent,
    ManifestEntry,
    ManifestEntryStatus,
    ManifestFile,
    ManifestWriter,
    ManifestWriterV2,
)
from pyiceberg.table import Transaction
from pyiceberg.table.snapshots import (
    Operation,
    SnapshotSummaryCollector,
    Summary,
    update_snapshot_summaries,
)
from pyiceberg.table.update.snapshot import _OverwriteFiles
from pyiceberg.typedef import EMPTY_DICT, Record

from t0lake._util.canonical_json import canonical_json_bytes
from t0lake.errors import IntegrityError
from t0lake.lake.manifest import FileEntry, Manifest
from t0lake.lake.storage import LakeStorage

__all__ = [
    "DELETES_DIR",
    "PATH_FIELD_ID",
    "POS_FIELD_ID",
    "MirrorSnapshot",
    "PlannedDelete",
    "dead_positions",
    "dead_ranges",
    "plan_deletes",
    "read_deletes",
    "write_delete_file",
]

PATH_FIELD_ID = 2147483546  # Iceberg's reserved field ids of a position-delete file
POS_FIELD_ID = 2147483545
DELETES_DIR = "data/t0lake-deletes"

_SCHEMA = pa.schema(
    [
        pa.field("file_path", pa.string(), False, {b"PARQUET:field_id": str(PATH_FIELD_ID)}),
        pa.field("pos", pa.int64(), False, {b"PARQUET:field_id": str(POS_FIELD_ID)}),
    ]
)


# --------------------------------------------------------------------------- which rows


def dead_ranges(entry: FileEntry) -> tuple[tuple[int, int], ...]:
    """The half-open row ranges ``[start, end)`` of ``entry``'s file that it no longer serves:
    ``[0, rows)`` minus the union of its days' slices. Empty for a complete file."""
    live = sorted((d.row_offset, d.row_offset + d.rows) for d in entry.days if d.rows > 0)
    out: list[tuple[int, int]] = []
    cursor = 0
    for start, end in live:
        if start < 0 or end > entry.rows:
            raise IntegrityError(
                f"the manifest places a day of {entry.path} at rows {start}..{end}, outside its "
                f"{entry.rows} rows: the Iceberg mirror cannot say which rows are live",
                file=entry.path,
            )
        if start > cursor:
            out.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < entry.rows:
        out.append((cursor, entry.rows))
    return tuple(out)


def dead_positions(ranges: tuple[tuple[int, int], ...]) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Every row position of ``ranges``, ascending, as int64."""
    if not ranges:
        return np.empty(0, dtype=np.int64)
    return np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in ranges])


@dataclass(frozen=True)
class PlannedDelete:
    """The delete file one partial data file of a manifest needs."""

    file: str  # the data file, relative to the lake root (as in the manifest)
    data_uri: str  # the data file as the table registers it
    uri: str  # where the delete file goes
    ranges: tuple[tuple[int, int], ...]

    @property
    def count(self) -> int:
        return sum(b - a for a, b in self.ranges)

    def positions(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        return dead_positions(self.ranges)


def plan_deletes(
    storage: LakeStorage, table_location: str, manifest: Manifest
) -> dict[str, PlannedDelete]:
    """The delete files the Iceberg snapshot of ``manifest`` must hold, by their URI: one per
    file that serves only part of its rows, none for a complete one."""
    out: dict[str, PlannedDelete] = {}
    for entry in sorted(manifest.files, key=lambda f: f.path):
        ranges = dead_ranges(entry)
        if not ranges:
            continue
        data_uri = storage.uri(entry.path)
        digest = hashlib.sha256(
            canonical_json_bytes({"file_path": data_uri, "dead": [list(r) for r in ranges]})
        ).hexdigest()
        name = f"{entry.sha256}-{digest[:16]}.parquet"
        uri = f"{table_location.rstrip('/')}/{DELETES_DIR}/{name}"
        out[uri] = PlannedDelete(entry.path, data_uri, uri, ranges)
    return out


# --------------------------------------------------------------------------- the file


def _encode(plan: PlannedDelete) -> bytes:
    """The delete file's bytes: one row group, deterministic for one pyarrow version."""
    positions = plan.positions()
    paths = pa.DictionaryArray.from_arrays(  # one value repeated, built without a list
        pa.array(np.zeros(len(positions), dtype=np.int32)), pa.array([plan.data_uri])
    ).cast(pa.string())
    table = pa.table([paths, pa.array(positions)], schema=_SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", row_group_size=max(1, len(positions)))
    return bytes(sink.getvalue())


def read_deletes(io: FileIO, uri: str) -> dict[str, np.ndarray[Any, np.dtype[np.int64]]]:
    """What a position-delete file deletes: data file path → its positions, in file order.
    OSError or pyarrow's errors for a file that is missing or not one."""
    with io.new_input(uri).open() as stream:
        table = pq.read_table(stream, columns=["file_path", "pos"])
    paths = table.column("file_path")
    positions = table.column("pos").to_numpy().astype(np.int64, copy=False)
    out: dict[str, np.ndarray[Any, np.dtype[np.int64]]] = {}
    for path in pc.unique(paths).to_pylist():
        mask = pc.equal(paths, pa.scalar(path, paths.type)).to_numpy(zero_copy_only=False)
        out[str(path)] = positions[mask]
    return out


def _holds(io: FileIO, plan: PlannedDelete) -> bool:
    """Whether the delete file already at ``plan.uri`` deletes exactly the planned rows."""
    try:
        if not io.new_input(plan.uri).exists():
            return False
        found = read_deletes(io, plan.uri)
    except (OSError, pa.ArrowException):
        return False  # a write a crash cut short: never committed, rewritten below
    return set(found) == {plan.data_uri} and np.array_equal(found[plan.data_uri], plan.positions())


def write_delete_file(io: FileIO, plan: PlannedDelete) -> DataFile:
    """The delete file of ``plan``, written (or, when a crashed run already wrote it, found
    and checked), as the DataFile a delete manifest registers."""
    if _holds(io, plan):
        size = len(io.new_input(plan.uri))
    else:
        payload = _encode(plan)
        with io.new_output(plan.uri).create(overwrite=True) as out:
            out.write(payload)
        size = len(payload)
    path = plan.data_uri.encode("utf-8")
    first, last = plan.ranges[0][0], plan.ranges[-1][1] - 1
    data_file = DataFile.from_args(
        content=DataFileContent.POSITION_DELETES,
        file_path=plan.uri,
        file_format=FileFormat.PARQUET,
        partition=Record(),
        record_count=plan.count,
        file_size_in_bytes=size,
        value_counts={PATH_FIELD_ID: plan.count, POS_FIELD_ID: plan.count},
        null_value_counts={PATH_FIELD_ID: 0, POS_FIELD_ID: 0},
        # full (untruncated) path bounds, equal: readers (pyiceberg's delete index, Polars'
        # native reader) then apply the file to that one data file only
        lower_bounds={PATH_FIELD_ID: path, POS_FIELD_ID: struct.pack("<q", first)},
        upper_bounds={PATH_FIELD_ID: path, POS_FIELD_ID: struct.pack("<q", last)},
        sort_order_id=None,
        equality_ids=None,
        key_metadata=None,
    )
    data_file.spec_id = 0  # the table is unpartitioned (catalog.py): spec 0
    return data_file


# --------------------------------------------------------------------------- the snapshot


class _DeleteManifestWriter(ManifestWriterV2):
    """pyiceberg's v2 manifest writer, writing a delete manifest (``content=deletes``)."""

    def content(self) -> ManifestContent:
        return ManifestContent.DELETES

    @property
    def _meta(self) -> dict[str, str]:
        return {**super()._meta, "content": "deletes"}


class MirrorSnapshot(_OverwriteFiles):
    """One snapshot of the mirror: data files added and removed as pyiceberg's overwrite
    does, and position-delete files added and removed in a delete manifest of its own."""

    def __init__(
        self,
        transaction: Transaction,
        io: FileIO,
        operation: Operation,
        snapshot_properties: dict[str, str] = EMPTY_DICT,
    ) -> None:
        super().__init__(
            operation=operation,
            transaction=transaction,
            io=io,
            snapshot_properties=snapshot_properties,
        )
        self._added_deletes: list[DataFile] = []
        self._removed_deletes: set[str] = set()

    def add_delete_file(self, delete_file: DataFile) -> MirrorSnapshot:
        self._added_deletes.append(delete_file)
        return self

    def remove_delete_file(self, delete_file: DataFile) -> MirrorSnapshot:
        self._removed_deletes.add(delete_file.file_path)
        return self

    def _parent_deletes(self) -> list[ManifestEntry]:
        """The live delete entries of the parent snapshot (sequence numbers inherited)."""
        if self._parent_snapshot_id is None:
            return []
        parent = self._transaction.table_metadata.snapshot_by_id(self._parent_snapshot_id)
        if parent is None:
            return []
        return [
            entry
            for manifest in parent.manifests(self._io)
            if manifest.content == ManifestContent.DELETES
            for entry in manifest.fetch_manifest_entry(self._io, discard_deleted=True)
        ]

    def _manifests(self) -> list[ManifestFile]:
        # pyiceberg's data side; its copies of the parent's delete manifests are replaced by
        # the one delete manifest below (an overwrite would rewrite one as a data manifest)
        data = [m for m in super()._manifests() if m.content == ManifestContent.DATA]
        return data + self._delete_manifest()

    def _delete_manifest(self) -> list[ManifestFile]:
        parent = self._parent_deletes()
        live = {e.data_file.file_path for e in parent}
        missing = self._removed_deletes - live
        if missing:
            raise ValueError(f"delete files to remove are not live: {sorted(missing)}")
        if not parent and not self._added_deletes:
            return []
        writer: ManifestWriter = _DeleteManifestWriter(
            spec=self._transaction.table_metadata.spec(),
            schema=self.schema(),
            output_file=self.new_manifest_output(),
            snapshot_id=self._snapshot_id,
            avro_compression=self._compression,
        )
        with writer:
            for entry in parent:
                if entry.data_file.file_path in self._removed_deletes:
                    writer.delete(entry)
                else:  # keeps its sequence numbers: it still applies to its data file
                    writer.existing(entry)
            for delete_file in self._added_deletes:
                writer.add_entry(
                    ManifestEntry.from_args(
                        status=ManifestEntryStatus.ADDED,
                        snapshot_id=self._snapshot_id,
                        sequence_number=None,  # this snapshot's: >= its data file's
                        file_sequence_number=None,
                        data_file=delete_file,
                    )
                )
        return [writer.to_manifest_file()]

    def _summary(self, snapshot_properties: dict[str, str] = EMPTY_DICT) -> Summary:
        """pyiceberg's summary counts data files only: count the delete files too (the table
        is unpartitioned, so there are no partition summaries)."""
        schema = self.schema()
        collector = SnapshotSummaryCollector()
        for data_file in self._added_data_files:
            collector.add_file(data_file, schema=schema)
        for data_file in self._deleted_data_files:
            collector.remove_file(data_file, schema=schema)
        for delete_file in self._added_deletes:
            collector.add_file(delete_file, schema=schema)
        for entry in self._parent_deletes():
            if entry.data_file.file_path in self._removed_deletes:
                collector.remove_file(entry.data_file, schema=schema)
        metadata = self._transaction.table_metadata
        previous = (
            metadata.snapshot_by_id(self._parent_snapshot_id)
            if self._parent_snapshot_id is not None
            else None
        )
        return update_snapshot_summaries(
            summary=Summary(operation=self._operation, **collector.build(), **snapshot_properties),
            previous_summary=previous.summary if previous is not None else None,
        )
