"""Reading FeatureVectors back from Postgres (seed 003, section 6), proven on the way out.

Every row read is checked before anyone sees it: ``features_hash`` is recomputed from the
blob, ``window_key`` from the window, and the blob must be the canonical encoding under the
registered (and re-hashed) schema. A row that fails raises IntegrityError: a reader gets
proven features or none.

Orders are total, so every read is deterministic: vectors of one market and schema version
are ordered by ``(window_end_ms, window_start_ms, epoch_id, tick_index)`` (two vectors equal
on all of these would have the same window_key). "Latest" is the last in that order.

Downsampling (``query_features(..., every="5m")``) puts a window in the bucket
``[k * every, (k + 1) * every)`` (milliseconds since the Unix epoch, UTC) that holds its
``window_end_ms - 1``: a window belongs to the bucket it ends in, a window ending exactly on a
boundary to the bucket before. Per bucket, with ``agg``:

- ``"last"`` (default) / ``"first"``: every feature is the value of the bucket's last / first
  window in the order above (NULL stays NULL: unknown is never filled from another window);
- ``"min"`` / ``"max"``: per feature, over the bucket's non-NULL values (NULL if none).

and always ``n_windows``, ``window_start_ms`` (min), ``window_end_ms`` (max),
``created_at_ms`` (max: when the bucket's last input became known) and ``quality_flags``
(bitwise OR). Sums and means are left out on purpose: float sums depend on the order of
addition, so they are not reproducible; aggregate the un-downsampled frame for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Literal

import polars as pl
import pyarrow as pa

from t0lake import pg
from t0lake._util.durations import parse_positive_duration
from t0lake.errors import ConfigError, IntegrityError
from t0lake.vectors.codec import decode_columns, decode_features, features_hash, window_key
from t0lake.vectors.record import FeatureVector, check_market_id
from t0lake.vectors.schema import FeatureSchema

__all__ = [
    "AGGREGATIONS",
    "Aggregation",
    "check_query",
    "features_by_epoch",
    "features_for_window",
    "frame_of",
    "latest_features",
    "parse_every",
    "proven_vector",
    "query_frame",
    "range_rows",
]

Aggregation = Literal["last", "first", "min", "max"]
AGGREGATIONS: tuple[str, ...] = ("last", "first", "min", "max")

SchemaOf = Callable[[int], FeatureSchema]

_ORDER = "window_end_ms, window_start_ms, epoch_id, tick_index"
_ROW = (
    "SELECT market_id, epoch_id, tick_index, window_start_ms, window_end_ms,"
    " feature_schema_version, features_blob, features_hash, window_key, created_at_ms,"
    " quality_flags, coverage_json, producer_instance, trace_id FROM fv.feature_vectors"
)
_LATEST = (
    _ROW + " WHERE market_id = %s AND feature_schema_version = %s"
    " ORDER BY window_end_ms DESC, window_start_ms DESC, epoch_id DESC, tick_index DESC"
    " LIMIT 1"
)
_WINDOW = (
    _ROW + " WHERE market_id = %s AND feature_schema_version = %s AND window_end_ms = %s"
    " AND window_start_ms = %s ORDER BY epoch_id, tick_index"
)
_EPOCH = (
    _ROW + " WHERE market_id = %s AND epoch_id = %s AND tick_index = %s"
    " AND feature_schema_version = ANY(%s)"
    " ORDER BY feature_schema_version, window_end_ms, window_start_ms"
)
_RANGE = (
    "SELECT epoch_id, tick_index, window_start_ms, window_end_ms, created_at_ms,"
    " quality_flags, features_hash, window_key, features_blob FROM fv.feature_vectors"
    " WHERE market_id = %(market_id)s AND feature_schema_version = %(version)s"
    " AND window_end_ms >= %(start)s AND window_end_ms < %(end)s"
    " AND (%(known)s::bigint IS NULL OR created_at_ms < %(known)s)"
    " ORDER BY window_end_ms, window_start_ms, epoch_id, tick_index"
)

_MS = timedelta(milliseconds=1)


def proven_vector(row: tuple[Any, ...], schema_of: SchemaOf) -> FeatureVector:
    """A row in the layout of the point reads (Postgres, or the lake's
    :data:`t0lake.vectors.tiers.ROW_COLUMNS`) as a FeatureVector, proven."""
    return _proven(row, schema_of)


def _proven(row: tuple[Any, ...], schema_of: SchemaOf) -> FeatureVector:
    (market, epoch, tick, start, end, version, blob, digest, key, created, flags, coverage,
     producer, trace) = row  # fmt: skip
    blob, digest, key = bytes(blob), bytes(digest), bytes(key)
    context = {"window_key": key.hex(), "market_id": market}
    if features_hash(blob) != digest:
        raise IntegrityError("stored features_hash does not match its features_blob", **context)
    if window_key(market, epoch, tick, start, end, version) != key:
        raise IntegrityError("stored window_key is not the key of its window", **context)
    schema = schema_of(version)
    return FeatureVector(
        market_id=market,
        epoch_id=epoch,
        tick_index=tick,
        window_start_ms=start,
        window_end_ms=end,
        feature_schema_version=version,
        features_blob=blob,
        features_hash=digest,
        window_key=key,
        created_at_ms=created,
        quality_flags=flags,
        coverage_json=coverage,
        producer_instance=producer,
        trace_id=trace,
        features=MappingProxyType(decode_features(schema, blob)),
    )


def latest_features(
    conn: pg.Connection, market_id: str, version: int, schema_of: SchemaOf
) -> FeatureVector | None:
    """The market's latest vector of ``version`` (module docstring), or None."""
    row = conn.execute(_LATEST, (market_id, version), binary=True).fetchone()
    return None if row is None else _proven(row, schema_of)


