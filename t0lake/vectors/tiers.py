"""FeatureVectors read from the lake: the days Postgres no longer holds, and downsampled
versions that only the lake holds.

Rows come from the entrypoint's head snapshot, read with the lake's proof (every (day,
column) digest recomputed from the bytes read), and each day must still be the content that
retention proved (its dataset hash in ``fv.vector_retention``): a head that replaced a
retained day with other content is an IntegrityError, never a silent change of history.
The rows are returned in the tuple layout of a Postgres row (``ROW_COLUMNS``), so the same
per-row proof (``features_hash``, ``window_key``, strict decoding) runs on both sources.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from t0lake.errors import IntegrityError
from t0lake.lake import log
from t0lake.lake.manifest import Manifest
from t0lake.lake.snapshot import Snapshot
from t0lake.lake.storage import LakeStorage, check_name, open_storage

__all__ = ["DEFAULT_ENTRYPOINT", "ROW_COLUMNS", "LakeTier", "day_of_ms", "days_between"]

DEFAULT_ENTRYPOINT = "fv.feature_vector_store_t0_v1_v"

# the columns of a stored vector, in the order of t0lake.vectors.read's row queries
ROW_COLUMNS = (
    "market_id",
    "epoch_id",
    "tick_index",
    "window_start_ms",
    "window_end_ms",
    "feature_schema_version",
    "features_blob",
    "features_hash",
    "window_key",
    "created_at_ms",
    "quality_flags",
    "coverage_json",
    "producer_instance",
    "trace_id",
)

_EPOCH = date(1970, 1, 1)
_DAY_MS = 86_400_000
_FIRST, _LAST = (date.min - _EPOCH).days, (date.max - _EPOCH).days


def day_of_ms(ms: int) -> date:
    """The UTC day of a time in ms (the partition day of ``window_end_ms``), clamped to the
    calendar (a range bound far outside it still names the first or last day)."""
    days = max(min(ms // _DAY_MS, _LAST), _FIRST)
    return _EPOCH + timedelta(days=days)


def days_between(start_ms: int, end_ms: int) -> tuple[date, date]:
    """The first and last partition day of ``start_ms <= window_end_ms < end_ms``."""
    return day_of_ms(start_ms), day_of_ms(end_ms - 1)


DEFAULT_CACHE_BYTES = 256 * 1024 * 1024

# a day as the head serves it: entrypoint, day, its file's sha256, its rows in that file,
# and the dataset hash its proof was held against
_DayKey = tuple[str, date, str, int, str]


class LakeTier:
    """One lake, opened once; head snapshots cached per entrypoint and re-read when a
    retention names a newer snapshot than the cached one, or on :meth:`refresh`.

    A lake day is proven whole (its digests cover every market), so a query of one market
    would pay for the proof of all of them each time. The tier keeps each day it proved, as
    the Arrow rows the proof passed, keyed by the file's sha256, the day's place in it and
    its dataset hash, up to ``cache_bytes`` (least recently used first out; 0 keeps none):
    the next market's query filters those rows instead of reading and proving the day again.
    What is served is always bytes that passed the proof; a file changed on storage after
    its day was proven is found by the next read after :meth:`refresh` or eviction."""

    def __init__(
        self,
        url: str,
        storage_options: dict[str, Any] | None = None,
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self.url = url
        self.storage: LakeStorage = open_storage(url, storage_options)
        self._heads: dict[str, Manifest | None] = {}
        self._lock = threading.Lock()
        self._cache_bytes = cache_bytes
        self._days: OrderedDict[_DayKey, pa.Table] = OrderedDict()
        self._held = 0

    def refresh(self) -> None:
        """Forget the heads and every proven day: the next reads go to storage again."""
        with self._lock:
            self._heads.clear()
            self._days.clear()
            self._held = 0

    def _cached(self, key: _DayKey) -> pa.Table | None:
        with self._lock:
            table = self._days.get(key)
            if table is not None:
                self._days.move_to_end(key)
            return table

    def _keep(self, key: _DayKey, table: pa.Table) -> None:
        size = table.nbytes
        if size > self._cache_bytes:
            return
        with self._lock:
            if key in self._days:
                return
            self._days[key] = table
            self._held += size
            while self._held > self._cache_bytes:
                _, dropped = self._days.popitem(last=False)
                self._held -= dropped.nbytes

    def head(self, entrypoint: str, at_least: int = 0) -> Manifest | None:
        with self._lock:
            cached = self._heads.get(entrypoint)
            if cached is None or cached.snapshot_id < at_least:
                cached = log.head(self.storage, check_name(entrypoint))
                self._heads[entrypoint] = cached
            return cached

    def rows(
        self,
        entrypoint: str,
        days: Iterable[date],
        *,
        proven: Mapping[date, str] | None,
        market_id: str,
        versions: Iterable[int],
        start_ms: int | None = None,
        end_ms: int | None = None,
        known_before_ms: int | None = None,
        epoch: tuple[int, int] | None = None,
        at_least: int = 0,
    ) -> list[tuple[Any, ...]]:
        """The verified rows of ``market_id`` and ``versions`` on ``days`` (and in the range,
        known before, of the epoch, when given) as Postgres-shaped tuples in no set order.

        ``proven`` maps each day to the dataset hash retention proved; None reads every day
        the head holds among ``days`` (a downsampled version: the lake is its only home).
        """
        wanted = sorted(set(days))
        if not wanted:
            return []
        head = self.head(entrypoint, at_least)
        live = head.days() if head is not None else {}
        if proven is not None:
            for day in wanted:
                entry = live.get(day)
                if entry is None or entry[1].dataset_hash != proven[day]:
                    raise IntegrityError(
                        f"the lake's head of {entrypoint} no longer holds {day} as retention "
                        "proved it (the vectors of that day are only in the lake)",
                        entrypoint=entrypoint,
                        day=day.isoformat(),
                        expected=proven[day],
                        actual=None if entry is None else entry[1].dataset_hash,
                    )
        else:
            wanted = [d for d in wanted if d in live]
        if head is None or not wanted:
            return []
        table = self._proven_days(entrypoint, head, wanted)
        mask = pc.and_(
            pc.equal(table["market_id"], market_id),
            pc.is_in(table["feature_schema_version"], pa.array(list(versions), pa.int16())),
        )
        if start_ms is not None:
            mask = pc.and_(mask, pc.greater_equal(table["window_end_ms"], start_ms))
        if end_ms is not None:
            mask = pc.and_(mask, pc.less(table["window_end_ms"], end_ms))
        if known_before_ms is not None:
            mask = pc.and_(mask, pc.less(table["created_at_ms"], known_before_ms))
        if epoch is not None:
            mask = pc.and_(
                mask,
                pc.and_(
                    pc.equal(table["epoch_id"], epoch[0]), pc.equal(table["tick_index"], epoch[1])
                ),
            )
        picked = table.filter(mask)
        columns = [picked[name].to_pylist() for name in ROW_COLUMNS]
        coverage = ROW_COLUMNS.index("coverage_json")
        columns[coverage] = [None if c is None else json.loads(c) for c in columns[coverage]]
        return list(zip(*columns, strict=True))

    def _proven_days(self, entrypoint: str, head: Manifest, days: list[date]) -> pa.Table:
        """The rows of ``days`` (all held by ``head``), each day proven once per content."""
        live = head.days()
        keys: dict[date, _DayKey] = {}
        for day in days:
            file, entry = live[day]
            keys[day] = (entrypoint, day, file.sha256, entry.row_offset, entry.dataset_hash)
        found = {day: self._cached(key) for day, key in keys.items()}
        missing = [day for day, table in found.items() if table is None]
        snapshot = Snapshot(self.storage, head)
        for first, last in _runs(missing):
            read = snapshot.to_arrow(start=first, end=last, columns=list(ROW_COLUMNS))
            offset = 0  # a read returns its days in day order, each day's manifest rows
            for day in sorted(d for d in live if first <= d <= last):
                rows = live[day][1].rows
                found[day] = read.slice(offset, rows).combine_chunks()
                self._keep(keys[day], found[day])
                offset += rows
            if offset != read.num_rows:  # the reader's contract broken: never guess rows
                raise IntegrityError(
                    f"a lake read of {entrypoint} {first}..{last} returned {read.num_rows} "
                    f"rows where the manifest holds {offset}",
                    entrypoint=entrypoint,
                    expected=offset,
                    actual=read.num_rows,
                )
        return pa.concat_tables([found[day] for day in days])


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days: one read per run."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs
