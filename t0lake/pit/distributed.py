"""The point-in-time join over Dask: both sides hash-partitioned by the entity key, each
bucket joined by the local, compiled join.

Every row of one entity lands in the same bucket on both sides, so a bucket's events see
exactly the feature rows the local join would let them see, and :func:`t0lake.pit.pit_join`
run on the bucket is the local result for those events. What the local join takes from the
input order is carried through the shuffle explicitly:

* ties on (``ts``, ``created``) go to the row that comes last in the feature input: each
  feature row carries (its partition, its row in it), and a bucket's rows are put back in
  that order before the join (a Snapshot's input order is its day and key order, as for
  the local join);
* one output row per event, in event order: each event carries (its partition, its row),
  and with ``order="events"`` (the default) the result is range-partitioned back on them,
  so output partition ``k`` is events partition ``k``'s rows, in order, with their
  features. ``order="buckets"`` skips that second shuffle: each output partition is then a
  bucket of events in no promised order (cheaper, for a consumer that does not care).

So the result, computed, equals ``pit_join`` on the same rows, row for row (tested on
hypothesis-generated cases). Before anything is joined, the arguments, columns, key dtypes
and time zones are checked on the frames' metadata by the local join's own checks
(``ConfigError``), and one pass over the events' ``t0`` refuses a NULL and, for a Snapshot,
gives the day range that can match (only those days are read and proven, on the workers;
an ``IntegrityError`` fails the compute). Feature rows that can never be eligible (a NULL
key, ``ts`` or ``known_at``) are dropped before the shuffle.

Memory: a worker holds one bucket of each side at a time (plus the shuffle's buffers,
which distributed's P2P shuffle spills to disk), so ``npartitions`` bounds it; the default
is the larger side's partition count. The result carries no fingerprint
(:func:`t0lake.frame_fingerprint` is for the frames a local join returns). Columns of the
result are pandas ``ArrowDtype`` (Arrow's types exactly, as the local join returns them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, cast

import polars as pl
import pyarrow as pa

from t0lake.errors import ConfigError
from t0lake.lake.snapshot import Snapshot
from t0lake.pit.inputs import snapshot_days
from t0lake.pit.join import pit_join
from t0lake.pit.spec import (
    JoinSpec,
    check_frames,
    check_time_type,
    key_kind,
    require_columns,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["pit_join_dask"]

_PREFIX = "__t0lake_"
_HASH = "__t0lake_hash"  # the bucket key: a hash of the normalised entity key
_PART = "__t0lake_part"  # the input partition a row came from
_ROW = "__t0lake_row"  # its row in that partition
_SEED = 0x7430_6C61_6B65  # "t0lake": any fixed seed, the same on every worker
_ORDERS = ("events", "buckets")


@dataclass(frozen=True)
class _Plan:
    """What every task of one join needs: the parsed spec, and the key columns' kinds."""

    spec: JoinSpec
    kinds: tuple[str, ...]  # key_kind of each by column, the same on both sides

    def join_args(self) -> dict[str, Any]:
        s = self.spec
        return {
            "by": s.by,
            "t0": s.t0,
            "ts": s.ts,
            "created": s.created,
            "max_age": s.max_age,
            "strict": s.strict,
            "known_at": s.known_at,
        }


