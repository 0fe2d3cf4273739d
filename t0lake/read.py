"""Reading the lake: ``Lake`` → ``Snapshot`` → verified Polars frames.

A snapshot is exactly what its manifest says. Every read re-proves what it returns: the
content hash of each (day, column) handed to the caller is recomputed from the file and
compared with the manifest before any of its rows leave this module; a mismatch raises
IntegrityError naming the file, the day and the column. Row filters run after the proof, so
a filter can never hide a tampered row from it. ``verify=False`` turns the proof off for
one call, explicitly; nothing turns it off by default.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from t0lake import commit, hashing, lineage
from t0lake.dates import parse_day
from t0lake.errors import ConfigError, IntegrityError
from t0lake.manifest import MANIFEST_DIR, DayEntry, FileEntry, Manifest
from t0lake.storage import LakeStorage, check_name, open_storage

__all__ = ["Lake", "Snapshot", "SnapshotInfo", "open_lake"]

_PREFETCH = 4  # files read and verified ahead of the one being returned
_BATCH_ROWS = 150_000  # rows of local files read by one call of Polars' native reader


def open_lake(url: str, storage_options: dict[str, Any] | None = None) -> Lake:
    """Open a lake (a local path or ``s3://bucket/prefix``); exported as ``t0lake.open``."""
    return Lake(open_storage(url, storage_options))


@dataclass(frozen=True)
class SnapshotInfo:
    """One entry of an entrypoint's history."""

    snapshot_id: int
    parent_snapshot_id: int | None
    committed_at: str
    operation: str
    cert_id: int | None
    days: int
    rows: int
    files: int
    manifest_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Lake:
    """A lake root. Everything it knows comes from manifests."""

    def __init__(self, storage: LakeStorage) -> None:
        self.storage = storage

    @property
    def url(self) -> str:
        return self.storage.url

    def entrypoints(self) -> list[str]:
        """Entrypoints with at least one committed snapshot."""
        names = []
        for name in self.storage.list_names(""):
            try:
                check_name(name)
            except ConfigError:
                continue
            if commit.snapshot_ids(self.storage, name):
                names.append(name)
        return names

    def snapshots(self, entrypoint: str) -> list[SnapshotInfo]:
        """The history of an entrypoint, oldest first."""
        check_name(entrypoint)
        out = []
        for sid in commit.snapshot_ids(self.storage, entrypoint):
            m = commit.load(self.storage, entrypoint, sid)
            out.append(
                SnapshotInfo(
                    snapshot_id=m.snapshot_id,
                    parent_snapshot_id=m.parent_snapshot_id,
                    committed_at=m.committed_at,
                    operation=m.operation,
                    cert_id=m.certification.get("cert_id"),
                    days=len(m.days()),
                    rows=sum(f.rows for f in m.files),
                    files=len(m.files),
                    manifest_sha256=m.sha256,
                )
            )
        return out

    def snapshot(self, entrypoint: str, snapshot_id: int | None = None) -> Snapshot:
        """The latest snapshot, or the one with ``snapshot_id`` (time travel)."""
        check_name(entrypoint)
        if snapshot_id is None:
            manifest = commit.head(self.storage, entrypoint)
            if manifest is None:
                raise ConfigError(
                    f"{entrypoint} has no snapshot in {self.url} (looked in "
                    f"{entrypoint}/{MANIFEST_DIR}/)",
                    entrypoint=entrypoint,
                    lake=self.url,
                )
        else:
            manifest = commit.load(self.storage, entrypoint, int(snapshot_id))
        return Snapshot(self.storage, manifest)

    def __repr__(self) -> str:
        return f"Lake({self.url!r})"


@dataclass(frozen=True)
class _Part:
    """One file to read, restricted to the days a call asked for."""

    file: FileEntry
    days: tuple[DayEntry, ...]


class Snapshot:
    """One committed state of an entrypoint's lake."""

    def __init__(self, storage: LakeStorage, manifest: Manifest) -> None:
        self.storage = storage
        self.manifest = manifest
        self.schema: pa.Schema = manifest.schema

    @property
    def entrypoint(self) -> str:
        return self.manifest.entrypoint

    @property
    def snapshot_id(self) -> int:
        return self.manifest.snapshot_id

    @property
    def key(self) -> tuple[str, ...]:
        return self.manifest.key

    def days(self) -> list[date]:
        return sorted(self.manifest.days())

    def __repr__(self) -> str:
        return f"Snapshot({self.entrypoint!r}, snapshot_id={self.snapshot_id})"

    # ------------------------------------------------------------------ reads

    def scan(
        self,
        start: date | str | None = None,
        end: date | str | None = None,
        columns: Sequence[str] | None = None,
        filters: pl.Expr | Sequence[pl.Expr] | None = None,
        *,
        verify: bool = True,
    ) -> pl.LazyFrame:
        """A LazyFrame over days ``start``..``end`` (inclusive; None = unbounded).

        Nothing is read until it is collected; then each file is read, proven (unless
        ``verify=False``) and only then filtered and handed to Polars, in day order.
        """
        parts = self._parts(start, end)
        wanted = self._columns(columns)
        schema = _polars(self.schema.empty_table().select(wanted)).schema

        def source(
            with_columns: list[str] | None,
            predicate: pl.Expr | None,
            n_rows: int | None,
            batch_size: int | None,
        ) -> Iterator[pl.DataFrame]:
            names = [c for c in wanted if with_columns is None or c in with_columns]
            remaining = n_rows
            for frame in self._frames(parts, names, verify=verify):
                if predicate is not None:
                    frame = frame.filter(predicate)
                if remaining is not None:
                    frame = frame.head(remaining)
                    remaining -= frame.height
                yield frame
                if remaining is not None and remaining <= 0:
                    return

        from polars.io.plugins import register_io_source

        lazy = register_io_source(
            source,
            schema=schema,
            explain_name="t0lake",
            explain_detail=f"{self.entrypoint} snapshot {self.snapshot_id}, {len(parts)} files",
        )
        for expr in _filters(filters):
            lazy = lazy.filter(expr)
        return lazy

    def read(
        self,
        start: date | str | None = None,
        end: date | str | None = None,
        columns: Sequence[str] | None = None,
        filters: pl.Expr | Sequence[pl.Expr] | None = None,
        *,
        verify: bool = True,
    ) -> pl.DataFrame:
        """:meth:`scan`, collected. The frame carries its provenance: the snapshot, the days
        read by content hash, the columns and filters (``t0lake.frame_fingerprint``)."""
        frame = self.scan(start, end, columns, filters, verify=verify).collect()
        record = lineage.snapshot_record(
            self, start, end, columns, filters=filters, verified=verify
        )
        return lineage.attach(frame, record)

    def to_arrow(
        self,
        start: date | str | None = None,
        end: date | str | None = None,
        columns: Sequence[str] | None = None,
        *,
        verify: bool = True,
    ) -> pa.Table:
        """The verified rows as one Arrow table, types exactly as in the manifest."""
        wanted = self._columns(columns)
        tables = list(self._tables(self._parts(start, end), wanted, verify=verify))
        if not tables:
            return self.schema.empty_table().select(wanted)
        return pa.concat_tables(tables)

    def files(self, start: date | str | None = None, end: date | str | None = None) -> list[str]:
        """URIs of the live files holding days ``start``..``end``: what another engine may read
        directly (unverified)."""
        return [self.storage.uri(p.file.path) for p in self._parts(start, end)]

    # ------------------------------------------------------------------ verification

    def verify(self) -> dict[str, Any]:
        """Recompute everything: each file's sha256 and row count and every (day, column)
        hash. Raises IntegrityError listing every problem; returns a summary otherwise."""
        problems: list[dict[str, Any]] = []
        checked = {"files": 0, "days": 0, "columns": 0, "bytes": 0, "rows": 0}
        for f in self.manifest.files:
            try:
                data = self._read_file_bytes(f)
                if hashlib.sha256(data).hexdigest() != f.sha256 or len(data) != f.bytes:
                    raise _integrity(
                        self, f, None, None, "file bytes differ from the manifest (sha256)"
                    )
                table = self._parse(f, pa.BufferReader(data), [fld.name for fld in self.schema])
                spans = [(f, day, day.row_offset) for day in f.days]
                self._prove(spans, table.column, table.column_names)
            except IntegrityError as exc:
                problems.append(exc.to_dict())
                continue
            checked["files"] += 1
            checked["days"] += len(f.days)
            checked["columns"] += len(f.days) * len(self.schema)
            checked["bytes"] += f.bytes
            checked["rows"] += f.rows
        if problems:
            first = problems[0]
            raise IntegrityError(
                f"{self.entrypoint} snapshot {self.snapshot_id}: {len(problems)} of "
                f"{len(self.manifest.files)} files failed verification; first: {first['message']}",
                entrypoint=self.entrypoint,
                snapshot_id=self.snapshot_id,
                problems=problems,
            )
        return {"entrypoint": self.entrypoint, "snapshot_id": self.snapshot_id, **checked}

    # ------------------------------------------------------------------ internals

    def _columns(self, columns: Sequence[str] | None) -> list[str]:
        names = [f.name for f in self.schema]
        if columns is None:
            return names
        if isinstance(columns, str):
            raise ConfigError("columns must be a list of names, not one string")
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise ConfigError(
                f"{self.entrypoint} has no column(s) {', '.join(map(repr, unknown))}; it has "
                f"{', '.join(names)}",
                entrypoint=self.entrypoint,
                columns=unknown,
            )
        return list(dict.fromkeys(columns))

    def _parts(self, start: date | str | None, end: date | str | None) -> list[_Part]:
        first, last = parse_day(start, "start"), parse_day(end, "end")
        if first and last and first > last:
            raise ConfigError(f"start {first} is after end {last}", start=str(first), end=str(last))
        parts = []
        for f in self.manifest.files:
            days = tuple(
                d
                for d in f.days
                if (first is None or d.day >= first) and (last is None or d.day <= last)
            )
            if days:
                parts.append(_Part(f, days))
        return sorted(parts, key=lambda p: p.days[0].day)

    def _frames(
        self, parts: list[_Part], names: list[str], *, verify: bool
    ) -> Iterator[pl.DataFrame]:
        """Polars frames of ``parts`` in day order, each proven before it is yielded."""
        if not self.storage.is_local:
            for table in self._tables(parts, names, verify=verify):
                yield _polars(table)
            return
        batches = _batches(parts)
        with ThreadPoolExecutor(max_workers=_PREFETCH, thread_name_prefix="t0lake-read") as pool:
            ahead = pool.submit(self._read_batch, batches[0], names) if batches else None
            for index, batch in enumerate(batches):
                assert ahead is not None
                frame = ahead.result()
                if index + 1 < len(batches):
                    ahead = pool.submit(self._read_batch, batches[index + 1], names)
                if frame is None:  # Polars could not read the batch: the precise path says why
                    for table in self._tables(batch, names, verify=verify):
                        yield _polars(table)
                    continue
                yield self._proven_batch(pool, batch, frame, verify=verify)

    def _read_batch(self, batch: list[_Part], names: list[str]) -> pl.DataFrame | None:
        """Local files of a batch in one call of Polars' native reader, or None if it fails or
        returns anything but the manifest's rows and types (the per-file path then names the
        file at fault)."""
        paths = [self.storage.full(p.file.path) for p in batch]
        try:
            frame = pl.read_parquet(paths, columns=names, hive_partitioning=False, glob=False)
        except (pl.exceptions.PolarsError, OSError, ValueError):
            return None
        expected = _polars(self.schema.empty_table().select(names)).schema
        if frame.height != sum(p.file.rows for p in batch) or frame.schema != expected:
            return None
        return frame

    def _proven_batch(
        self, pool: ThreadPoolExecutor, batch: list[_Part], frame: pl.DataFrame, *, verify: bool
    ) -> pl.DataFrame:
        """The rows of the batch's days, after proving every (day, column) in parallel."""
        offsets = [0]
        for part in batch:
            offsets.append(offsets[-1] + part.file.rows)

        if verify:
            spans = [
                (part.file, day, offsets[i] + day.row_offset)
                for i, part in enumerate(batch)
                for day in part.days
            ]
            self._prove(spans, lambda name: frame.get_column(name).to_arrow(), frame.columns, pool)
        if all(len(p.days) == len(p.file.days) for p in batch):
            return frame
        return pl.concat(
            [
                frame.slice(offsets[i] + d.row_offset, d.rows)
                for i, part in enumerate(batch)
                for d in part.days
            ]
        )

    def _tables(self, parts: list[_Part], names: list[str], *, verify: bool) -> Iterator[pa.Table]:
        """Read (and prove) parts a few at a time in threads, yielding in day order."""
        if not parts:
            return
        read: Callable[[_Part], pa.Table] = lambda part: self._read_part(part, names, verify)  # noqa: E731
        with ThreadPoolExecutor(max_workers=_PREFETCH, thread_name_prefix="t0lake-read") as pool:
            pending: deque[Future[pa.Table]] = deque()
            queue = iter(parts)
            for part in queue:
                pending.append(pool.submit(read, part))
                if len(pending) >= _PREFETCH:
                    break
            while pending:
                table = pending.popleft().result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending.append(pool.submit(read, nxt))
                yield table

    def _read_part(self, part: _Part, names: list[str], verify: bool) -> pa.Table:
        f = part.file
        path = self.storage.full(f.path)
        if self.storage.is_local:
            # pyarrow's native reader (no Python file object in the loop)
            if not os.path.exists(path):
                raise _integrity(self, f, part.days[0], None, "file is missing")
            table = self._parse(f, path, names)
        else:
            try:
                source = self.storage.fs.open(path, "rb")
            except FileNotFoundError:
                raise _integrity(self, f, part.days[0], None, "file is missing") from None
            with source:
                table = self._parse(f, source, names)
        if verify:
            spans = [(f, day, day.row_offset) for day in part.days]
            self._prove(spans, table.column, table.column_names)
        return _slice_days(f, part.days, table)

    def _parse(self, f: FileEntry, source: Any, names: list[str]) -> pa.Table:
        """The named columns of a file, typed exactly as the manifest says (or IntegrityError)."""
        try:
            parquet = pq.ParquetFile(source)
            if parquet.metadata.num_rows != f.rows:
                raise _integrity(
                    self,
                    f,
                    None,
                    None,
                    f"file has {parquet.metadata.num_rows} rows, manifest says {f.rows}",
                )
            table = parquet.read(columns=names, use_threads=True)
        except IntegrityError:
            raise
        except (OSError, pa.ArrowException, ValueError, KeyError) as exc:
            raise _integrity(self, f, None, None, f"file cannot be read as Parquet: {exc}") from exc
        arrays = []
        for name in names:
            expected = self.schema.field(name)
            if name not in table.column_names or table.schema.field(name).type != expected.type:
                raise _integrity(
                    self, f, None, name, f"column is missing or not of type {expected.type}"
                )
            arrays.append(table.column(name))
        return pa.Table.from_arrays(arrays, schema=pa.schema([self.schema.field(n) for n in names]))

    def _prove(
        self,
        spans: Sequence[tuple[FileEntry, DayEntry, int]],
        column: Callable[[str], pa.Array | pa.ChunkedArray],
        names: Sequence[str],
        pool: ThreadPoolExecutor | None = None,
    ) -> None:
        """Recompute the hash of every (day, column) against the manifest.

        ``spans`` are (file, day, first row of the day in the columns); ``column(name)`` gives
        a column holding all of them. Columns are proven in ``pool``'s threads if given.
        """
        ranges = [(start, day.rows) for _, day, start in spans]

        def prove(name: str) -> None:
            actual = hashing.range_digests(name, column(name), self.schema.field(name), ranges)
            for (f, day, _), digest in zip(spans, actual, strict=True):
                expected = day.columns.get(name)
                if expected is None or digest != expected:
                    raise _integrity(
                        self,
                        f,
                        day,
                        name,
                        "content hash differs from the manifest",
                        expected=expected,
                        actual=digest,
                    )

        if pool is None:
            for name in names:
                prove(name)
        else:
            for done in [pool.submit(prove, name) for name in names]:
                done.result()

    def _read_file_bytes(self, f: FileEntry) -> bytes:
        try:
            return self.storage.read_bytes(f.path)
        except FileNotFoundError:
            raise _integrity(self, f, None, None, "file is missing") from None


def _batches(parts: list[_Part]) -> list[list[_Part]]:
    """Parts grouped for one native read each: enough rows to keep Polars' threads busy, few
    enough that the next batch is read while this one is proven."""
    batches: list[list[_Part]] = []
    rows = 0
    for part in parts:
        if not batches or rows >= _BATCH_ROWS:
            batches.append([])
            rows = 0
        batches[-1].append(part)
        rows += part.file.rows
    return batches


def _polars(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _slice_days(f: FileEntry, days: Sequence[DayEntry], table: pa.Table) -> pa.Table:
    if len(days) == len(f.days):
        return table
    return pa.concat_tables([table.slice(d.row_offset, d.rows) for d in days])


def _integrity(
    snap: Snapshot,
    f: FileEntry,
    day: DayEntry | None,
    column: str | None,
    what: str,
    **extra: Any,
) -> IntegrityError:
    where = f.path
    if day is not None:
        where += f", day {day.day.isoformat()}"
    if column is not None:
        where += f", column {column!r}"
    return IntegrityError(
        f"{snap.entrypoint} snapshot {snap.snapshot_id}: {where}: {what}",
        entrypoint=snap.entrypoint,
        snapshot_id=snap.snapshot_id,
        file=f.path,
        day=day.day.isoformat() if day else ",".join(d.day.isoformat() for d in f.days),
        column=column,
        **extra,
    )


def _filters(filters: pl.Expr | Sequence[pl.Expr] | None) -> list[pl.Expr]:
    if filters is None:
        return []
    if isinstance(filters, pl.Expr):
        return [filters]
    exprs = list(filters)
    if not all(isinstance(e, pl.Expr) for e in exprs):
        raise ConfigError("filters must be polars expressions, e.g. pl.col('x') > 1")
    return exprs
