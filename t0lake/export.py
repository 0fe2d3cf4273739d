"""Certified export: Postgres days → proven, deterministic Parquet → one atomic lake commit.

The order of work is the proof chain (docs/lake-format.md):

1. refuse unless the entrypoint is certified within ``max_age``, checked inside the same
   REPEATABLE READ snapshot every later read shares (``pg_export_snapshot``);
2. hash in SQL (``audit.t0_dataset_hash``) every requested day that has something to be
   judged against, and judge it: unchanged since the lake's head (nothing to do), equal to
   the certified baseline, or drifted (strict: DriftError before anything is written;
   tolerant: a new version, the drift recorded);
3. fetch each changed or new day as Arrow (ADBC), hash it in Python, refuse unless it equals
   the SQL hash, and write it sorted by the key, deterministically, named by its content
   hash. A new day (no baseline, not in the lake) has nothing to be judged against, so its
   SQL hash is computed here, on a second connection in the same snapshot, while the first
   one fetches: the proof overlaps the fetch instead of preceding it;
4. commit one manifest put-if-absent (t0lake.commit), then record it in
   ``audit.t0_export_registry``.

Steps 2 and 3 are per-day tasks of plain picklable data, run through any
``concurrent.futures.Executor``: a thread pool by default, a Dask client's executor for a
cluster. The commit stays single and happens here.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import sql

from t0lake import commit, hashing, pg
from t0lake.certify import (
    CertResult,
    Entrypoint,
    check_certified,
    declaration,
    parse_max_age,
)
from t0lake.dates import parse_day
from t0lake.errors import ConfigError, DriftError, IntegrityError, UnsupportedTypeError
from t0lake.manifest import (
    DayEntry,
    FileEntry,
    Manifest,
    data_path,
    schema_hash,
    schema_to_b64,
)
from t0lake.storage import LakeStorage, check_name, open_storage

__all__ = [
    "PARQUET_OPTIONS",
    "ColumnSpec",
    "DayTask",
    "ExportResult",
    "arrow_schema",
    "conform",
    "export",
    "export_task",
    "sql_hash_task",
    "write_day",
    "write_parquet",
]

# Fixed writer settings: together with sorted rows they make a day's file byte-identical on
# every run with the same pyarrow. No wall-clock or thread-count metadata is written.
PARQUET_OPTIONS: dict[str, Any] = {
    "row_group_size": 131_072,
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": True,
    "write_statistics": True,
    "data_page_size": 1 << 20,
}
_DEFAULT_WORKERS = 4
_FOREIGN_EXECUTOR_TASKS = 16  # batches per phase when the caller's executor decides
_T = TypeVar("_T")


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class ColumnSpec:
    """One output column of the entrypoint as the Postgres catalog declares it."""

    name: str
    type_name: str  # pg_type.typname, e.g. int8, numeric, _text
    typmod: int

    def arrow_field(self) -> pa.Field:
        return pa.field(self.name, _arrow_type(self), metadata=_metadata(self))


_SCALAR: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bytea": pa.binary(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "jsonb": pa.string(),
}


def _numeric_type(typmod: int) -> pa.DataType | None:
    """decimal128(p, s) for numeric(p, s) with p <= 38; None (exact text) otherwise."""
    if typmod < 4:
        return None
    precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    if not 1 <= precision <= 38 or scale > precision:
        return None
    return pa.decimal128(precision, scale)


def _arrow_type(col: ColumnSpec) -> pa.DataType:
    element = col.type_name[1:] if col.type_name.startswith("_") else col.type_name
    if element == "numeric":
        scalar = _numeric_type(col.typmod) if element == col.type_name else None
        scalar = scalar or pa.string()
    elif element in _SCALAR and not (element == "jsonb" and element != col.type_name):
        scalar = _SCALAR[element]
    else:
        raise UnsupportedTypeError(
            f"column {col.name!r} has type {col.type_name}, which the lake cannot hold with a "
            "canonical hash (see docs/hashing.md)",
            column=col.name,
            type=col.type_name,
        )
    return pa.list_(scalar) if element != col.type_name else scalar


def _metadata(col: ColumnSpec) -> dict[bytes, bytes] | None:
    if col.type_name == "jsonb":
        return {hashing.TYPE_METADATA_KEY: b"jsonb"}
    if col.type_name == "numeric" and _numeric_type(col.typmod) is None:
        return {hashing.TYPE_METADATA_KEY: b"numeric"}
    return None


def arrow_schema(columns: Sequence[ColumnSpec]) -> pa.Schema:
    """The lake schema of an entrypoint: fixed by the catalog, identical for every day."""
    return pa.schema([c.arrow_field() for c in columns])


# --------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class DayTask:
    """Everything one worker needs to hash, fetch and write one day: plain picklable data.

    ``storage_options`` may hold credentials: they travel to workers, and are never logged.
    """

    dsn: str
    snapshot: str
    entrypoint: str
    day: date
    query: str  # the day's rows, unordered: audit.t0_dataset_hash orders them itself
    fetch_order: str  # " ORDER BY" the key in canonical order, for the fetch
    key: tuple[str, ...]
    schema_b64: str
    lake_url: str
    storage_options: dict[str, Any] = field(repr=False, default_factory=dict)
    sql_hash: str = ""  # "" until step 2 judged it; export_task then hashes it itself


def sql_hash_task(
    batch: Sequence[DayTask], on_day: Callable[[date, str], None] | None = None
) -> dict[date, str]:
    """Step 2 for a batch of days: ``audit.t0_dataset_hash`` of each in the shared snapshot,
    on one connection; ``on_day`` hears of each hash as soon as it is known."""
    out: dict[date, str] = {}
    with pg.connect(batch[0].dsn) as conn:
        for task in batch:
            pg.join_snapshot(conn, task.snapshot)
            out[task.day] = pg.sql_dataset_hash(conn, task.query, task.key)
            conn.rollback()
            if on_day is not None:
                on_day(task.day, out[task.day])
    return out


def export_task(batch: Sequence[DayTask]) -> dict[date, FileEntry]:
    """Step 3 for a batch of days: fetch each (one ADBC connection), prove it against its
    SQL hash, write it. Nothing of a day is written unless its proof holds.

    Days that arrive without a SQL hash are hashed by Postgres, day by day, on a second
    connection in a thread of its own while this one fetches: each day waits only for its
    own hash, once it has been fetched and hashed in Python.
    """
    from t0lake.manifest import schema_from_b64

    schema = schema_from_b64(batch[0].schema_b64)
    storage = open_storage(batch[0].lake_url, batch[0].storage_options)
    sql_hashes = _hash_in_background([task for task in batch if not task.sql_hash])
    out: dict[date, FileEntry] = {}
    with pg.arrow_reader(batch[0].dsn) as fetch:
        for task in batch:
            table = hashing.sort_by_key(
                conform(fetch(task.snapshot, task.query + task.fetch_order), schema), task.key
            )
            hashes = hashing.column_hashes(table, task.key)
            expect = task.sql_hash or sql_hashes[task.day].result()
            out[task.day] = write_day(
                storage, task.entrypoint, task.day, table, task.key, expect=expect, hashes=hashes
            )
    return out


def _hash_in_background(tasks: list[DayTask]) -> dict[date, Future[str]]:
    """One future per day, resolved as a daemon thread hashes the days in order; if it
    fails, every day still waiting gets the error (nobody waits forever)."""
    futures: dict[date, Future[str]] = {task.day: Future() for task in tasks}

    def run() -> None:
        try:
            sql_hash_task(tasks, lambda day, digest: futures[day].set_result(digest))
        except BaseException as exc:  # handed to the waiting days, re-raised there
            for future in futures.values():
                if not future.done():
                    future.set_exception(exc)

    if tasks:
        threading.Thread(target=run, name="t0lake-sql-hash", daemon=True).start()
    return futures


def write_day(
    storage: LakeStorage,
    entrypoint: str,
    day: date,
    table: pa.Table,
    key: Sequence[str],
    *,
    expect: str | None = None,
    hashes: dict[str, hashing.ColumnHash] | None = None,
) -> FileEntry:
    """Hash one key-ordered day (unless its ``hashes`` are given), write it as a hot-tier
    file named by its content hash, and describe it for the manifest. With ``expect`` (the
    SQL hash of the same rows), nothing is written unless the Python hash equals it."""
    if hashes is None:
        hashes = hashing.column_hashes(table, key)
    day_hash = hashing.combine(table.num_rows, key, hashes.values())
    if expect is not None and day_hash != expect:
        raise IntegrityError(
            f"{entrypoint} day {day}: the rows fetched hash to {day_hash[:12]}… but "
            f"Postgres hashed the same snapshot to {expect[:12]}…; nothing written",
            entrypoint=entrypoint,
            day=day.isoformat(),
            python_hash=day_hash,
            sql_hash=expect,
        )
    payload = write_parquet(table)
    path = data_path(entrypoint, "hot", f"day={day.isoformat()}", day_hash)
    storage.write_bytes(path, payload)
    return FileEntry(
        path=path,
        tier="hot",
        bytes=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
        rows=table.num_rows,
        days=(
            DayEntry(
                day=day,
                rows=table.num_rows,
                row_offset=0,
                dataset_hash=day_hash,
                columns={name: h.digest for name, h in hashes.items()},
            ),
        ),
    )


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The fetched table in the lake schema: catalog types, t0lake metadata, nothing else."""
    arrays = []
    for f in schema:
        column = table.column(f.name)
        if isinstance(column.type, pa.BaseExtensionType):
            column = pa.chunked_array(
                [c.storage for c in column.chunks], type=column.type.storage_type
            )
        try:
            arrays.append(column.cast(f.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise UnsupportedTypeError(
                f"column {f.name!r}: cannot hold its values as {f.type}: {exc}",
                column=f.name,
                type=str(f.type),
            ) from exc
    return pa.Table.from_arrays(arrays, schema=schema)


def write_parquet(table: pa.Table) -> bytes:
    """The deterministic Parquet bytes of a key-ordered table."""
    sink = io.BytesIO()
    pq.write_table(table, sink, **PARQUET_OPTIONS)
    return sink.getvalue()


# --------------------------------------------------------------------------- result


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
            "rows_written": self.rows_written,
            "bytes_written": self.bytes_written,
            "seconds": round(self.seconds, 3),
        }


# --------------------------------------------------------------------------- export


@dataclass
class _Plan:
    decl: Entrypoint
    cert: CertResult
    columns: list[ColumnSpec]
    schema: pa.Schema
    queries: dict[date, str]  # each day's rows, in no particular order
    fetch_order: str  # appended for the fetch: " ORDER BY" the key in canonical order
    baselines: dict[date, str]


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
) -> ExportResult:
    """Export the certified days ``start``..``end`` (inclusive; None = unbounded) of an
    entrypoint to the lake, idempotently. See the module docstring for the proof chain.

    Raises NotCertifiedError (nothing written) when the certification is missing, failed,
    older than ``max_age`` or outdated by a definition change; DriftError (nothing written)
    when a strict entrypoint's day differs from its certified baseline.
    """
    started = time.perf_counter()
    check_name(entrypoint)
    first, last = parse_day(start, "start"), parse_day(end, "end")
    if first and last and first > last:
        raise ConfigError(f"start {first} is after end {last}", start=str(first), end=str(last))
    age = parse_max_age(max_age)
    storage = open_storage(lake_url, storage_options)
    dsn = pg.resolve_dsn(dsn)

    with pg.connect(dsn) as coordinator:
        snapshot = pg.begin_snapshot(coordinator)
        plan = _plan(coordinator, entrypoint, first, last, age)
        head = commit.head(storage, entrypoint)
        _check_compatible(head, plan)
        committed_hashes = _committed_hashes(head)
        schema_b64 = schema_to_b64(plan.schema)
        tasks = {
            day: DayTask(
                dsn=dsn,
                snapshot=snapshot,
                entrypoint=entrypoint,
                day=day,
                query=query,
                fetch_order=plan.fetch_order,
                key=tuple(plan.decl.key_cols),
                schema_b64=schema_b64,
                lake_url=lake_url,
                storage_options=dict(storage_options or {}),
            )
            for day, query in plan.queries.items()
        }
        show = _want_progress(progress)
        workers = min(_DEFAULT_WORKERS, os.cpu_count() or 1)
        pool = executor or ThreadPoolExecutor(max_workers=workers, thread_name_prefix="t0lake")
        # a few days per task: one connection serves several days, and every worker stays busy
        batches = 3 * workers if executor is None else _FOREIGN_EXECUTOR_TASKS
        try:
            # only days with a baseline or a committed version can be unchanged or drifted
            judged = [t for d, t in tasks.items() if d in plan.baselines or d in committed_hashes]
            total = len(judged) + len(tasks)
            with _progress(show, f"export {entrypoint}", total) as advance:
                sql_hashes = _run(pool, sql_hash_task, judged, batches, advance)
                changed, unchanged, drifted, notes = _judge(
                    plan, sql_hashes, committed_hashes, entrypoint
                )
                advance(len(unchanged))
                todo = [
                    replace(task, sql_hash=sql_hashes.get(day, ""))
                    for day, task in tasks.items()
                    if day in changed or day not in sql_hashes
                ]
                written = _run(pool, export_task, todo, batches, advance)
        finally:
            if executor is None:
                pool.shutdown(wait=True)
        coordinator.rollback()

    entries = [replace(entry, drift=notes.get(day)) for day, entry in sorted(written.items())]
    new_head = commit.commit(storage, entrypoint, _builder(entrypoint, plan, entries, lake_url))
    final = new_head or commit.head(storage, entrypoint)
    if final is not None:
        _register(dsn, lake_url, final, plan.cert.cert_id)
    return ExportResult(
        entrypoint=entrypoint,
        lake_url=lake_url,
        snapshot_id=final.snapshot_id if final else None,
        committed=new_head is not None,
        cert_id=plan.cert.cert_id,
        days_written=sorted(written),
        days_unchanged=unchanged,
        days_drifted=drifted,
        rows_written=sum(e.rows for e in entries),
        bytes_written=sum(e.bytes for e in entries),
        seconds=time.perf_counter() - started,
    )