def features_for_window(
    conn: pg.Connection,
    market_id: str,
    window_start_ms: int,
    window_end_ms: int,
    version: int,
    schema_of: SchemaOf,
) -> list[FeatureVector]:
    """Vectors of exactly this window and version (one, unless epochs/ticks differ)."""
    rows = conn.execute(
        _WINDOW, (market_id, version, window_end_ms, window_start_ms), binary=True
    ).fetchall()
    return [_proven(r, schema_of) for r in rows]


def features_by_epoch(
    conn: pg.Connection,
    market_id: str,
    epoch_id: int,
    tick_index: int,
    versions: Sequence[int],
    schema_of: SchemaOf,
) -> list[FeatureVector]:
    """Vectors published at ``(epoch_id, tick_index)`` of the given schema versions."""
    rows = conn.execute(
        _EPOCH, (market_id, epoch_id, tick_index, list(versions)), binary=True
    ).fetchall()
    return [_proven(r, schema_of) for r in rows]


def parse_every(every: str | int) -> int:
    """A bucket width in whole milliseconds from a duration (``"30s"``, ``"5m"``,
    ``"1h30m"``, ``"1d"``: :func:`t0lake._util.durations.parse_duration`) or an int of
    milliseconds, the unit of every other time in the store."""
    width = parse_positive_duration(every, "every", bare=_MS)
    ms, rest = divmod(width, _MS)
    if rest:
        raise ConfigError(
            f"every={every!r} is not a whole number of milliseconds", parameter="every"
        )
    return int(ms)