def pit_join_dask(
    events: Any,
    features: Snapshot | Any,
    by: str | Iterable[str],
    t0: str,
    ts: str,
    created: str | None = None,
    max_age: timedelta | str | None = None,
    strict: bool = True,
    known_at: str | None = None,
    *,
    npartitions: int | None = None,
    order: Literal["events", "buckets"] = "events",
) -> Any:
    """:func:`t0lake.pit_join` over a Dask events frame, on the Dask cluster in use.

    The arguments ``by`` … ``known_at`` and the semantics are those of
    :func:`t0lake.pit_join` (``docs/pit-join.md``); the result, computed, is the local
    join's on the same rows, row for row.

    Args:
        events: a ``dask.dataframe.DataFrame`` with the ``by`` and ``t0`` columns.
        features: a t0lake ``Snapshot`` (read with :meth:`Snapshot.to_dask`: only the days
            that can match, each file proven on the worker that reads it) or a
            ``dask.dataframe.DataFrame``. Its input order (partition, then row) breaks the
            last ties, as the local join's input order does.
        npartitions: the number of hash buckets (default: the larger side's partition
            count). More buckets, less memory per task.
        order: ``"events"`` (default): output partition ``k`` holds events partition
            ``k``'s rows in their order, so ``compute()`` is in event order;
            ``"buckets"``: one partition per bucket, in no promised order, one shuffle less.

    Returns:
        A lazy ``dask.dataframe.DataFrame``: the event columns, then every feature column
        but ``by``, as pandas ``ArrowDtype`` columns, with a fresh index.

    Raises:
        ConfigError: everything :func:`t0lake.pit_join` refuses, found before any join
            runs; also ``events`` or ``features`` of another type, a column of Python
            objects (``object`` dtype: its Arrow type is unknown until computed), a column
            named ``__t0lake_…``, a bad ``npartitions`` or ``order``.
        IntegrityError: (from ``compute``) a Snapshot's file read for the join does not
            match its manifest; the error names the file, the day and the column.
    """
    dd = _dask_dataframe()
    spec = JoinSpec.parse(by, t0, ts, created, max_age, strict, known_at)
    if not isinstance(events, dd.DataFrame):
        raise ConfigError(
            f"events must be a dask.dataframe.DataFrame, got {type(events).__name__} "
            "(t0lake.pit_join joins in-memory frames)",
            parameter="events",
        )
    if not isinstance(features, Snapshot | dd.DataFrame):
        raise ConfigError(
            "features must be a t0lake Snapshot or a dask.dataframe.DataFrame, got "
            f"{type(features).__name__}",
            parameter="features",
        )
    if order not in _ORDERS:
        raise ConfigError(
            f"order must be 'events' or 'buckets', got {order!r}",
            parameter="order",
            value=repr(order),
        )
    if npartitions is not None and (
        isinstance(npartitions, bool) or not isinstance(npartitions, int) or npartitions < 1
    ):
        raise ConfigError(
            f"npartitions must be a positive whole number, got {npartitions!r}",
            parameter="npartitions",
            value=repr(npartitions),
        )

    ev0 = _empty(events._meta, "events")
    require_columns(ev0.columns, [*spec.by, spec.t0], "events")
    check_time_type(spec.t0, ev0.schema[spec.t0], "events")
    summary = _t0_summary(events, spec.t0, ev0)
    nulls = int(summary.get_column("nulls").sum())
    if nulls:
        raise ConfigError(
            f"events column {spec.t0!r} has {nulls} NULL value(s): every event needs a t0",
            column=spec.t0,
            nulls=nulls,
        )
    if isinstance(features, Snapshot):
        names = [f.name for f in features.schema]
        require_columns(names, [*spec.by, spec.ts, spec.created, spec.known_at], "features")
        bounds = pl.concat([summary.get_column("lo"), summary.get_column("hi")]).drop_nulls()
        start, end = snapshot_days(features, spec.ts, bounds.alias(spec.t0), spec.max_age)
        features = features.to_dask(start, end)
    ft0 = _empty(features._meta, "features")
    check_frames(ev0, ft0, spec)  # every rule of the local join, on the metadata
    plan = _Plan(spec, tuple(key_kind(ev0.schema[k]) for k in spec.by))

    buckets = npartitions or max(events.npartitions, features.npartitions)
    ev_tagged = events.map_partitions(
        _tag, plan, False, meta=_tagged_meta(ev0), enforce_metadata=False
    )
    ft_tagged = features.map_partitions(
        _tag, plan, True, meta=_tagged_meta(ft0), enforce_metadata=False
    )
    method = _shuffle_method(ev_tagged._meta, ft_tagged._meta)  # the same for both sides
    ev_buckets = ev_tagged.shuffle(on=_HASH, npartitions=buckets, shuffle_method=method)
    ft_buckets = ft_tagged.shuffle(on=_HASH, npartitions=buckets, shuffle_method=method)
    joined_meta = _pandas(pit_join(_with_place(ev0), ft0, **plan.join_args()).to_arrow())
    joined = dd.map_partitions(
        _join_bucket,
        ev_buckets,
        ft_buckets,
        plan,
        meta=joined_meta,
        align_dataframes=False,
        enforce_metadata=False,
    )
    out_meta = joined_meta.drop(columns=[_PART, _ROW])
    if order == "buckets":
        return joined.map_partitions(_drop_place, meta=out_meta, enforce_metadata=False)
    last = events.npartitions - 1
    placed = joined.set_index(
        _PART, divisions=(*range(events.npartitions), last), shuffle_method=method
    )
    return placed.map_partitions(_in_event_order, meta=out_meta, enforce_metadata=False)


# --------------------------------------------------------------------------- metadata


def _dask_dataframe() -> Any:
    """``dask.dataframe``, imported when a join is asked for (never by ``import t0lake``),
    as one ``Any``: Dask's API is untyped."""
    import importlib

    return importlib.import_module("dask.dataframe")


def _empty(meta: pd.DataFrame, side: str) -> pl.DataFrame:
    """An empty polars frame of a Dask frame's columns and types, for the local join's
    checks. A column of Python objects has no Arrow type until computed: refused."""
    import pandas as pd

    for name, dtype in meta.dtypes.items():
        if pd.api.types.is_object_dtype(dtype):
            raise ConfigError(
                f"{side} column {name!r} holds Python objects (dtype object); give it a "
                "typed dtype, e.g. astype('string[pyarrow]') or a pandas ArrowDtype",
                side=side,
                column=str(name),
                dtype=str(dtype),
            )
        if str(name).startswith(_PREFIX):
            raise ConfigError(
                f"{side} column {name!r}: names starting with {_PREFIX!r} are the "
                "distributed join's own; rename it",
                side=side,
                column=str(name),
            )
    return _polars(meta)