def _plan(
    conn: psycopg.Connection,
    entrypoint: str,
    first: date | None,
    last: date | None,
    age: timedelta,
) -> _Plan:
    """Inside the snapshot: certification, declaration, columns, days and baselines."""
    cert = check_certified(conn, entrypoint, age)
    decl = declaration(conn, entrypoint)
    row = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.oid = to_regclass(%s)",
        (entrypoint,),
    ).fetchone()
    assert row is not None
    relation = sql.Identifier(row[0], row[1])
    columns = [
        ColumnSpec(name, type_name, typmod)
        for name, type_name, typmod in conn.execute(
            "SELECT a.attname, t.typname, a.atttypmod FROM pg_catalog.pg_attribute a"
            " JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
            " WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped"
            " ORDER BY a.attnum",
            (entrypoint,),
        ).fetchall()
    ]
    schema = arrow_schema(columns)
    types = {c.name: c.type_name for c in columns}
    day_expr = sql.SQL(decl.day_expr)  # trusted: declared by the owner of the audit schema
    bounds = []
    if first is not None:
        bounds.append(sql.SQL("({}) >= {}").format(day_expr, sql.Literal(first)))
    if last is not None:
        bounds.append(sql.SQL("({}) <= {}").format(day_expr, sql.Literal(last)))
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(bounds) if bounds else sql.SQL("")
    days = [
        r[0]
        for r in conn.execute(
            sql.SQL("SELECT DISTINCT ({})::date FROM {}{} ORDER BY 1").format(
                day_expr, relation, where
            )
        ).fetchall()
        if r[0] is not None
    ]
    order = sql.SQL(", ").join(
        sql.SQL('{} COLLATE "C"').format(sql.Identifier(k))
        if types.get(k) in ("text", "varchar")
        else sql.Identifier(k)
        for k in decl.key_cols
    )
    queries = {
        day: sql.SQL("SELECT * FROM {} WHERE ({})::date = {}")
        .format(relation, day_expr, sql.Literal(day))
        .as_string(conn)
        for day in days
    }
    fetch_order = sql.SQL(" ORDER BY {}").format(order).as_string(conn)
    baselines: dict[date, str] = dict(
        conn.execute(
            "SELECT day, dataset_hash FROM audit.t0_dataset_hash_baseline"
            " WHERE entrypoint = %s AND day = ANY(%s)",
            (decl.entrypoint, days),
        ).fetchall()
    )
    return _Plan(decl, cert, columns, schema, queries, fetch_order, baselines)


