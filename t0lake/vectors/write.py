"""Writing FeatureVectors: validated, atomic, idempotent by ``window_key`` (seed 003, 5.2-5.4).

One call writes one batch in one transaction with one multi-row ``INSERT ... SELECT FROM
unnest(...) ON CONFLICT (window_key) DO NOTHING``, then compares every record that was not
inserted with the stored one:

- the same record again (same window, schema version, features_hash, quality_flags and
  coverage) is a no-op, reported as ``existing``;
- anything else under the same key raises :class:`VectorConflictError` and the transaction
  rolls back, so nothing of the batch is written.

``created_at_ms``, ``producer_instance`` and ``trace_id`` say when and by whom a record was
made, not what it is: two producers that computed the same window independently wrote the
same record, and the first one committed stays.

Rows go in ``window_key`` order, so concurrent batches that overlap take the key locks in the
same order and cannot deadlock; a concurrent writer of the same key makes the insert wait for
its commit, then see its row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from t0lake import pg
from t0lake.errors import (
    ConfigError,
    IntegrityError,
    InvalidVectorError,
    SchemaVersionError,
    T0LakeError,
    VectorConflictError,
)
from t0lake.vectors.codec import decode_columns
from t0lake.vectors.record import FeatureVector, canonical_coverage, check_vector
from t0lake.vectors.schema import FeatureSchema

__all__ = ["CONTENT_FIELDS", "WriteResult", "write_vectors"]

# What makes two records under one window_key "the same record".
CONTENT_FIELDS = (
    "market_id",
    "epoch_id",
    "tick_index",
    "window_start_ms",
    "window_end_ms",
    "feature_schema_version",
    "features_hash",
    "quality_flags",
    "coverage_json",
)

_INSERT = """
INSERT INTO fv.feature_vectors (window_key, market_id, epoch_id, tick_index, window_start_ms,
                                window_end_ms, feature_schema_version, features_blob,
                                features_hash, quality_flags, coverage_json, created_at_ms,
                                producer_instance, trace_id)
SELECT * FROM unnest(%b::bytea[], %b::text[], %b::int8[], %b::int4[], %b::int8[], %b::int8[],
                     %b::int2[], %b::bytea[], %b::bytea[], %b::int8[], %b::text[]::jsonb[],
                     %b::int8[], %b::text[], %b::text[])
ON CONFLICT (window_key) DO NOTHING
RETURNING window_key
"""

_DIFFERENCES = """
SELECT i.ord, array_remove(ARRAY[
         CASE WHEN v.market_id <> i.market_id THEN 'market_id' END,
         CASE WHEN v.epoch_id <> i.epoch_id THEN 'epoch_id' END,
         CASE WHEN v.tick_index <> i.tick_index THEN 'tick_index' END,
         CASE WHEN v.window_start_ms <> i.window_start_ms THEN 'window_start_ms' END,
         CASE WHEN v.window_end_ms <> i.window_end_ms THEN 'window_end_ms' END,
         CASE WHEN v.feature_schema_version <> i.feature_schema_version
              THEN 'feature_schema_version' END,
         CASE WHEN v.features_hash <> i.features_hash THEN 'features_hash' END,
         CASE WHEN v.quality_flags <> i.quality_flags THEN 'quality_flags' END,
         CASE WHEN v.coverage_json <> i.coverage_json THEN 'coverage_json' END], NULL)
  FROM unnest(%b::bytea[], %b::text[], %b::int8[], %b::int4[], %b::int8[], %b::int8[],
              %b::int2[], %b::bytea[], %b::int8[], %b::text[]::jsonb[])
       WITH ORDINALITY AS i (window_key, market_id, epoch_id, tick_index, window_start_ms,
                             window_end_ms, feature_schema_version, features_hash,
                             quality_flags, coverage_json, ord)
  JOIN fv.feature_vectors AS v USING (window_key)
 WHERE (v.market_id, v.epoch_id, v.tick_index, v.window_start_ms, v.window_end_ms,
        v.feature_schema_version, v.features_hash, v.quality_flags, v.coverage_json)
       IS DISTINCT FROM
       (i.market_id, i.epoch_id, i.tick_index, i.window_start_ms, i.window_end_ms,
        i.feature_schema_version, i.features_hash, i.quality_flags, i.coverage_json)
 ORDER BY i.ord
