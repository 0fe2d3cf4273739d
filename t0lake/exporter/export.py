"""Certified export: Postgres days → proven, deterministic Parquet → one atomic lake commit.

The order of work is the proof chain (docs/lake-format.md):

1. refuse unless the entrypoint is certified within ``max_age``, checked inside the same
   REPEATABLE READ snapshot every later read shares (``pg_export_snapshot``);
2. hash in SQL (``audit.t0_dataset_hash``) every requested day that has something to be
   judged against, and judge it (:mod:`t0lake.exporter.plan`);
3. fetch each changed or new day as Arrow (ADBC), hash it in Python, refuse unless it equals
   the SQL hash, and write it sorted by the key, deterministically, named by its content
   hash (:mod:`t0lake.exporter.tasks`);
4. commit one manifest put-if-absent (:class:`t0lake.lake.operations.ReplaceDays`), then
   record it in ``audit.t0_export_registry`` (:mod:`t0lake.exporter.registry`) and, when a
   catalog is named, mirror it as an Iceberg snapshot (:mod:`t0lake.mirror`).

Two checks keep a re-run honest. A day judged unchanged is rewritten when the live file that
holds it no longer has its manifest's bytes (:mod:`t0lake.lake.filecheck`): re-running the
export is the repair. And every day carries the position of the Postgres snapshot it was read
from, so a writer that read an older snapshot never replaces rows a later one committed.

Steps 2 and 3 are per-day tasks of plain picklable data, run through any
``concurrent.futures.Executor``: a thread pool by default, a Dask client's executor for a
cluster. The commit stays single and happens here. With the default pool, step 3 starts on
the days that cannot drift while step 2 runs here, and writes nothing before the verdict
(:class:`t0lake.exporter.tasks.WriteGate`).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import partial
from typing import Any

from t0lake import pg
from t0lake._util.days import parse_range
from t0lake._util.fanout import collect, run_batches, submit_batches
from t0lake._util.progress import progress_bar, want_progress
from t0lake.certification import parse_max_age
from t0lake.errors import ConfigError
from t0lake.exporter.plan import judge, make_plan
from t0lake.exporter.registry import check_registry, register
from t0lake.exporter.tasks import DayTask, WriteGate, export_task, sql_hash_task
from t0lake.lake import commit, log
from t0lake.lake.filecheck import damaged_files, inconsistent_days
from t0lake.lake.manifest import FileEntry, Manifest, schema_to_b64
from t0lake.lake.operations import ReplaceDays, check_compatible, committed_hashes
from t0lake.lake.storage import Storage, check_name, open_storage
from t0lake.mirror import follow

__all__ = ["ExportResult", "export"]

_DEFAULT_WORKERS = 4
_FOREIGN_EXECUTOR_TASKS = 16  # batches per phase when the caller's executor decides


@dataclass
class ExportResult:
    """What an export did: the snapshot now at the head and what each day came to."""

    entrypoint: str
    lake_url: str
    snapshot_id: int | None
    committed: bool
    cert_id: int
    days_written: list[date] = field(default_factory=list)
    days_unchanged: list[date] = field(default_factory=list)
    days_drifted: list[date] = field(default_factory=list)
    days_repaired: list[date] = field(default_factory=list)  # rewritten over a damaged file
    days_superseded: list[date] = field(default_factory=list)  # a later read won meanwhile
    damaged_files: dict[str, str] = field(default_factory=dict)  # path -> what is wrong
    materialized_views: list[str] = field(default_factory=list)  # REFRESH shows new inputs
    registered: bool = True
    registry_error: str | None = None
    mirror: dict[str, Any] | None = None  # the Iceberg mirror step (None: no catalog)
    rows_written: int = 0
    bytes_written: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "entrypoint": self.entrypoint,
            "lake_url": self.lake_url,
            "snapshot_id": self.snapshot_id,
            "committed": self.committed,
            "cert_id": self.cert_id,
            "days_written": [d.isoformat() for d in self.days_written],
            "days_unchanged": [d.isoformat() for d in self.days_unchanged],
            "days_drifted": [d.isoformat() for d in self.days_drifted],
            "days_repaired": [d.isoformat() for d in self.days_repaired],
            "days_superseded": [d.isoformat() for d in self.days_superseded],
            "damaged_files": dict(self.damaged_files),
            "materialized_views": list(self.materialized_views),
            "registered": self.registered,
            "registry_error": self.registry_error,
            "mirror": self.mirror,
            "rows_written": self.rows_written,
            "bytes_written": self.bytes_written,
            "seconds": round(self.seconds, 3),
        }


def export(
    dsn: str | None,
    entrypoint: str,
    lake_url: str,
    start: date | str | None = None,
    end: date | str | None = None,
    max_age: timedelta | str = "24h",
    storage_options: dict[str, Any] | None = None,
    executor: Executor | None = None,
    *,
    progress: bool | None = None,
    iceberg_catalog: str | None = None,
) -> ExportResult:
    """Export the certified days ``start``..``end`` of an entrypoint to the lake,
    idempotently: a day the lake already holds with the same content writes nothing.

    Args:
        dsn: PostgreSQL connection string; None reads ``T0LAKE_PG_DSN``.
        entrypoint: the certified view, ``schema.view``.
        lake_url: a local path or ``s3://bucket/prefix``.
        start, end: inclusive days of the partition column (None is unbounded).
        max_age: how old the certification may be (``"24h"``, a timedelta).
        storage_options: fsspec options for the lake (S3 endpoint, keys).
        executor: where the per-day tasks run; a thread pool when None, a Dask client's
            ``get_executor()`` for a cluster.
        progress: draw a progress bar on stderr (None: only on a terminal).
        iceberg_catalog: a SQLAlchemy URL of the Iceberg catalog to mirror the head into
            after the commit (None: no mirror). A failed mirror step is reported in
            ``mirror``, never raised: the commit stands, and ``t0lake mirror`` catches up.

    Returns:
        An ExportResult: the head snapshot and what each day came to.

    Raises:
        ConfigError: bad arguments, an unsafe entrypoint name or lake URL, or an entrypoint
            whose columns or key differ from the lake's (nothing written).
        NotCertifiedError: the certification is missing, failed, older than ``max_age`` or
            outdated by a definition change (nothing written).
        DriftError: a strict entrypoint's day differs from its certified baseline (nothing
            written).
        IntegrityError: a day's rows hash differently in Python than in SQL (that day is not
            written; nothing is committed).
        CommitConflictError, CommitStateUnknownError: the commit could not be settled.
    """
    started = time.perf_counter()
    check_name(entrypoint)
    first, last = parse_range(start, end)
    age = parse_max_age(max_age)
    storage = open_storage(lake_url, storage_options)
    storage.check_commits()  # a storage that cannot commit is refused before any write
    dsn = pg.resolve_dsn(dsn)

    with pg.connect(dsn) as coordinator:
        snapshot = pg.begin_snapshot(coordinator)
        position = pg.snapshot_position(coordinator)
        plan = make_plan(coordinator, entrypoint, first, last, age)
        key = tuple(plan.decl.key_cols)
        head = log.head(storage, entrypoint)
        check_compatible(head, entrypoint, plan.schema, key)
        check_registry(coordinator, storage.canonical_url, entrypoint, head)
        views = pg.materialized_views(coordinator, entrypoint)
        committed = committed_hashes(head)
        schema_b64 = schema_to_b64(plan.schema)
        tasks = {
            day: DayTask(
                dsn=dsn,
                snapshot=snapshot,
                entrypoint=entrypoint,
                day=day,
                query=query,
                fetch_order=plan.days.fetch_order,
                key=key,
                schema_b64=schema_b64,
                lake_url=lake_url,
                storage_options=dict(storage_options or {}),
            )
            for day, query in plan.days.queries.items()
        }
        workers = min(_DEFAULT_WORKERS, os.cpu_count() or 1)
        pool = executor or ThreadPoolExecutor(max_workers=workers, thread_name_prefix="t0lake")
        # a few days per task: one connection serves several days, and every worker stays busy
        batches = 3 * workers if executor is None else _FOREIGN_EXECUTOR_TASKS
        try:
            # only days with a baseline or a committed version can be unchanged or drifted
            judged = [t for d, t in tasks.items() if d in plan.baselines or d in committed]
            fresh = [t for d, t in tasks.items() if d not in plan.baselines and d not in committed]
            total = len(judged) + len(tasks)
            show = want_progress(progress)
            with progress_bar(show, f"export {entrypoint}", total) as advance:
                gate, early = None, {}
                if executor is None and judged and fresh:
                    # the fresh days are fetched and proven while this thread judges the
                    # others (which then run on one connection, here); none is written
                    # before the verdict
                    gate = WriteGate()
                    share = max(1, batches * len(fresh) // len(tasks))
                    early = submit_batches(pool, partial(export_task, gate=gate), fresh, share)
                    batches = max(1, batches - share)
                try:
                    if gate is None:
                        sql_hashes = run_batches(pool, sql_hash_task, judged, batches, advance)
                    else:
                        sql_hashes = sql_hash_task(judged, lambda day, digest: advance(1))
                    verdict = judge(plan, sql_hashes, committed)
                    damaged = _damaged(storage, head, verdict.unchanged)
                except BaseException:
                    if gate is not None:
                        gate.refuse()  # the early days' writes raise instead
                        for future in early:
                            future.cancel()
                    raise
                if gate is not None:
                    gate.open()
                repaired = _held_by(head, verdict.unchanged, damaged)
                advance(len(verdict.unchanged) - len(repaired))
                # a day without a SQL hash is a fresh one: already under way when gated
                todo = [
                    replace(task, sql_hash=sql_hashes.get(day, ""))
                    for day, task in tasks.items()
                    if day in verdict.changed
                    or day in repaired
                    or (day not in sql_hashes and gate is None)
                ]
                written = collect(
                    {**early, **submit_batches(pool, export_task, todo, batches)}, advance
                )
        finally:
            if executor is None:
                pool.shutdown(wait=True)
        coordinator.rollback()

    entries = tuple(
        _read_at(replace(entry, drift=verdict.notes.get(day)), position)
        for day, entry in sorted(written.items())
    )
    cert = plan.cert
    operation = ReplaceDays(
        entrypoint=entrypoint,
        schema=plan.schema,
        key=key,
        day_expr=plan.decl.day_expr,
        event_time_col=plan.decl.event_time_col,
        viewdef_hash=cert.closure_hash,
        certification={
            "cert_id": cert.cert_id,
            "certified_at": cert.certified_at.isoformat(),
            "drift_policy": plan.decl.drift_policy,
            "checked_days": [d.isoformat() for d in cert.checked_days],
        },
        entries=entries,
        repair=frozenset(damaged),
    )
    new_head = commit.commit(storage, entrypoint, operation)
    final = new_head or log.head(storage, entrypoint)
    registered, registry_error = True, None
    if final is not None:
        try:
            register(dsn, storage.canonical_url, storage, final, cert.cert_id)
        except ConfigError as exc:  # the commit landed: say the registration did not
            registered, registry_error = False, exc.message
        except pg.DatabaseError as exc:  # e.g. no right to write the registry
            registered, registry_error = False, f"{type(exc).__name__}: {exc}".strip()
    mirrored = follow(lake_url, entrypoint, iceberg_catalog, storage_options) if final else None
    return ExportResult(
        entrypoint=entrypoint,
        lake_url=lake_url,
        snapshot_id=final.snapshot_id if final else None,
        committed=new_head is not None,
        cert_id=cert.cert_id,
        days_written=sorted(written),
        days_unchanged=verdict.unchanged,
        days_drifted=verdict.drifted,
        days_repaired=[d for d in repaired if d in written],
        days_superseded=_superseded(final, entries),
        damaged_files=damaged,
        materialized_views=views,
        registered=registered,
        registry_error=registry_error,
        mirror=mirrored,
        rows_written=sum(e.rows for e in entries),
        bytes_written=sum(e.bytes for e in entries),
        seconds=time.perf_counter() - started,
    )


def _damaged(storage: Storage, head: Manifest | None, days: list[date]) -> dict[str, str]:
    """The live files holding ``days`` whose bytes are not their manifest's."""
    if head is None or not days:
        return {}
    held = head.days()
    files = {held[d][0].path for d in days}
    lying = {p: why for p, why in inconsistent_days(head).items() if p in files}
    return {**damaged_files(storage, [held[d][0] for d in days]), **lying}


def _read_at(entry: FileEntry, position: dict[str, Any]) -> FileEntry:
    """The day's entry stamped with the Postgres snapshot its rows were read from."""
    return replace(entry, days=tuple(replace(d, read_at=position) for d in entry.days))


def _superseded(final: Manifest | None, entries: tuple[FileEntry, ...]) -> list[date]:
    """Days this export wrote that the head holds with other content: a writer that read a
    later Postgres snapshot committed them meanwhile, and its rows stay."""
    if final is None:
        return []
    held = final.days()
    return sorted(
        e.days[0].day
        for e in entries
        if e.days[0].day in held and held[e.days[0].day][1].dataset_hash != e.days[0].dataset_hash
    )


def _held_by(head: Manifest | None, days: list[date], paths: dict[str, str]) -> list[date]:
    """Those of ``days`` whose live file is one of ``paths``."""
    held = head.days() if head else {}
    return [d for d in days if d in held and held[d][0].path in paths]