def _check_compatible(head: Manifest | None, plan: _Plan) -> None:
    if head is None:
        return
    if head.schema_hash != schema_hash(plan.schema) or list(head.key) != plan.decl.key_cols:
        raise ConfigError(
            f"{plan.decl.entrypoint}: the entrypoint's columns or key differ from the lake's "
            f"snapshot {head.snapshot_id}; publish the new definition under a new entrypoint "
            "name (a lake never mixes schemas)",
            entrypoint=plan.decl.entrypoint,
            snapshot_id=head.snapshot_id,
        )


def _committed_hashes(head: Manifest | None) -> dict[date, str]:
    if head is None:
        return {}
    return {day: entry.dataset_hash for day, (_, entry) in head.days().items()}


def _judge(
    plan: _Plan,
    sql_hashes: dict[date, str],
    committed: dict[date, str],
    entrypoint: str,
) -> tuple[list[date], list[date], list[date], dict[date, dict[str, Any]]]:
    """Split days into changed / unchanged / drifted; strict drift raises before any write."""
    changed, unchanged, drifted = [], [], []
    notes: dict[date, dict[str, Any]] = {}
    for day in sorted(sql_hashes):
        actual = sql_hashes[day]
        if committed.get(day) == actual:
            unchanged.append(day)
            continue
        baseline = plan.baselines.get(day)
        if baseline is not None and baseline != actual:
            drifted.append(day)
            notes[day] = {"baseline_hash": baseline, "exported_hash": actual}
        changed.append(day)
    if drifted and plan.decl.drift_policy == "strict":
        raise DriftError(
            f"{entrypoint}: {len(drifted)} day(s) differ from their certified baseline "
            f"({', '.join(d.isoformat() for d in drifted[:5])}); strict policy, nothing written",
            entrypoint=entrypoint,
            days=[d.isoformat() for d in drifted],
        )
    return changed, unchanged, drifted, notes


