"""``Lake`` → ``Snapshot`` → verified Polars frames: the lake as a user opens it.

A snapshot is exactly what its manifest says. Every read re-proves what it returns
(:mod:`t0lake.lake.reader`); row filters run after the proof, so a filter can never hide a
tampered row from it. ``verify=False`` turns the proof off for one call, explicitly;
nothing turns it off by default. A frame a read returns carries its provenance
(:mod:`t0lake.lineage`), built here from the manifest.
"""

from __future__ import annotations

import contextlib
import operator
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
import pyarrow as pa

from t0lake import lineage
from t0lake._util.days import parse_range
from t0lake._util.frames import remember_schema
from t0lake._version import __version__
from t0lake.errors import ConfigError, SnapshotNotFoundError
from t0lake.lake import log
from t0lake.lake.layout import Tier
from t0lake.lake.manifest import DayEntry, FileEntry, Manifest, Operation
from t0lake.lake.reader import Reader, column_list
from t0lake.lake.storage import LakeStorage, check_name, open_storage
from t0lake.lake.verify import verify_snapshot

__all__ = ["Lake", "LiveFile", "Snapshot", "SnapshotInfo", "check_snapshot_id", "open_lake"]


def open_lake(url: str, storage_options: dict[str, Any] | None = None) -> Lake:
    """Open a lake (a local path or ``s3://bucket/prefix``) to read it; exported as
    ``t0lake.open``. A local path that does not exist is refused here, not later as an
    empty lake (an export creates a lake; a read never does)."""
    storage = open_storage(url, storage_options)
    if storage.is_local and not os.path.isdir(storage.root):
        what = (
            "is a file, not a lake directory"
            if os.path.exists(storage.root)
            else ("does not exist")
        )
        raise ConfigError(f"there is no lake at {storage.root}: it {what}", lake=url)
    return Lake(storage)


def check_snapshot_id(snapshot_id: object, entrypoint: str | None = None) -> int:
    """A snapshot id as an int: an int (numpy's too) or a string of ASCII digits. Anything
    else is a ConfigError: ``int()`` would read ``1.9`` as 1 and ``True`` as 1, so a typo
    would silently time-travel to another snapshot."""
    number: int | None = None
    if isinstance(snapshot_id, str):
        if snapshot_id.isascii() and snapshot_id.isdigit():
            number = int(snapshot_id)
    elif not isinstance(snapshot_id, bool):
        with contextlib.suppress(TypeError):
            number = operator.index(snapshot_id)  # type: ignore[arg-type]
    if number is None:
        raise ConfigError(
            f"a snapshot id is a whole number like 3, got {snapshot_id!r}",
            parameter="snapshot_id",
            value=repr(snapshot_id),
            entrypoint=entrypoint,
        )
    return number


@dataclass(frozen=True)
class SnapshotInfo:
    """One entry of an entrypoint's history."""

    snapshot_id: int
    parent_snapshot_id: int | None
    committed_at: str
    operation: Operation
    cert_id: int | None
    days: int
    rows: int
    files: int
    manifest_sha256: str
    tiers: dict[str, int]  # files per tier
    pins: list[str]  # the pins naming this snapshot

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class LiveFile:
    """One live file of a snapshot as another engine reads it (:meth:`Snapshot.live_files`).

    ``days`` are the requested days the snapshot serves from this file and ``row_ranges``
    their rows in it, ``(first row, rows)`` per day (0-based row numbers of the Parquet
    file). A file is ``whole`` when those are all its rows; a compacted (warm or cold) file
    read for part of its month or year, or one of whose days was re-exported since, is not:
    a reader must keep only those rows (or filter by day), or it counts rows t0lake does not
    serve."""

    uri: str  # an absolute local path, or s3://bucket/...
    path: str  # relative to the lake root, as in the manifest
    tier: Tier
    bytes: int
    sha256: str
    file_rows: int
    days: tuple[date, ...]
    row_ranges: tuple[tuple[int, int], ...]

    @property
    def rows(self) -> int:
        """The rows of the file that serve ``days``."""
        return sum(n for _, n in self.row_ranges)

    @property
    def whole(self) -> bool:
        return self.rows == self.file_rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "path": self.path,
            "tier": self.tier.value,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "file_rows": self.file_rows,
            "rows": self.rows,
            "whole": self.whole,
            "days": [d.isoformat() for d in self.days],
            "row_ranges": [list(r) for r in self.row_ranges],
        }


