"""``pit_join``: the public entry point, putting the parts of the join together in order.

It parses the arguments (:mod:`t0lake.pit.spec`), loads both sides (:mod:`t0lake.pit.inputs`),
checks them, turns times into integers (:mod:`t0lake.pit.times`), runs the merge
(:mod:`t0lake.pit.kernel`), gathers the chosen feature rows and attaches the fingerprint
(:mod:`t0lake.lineage`). The order is the only logic here: every rule lives in its module.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa

from t0lake import lineage
from t0lake.pit.inputs import load_inputs
from t0lake.pit.kernel import Array, as_of_rows, created_ints, group_ids
from t0lake.pit.spec import JoinSpec, check_frames, check_t0
from t0lake.pit.times import age_units, time_ints, time_unit

if TYPE_CHECKING:
    from t0lake.lake.snapshot import Snapshot

__all__ = ["pit_join"]


def pit_join(
    events: pl.DataFrame | pl.LazyFrame | pa.Table,
    features: Snapshot | pl.DataFrame | pl.LazyFrame | pa.Table,
    by: str | Iterable[str],
    t0: str,
    ts: str,
    created: str | None = None,
    max_age: timedelta | str | None = None,
    strict: bool = True,
    known_at: str | None = None,
) -> pl.DataFrame:
    """Join each event to the feature row it was allowed to see at its time ``t0``.

    For every event row, a feature row is eligible when all of these hold: its ``by`` keys
    equal the event's (a NULL key equals nothing, not even NULL); its ``ts`` is strictly
    before ``t0`` (at or before with ``strict=False``); with ``known_at``, its ``known_at``
    is strictly before ``t0``; with ``max_age``, ``t0 - ts <= max_age``; and its ``ts`` (and
    ``known_at``) is not NULL. Among the eligible rows the join takes the latest ``ts``,
    then the latest ``created`` (a NULL ``created`` loses to any value), then the row that
    comes last in the feature input (for a Snapshot: the lake's day and key order). No
    eligible row gives NULL feature columns, never a default. ``docs/pit-join.md`` has the
    full argument and the memory bounds.

    Args:
        events: the events: a polars ``DataFrame`` or ``LazyFrame`` (collected first) or a
            pyarrow ``Table`` (or ``RecordBatch``), with the ``by`` and ``t0`` columns.
        features: the feature rows: any of the types ``events`` accepts, or a t0lake
            ``Snapshot``, with the ``by`` and ``ts`` columns (and ``created``/``known_at``
            when given). A Snapshot is read through ``Snapshot.read``, so every (day, column)
            is proven against the manifest before a row is used. When ``ts`` is the
            snapshot's declared event-time column only the days that can match are read,
            ``[day(min(t0) - max_age), day(max(t0))]`` (every day up to ``day(max(t0))``
            without ``max_age``; one more day on each side for a tz-aware ``ts``); with
            any other ``ts`` every day is read.
        by: the entity key: a column name or a non-empty list (or any iterable) of distinct
            column names,
            present on both sides. Integer keys of any width compare by value, ``String``,
            ``Categorical`` and ``Enum`` keys by their text; any other key dtype must be
            the same on both sides. A string key against an integer key is refused.
        t0: the name of the events' time column, ``Date`` or ``Datetime`` of any unit (a
            ``Date`` is midnight of that day). It must have no NULL.
        ts: the name of the features' time column, the time each row's value is for
            (``Date`` or ``Datetime``). Time zones are never guessed: ``t0`` and ``ts`` are
            both naive (wall clocks) or both tz-aware (instants, compared in UTC; the zones
            may differ).
        created: the name of an optional features column breaking ties on ``ts``: the
            latest wins, a NULL loses to any value. An integer (a version number; any
            integer type but ``UInt64``) or a time (an insertion time). ``None`` (the
            default): ties on ``ts`` go to the last row in input order.
        max_age: an optional age limit, a ``timedelta`` or a duration string such as
            ``"90s"``, ``"15m"``, ``"24h"``, ``"7d"``, ``"2w"`` or ``"1h30m"``; it must be
            positive. The boundary is inclusive: a row exactly ``max_age`` old is eligible.
            ``None`` (the default): any age.
        strict: ``True`` (the default) requires ``ts < t0``; ``False`` allows ``ts <= t0``.
            It does not apply to ``known_at``, which is always strict.
        known_at: the name of an optional features column, the time each row became known
            (the bitemporal guard): the row is eligible only when ``known_at < t0``, so a
            backfill written after ``t0`` for an earlier ``ts`` is not seen and a row known
            late never displaces a newer row known in time; a NULL ``known_at`` is never
            eligible. ``Date`` or ``Datetime``, naive or tz-aware like ``t0``.

    Returns:
        A new polars ``DataFrame`` with exactly one row per event row, in event order
        (duplicate events stay duplicates): all event columns, then every feature column
        except the ``by`` columns, so the matched row's ``ts``, ``created`` and ``known_at``
        can be inspected (NULL when no row matched). It carries a provenance record:
        :func:`t0lake.frame_fingerprint` gives the events, the features (for a Snapshot:
        the days read with their content hashes) and these parameters it was built from.

    Raises:
        ConfigError: the input is wrong, nothing is joined: ``by`` is not a column name or
            a non-empty list (any iterable) of names, or names a column twice; ``t0`` or
            ``ts`` is not a column name, ``created`` or ``known_at`` neither a name nor
            None; ``strict`` is not a bool; ``max_age`` is not a duration or not
            positive; ``events`` or ``features`` is not one of the accepted types (a pandas
            frame is accepted, converted with ``pl.from_pandas``); a column is missing (the
            side and the column are named); ``t0`` has a NULL (the first row and the count
            are named); a ``by`` column's dtypes differ between the sides beyond the rules
            above; ``t0``, ``ts`` or ``known_at`` is not ``Date``/``Datetime``; ``ts`` or
            ``known_at`` is naive while ``t0`` is tz-aware, or the other way round (the
            message says how to make it explicit with ``dt.replace_time_zone``);
            ``created`` is not an integer or time type, or is ``UInt64``; a feature column
            other than ``by`` has the name of an event column (the join never renames or
            overwrites: rename one side first).
        IntegrityError: a Snapshot's day read for the join does not match the hashes its
            manifest committed (tampered, corrupt or missing file).

    ``T0ViolationError`` is never raised: a row at or after ``t0`` is not eligible by
    construction, so there is no look-ahead to detect afterwards.
    """
    spec = JoinSpec.parse(by, t0, ts, created, max_age, strict, known_at)
    inputs = load_inputs(events, features, spec)
    result = _join(inputs.events, inputs.features, spec)
    snap = inputs.snapshot
    source: lineage.Record | pl.DataFrame = (
        inputs.features
        if snap is None
        else snap.read_record(inputs.start, inputs.end, inputs.features.columns)
    )
    return lineage.attach(result, lineage.pit_record(inputs.events, source, spec.record()))


def _join(ev: pl.DataFrame, ft: pl.DataFrame, spec: JoinSpec) -> pl.DataFrame:
    out_cols = check_frames(ev, ft, spec)
    by, t0, ts, created, known_at = spec.by, spec.t0, spec.ts, spec.created, spec.known_at
    max_age, strict = spec.max_age, spec.strict
    check_t0(ev, t0)
    unit = time_unit(ev.schema[t0], ft.schema[ts], *([ft.schema[known_at]] if known_at else []))
    t0_int = time_ints(ev.get_column(t0), unit)

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
        ts_int = time_ints(fv.get_column(ts), unit)
        gid_f, gid_e, groups = group_ids(ev, fv, by)
        avail = ts_int if strict else ts_int - 1
        if known_at is not None:
            avail = np.maximum(avail, time_ints(fv.get_column(known_at), unit))
        c_int, c_valid = created_ints(fv, created)
        shift = None if known_at is not None else 0 if strict else 1
        winner = as_of_rows(
            avail, gid_f, ts_int, c_int, c_valid, created is not None, shift, t0_int, gid_e, groups
        )
        if max_age is not None:
            hit = winner >= 0
            too_old = np.zeros_like(hit)
            too_old[hit] = ts_int[winner[hit]] < t0_int[hit] - age_units(max_age, unit)
            winner[too_old] = -1
        if valid_idx is not None:
            winner = np.where(winner >= 0, valid_idx[np.maximum(winner, 0)], -1)

    idx = _gather_index(winner)
    gathered = ft.select(out_cols).select(pl.all().gather(idx)) if out_cols else None
    # always a new frame: the caller's events object must never carry a join's fingerprint
    return ev.clone() if gathered is None else pl.concat([ev, gathered], how="horizontal")


def _gather_index(winner: Array) -> pl.Series:
    """The chosen rows as a polars index, NULL for none. Built from Arrow buffers: both
    polars' and pyarrow's numpy constructors import ``numpy.ma``, a twentieth of a second
    of a process's first join."""
    valid = winner >= 0
    bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    data = pa.py_buffer(np.ascontiguousarray(winner, dtype=np.int64))
    index = pl.from_arrow(pa.Array.from_buffers(pa.int64(), len(winner), [bitmap, data]))
    if not isinstance(index, pl.Series):  # an Array converts to a Series; for mypy
        raise TypeError(f"expected a polars Series, got {type(index).__name__}")
    return index