def _builder(
    entrypoint: str, plan: _Plan, entries: list[FileEntry], lake_url: str
) -> Callable[[Manifest | None], Manifest | None]:
    """The manifest to commit on top of whatever head is current (called again on rebase)."""
    from t0lake import __version__

    def build(head: Manifest | None) -> Manifest | None:
        _check_compatible(head, plan)
        live = list(head.files) if head else []
        current = _committed_hashes(head)
        added: list[FileEntry] = []
        for entry in entries:
            day = entry.days[0].day
            if current.get(day) == entry.days[0].dataset_hash:
                continue  # someone committed the same content meanwhile
            versions = [f.version for f in live if any(d.day == day for d in f.days)]
            if any(f.tier != "hot" for f in live if any(d.day == day for d in f.days)):
                raise ConfigError(
                    f"{entrypoint} day {day} already lives in a compacted tier; re-exporting "
                    "compacted days is not supported yet",
                    entrypoint=entrypoint,
                    day=day.isoformat(),
                )
            live = [f for f in live if not any(d.day == day for d in f.days)]
            added.append(_versioned(entry, max(versions, default=0) + 1))
        if not added:
            return None
        cert = plan.cert
        return Manifest(
            entrypoint=entrypoint,
            snapshot_id=(head.snapshot_id if head else 0) + 1,
            parent_snapshot_id=head.snapshot_id if head else None,
            parent_sha256=head.sha256 if head else None,
            committed_at=datetime.now(UTC).isoformat(timespec="seconds"),
            operation="export",
            key=tuple(plan.decl.key_cols),
            day_expr=plan.decl.day_expr,
            event_time_col=plan.decl.event_time_col,
            viewdef_hash=cert.closure_hash,
            certification={
                "cert_id": cert.cert_id,
                "certified_at": cert.certified_at.isoformat(),
                "drift_policy": plan.decl.drift_policy,
                "checked_days": [d.isoformat() for d in cert.checked_days],
            },
            arrow_schema=schema_to_b64(plan.schema),
            schema_hash=schema_hash(plan.schema),
            files=tuple(live + added),
            summary={
                "added": [f.path for f in added],
                "days": [f.days[0].day.isoformat() for f in added],
                "rows_added": sum(f.rows for f in added),
            },
            t0lake_version=__version__,
        )

    return build