class Lake:
    """A lake root. Everything it knows comes from manifests."""

    def __init__(self, storage: LakeStorage) -> None:
        self.storage = storage

    @property
    def url(self) -> str:
        return self.storage.url

    def entrypoints(self) -> list[str]:
        """Entrypoints with at least one committed snapshot. Anything else in the root (a
        README, a stray file or directory) is not an entrypoint and is passed over."""
        names = []
        for name in self.storage.list_names(""):
            try:
                check_name(name)
                if log.snapshot_ids(self.storage, name):
                    names.append(name)
            except (ConfigError, NotADirectoryError):  # a file with a schema.view name
                continue
        return names

    def snapshots(self, entrypoint: str) -> list[SnapshotInfo]:
        """The history of an entrypoint, oldest first; SnapshotNotFoundError when the lake
        has none."""
        check_name(entrypoint)
        latest = log.require_head(self.storage, entrypoint)
        out = []
        for sid in log.retained(self.storage, entrypoint, latest):
            m = latest if sid == latest.snapshot_id else log.load(self.storage, entrypoint, sid)
            out.append(
                SnapshotInfo(
                    snapshot_id=m.snapshot_id,
                    parent_snapshot_id=m.parent_snapshot_id,
                    committed_at=m.committed_at,
                    operation=m.operation,
                    cert_id=m.certification.get("cert_id"),
                    days=len(m.days()),
                    rows=m.live_rows(),
                    files=len(m.files),
                    manifest_sha256=m.sha256,
                    tiers=m.files_per_tier(),
                    pins=sorted(name for name, i in latest.pins.items() if i == sid),
                )
            )
        return out

    def snapshot(self, entrypoint: str, snapshot_id: int | str | None = None) -> Snapshot:
        """The latest snapshot, or the one with ``snapshot_id`` (time travel; an expired
        one raises SnapshotExpiredError). ``snapshot_id`` is an int (or a string of digits);
        anything else is a ConfigError."""
        check_name(entrypoint)
        wanted = None if snapshot_id is None else check_snapshot_id(snapshot_id, entrypoint)
        manifest = log.require_head(self.storage, entrypoint)
        if wanted is not None and wanted < 1:
            raise SnapshotNotFoundError(
                f"snapshot ids start at 1; {entrypoint} has no snapshot {wanted}",
                entrypoint=entrypoint,
                snapshot_id=wanted,
            )
        if wanted is not None and wanted != manifest.snapshot_id:
            manifest = log.load_retained(self.storage, manifest, wanted)
        return Snapshot(self.storage, manifest)

    def __repr__(self) -> str:
        return f"Lake({self.url!r})"


