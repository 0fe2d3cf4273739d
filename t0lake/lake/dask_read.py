"""A snapshot as a Dask DataFrame, every partition proven on the worker that reads it.

One partition per file of the read (a hot file is one day, a compacted file a month or a
year, restricted to the days asked for), in the day order of :meth:`Snapshot.read`. A task
carries only its own file's entry (its days and their digests), so a graph of a long
history stays small; on the worker it reads the file with the lake's own reader and
re-proves every (day, column) it returns (:meth:`~t0lake.lake.reader.Reader.tables`), so a
tampered file fails the ``compute`` with the reader's ``IntegrityError`` naming the file,
the day and the column (exceptions keep their context across processes).

The index is the row's position in the whole read, known from the manifest without
reading (``divisions`` are known, ``len`` is free), so ``compute()`` equals ``read()`` row
for row. Columns are pandas ``ArrowDtype`` (strings as pandas' Arrow-backed ``str``),
so no type is widened through NumPy: ``pa.Table.from_pandas(df, preserve_index=False)``
gives back the manifest's Arrow types. A column selection after ``to_dask`` is pushed into
the reads by Dask's optimizer, and only the columns read are proven.

Dask is imported here only, when a caller asks for a Dask frame: never by ``import t0lake``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from t0lake.lake.manifest import Manifest
from t0lake.lake.reader import Part, Reader
from t0lake.lake.storage import LakeStorage

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["FileRead", "read_file_part", "to_dask"]


@dataclass(frozen=True)
class FileRead:
    """What one Dask task reads: one file of a snapshot (the part of it a read asked for).

    ``manifest`` is the snapshot's manifest reduced to this one file (its entrypoint, id and
    schema for the proof and its errors): the task needs nothing of the other files.
    ``offset`` is the position of the part's first row in the whole read."""

    storage: LakeStorage
    manifest: Manifest
    part: Part
    offset: int
    verify: bool

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        """A deterministic token without hashing the storage's filesystem object: the same
        lake, snapshot, file slice and proof flag are the same task."""
        return (
            "t0lake-file-read",
            self.storage.url,
            self.manifest.entrypoint,
            self.manifest.snapshot_id,
            self.manifest.sha256,
            self.part.file.path,
            tuple(d.day.isoformat() for d in self.part.days),
            self.offset,
            self.verify,
        )


def read_file_part(task: FileRead, columns: Sequence[str] | str | None = None) -> pd.DataFrame:
    """The rows of one task's file, proven (unless ``verify`` is off), as a pandas frame
    whose index is their position in the whole read. Runs on a Dask worker; ``columns``
    is what Dask's optimizer projected (``None``: every column of the read)."""
    import pandas as pd

    reader = Reader(task.storage, task.manifest)
    names = reader.columns(None if columns is None else _listed(columns))
    tables = list(reader.tables([task.part], names, verify=task.verify, prefetch=1))
    frame = _pandas(tables[0])
    frame.index = pd.RangeIndex(task.offset, task.offset + len(frame))
    return frame


def _listed(columns: Sequence[str] | str) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)


def _pandas(table: pa.Table) -> pd.DataFrame:
    """A pandas frame of Arrow-typed columns (no NumPy widening of ints with NULLs, times
    keep their unit and zone, decimals and lists stay what they are)."""
    import pandas as pd

    frame: pd.DataFrame = table.to_pandas(types_mapper=pd.ArrowDtype)
    return frame


def to_dask(
    reader: Reader,
    start: date | str | None,
    end: date | str | None,
    columns: Sequence[str] | str | None,
    *,
    verify: bool = True,
) -> Any:
    """The days ``start``..``end`` of ``reader``'s snapshot as a ``dask.dataframe``, one
    partition per file, each proven when it is computed (see the module docstring).
    Bad columns are a ConfigError now, before anything is read."""
    import importlib

    dd: Any = importlib.import_module("dask.dataframe")  # untyped: one Any, not many ignores
    names = reader.columns(columns)  # the ConfigError of an unknown column, here
    parts = reader.parts(start, end)
    meta = _pandas(reader.schema.empty_table().select(names))
    if not parts:
        return dd.from_pandas(meta, npartitions=1)
    tasks, offset = [], 0
    for part in parts:
        alone = dataclasses.replace(reader.manifest, files=(part.file,))
        tasks.append(FileRead(reader.storage, alone, part, offset, verify))
        offset += sum(day.rows for day in part.days)
    sizes = [sum(day.rows for day in p.days) for p in parts]
    divisions: tuple[int, ...] | None = None
    if all(sizes):  # an empty part would repeat a division
        divisions = (*(t.offset for t in tasks), offset - 1)
    return dd.from_map(
        read_file_part,
        tasks,
        columns=names,
        meta=meta,
        divisions=divisions,
        label=f"t0lake-read-{reader.entrypoint}-{reader.snapshot_id}",
        enforce_metadata=False,
    )