def _versioned(entry: FileEntry, version: int) -> FileEntry:
    return replace(entry, version=version)


def _register(dsn: str, lake_url: str, manifest: Manifest, cert_id: int) -> None:
    """Record the head in ``audit.t0_export_registry`` (idempotent per snapshot)."""
    days = manifest.days()
    with pg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO audit.t0_export_registry (entrypoint, lake_url, snapshot_id,"
            " manifest_sha256, parent_snapshot_id, cert_id, days, day_hashes)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (lake_url, entrypoint, snapshot_id) DO NOTHING",
            (
                manifest.entrypoint,
                lake_url,
                manifest.snapshot_id,
                manifest.sha256,
                manifest.parent_snapshot_id,
                manifest.certification.get("cert_id", cert_id),
                sorted(days),
                json.dumps({d.isoformat(): e.dataset_hash for d, (_, e) in sorted(days.items())}),
            ),
        )


# --------------------------------------------------------------------------- fan-out


def _run(
    pool: Executor,
    fn: Callable[[Sequence[DayTask]], dict[date, _T]],
    tasks: list[DayTask],
    batches: int,
    advance: Callable[[int], None],
) -> dict[date, _T]:
    """Run ``fn`` over consecutive batches of days; the first failure cancels what has not
    started and re-raises."""
    size = max(1, -(-len(tasks) // max(1, batches)))
    chunks = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    futures = {pool.submit(fn, chunk): len(chunk) for chunk in chunks}
    results: dict[date, _T] = {}
    try:
        for future in as_completed(futures):
            results.update(future.result())
            advance(futures[future])
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return results


def _want_progress(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    return sys.stderr.isatty()


def _progress(show: bool, label: str, total: int) -> Any:
    """A rich progress bar on stderr when asked for; otherwise a silent stand-in."""
    if not show:
        return nullcontext(lambda n=1: None)
    from contextlib import contextmanager

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    @contextmanager
    def bar() -> Any:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as p:
            task = p.add_task(label, total=total)
            yield lambda n=1: p.advance(task, n)

    return bar()