class Snapshot:
    """One committed state of an entrypoint's lake."""

    def __init__(self, storage: LakeStorage, manifest: Manifest) -> None:
        self.storage = storage
        self.manifest = manifest
        self.schema: pa.Schema = manifest.schema
        self._reader = Reader(storage, manifest)

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

    def tiers(self) -> dict[date, Tier]:
        """The tier each live day is read from (hot, warm or cold), in day order."""
        return {day: f.tier for day, (f, _) in sorted(self.manifest.days().items())}

    def __repr__(self) -> str:
        return f"Snapshot({self.entrypoint!r}, snapshot_id={self.snapshot_id})"

    # ------------------------------------------------------------------ reads

    def scan(
        self,
        start: date | str | None = None,
        end: date | str | None = None,
        columns: Iterable[str] | None = None,
        filters: pl.Expr | Iterable[pl.Expr] | None = None,
        *,
        verify: bool = True,
    ) -> pl.LazyFrame:
        """A LazyFrame over days ``start``..``end`` (inclusive; None = unbounded).

        Nothing is read until it is collected; then each file is read, proven (unless
        ``verify=False``) and only then filtered and handed to Polars, in day order.
        """
        parts = self._reader.parts(start, end)
        wanted = self._reader.columns(column_list(columns))
        schema = self._reader.polars_schema(wanted)

        def source(
            with_columns: list[str] | None,
            predicate: pl.Expr | None,
            n_rows: int | None,
            batch_size: int | None,
        ) -> Iterator[pl.DataFrame]:
            names = [c for c in wanted if with_columns is None or c in with_columns]
            remaining = n_rows
            for frame in self._reader.frames(parts, names, verify=verify):
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
        exprs = _filters(filters)
        for expr in exprs:
            lazy = lazy.filter(expr)
        if exprs:
            _check_filters(lazy, exprs, self.entrypoint)
        return lazy

    def read(
        self,
        start: date | str | None = None,
        end: date | str | None = None,
        columns: Iterable[str] | None = None,
        filters: pl.Expr | Iterable[pl.Expr] | None = None,
        *,
        verify: bool = True,
    ) -> pl.DataFrame:
        """:meth:`scan`, collected. The frame carries its provenance: the snapshot, the days
        read by content hash, the columns and filters (``t0lake.frame_fingerprint``)."""
        columns, filters = column_list(columns), _filters(filters)  # a generator is read once
        frame = (
            self._filtered(start, end, columns, filters, verify=verify)
            if filters
            else self._collect(start, end, columns, verify=verify)
        )
        remember_schema(frame, self.schema)  # so it hashes to the certified value
        return lineage.attach(frame, self.read_record(start, end, columns, filters, verify))

    def _collect(
        self,
        start: date | str | None,
        end: date | str | None,
        columns: list[str] | None,
        *,
        verify: bool,
    ) -> pl.DataFrame:
        """The rows of a read without filters: the reader's proven frames, concatenated
        here rather than collected through :meth:`scan`'s IO source (Polars' plugin machinery
        cost 1.4 ms a read, a tenth of an unverified month's)."""
        reader = self._reader
        wanted = reader.columns(columns)
        frames = list(reader.frames(reader.parts(start, end), wanted, verify=verify))
        if not frames:
            return pl.DataFrame(schema=reader.polars_schema(wanted))
        return frames[0] if len(frames) == 1 else pl.concat(frames)

    def _filtered(
        self,
        start: date | str | None,
        end: date | str | None,
        columns: list[str] | None,
        filters: list[pl.Expr],
        *,
        verify: bool,
    ) -> pl.DataFrame:
        """The rows of a read with filters, through :meth:`scan` (Polars pushes them into
        the source, after the proof); a filter comparing with the wrong type of literal is a
        ConfigError naming it."""
        try:
            return self.scan(start, end, columns, filters, verify=verify).collect()
        except (
            pl.exceptions.ComputeError,
            pl.exceptions.InvalidOperationError,
            pl.exceptions.SchemaError,
        ) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ConfigError(
                f"the filters {', '.join(str(e) for e in filters)} cannot be applied to "
                f"{self.entrypoint}: {first}",
                entrypoint=self.entrypoint,
            ) from None

    def to_arrow(
        self,
        start: date | str | None = None,
        end: date | str | None = None,
        columns: Iterable[str] | None = None,
        *,
        verify: bool = True,
    ) -> pa.Table:
        """The verified rows as one Arrow table, types exactly as in the manifest."""
        wanted = self._reader.columns(column_list(columns))
        tables = list(self._reader.tables(self._reader.parts(start, end), wanted, verify=verify))
        if not tables:
            return self.schema.empty_table().select(wanted)
        return pa.concat_tables(tables)

    def to_dask(
        self,
        start: date | str | None = None,
        end: date | str | None = None,
        columns: Iterable[str] | None = None,
        *,
        verify: bool = True,
    ) -> Any:
        """The days ``start``..``end`` as a ``dask.dataframe.DataFrame``, one partition per
        file, in day order, each proven on the worker that reads it: an ``IntegrityError``
        (naming file, day and column) fails the compute. The index is the row's position in
        the read, so ``compute()`` is :meth:`read` row for row (:mod:`t0lake.lake.dask_read`;
        needs ``dask[dataframe]``, imported only here)."""
        from t0lake.lake.dask_read import to_dask

        return to_dask(self._reader, start, end, column_list(columns), verify=verify)

    def files(self, start: date | str | None = None, end: date | str | None = None) -> list[str]:
        """URIs of the live files holding days ``start``..``end``: what another engine may read
        directly (unverified). A compacted file may hold other rows too: :meth:`live_files`
        says which rows of each file are the snapshot's."""
        return [f.uri for f in self.live_files(start, end)]

    def live_files(
        self, start: date | str | None = None, end: date | str | None = None
    ) -> list[LiveFile]:
        """The live files holding days ``start``..``end`` (inclusive), each once, in the order
        of their first day, with the rows of it that serve those days: what another engine
        reads to get exactly this snapshot, unverified (``t0lake files``;
        ``docs/other-engines.md``). The hive paths cannot say it: a re-exported day leaves
        its old file beside the new one."""
        by_path: dict[str, tuple[FileEntry, list[DayEntry]]] = {}
        for part in self._reader.parts(start, end):  # a compacted file may come in runs
            by_path.setdefault(part.file.path, (part.file, []))[1].extend(part.days)
        return [
            LiveFile(
                uri=self.storage.uri(f.path),
                path=f.path,
                tier=f.tier,
                bytes=f.bytes,
                sha256=f.sha256,
                file_rows=f.rows,
                days=tuple(d.day for d in days),
                row_ranges=tuple((d.row_offset, d.rows) for d in days),
            )
            for f, days in by_path.values()
        ]

    def verify(self) -> dict[str, Any]:
        """Recompute everything: each file's sha256 and row count and every (day, column)
        hash. Raises IntegrityError listing every problem; returns a summary otherwise."""
        return verify_snapshot(self._reader)

    # ------------------------------------------------------------------ provenance

    def read_record(
        self,
        start: date | str | None,
        end: date | str | None,
        columns: Iterable[str] | None,
        filters: pl.Expr | Iterable[pl.Expr] | None = None,
        verified: bool = True,
    ) -> lineage.Record:
        """The lineage record of a read: where, which days by content hash, which columns,
        with which row filters, proven or not (``t0lake.frame_fingerprint``)."""
        first, last = parse_range(start, end)
        days = [
            [d.isoformat(), entry.dataset_hash]
            for d, _, entry in self.manifest.day_slices(first, last)
        ]
        listed = column_list(columns)
        names = [f.name for f in self.schema] if listed is None else listed
        return {
            "kind": "snapshot_read",
            "entrypoint": self.manifest.entrypoint,
            "snapshot_id": self.manifest.snapshot_id,
            "viewdef_hash": self.manifest.viewdef_hash,
            "schema_hash": self.manifest.schema_hash,
            "start": None if first is None else first.isoformat(),
            "end": None if last is None else last.isoformat(),
            "days": days,
            "columns": names,
            "filters": [str(e) for e in _filters(filters)],
            "verified": verified,
            "t0lake_version": __version__,
        }


def _check_filters(lazy: pl.LazyFrame, exprs: list[pl.Expr], entrypoint: str) -> None:
    """ConfigError now, before anything is read, for filters the columns cannot answer (an
    unknown column, a predicate that is not boolean, types that do not compare): Polars
    resolves the plan's schema without reading, and its own errors would otherwise surface
    in the middle of a verified read."""
    try:
        lazy.collect_schema()
    except (pl.exceptions.PolarsError, TypeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(
            f"the filters {', '.join(str(e) for e in exprs)} cannot be applied to "
            f"{entrypoint}: {first}",
            entrypoint=entrypoint,
        ) from None


def _filters(filters: pl.Expr | Iterable[pl.Expr] | None) -> list[pl.Expr]:
    if filters is None:
        return []
    if isinstance(filters, pl.Expr):
        return [filters]
    try:
        exprs = list(filters)
    except TypeError:
        exprs = [filters]  # type: ignore[list-item]  # refused just below
    if not all(isinstance(e, pl.Expr) for e in exprs):
        raise ConfigError("filters must be polars expressions, e.g. pl.col('x') > 1")
    return exprs
