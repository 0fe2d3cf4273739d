"""The per-day work of an export: plain picklable tasks any Executor can run.

Step 2 (``sql_hash_task``) hashes days in SQL inside the shared snapshot; step 3
(``export_task``) fetches each day as Arrow, hashes it in Python, refuses unless the two
hashes agree, and writes it. A new day has no SQL hash yet, so its SQL hash is computed on
a second connection in a thread of its own while the first one fetches: the proof overlaps
the fetch instead of preceding it. A :class:`WriteGate` lets step 3 start on the days that
cannot drift while step 2 judges the others, holding every write until the verdict.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa

from t0lake import hashing, pg
from t0lake.errors import UnsupportedTypeError
from t0lake.lake.manifest import FileEntry, schema_from_b64
from t0lake.lake.storage import open_storage
from t0lake.lake.writer import write_day

__all__ = [
    "DayTask",
    "WriteGate",
    "conform",
    "export_task",
    "hash_in_background",
    "sql_hash_task",
]


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


class WriteGate:
    """Holds an export's writes until the verdict on its judged days.

    The days that cannot have drifted (no certified baseline, no version in the lake) can
    be fetched and proven while the coordinator hashes and judges the others; a strict
    drift found meanwhile must still find nothing written, so every write of those days
    waits here first. It is not plain data: only tasks in the coordinator's own thread pool
    get one (on a cluster, step 3 starts after the verdict).
    """

    def __init__(self) -> None:
        self._decided = threading.Event()
        self._refused = False

    def open(self) -> None:
        """The verdict allows the export: writes go ahead."""
        self._decided.set()

    def refuse(self) -> None:
        """The export is refused: every write still waiting raises instead."""
        self._refused = True
        self._decided.set()

    def wait(self) -> None:
        """Block until the verdict; raise if it refused the export."""
        self._decided.wait()
        if self._refused:
            raise _Refused("the export was refused before this day was written")


class _Refused(Exception):
    """A task's write found the gate refused; the coordinator raises the reason itself."""


def export_task(batch: Sequence[DayTask], gate: WriteGate | None = None) -> dict[date, FileEntry]:
    """Step 3 for a batch of days: fetch each (one ADBC connection), prove it against its
    SQL hash, write it. Nothing of a day is written unless its proof holds, nor before
    ``gate`` opens when one is given.

    Days that arrive without a SQL hash are hashed by Postgres, day by day, on a second
    connection in a thread of its own while this one fetches: each day waits only for its
    own hash, once it has been fetched and hashed in Python.
    """
    schema = schema_from_b64(batch[0].schema_b64)
    storage = open_storage(batch[0].lake_url, batch[0].storage_options, check=False)
    sql_hashes = hash_in_background([task for task in batch if not task.sql_hash])
    out: dict[date, FileEntry] = {}
    # the plan checked every column's type: built-in types only
    with pg.arrow_reader(batch[0].dsn, builtin_types=True) as fetch:
        for task in batch:
            table = hashing.sort_by_key(
                conform(fetch(task.snapshot, task.query + task.fetch_order), schema), task.key
            )
            hashes = hashing.column_hashes(table, task.key)
            expect = task.sql_hash or sql_hashes[task.day].result()
            if gate is not None:
                gate.wait()
            out[task.day] = write_day(
                storage, task.entrypoint, task.day, table, task.key, expect=expect, hashes=hashes
            )
    return out


def hash_in_background(tasks: list[DayTask]) -> dict[date, Future[str]]:
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