"""


@dataclass(frozen=True)
class WriteResult:
    """What a write did, by index into the batch: records inserted, and records that were
    already stored identically (no-ops; a record repeated within the batch counts here)."""

    written: tuple[int, ...]
    existing: tuple[int, ...]


def _content(v: FeatureVector) -> tuple[Any, ...]:
    return tuple(
        canonical_coverage(v.coverage_json) if f == "coverage_json" else getattr(v, f)
        for f in CONTENT_FIELDS
    )


def _with_index(exc: T0LakeError, index: int, vector: object) -> T0LakeError:
    key = getattr(vector, "window_key", None)
    context = dict(exc.context)
    context.update(index=index)
    if isinstance(key, bytes):
        context.setdefault("window_key", key.hex())
    return type(exc)(f"record {index}: {exc.message}", **context)


def _validate(
    vectors: Sequence[FeatureVector], schema_of: Callable[[int], FeatureSchema]
) -> dict[bytes, int]:
    """Check every record; first index of each window_key; raise naming the bad record.

    Blobs are checked per schema version in one columnar pass (``decode_columns``), which
    applies exactly the checks of ``decode_features`` at a fraction of the cost."""
    first: dict[bytes, int] = {}
    by_version: dict[int, list[int]] = {}
    for i, v in enumerate(vectors):
        try:
            if not isinstance(v, FeatureVector):
                raise InvalidVectorError(f"not a FeatureVector: {type(v).__name__}")
            check_vector(v)
            schema_of(v.feature_schema_version)
        except (InvalidVectorError, SchemaVersionError) as exc:
            raise _with_index(exc, i, v) from None
        by_version.setdefault(v.feature_schema_version, []).append(i)
        j = first.setdefault(v.window_key, i)
        if j != i:
            fields = [
                name
                for name, a, b in zip(
                    CONTENT_FIELDS, _content(v), _content(vectors[j]), strict=True
                )
                if a != b
            ]
            if fields:
                raise VectorConflictError(
                    f"record {i}: window_key {v.window_key.hex()} appears again in the batch "
                    f"(record {j}) with other content ({', '.join(fields)})",
                    index=i,
                    other_index=j,
                    window_key=v.window_key.hex(),
                    fields=fields,
                )
    for version, indexes in by_version.items():
        try:
            decode_columns(schema_of(version), [vectors[i].features_blob for i in indexes], [])
        except IntegrityError as exc:
            i = indexes[int(exc.context["row"])]
            bad = InvalidVectorError(exc.message, field="features_blob")
            raise _with_index(bad, i, vectors[i]) from None
    return first


def _columns(vectors: Sequence[FeatureVector], *, full: bool) -> list[list[Any]]:
    cols: list[list[Any]] = [
        [v.window_key for v in vectors],
        [v.market_id for v in vectors],
        [v.epoch_id for v in vectors],
        [v.tick_index for v in vectors],
        [v.window_start_ms for v in vectors],
        [v.window_end_ms for v in vectors],
        [v.feature_schema_version for v in vectors],
    ]
    if full:
        cols.append([v.features_blob for v in vectors])
    cols += [
        [v.features_hash for v in vectors],
        [v.quality_flags for v in vectors],
        [canonical_coverage(v.coverage_json) for v in vectors],
    ]
    if full:
        cols += [
            [v.created_at_ms for v in vectors],
            [v.producer_instance for v in vectors],
            [v.trace_id for v in vectors],
        ]
    return cols


def write_vectors(
    conn: pg.Connection,
    vectors: Sequence[FeatureVector],
    schema_of: Callable[[int], FeatureSchema],
) -> WriteResult:
    """Write a batch atomically: every record or none (module docstring).

    ``schema_of(version)`` returns the registered schema or raises SchemaVersionError.
    Raises InvalidVectorError / SchemaVersionError / VectorConflictError with the ``index``
    of the offending record; nothing is written then.
    """
    vectors = list(vectors)
    first = _validate(vectors, schema_of)
    unique = sorted(first.items())  # (window_key, index) in key order
    batch = [vectors[i] for _, i in unique]
    if not batch:
        return WriteResult((), ())
    try:
        # a retained day refuses new vectors (T0L04 from sql/core/52_…): a ConfigError
        with pg.sql_errors(), conn.transaction():
            inserted = {
                bytes(row[0])
                for row in conn.execute(_INSERT, _columns(batch, full=True)).fetchall()
            }
            rest = [v for v in batch if v.window_key not in inserted]
            if rest:
                conflicts = conn.execute(_DIFFERENCES, _columns(rest, full=False)).fetchall()
                if conflicts:
                    ordinal, fields = conflicts[0]
                    v = rest[ordinal - 1]
                    index = first[v.window_key]
                    raise VectorConflictError(
                        f"record {index}: another FeatureVector is stored under window_key "
                        f"{v.window_key.hex()} ({', '.join(fields)} differ); records are "
                        "immutable, nothing of the batch was written",
                        index=index,
                        window_key=v.window_key.hex(),
                        market_id=v.market_id,
                        fields=list(fields),
                        conflicts=len(conflicts),
                    )
    except pg.IntegrityViolation as exc:
        # The checks above are the table's; reaching this means a concurrent change such as
        # a schema version deleted meanwhile.
        raise ConfigError(
            f"PostgreSQL refused the batch: {exc.diag.message_primary}",
            constraint=exc.diag.constraint_name,
        ) from exc
    written = sorted(first[k] for k in inserted)
    existing = sorted(set(range(len(vectors))) - set(written))
    return WriteResult(tuple(written), tuple(existing))