def _t0_summary(events: Any, t0: str, ev0: pl.DataFrame) -> pl.DataFrame:
    """Per events partition, its NULL count and first and last ``t0``, in one pass: what
    refuses a NULL before anything is joined and what a Snapshot's days are pruned by.
    (Computed by polars in each partition: Dask's own min/max cannot type a Date column.)"""
    import importlib

    dask: Any = importlib.import_module("dask")
    empty = _pandas(_summary(ev0.select(t0), t0).to_arrow())
    parts = events[[t0]].map_partitions(_summary_part, t0, meta=empty, enforce_metadata=False)
    (computed,) = dask.compute(parts)
    return _polars(computed)


def _summary(frame: pl.DataFrame, t0: str) -> pl.DataFrame:
    column = pl.col(t0)
    return frame.select(
        column.null_count().cast(pl.Int64).alias("nulls"),
        column.min().alias("lo"),
        column.max().alias("hi"),
    )


def _summary_part(frame: pd.DataFrame, t0: str) -> pd.DataFrame:
    return _pandas(_summary(_polars(frame), t0).to_arrow())


def _shuffle_method(*metas: pd.DataFrame) -> str | None:
    """Dask's default (distributed's P2P shuffle, which spills to disk) unless a column's
    type cannot make its way through it: P2P rebuilds pandas dtypes from their names, and
    pandas cannot parse the names of Arrow lists, structs, decimals or dictionaries
    (``TypeError: data type 'large_list<item: large_string>[pyarrow]' not understood``).
    Then both sides take the task-based shuffle, which moves pandas frames as they are
    (more memory: nothing spills)."""
    import pandas as pd

    for meta in metas:
        for dtype in meta.dtypes:
            try:
                pd.api.types.pandas_dtype(str(dtype))
            except (TypeError, ValueError, NotImplementedError):
                return "tasks"
    return None


def _with_place(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.lit(0, pl.Int64).alias(_PART), pl.lit(0, pl.Int64).alias(_ROW))


def _tagged_meta(frame: pl.DataFrame) -> pd.DataFrame:
    import numpy as np

    meta = _pandas(_with_place(frame).to_arrow())
    meta[_HASH] = np.empty(0, dtype=np.uint64)
    return meta


# --------------------------------------------------------------------------- tasks


def _pandas(table: pa.Table) -> pd.DataFrame:
    import pandas as pd

    frame: pd.DataFrame = table.to_pandas(types_mapper=pd.ArrowDtype)
    return frame


def _polars(frame: pd.DataFrame) -> pl.DataFrame:
    return cast(pl.DataFrame, pl.from_arrow(pa.Table.from_pandas(frame, preserve_index=False)))


def _tag(
    frame: pd.DataFrame,
    plan: _Plan,
    features: bool,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """One input partition with its bucket hash and its place (partition, row). Keys are
    normalised first (integers as Int64, strings, Categoricals and Enums as text), so equal
    keys hash alike on both sides whatever their widths. Feature rows that can never be
    eligible are dropped here, before they cost a shuffle."""
    spec = plan.spec
    df = _polars(frame)
    number = 0 if partition_info is None else int(partition_info["number"])
    df = df.with_columns(
        pl.lit(number, pl.Int64).alias(_PART), pl.int_range(df.height, dtype=pl.Int64).alias(_ROW)
    )
    if features:
        needed = [*spec.by, spec.ts, *([spec.known_at] if spec.known_at else [])]
        df = df.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in needed))
    keys = [
        pl.col(k).cast(pl.Int64)
        if kind == "integer"
        else pl.col(k).cast(pl.String)
        if kind == "string"
        else pl.col(k)
        for k, kind in zip(spec.by, plan.kinds, strict=True)
    ]
    hashes = df.select(keys).hash_rows(seed=_SEED).to_numpy()
    out = _pandas(df.to_arrow())
    out[_HASH] = hashes
    return out


def _join_bucket(
    events: pd.DataFrame,
    features: pd.DataFrame,
    plan: _Plan,
) -> pd.DataFrame:
    """The local join of one bucket: features back in input order (for the last ties),
    the helper columns off the features, the events' place kept for the way back."""
    ev = _polars(events).drop(_HASH)
    ft = _polars(features).sort(_PART, _ROW).drop(_HASH, _PART, _ROW)
    return _pandas(pit_join(ev, ft, **plan.join_args()).to_arrow())


def _drop_place(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[_PART, _ROW]).reset_index(drop=True)


def _in_event_order(frame: pd.DataFrame) -> pd.DataFrame:
    """One events partition's rows (the index is their partition), back in event order."""
    rows = frame.reset_index().sort_values([_PART, _ROW], kind="stable")
    return rows.drop(columns=[_PART, _ROW]).reset_index(drop=True)
