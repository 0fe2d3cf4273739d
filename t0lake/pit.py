"""Point-in-time (as-of) joins: for each event, the feature row it was allowed to see.

Training on features an event could not have seen at its time ``t0`` is the quietest way to
ruin a backtest, so the join is exact and fails closed:

* one output row per event row, in event order (duplicates stay duplicates);
* per event, among feature rows with equal ``by`` keys whose ``ts`` is strictly before
  ``t0`` (at or before with ``strict=False``), whose ``known_at`` (if given) is strictly
  before ``t0``, and whose age ``t0 - ts`` is at most ``max_age``: the one with the latest
  ``ts``, then the latest ``created`` (NULL lowest), then the last in feature input order;
* no eligible row -> NULL feature columns, never a default value;
* anything ambiguous (missing column, key dtypes that differ, a NULL ``t0``, a time zone on
  one side only) is a ``ConfigError`` naming the column, never a silent coercion.

How (``docs/pit-join.md`` has the full argument): every time becomes an int64 in one unit;
"strictly before" becomes ``avail < t0`` with ``avail = max(ts, known_at)`` (``ts - 1`` unit
for ``strict=False``). Features are walked in ``avail`` order and events in ``t0`` order in
one compiled merge loop (the loop of pandas' ``merge_asof``): every row available before an
event's t0 updates its entity's best row so far, compared by (ts, created, position), then
the event reads its entity's best. Input already in time order is not sorted; memory is a
few int64 arrays and one slot per entity, never a per-(event, row) expansion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa

from t0lake import lineage
from t0lake.durations import parse_positive_duration
from t0lake.errors import ConfigError
from t0lake.jit import compiled

if TYPE_CHECKING:
    from t0lake.read import Snapshot

__all__ = ["PitInputs", "pit_join", "snapshot_days"]

_US_PER_DAY = 86_400_000_000
_INT_KEYS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)
_DENSE_SLACK = 4  # an integer key is its own entity id while its range is this dense

Array = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True)
class PitInputs:
    """What a join read: the collected frames and, for a Snapshot, the day range read
    (``None`` bounds = unbounded), so lineage can record exactly that."""

    events: pl.DataFrame
    features: pl.DataFrame
    snapshot: Snapshot | None
    start: date | None
    end: date | None


def pit_join(
    events: pl.DataFrame | pl.LazyFrame | pa.Table,
    features: Snapshot | pl.DataFrame | pl.LazyFrame | pa.Table,
    by: str | Sequence[str],
    t0: str,
    ts: str,
    created: str | None = None,
    max_age: timedelta | str | None = None,
    strict: bool = True,
    known_at: str | None = None,
) -> pl.DataFrame:
    """The point-in-time join of ``events`` with ``features`` (see the module docstring).

    Returns every event column followed by every feature column except ``by`` (so the
    matched row's ``ts``, ``created`` and ``known_at`` are visible). A feature column whose
    name is also an event column is refused rather than renamed: rename one side. A
    ``Snapshot`` on the feature side is read (and verified) only for the days that can
    match, ``[min(t0) - max_age, max(t0)]``; the result carries a fingerprint
    (:func:`t0lake.lineage.frame_fingerprint`).
    """
    spec = _JoinSpec(
        by=_by_list(by),
        t0=t0,
        ts=ts,
        created=created,
        max_age=parse_positive_duration(max_age, "max_age") if max_age is not None else None,
        strict=strict,
        known_at=known_at,
    )
    inputs = _load_inputs(events, features, spec)
    result = _join(inputs.events, inputs.features, spec)
    snap = inputs.snapshot
    source: lineage.Record | pl.DataFrame = (
        inputs.features
        if snap is None
        else lineage.snapshot_record(snap, inputs.start, inputs.end, inputs.features.columns)
    )
    return lineage.attach(result, lineage.pit_record(inputs.events, source, spec.record()))


@dataclass(frozen=True)
class _JoinSpec:
    """What the join was asked, parsed once, for the checks, the join and the fingerprint."""

    by: list[str]
    t0: str
    ts: str
    created: str | None
    max_age: timedelta | None
    strict: bool
    known_at: str | None

    def record(self) -> lineage.Record:
        """The parameters as a fingerprint records them (max_age in whole microseconds)."""
        return {
            "by": list(self.by),
            "t0": self.t0,
            "ts": self.ts,
            "created": self.created,
            "max_age_us": (
                None if self.max_age is None else self.max_age // timedelta(microseconds=1)
            ),
            "strict": self.strict,
            "known_at": self.known_at,
        }


# --------------------------------------------------------------------------- inputs


def _by_list(by: str | Sequence[str]) -> list[str]:
    keys = [by] if isinstance(by, str) else list(by)
    if not keys or not all(isinstance(k, str) for k in keys):
        raise ConfigError("by must be a column name or a non-empty list of column names", by=by)
    if len(set(keys)) != len(keys):
        raise ConfigError(f"by {keys} names a column twice", by=keys)
    return keys


def _frame(data: Any, side: str) -> pl.DataFrame:
    if isinstance(data, pl.LazyFrame):
        data = data.collect()
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        data = pl.from_arrow(data)
    if not isinstance(data, pl.DataFrame):
        raise ConfigError(
            f"{side} must be a polars DataFrame/LazyFrame or a pyarrow Table"
            + (" or a t0lake Snapshot" if side == "features" else "")
            + f", got {type(data).__name__}",
            side=side,
        )
    return data


def _require(frame_columns: Sequence[str], names: Sequence[str | None], side: str) -> None:
    for name in names:
        if name is not None and name not in frame_columns:
            raise ConfigError(
                f"{side} have no column {name!r} (they have {', '.join(frame_columns)})",
                side=side,
                column=name,
            )


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
    assert isinstance(lo, date) and isinstance(hi, date)
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


def _load_inputs(events: Any, features: Any, spec: _JoinSpec) -> PitInputs:
    """Collect both sides, reading only the snapshot days that can match."""
    from t0lake.read import Snapshot

    ev = _frame(events, "events")
    _require(ev.columns, [*spec.by, spec.t0], "events")
    _check_t0(ev, spec.t0)
    if isinstance(features, Snapshot):
        names = [f.name for f in features.schema]
        _require(names, [*spec.by, spec.ts, spec.created, spec.known_at], "features")
        start, end = snapshot_days(features, spec.ts, ev.get_column(spec.t0), spec.max_age)
        ft = features.read(start, end)
        return PitInputs(ev, ft, features, start, end)
    ft = _frame(features, "features")
    return PitInputs(ev, ft, None, None, None)


def _check_t0(ev: pl.DataFrame, t0: str) -> None:
    nulls = ev.get_column(t0).null_count()
    if nulls:
        first = int(ev.get_column(t0).is_null().arg_max() or 0)
        raise ConfigError(
            f"events column {t0!r} has {nulls} NULL value(s) (first at row {first}): every "
            "event needs a t0",
            column=t0,
            row=first,
            nulls=nulls,
        )


# --------------------------------------------------------------------------- checks


def _check(ev: pl.DataFrame, ft: pl.DataFrame, spec: _JoinSpec) -> list[str]:
    """Validate names and types; returns the feature columns of the output."""
    by, t0, ts, created, known_at = spec.by, spec.t0, spec.ts, spec.created, spec.known_at
    _require(ev.columns, [*by, t0], "events")
    _require(ft.columns, [*by, ts, created, known_at], "features")
    for k in by:
        _same_key_type(k, ev.schema[k], ft.schema[k])
    _time_type(t0, ev.schema[t0], "events")
    _time_type(ts, ft.schema[ts], "features")
    _same_zone(t0, ev.schema[t0], ts, ft.schema[ts], "ts")
    if known_at is not None:
        _time_type(known_at, ft.schema[known_at], "features")
        _same_zone(t0, ev.schema[t0], known_at, ft.schema[known_at], "known_at")
    if created is not None:
        dtype = ft.schema[created]
        if not (dtype.is_integer() or dtype.is_temporal()) or dtype == pl.UInt64:
            raise ConfigError(
                f"features column {created!r} is {dtype}; the tie-breaker must be a time or an "
                "integer (a version number, an insertion time...)",
                column=created,
                dtype=str(dtype),
            )
    out = [c for c in ft.columns if c not in by]
    clash = [c for c in out if c in ev.columns]
    if clash:
        raise ConfigError(
            f"feature column {clash[0]!r} is also an event column; rename one side (the join "
            "never renames or overwrites columns)",
            column=clash[0],
            columns=clash,
        )
    return out


def _key_kind(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "integer"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Categorical | pl.Enum):
        return "string"
    return repr(dtype)


def _same_key_type(name: str, left: pl.DataType, right: pl.DataType) -> None:
    """Integers of any width compare by value, strings by text; anything else must be the
    same dtype. A string key against an integer key is a mistake, not a cast."""
    if left == right or _key_kind(left) == _key_kind(right) in ("integer", "string"):
        return
    raise ConfigError(
        f"by column {name!r} is {left} in events but {right} in features; cast one side explicitly",
        column=name,
        events_dtype=str(left),
        features_dtype=str(right),
    )


def _time_type(name: str, dtype: pl.DataType, side: str) -> None:
    if not isinstance(dtype, pl.Datetime) and dtype != pl.Date:
        raise ConfigError(
            f"{side} column {name!r} is {dtype}; point-in-time columns must be Date or Datetime",
            column=name,
            dtype=str(dtype),
        )


def _zone(dtype: pl.DataType) -> str | None:
    return dtype.time_zone if isinstance(dtype, pl.Datetime) else None


def _same_zone(
    t0: str, t0_type: pl.DataType, other: str, other_type: pl.DataType, role: str
) -> None:
    """Aware against aware compares instants (any zones); naive against naive compares wall
    clocks; one of each has no meaning without a zone the caller must choose."""
    a, b = _zone(t0_type), _zone(other_type)
    if (a is None) == (b is None):
        return
    aware, naive = (t0, other) if a is not None else (other, t0)
    zone = a or b
    raise ConfigError(
        f"{role} column {other!r} is {'naive' if b is None else f'tz-aware ({b})'} but t0 "
        f"column {t0!r} is {'naive' if a is None else f'tz-aware ({a})'}: make both explicit, "
        f"e.g. pl.col({naive!r}).dt.replace_time_zone({zone!r}) or "
        f"pl.col({aware!r}).dt.replace_time_zone(None)",
        column=other,
        t0=t0,
        t0_time_zone=a,
        time_zone=b,
    )


# --------------------------------------------------------------------------- the join


def _unit(*dtypes: pl.DataType) -> str:
    """One integer unit for every compared time: ns if any side has it, else us (Dates and
    ms widen exactly to us, so max_age stays exact)."""
    return "ns" if any(isinstance(d, pl.Datetime) and d.time_unit == "ns" for d in dtypes) else "us"


def _ints(series: pl.Series, unit: str) -> Array:
    """Times as int64 in ``unit`` (UTC epoch for aware times); NULL becomes 0 (callers mask)."""
    if series.dtype == pl.Date:
        scale = _US_PER_DAY * (1000 if unit == "ns" else 1)
        values = series.cast(pl.Int64) * scale
    else:
        values = series.dt.cast_time_unit(unit).to_physical()  # type: ignore[arg-type]
    return values.fill_null(0).to_numpy().astype(np.int64, copy=False)


def _age_units(max_age: timedelta, unit: str) -> int:
    micros = (max_age.days * 86_400 + max_age.seconds) * 1_000_000 + max_age.microseconds
    return micros * (1000 if unit == "ns" else 1)


def _join(ev: pl.DataFrame, ft: pl.DataFrame, spec: _JoinSpec) -> pl.DataFrame:
    out_cols = _check(ev, ft, spec)
    by, t0, ts, created, known_at = spec.by, spec.t0, spec.ts, spec.created, spec.known_at
    max_age, strict = spec.max_age, spec.strict
    _check_t0(ev, t0)
    unit = _unit(ev.schema[t0], ft.schema[ts], *([ft.schema[known_at]] if known_at else []))
    t0_int = _ints(ev.get_column(t0), unit)

    # eligible at all: a ts, every key, and (with known_at) a known time
    valid = ft.get_column(ts).is_not_null()
    for k in by:
        valid &= ft.get_column(k).is_not_null()
    if known_at is not None:
        valid &= ft.get_column(known_at).is_not_null()
    valid_idx: Array | None = None
    if valid.null_count() or not valid.all():
        valid_idx = np.flatnonzero(valid.fill_null(False).to_numpy()).astype(np.int64)
    fv = ft if valid_idx is None else ft[valid_idx]
    n = fv.height

    winner = np.full(ev.height, -1, dtype=np.int64)
    if n and ev.height:
        ts_int = _ints(fv.get_column(ts), unit)
        gid_f, gid_e, groups = _group_ids(ev, fv, by)
        avail = ts_int if strict else ts_int - 1
        if known_at is not None:
            avail = np.maximum(avail, _ints(fv.get_column(known_at), unit))
        c_int, c_valid = _created(fv, created)
        shift = None if known_at is not None else 0 if strict else 1
        merged = _merged(avail, gid_f, ts_int, c_int, c_valid, created is not None, shift)
        winner = merged(t0_int, gid_e, groups)
        if max_age is not None:
            hit = winner >= 0
            too_old = np.zeros_like(hit)
            too_old[hit] = ts_int[winner[hit]] < t0_int[hit] - _age_units(max_age, unit)
            winner[too_old] = -1
        if valid_idx is not None:
            winner = np.where(winner >= 0, valid_idx[np.maximum(winner, 0)], -1)

    idx = pl.Series("idx", winner).set(pl.Series(winner < 0), None)
    gathered = ft.select(out_cols).select(pl.all().gather(idx)) if out_cols else None
    # always a new frame: the caller's events object must never carry a join's fingerprint
    return ev.clone() if gathered is None else pl.concat([ev, gathered], how="horizontal")


def _group_ids(ev: pl.DataFrame, fv: pl.DataFrame, by: list[str]) -> tuple[Array, Array, int]:
    """Dense entity ids shared by both sides; -1 for an event key no feature row has (or a
    NULL key: NULL never equals NULL). Returns (feature ids, event ids, number of ids)."""
    if len(by) == 1 and ev.schema[by[0]] in _INT_KEYS and fv.schema[by[0]] in _INT_KEYS:
        fk = fv.get_column(by[0]).cast(pl.Int64).to_numpy()
        lo, hi = int(fk.min()), int(fk.max())
        span = hi - lo + 1
        if span <= _DENSE_SLACK * (fv.height + ev.height) + 1024:  # the kernel's table: span
            ek = ev.get_column(by[0]).cast(pl.Int64)
            ok = (ek.is_not_null() & (ek >= lo) & (ek <= hi)).to_numpy()
            e = ek.fill_null(lo).to_numpy() - lo
            return (fk if lo == 0 else fk - lo), np.where(ok, e, -1).astype(np.int64), span
    keys = [
        pl.col(k).cast(pl.String) if _key_kind(fv.schema[k]) == "string" else pl.col(k) for k in by
    ]
    left = fv.select(keys)
    right = ev.select(keys)
    if any(left.schema[k] != right.schema[k] for k in by):  # integers of different widths
        left = left.with_columns(
            pl.col(k).cast(pl.Int64) for k in by if left.schema[k].is_integer()
        )
        right = right.with_columns(
            pl.col(k).cast(pl.Int64) for k in by if right.schema[k].is_integer()
        )
    table = left.unique().with_row_index("__gid")
    gid_f = left.join(table, on=by, how="left", maintain_order="left").get_column("__gid")
    gid_e = right.join(table, on=by, how="left", maintain_order="left").get_column("__gid")
    return (
        gid_f.cast(pl.Int64).to_numpy(),
        gid_e.cast(pl.Int64).fill_null(-1).to_numpy(),
        table.height,
    )


def _created(fv: pl.DataFrame, created: str | None) -> tuple[Array, np.ndarray[Any, Any]]:
    """The tie-breaker as int64 plus a validity mask (NULL loses every tie)."""
    if created is None:
        return np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.bool_)
    column = fv.get_column(created)
    values = column.to_physical().cast(pl.Int64).fill_null(0).to_numpy()
    return values.astype(np.int64, copy=False), column.is_not_null().to_numpy()


def _sorted_by_first(
    columns: dict[str, np.ndarray[Any, Any]],
) -> tuple[dict[str, np.ndarray[Any, Any]], Array]:
    """The columns in ascending order of the first, and the input position of each row
    (empty, and the columns untouched, when they already are in order). One Polars sort of
    the whole frame: faster on 2 cores than an argsort and a gather per column, and the
    kernel then reads memory in order. Ties may come in any order: rows with equal
    availability become eligible together, events with equal t0 see the same rows."""
    first = next(iter(columns.values()))
    if len(first) < 2 or bool((first[1:] >= first[:-1]).all()):
        return columns, np.empty(0, dtype=np.int64)
    frame = pl.DataFrame(columns).with_row_index("__pos").sort(next(iter(columns)))
    out = {name: frame.get_column(name).to_numpy() for name in columns}
    return out, frame.get_column("__pos").cast(pl.Int64).to_numpy()


def _merged(
    avail: Array,
    gid_f: Array,
    ts: Array,
    created: Array,
    c_valid: np.ndarray[Any, Any],
    use_created: bool,
    shift: int | None,
) -> Any:
    """The features put in availability order once (sorting only when they are not), as a
    function of the events that returns, per event, the position of its row or -1.

    ``shift``: ``ts == avail + shift`` (no known_at), so ts is not carried through the
    sort but rebuilt from the sorted avail; None when ts says more than avail."""
    columns = {"avail": avail, "gid": gid_f}
    if shift is None:
        columns["ts"] = ts  # sorted along only when it says more than avail
    if use_created:
        columns |= {"created": created, "valid": c_valid}
    columns, f_order = _sorted_by_first(columns)
    avail, gid_f = columns["avail"], columns["gid"]
    ts = columns["ts"] if shift is None else avail if shift == 0 else avail + shift
    if use_created:
        created, c_valid = columns["created"], columns["valid"]
    features = [
        _ro(a) for a in (f_order, avail, gid_f, ts, created, c_valid.astype(np.bool_, copy=False))
    ]

    def run(t0: Array, gid_e: Array, groups: int) -> Array:
        ordered, e_order = _sorted_by_first({"t0": t0, "gid": gid_e})
        t0, gid_e = ordered["t0"], ordered["gid"]
        out = np.empty(len(t0), dtype=np.int64)
        _merge(*features, use_created, _ro(t0), _ro(gid_e), groups, out)
        if not e_order.size:
            return out
        winner = np.empty_like(out)
        winner[e_order] = out
        return winner

    return run


def _merge_signature(t: Any) -> Any:
    """Exactly one signature, read-only C arrays in and a writable one out."""
    ro_i8 = t.Array(t.int64, 1, "C", readonly=True)
    ro_b1 = t.Array(t.boolean, 1, "C", readonly=True)
    out = t.Array(t.int64, 1, "C")
    return t.void(ro_i8, ro_i8, ro_i8, ro_i8, ro_i8, ro_b1, t.boolean, ro_i8, ro_i8, t.int64, out)


@compiled(_merge_signature)
def _merge(
    f_pos: Array,
    avail: Array,
    gid_f: Array,
    ts: Array,
    created: Array,
    c_valid: np.ndarray[Any, Any],
    use_created: bool,
    t0: Array,
    gid_e: Array,
    groups: int,
    out: Array,
) -> None:
    """One pass over features (in ``avail`` order) and events (in ``t0`` order), the loop
    of a sort-merge as-of join as pandas' merge_asof runs it: before answering an event,
    every feature row available before its t0 updates its entity's best row so far; the
    event reads its entity's best. "Best" compares (ts, created valid, created, input
    position ``f_pos``; empty = already in input order), so ties need no sort and, with
    known_at, a row available late but older in ts cannot displace a newer one.
    O(features + events) time, O(entities) memory. Compiled by numba on first use."""
    best = np.full(groups, -1, dtype=np.int64)
    n = avail.shape[0]
    identity = f_pos.shape[0] == 0
    j = 0
    for k in range(t0.shape[0]):
        t = t0[k]
        while j < n and avail[j] < t:
            g = gid_f[j]
            b = best[g]
            if b < 0:
                best[g] = j
            elif ts[j] != ts[b]:
                if ts[j] > ts[b]:
                    best[g] = j
            elif use_created and c_valid[j] != c_valid[b]:
                if c_valid[j]:
                    best[g] = j
            elif use_created and c_valid[j] and created[j] != created[b]:
                if created[j] > created[b]:
                    best[g] = j
            elif identity or f_pos[j] > f_pos[b]:
                best[g] = j
            j += 1
        g = gid_e[k]
        b = best[g] if g >= 0 else -1
        out[k] = b if b < 0 or identity else f_pos[b]


def _ro(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A C-contiguous read-only view (no copy when already contiguous): the one array type
    the kernel is compiled for."""
    view = np.ascontiguousarray(values).view()
    view.flags.writeable = False
    return view
