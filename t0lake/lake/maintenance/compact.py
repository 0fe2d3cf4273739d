"""Compaction: move days to the tier the policy says, one proven output file per unit.

For each warm month and cold year that is not yet one complete file of its tier, the live
slices that hold its days are read (and proven, as every read is), concatenated in day
order (each day's rows are already in key order), written with the tier's frozen writer
options and named by the sha256 of the bytes. Nothing else reaches the bytes, so the same
live inputs give the same file whatever the executor or thread count.

Before anything is committed, each output is read back from the storage and every
(day, column) content hash recomputed from it must equal the one the manifest holds for
that day: compaction is lossless by proof, not by trust. That one proof covers the inputs
too, end to end (a damaged input makes the output differ from the manifest's hashes), so
the inputs are not proven again on their way in; only when the output fails are they
proven, to name the file at fault. Outputs fan out over any
``concurrent.futures.Executor`` (a Dask client's ``get_executor()`` on a cluster); the
commit is one per entrypoint (:mod:`t0lake.lake.operations.compact`).
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa

from t0lake._util.days import require_day
from t0lake._util.progress import progress_bar, want_progress
from t0lake.errors import IntegrityError
from t0lake.lake import log
from t0lake.lake.commit import commit
from t0lake.lake.layout import Tier, data_path
from t0lake.lake.maintenance.downsample import (
    Downsample,
    DownsampleResult,
    check_step,
    downsample_entrypoint,
)
from t0lake.lake.manifest import DayEntry, FileEntry, Manifest
from t0lake.lake.operations.compact import Compact, CompactOutput
from t0lake.lake.reader import Part, Reader
from t0lake.lake.snapshot import Lake
from t0lake.lake.storage import LakeStorage, check_name, open_storage
from t0lake.lake.tiers import TierPolicy, load_policy, partition_of, unit_of
from t0lake.lake.writer import WriterOptions, write_parquet

__all__ = ["CompactResult", "Unit", "compact", "compact_entrypoint", "compact_unit", "plan_units"]

_DEFAULT_WORKERS = 4


@dataclass(frozen=True)
class Unit:
    """One output file to write: a warm month or a cold year and the live slices it takes."""

    tier: Tier
    start: date  # the first day of the month or year
    slices: tuple[tuple[FileEntry, DayEntry], ...]  # in day order

    @property
    def partition(self) -> str:
        return partition_of(self.start, self.tier)


@dataclass(frozen=True)
class CompactResult:
    """What one compaction of one entrypoint committed."""

    entrypoint: str
    snapshot_id: int  # the head after the compaction
    committed: bool
    as_of: date
    outputs: list[dict[str, Any]] = field(default_factory=list)
    downsample: DownsampleResult | None = None  # the policy's downsampling step, if any

    def to_dict(self) -> dict[str, Any]:
        return {
            "entrypoint": self.entrypoint,
            "snapshot_id": self.snapshot_id,
            "committed": self.committed,
            "as_of": self.as_of.isoformat(),
            "outputs": self.outputs,
            "downsample": self.downsample.to_dict() if self.downsample else None,
        }


def plan_units(head: Manifest, policy: TierPolicy, as_of: date) -> list[Unit]:
    """The units of ``head`` that compaction must (re)write on ``as_of``: every warm month
    and cold year whose live days are not already one complete file of that tier."""
    groups: dict[tuple[Tier, date], list[tuple[FileEntry, DayEntry]]] = {}
    for day, (f, entry) in sorted(head.days().items()):
        tier = policy.target(day, f.tier, as_of)
        if tier != Tier.HOT:
            groups.setdefault((tier, unit_of(day, tier)), []).append((f, entry))
    units = []
    for (tier, start), slices in sorted(groups.items(), key=lambda g: g[0][1]):
        files = {f.path: f for f, _ in slices}
        if len(files) == 1:
            (only,) = files.values()
            if only.tier == tier and only.complete:
                continue
        units.append(Unit(tier, start, tuple(slices)))
    return units


def compact_unit(
    storage: LakeStorage, head: Manifest, unit: Unit, options: WriterOptions
) -> CompactOutput:
    """Write one unit's output file and prove it from the bytes read back; IntegrityError
    (nothing committed) if an input fails its proof or the output does not re-prove."""
    reader = Reader(storage, head)
    names = [f.name for f in reader.schema]
    by_file: dict[str, list[DayEntry]] = {}
    files: dict[str, FileEntry] = {}
    for f, entry in unit.slices:
        by_file.setdefault(f.path, []).append(entry)
        files[f.path] = f
    parts = [Part(files[p], tuple(days)) for p, days in by_file.items()]
    slices = _day_slices(reader, parts, names, verify=False)
    ordered = [entry for _, entry in unit.slices]
    table = pa.concat_tables([slices[e.day] for e in ordered])
    payload = write_parquet(table, options)
    digest = hashlib.sha256(payload).hexdigest()
    path = data_path(head.entrypoint, unit.tier, unit.partition, digest)
    storage.write_bytes(path, payload)

    days, offset = [], 0
    for e in ordered:
        days.append(DayEntry(e.day, e.rows, offset, e.dataset_hash, dict(e.columns), e.read_at))
        offset += e.rows
    drift = {e.day.isoformat(): note for f, e in unit.slices if (note := _drift_of(f, e.day))}
    out = FileEntry(
        path=path,
        tier=unit.tier,
        bytes=len(payload),
        sha256=digest,
        rows=table.num_rows,
        days=tuple(days),
        version=max(f.version for f, _ in unit.slices),
        drift=drift or None,
    )
    try:
        _prove_written(reader, storage, out, payload)
    except IntegrityError:
        # the output does not hold what the manifest says its inputs hold: prove the inputs
        # to name the one at fault (this raises if one is); otherwise the output is
        _day_slices(reader, parts, names, verify=True)
        raise
    return CompactOutput(out, {e.day: (f.path, e.dataset_hash) for f, e in unit.slices})


def _day_slices(
    reader: Reader, parts: list[Part], names: list[str], *, verify: bool
) -> dict[date, pa.Table]:
    """The rows of each day of ``parts``, read (and proven when ``verify``). Local files are
    read one after another: compaction already runs a unit per core."""
    storage_is_local = reader.storage.is_local
    slices: dict[date, pa.Table] = {}
    tables = reader.tables(parts, names, verify=verify, prefetch=1 if storage_is_local else 4)
    for part, table in zip(parts, tables, strict=True):
        offset = 0
        for entry in part.days:
            slices[entry.day] = table.slice(offset, entry.rows)
            offset += entry.rows
    return slices


def _drift_of(f: FileEntry, day: date) -> Any:
    """The drift note an export recorded for ``day``: a hot file's own, or the one a
    compacted file carries for that day."""
    if not f.drift:
        return None
    return f.drift if f.tier == Tier.HOT else f.drift.get(day.isoformat())


def _prove_written(reader: Reader, storage: LakeStorage, out: FileEntry, payload: bytes) -> None:
    """Read the output back from storage and recompute everything the manifest will claim:
    the bytes must be the ones written (whose sha256 names the file), and every (day, column)
    hash of the rows decoded from them must be the manifest's."""
    try:
        data = storage.read_bytes(out.path)
    except FileNotFoundError:
        data = b""
    if data != payload:
        raise IntegrityError(
            f"{reader.entrypoint}: compaction output {out.path} reads back with other bytes "
            "than were written; nothing committed",
            entrypoint=reader.entrypoint,
            path=out.path,
        )
    reader.prove_bytes(out, data)


