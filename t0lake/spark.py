"""A verified Spark read of a snapshot: each file proven on the executor that reads it.

``read(spark, snapshot, start=, end=, columns=)`` is a Spark DataFrame of the snapshot's
rows for days ``start``..``end``, proven as :meth:`t0lake.lake.Snapshot.read` proves them,
but on the executors: one Spark task per live file (``spark.range`` with a partition per
file, then ``mapInArrow``). The task reads the file's bytes, checks their size and sha256
against the manifest, decodes them with the lake's reader (the manifest's exact Arrow
types, or IntegrityError), keeps only the rows of the requested days and re-proves each
(day, column) it returns before any batch leaves (:meth:`t0lake.lake.reader.Reader.prove`).
A file that fails raises IntegrityError in its task, and the Spark job fails with it
(a ``PythonException`` on the driver whose message holds the IntegrityError's: file, day,
column).

pyspark is imported only here, and only when a read is built: ``import t0lake`` never
needs it. It sits beside :mod:`t0lake.pit`: above the lake it reads, below the CLI.

What Spark changes in the values is only what its types cannot hold: Arrow field metadata
(the ``t0lake.type`` tags of jsonb and unconstrained numeric text columns) is dropped and
list element fields are named ``element``; int16 stays ``ShortType``, timestamptz is
``TimestampType`` (an instant; shown in the session time zone), timestamp is
``TimestampNTZType`` and numeric(p, s) is ``DecimalType(p, s)`` (``docs/other-engines.md``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from t0lake.lake.manifest import Manifest
from t0lake.lake.reader import Part, Reader, integrity
from t0lake.lake.snapshot import Snapshot
from t0lake.lake.storage import open_storage

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["FileTasks", "read", "spark_schema"]


def read(
    spark: SparkSession,
    snapshot: Snapshot,
    start: date | str | None = None,
    end: date | str | None = None,
    columns: Iterable[str] | None = None,
) -> DataFrame:
    """The proven rows of days ``start``..``end`` (inclusive; None = unbounded) of
    ``snapshot`` as a Spark DataFrame, one partition per live file, partitions in day order
    and rows within each in the snapshot's order (day, then key).

    Nothing is read until an action runs; then each executor task proves its file. Bad
    arguments (days, columns) are a ConfigError here, before any job."""
    reader = Reader(snapshot.storage, snapshot.manifest)
    parts = reader.parts(start, end)
    names = reader.columns(columns)
    arrow = _plain(pa.schema([snapshot.schema.field(n) for n in names]))
    schema = spark_schema(arrow)
    if not parts:
        return spark.createDataFrame([], schema)
    tasks = FileTasks(
        lake=snapshot.storage.canonical_url,
        storage_options=dict(snapshot.storage.storage_options),
        manifest=snapshot.manifest,
        parts=tuple(parts),
        names=tuple(names),
        schema=arrow,
    )
    ids = spark.range(0, len(parts), 1, numPartitions=len(parts))
    return ids.mapInArrow(tasks, schema)


def spark_schema(schema: pa.Schema) -> Any:
    """The Spark StructType of an Arrow schema, as ``mapInArrow`` must be told it."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(_plain(schema))


@dataclass(frozen=True)
class FileTasks:
    """What each Spark task runs: plain data (pickled to the executors) and a call that
    turns a batch of part numbers into the proven Arrow batches of those files. The lake is
    reopened on the executor from its URL (its storage options travel with the task, as
    any Spark job's credentials do; prefer the executors' environment for S3 keys)."""

    lake: str
    storage_options: dict[str, Any]
    manifest: Manifest
    parts: tuple[Part, ...]
    names: tuple[str, ...]
    schema: pa.Schema  # the batches' schema: the manifest's types, no field metadata

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        reader = Reader(open_storage(self.lake, self.storage_options, check=False), self.manifest)
        for batch in batches:
            for index in batch.column(0).to_pylist():
                yield from self.proven(reader, self.parts[index]).to_batches()

    def proven(self, reader: Reader, part: Part) -> pa.Table:
        """One file's rows of the part's days, after its bytes and each (day, column) of
        them were proven against the manifest."""
        f, names = part.file, list(self.names)
        try:
            data = reader.read_file_bytes(f)
        except OSError as exc:  # FileNotFoundError is already an IntegrityError
            why = exc.strerror or str(exc) or type(exc).__name__
            raise integrity(reader, f, None, None, f"file cannot be read ({why})") from exc
        if len(data) != f.bytes or hashlib.sha256(data).hexdigest() != f.sha256:
            raise integrity(reader, f, None, None, "file bytes differ from the manifest (sha256)")
        table = reader.parse(f, pa.BufferReader(data), names)
        if part.whole:
            spans = [(f, day, day.row_offset) for day in part.days]
        else:  # only the rows returned are proven, and returned
            table = pa.concat_tables([table.slice(d.row_offset, d.rows) for d in part.days])
            starts = [0]
            for day in part.days[:-1]:
                starts.append(starts[-1] + day.rows)
            spans = [(f, day, at) for day, at in zip(part.days, starts, strict=True)]
        reader.prove(spans, table.column, names)
        return table.cast(self.schema)


def _plain(schema: pa.Schema) -> pa.Schema:
    """The schema without field metadata, which Spark does not keep."""
    return pa.schema([pa.field(f.name, f.type, f.nullable) for f in schema])