def _check_range(start_ms: int, end_ms: int) -> None:
    for name, value in (("start_ms", start_ms), ("end_ms", end_ms)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be an int of milliseconds", parameter=name)
    if end_ms <= start_ms:
        raise ConfigError(
            f"empty range: end_ms {end_ms} <= start_ms {start_ms}", parameter="end_ms"
        )


def query_frame(
    conn: pg.Connection,
    market_id: str,
    start_ms: int,
    end_ms: int,
    schema: FeatureSchema,
    *,
    columns: Sequence[str] | None = None,
    every: str | int | None = None,
    agg: str = "last",
    known_before_ms: int | None = None,
) -> pl.DataFrame:
    """The vectors of one market and schema version with ``start_ms <= window_end_ms <
    end_ms`` as a Polars frame: metadata columns, then the decoded features (all, or those
    named in ``columns``, in that order), one row per vector in the read order; downsampled
    per ``every`` and ``agg`` (module docstring) when ``every`` is given.

    ``known_before_ms`` keeps only vectors created strictly before it: the frame as it could
    have been read at that moment (no vector written later leaks into a backtest).
    """
    names, every_ms = check_query(market_id, start_ms, end_ms, schema, columns, every, agg)
    rows = range_rows(conn, market_id, start_ms, end_ms, schema.version, known_before_ms)
    return frame_of(market_id, schema, rows, names, every_ms, agg)


def check_query(
    market_id: str,
    start_ms: int,
    end_ms: int,
    schema: FeatureSchema,
    columns: Sequence[str] | None,
    every: str | int | None,
    agg: str,
) -> tuple[list[str], int | None]:
    """ConfigError for a bad range query before anything is read; the feature names to
    return and the bucket width in ms (None: not downsampled)."""
    check_market_id(market_id)
    _check_range(start_ms, end_ms)
    names = list(schema.names if columns is None else columns)
    for name in names:
        schema.feature(name)  # ConfigError naming an unknown feature
    if len(set(names)) != len(names):
        raise ConfigError("columns names a feature twice", parameter="columns")
    if agg not in AGGREGATIONS:
        raise ConfigError(f"agg={agg!r} is not one of {', '.join(AGGREGATIONS)}", parameter="agg")
    return names, None if every is None else parse_every(every)


def range_rows(
    conn: pg.Connection,
    market_id: str,
    start_ms: int,
    end_ms: int,
    version: int,
    known_before_ms: int | None,
) -> list[tuple[Any, ...]]:
    """The range's rows in Postgres as ``(epoch_id, tick_index, window_start_ms,
    window_end_ms, created_at_ms, quality_flags, features_hash, window_key, features_blob)``,
    in the read order."""
    return conn.execute(
        _RANGE,
        {
            "market_id": market_id,
            "version": version,
            "start": start_ms,
            "end": end_ms,
            "known": known_before_ms,
        },
        binary=True,
    ).fetchall()


def frame_of(
    market_id: str,
    schema: FeatureSchema,
    rows: Sequence[tuple[Any, ...]],
    names: list[str],
    every_ms: int | None,
    agg: str,
) -> pl.DataFrame:
    """Range rows (the layout of :func:`range_rows`, in the read order) proven, decoded and
    shaped as :func:`query_frame` returns them."""
    (epoch, tick, start, end, created, flags, digests, keys, blobs) = (
        [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(9)]
    )
    blobs = [bytes(b) for b in blobs]
    for i, blob in enumerate(blobs):
        if features_hash(blob) != bytes(digests[i]):
            raise IntegrityError(
                "stored features_hash does not match its features_blob",
                market_id=market_id,
                window_key=bytes(keys[i]).hex(),
            )
        if window_key(market_id, epoch[i], tick[i], start[i], end[i], schema.version) != bytes(
            keys[i]
        ):
            raise IntegrityError(
                "stored window_key is not the key of its window",
                market_id=market_id,
                window_key=bytes(keys[i]).hex(),
            )
    n = len(blobs)
    table = pa.table(
        {
            "market_id": pa.array([market_id] * n, pa.string()),
            "feature_schema_version": pa.array([schema.version] * n, pa.int16()),
            "epoch_id": pa.array(epoch, pa.int64()),
            "tick_index": pa.array(tick, pa.int32()),
            "window_start_ms": pa.array(start, pa.int64()),
            "window_end_ms": pa.array(end, pa.int64()),
            "created_at_ms": pa.array(created, pa.int64()),
            "quality_flags": pa.array(flags, pa.int64()),
            "features_hash": pa.array([bytes(d) for d in digests], pa.binary()),
            "window_key": pa.array([bytes(k) for k in keys], pa.binary()),
            **decode_columns(schema, blobs, names),
        }
    )
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if every_ms is None:
        return frame
    return _downsample(frame, names, every_ms, agg)


def _downsample(frame: pl.DataFrame, names: list[str], every_ms: int, agg: str) -> pl.DataFrame:
    bucket = ((pl.col("window_end_ms") - 1) // every_ms) * every_ms
    # last/first keep a NULL of the chosen window; min/max skip NULLs
    pick = [getattr(pl.col(n), agg)() for n in names]
    out = (
        frame.with_columns(bucket.alias("bucket_start_ms"))
        .group_by("bucket_start_ms", maintain_order=True)
        .agg(
            pl.col("market_id").first(),
            pl.col("feature_schema_version").first(),
            pl.len().cast(pl.Int64).alias("n_windows"),
            pl.col("window_start_ms").min(),
            pl.col("window_end_ms").max(),
            pl.col("created_at_ms").max(),
            pl.col("quality_flags").bitwise_or(),
            *pick,
        )
        .with_columns((pl.col("bucket_start_ms") + every_ms).alias("bucket_end_ms"))
        .sort("bucket_start_ms")
    )
    head = [
        "market_id",
        "feature_schema_version",
        "bucket_start_ms",
        "bucket_end_ms",
        "n_windows",
        "window_start_ms",
        "window_end_ms",
        "created_at_ms",
        "quality_flags",
    ]
    return out.select(*head, *names)
