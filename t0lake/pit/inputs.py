"""Both sides of a join as polars DataFrames, a Snapshot read only for the days that can match.

Loading is apart from the checks and the join because what is read from a lake is what is
verified and what the fingerprint records: the day pruning (``snapshot_days``) decides both,
so it has one place. Events and features may be a polars DataFrame or LazyFrame or a pyarrow
Table (or RecordBatch); features may also be a t0lake Snapshot.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from t0lake._util.frames import to_polars
from t0lake.errors import ConfigError
from t0lake.pit.spec import JoinSpec, check_t0, check_time_type, require_columns

if TYPE_CHECKING:
    from t0lake.lake.snapshot import Snapshot

__all__ = ["PitInputs", "load_inputs", "snapshot_days"]


@dataclass(frozen=True)
class PitInputs:
    """What a join read: the collected frames and, for a Snapshot, the day range read
    (``None`` bounds = unbounded), so lineage can record exactly that."""

    events: pl.DataFrame
    features: pl.DataFrame
    snapshot: Snapshot | None
    start: date | None
    end: date | None


def _frame(data: Any, side: str) -> pl.DataFrame:
    also = " or a t0lake Snapshot" if side == "features" else ""
    return to_polars(data, side, also=also)


def snapshot_days(
    snapshot: Snapshot, ts: str, t0_values: pl.Series, max_age: timedelta | None
) -> tuple[date | None, date | None]:
    """The inclusive day range of ``snapshot`` that can hold a row matching any ``t0``.

    Pruning is sound only when the partition day is the day of ``ts``, i.e. ``ts`` is the
    snapshot's declared event-time column; otherwise every day is read. A tz-aware ``ts``
    gets one day of margin on both sides, because the day expression may have been
    evaluated in a session time zone other than UTC.
    """
    if ts != snapshot.manifest.event_time_col or t0_values.len() == 0:
        return None, None
    lo, hi = t0_values.min(), t0_values.max()
    if not isinstance(lo, date) or not isinstance(hi, date):
        raise ConfigError(
            f"events column {t0_values.name!r} is {t0_values.dtype}; point-in-time columns "
            "must be Date or Datetime",
            column=t0_values.name,
            dtype=str(t0_values.dtype),
        )
    margin = timedelta(0)
    field = snapshot.schema.field(ts)
    if pa.types.is_timestamp(field.type) and field.type.tz is not None:
        margin = timedelta(days=1)
    start = None if max_age is None else _day(lo - max_age - margin)
    return start, _day(hi + margin)


def _day(value: date) -> date:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.date()
    return value


def _is_snapshot(value: Any) -> bool:
    """Whether ``value`` is a lake Snapshot, without importing the lake for a join of two
    frames (a sixth of a second): a Snapshot exists only once its module is imported."""
    module = sys.modules.get("t0lake.lake.snapshot")
    return module is not None and isinstance(value, module.Snapshot)


def load_inputs(events: Any, features: Any, spec: JoinSpec) -> PitInputs:
    """Collect both sides, reading only the snapshot days that can match."""
    ev = _frame(events, "events")
    require_columns(ev.columns, [*spec.by, spec.t0], "events")
    check_t0(ev, spec.t0)
    if _is_snapshot(features):
        check_time_type(spec.t0, ev.schema[spec.t0], "events")  # before it prunes days by it
        names = [f.name for f in features.schema]
        require_columns(names, [*spec.by, spec.ts, spec.created, spec.known_at], "features")
        start, end = snapshot_days(features, spec.ts, ev.get_column(spec.t0), spec.max_age)
        ft = features.read(start, end)
        return PitInputs(ev, ft, features, start, end)
    ft = _frame(features, "features")
    return PitInputs(ev, ft, None, None, None)