def _unit_task(args: tuple[str, dict[str, Any], Manifest, Unit, WriterOptions]) -> CompactOutput:
    """``compact_unit`` as plain picklable data, for a thread pool or a Dask worker."""
    url, storage_options, head, unit, options = args
    return compact_unit(open_storage(url, storage_options, check=False), head, unit, options)


def compact_entrypoint(
    storage: LakeStorage,
    entrypoint: str,
    as_of: date,
    policy: TierPolicy | None,
    pool: Executor,
    *,
    progress: bool | None = None,
) -> CompactResult:
    """Compact one entrypoint: plan on the head, write and prove outputs, commit once."""
    check_name(entrypoint)
    head = log.require_head(storage, entrypoint, "there is nothing to compact")
    chosen = policy or load_policy(storage, entrypoint)
    if chosen.downsample:
        check_step(Downsample.from_json(chosen.downsample), head)
    units = plan_units(head, chosen, as_of)
    if not units:
        derived = downsample_entrypoint(storage, entrypoint, chosen, as_of)
        return CompactResult(entrypoint, head.snapshot_id, False, as_of, downsample=derived)
    args = [
        (storage.url, storage.storage_options, head, unit, chosen.options(unit.tier))
        for unit in units
    ]
    outputs: list[CompactOutput] = []
    with progress_bar(want_progress(progress), f"compact {entrypoint}", len(units)) as advance:
        futures = [pool.submit(_unit_task, a) for a in args]
        try:
            for future in as_completed(futures):
                outputs.append(future.result())
                advance(1)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    outputs.sort(key=lambda o: o.file.days[0].day)
    operation = Compact(
        entrypoint,
        tuple(outputs),
        {"as_of": as_of.isoformat(), "policy": chosen.to_json()},
    )
    new_head = commit(storage, entrypoint, operation)
    final = new_head or log.head(storage, entrypoint)
    assert final is not None
    return CompactResult(
        entrypoint,
        final.snapshot_id,
        new_head is not None,
        as_of,
        list(new_head.summary["replaced"]) if new_head else [],
        downsample_entrypoint(storage, entrypoint, chosen, as_of),
    )


def compact(
    lake_url: str,
    as_of: date | str,
    entrypoint: str | None = None,
    policy: TierPolicy | None = None,
    executor: Executor | None = None,
    storage_options: dict[str, Any] | None = None,
    *,
    progress: bool | None = None,
) -> list[CompactResult]:
    """Move the days of one entrypoint (or of every entrypoint of the lake) to the tiers
    ``policy`` gives them on ``as_of``, deterministically; one commit per entrypoint.

    Args:
        lake_url: a local path or ``s3://bucket/prefix``.
        as_of: the date tier moves are decided by (never the wall clock).
        entrypoint: ``schema.view``; None compacts every entrypoint of the lake.
        policy: a TierPolicy; None uses each entrypoint's stored policy
            (``t0lake policy``), or the default (hot 30 days, warm 12 months).
        executor: where output files are written; a thread pool when None, a Dask
            client's ``get_executor()`` for a cluster.
        storage_options: fsspec options for the lake (S3 endpoint, keys).
        progress: draw a progress bar on stderr (None: only on a terminal).

    Returns:
        One CompactResult per entrypoint.

    Raises:
        ConfigError: a bad date, entrypoint name or lake URL, or a downsampling step that
            does not fit the entrypoint (nothing written).
        SnapshotNotFoundError: the named entrypoint has no snapshot in the lake.
        IntegrityError: an input or an output failed its proof (nothing committed).
        CommitConflictError, CommitStateUnknownError: the commit could not be settled.
    """
    day = require_day(as_of, "as_of")
    storage = open_storage(lake_url, storage_options)
    storage.check_commits()  # before any output file is written
    names = [check_name(entrypoint)] if entrypoint is not None else Lake(storage).entrypoints()
    pool = executor or ThreadPoolExecutor(
        max_workers=min(_DEFAULT_WORKERS, os.cpu_count() or 1), thread_name_prefix="t0lake"
    )
    try:
        return [
            compact_entrypoint(storage, name, day, policy, pool, progress=progress)
            for name in names
        ]
    finally:
        if executor is None:
            pool.shutdown(wait=True)
