"""Downsampled FeatureVectors: aggregates under a schema version of their own (seed 003
sections 7.3 and 8.2).

A downsampled version (e.g. 101 = version 1 at 5 minutes) has the same features, types and
scales as its source version, a domain of its own (``{domain}:every_{ms}ms``) and so its own
``schema_hash``, blobs and window keys (``window_key(..., 101)``): a model that declares
version 1 is refused version 101's vectors by the strict decoder and never receives
5-minute aggregates as 30-second features. Each feature names its aggregate:

    last, first   the value of the bucket's last / first window in read order (a NULL stays)
    min, max      over the bucket's non-NULL values (NULL if none)

A source window goes to the bucket ``[k * every, (k + 1) * every)`` holding its
``window_end_ms``, so buckets never cross the UTC day of ``window_end_ms`` (the lake's
partition day) and each derived day comes from one source day. The derived vector of a
bucket has: ``window_start_ms`` the earliest start, ``window_end_ms`` the latest end,
``epoch_id``/``tick_index`` of the last window, ``created_at_ms`` the latest creation (when
its last input was known), ``quality_flags`` the OR of the inputs, ``coverage_json``
``{"every_ms", "n_windows", "source_version"}`` and ``producer_instance``
``t0lake-downsample``.

The step is a lake downsampling step of kind ``"feature_vectors"`` (the policy's, applied by
``t0lake compact``); this module registers its :class:`~t0lake.lake.maintenance.downsample.
Deriver`, and :func:`downsample_step` builds the step from the two schemas.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from t0lake import hashing
from t0lake._util.durations import parse_duration
from t0lake.errors import ConfigError, IntegrityError
from t0lake.lake.layout import Tier
from t0lake.lake.maintenance.downsample import Deriver, Downsample, register_deriver
from t0lake.lake.manifest import Manifest
from t0lake.vectors.codec import decode_features, features_hash, window_key
from t0lake.vectors.record import FeatureVector
from t0lake.vectors.schema import FeatureSchema
from t0lake.vectors.tiers import ROW_COLUMNS

__all__ = [
    "AGGREGATES",
    "KIND",
    "derive_vectors",
    "derived_entrypoint",
    "derived_schema",
    "downsample_step",
]

KIND = "feature_vectors"
AGGREGATES = ("last", "first", "min", "max")
_OPTIONAL = ("window_end_day", "window_end_at", "created_at")
_MS = timedelta(milliseconds=1)
_DAY_MS = 86_400_000


def derived_entrypoint(entrypoint: str, version: int) -> str:
    """Where the lake keeps the vectors of downsampled ``version`` of ``entrypoint``."""
    return f"{entrypoint}__v{version}"


def derived_schema(source: FeatureSchema, version: int, every_ms: int) -> FeatureSchema:
    """Schema ``version``: the source's features under the domain ``{domain}:every_{every_ms}ms``
    (its own schema_hash, so its blobs never decode as the source's)."""
    if version == source.version:
        raise ConfigError(
            f"a downsampled version needs a version of its own, not {version}",
            parameter="version",
            version=version,
        )
    return FeatureSchema(version, f"{source.domain}:every_{every_ms}ms", source.features)


def downsample_step(
    entrypoint: str,
    source: FeatureSchema,
    target: FeatureSchema,
    every: str | timedelta,
    aggregates: Mapping[str, str],
    tier: Tier | str = Tier.COLD,
) -> Downsample:
    """The lake policy step that writes ``target`` vectors from ``source`` vectors of
    ``entrypoint`` (``t0lake.set_policy(..., TierPolicy(downsample=step))``)."""
    width = parse_duration(every, "every")
    if target.features != source.features:
        raise ConfigError(
            "a downsampled version keeps its source's features, types and scales",
            parameter="target",
            version=target.version,
        )
    names = set(source.names)
    if set(aggregates) != names:
        raise ConfigError(
            f"aggregates must name every feature of version {source.version} once: "
            f"missing {sorted(names - set(aggregates))}, unknown {sorted(set(aggregates) - names)}",
            parameter="aggregates",
        )
    for name, agg in aggregates.items():
        if agg not in AGGREGATES:
            raise ConfigError(
                f"aggregate of {name!r} must be one of {', '.join(AGGREGATES)}, got {agg!r}",
                parameter="aggregates",
                feature=name,
            )
    return Downsample(
        every=width,
        functions={name: (aggregates[name],) for name in source.names},
        target=derived_entrypoint(entrypoint, target.version),
        tier=Tier(tier),
        kind=KIND,
        options={
            "source": {
                "version": source.version,
                "domain": source.domain,
                "features": source.features_json(),
            },
            "target": {
                "version": target.version,
                "domain": target.domain,
                "features": target.features_json(),
            },
        },
    )


def _schemas(step: Downsample) -> tuple[FeatureSchema, FeatureSchema]:
    try:
        docs = [step.options[k] for k in ("source", "target")]
        schemas = [FeatureSchema.of(int(d["version"]), str(d["domain"]), d["features"])
                   for d in docs]  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"a feature_vectors downsample step needs its source and target schemas ({exc})",
            parameter="options",
        ) from None
    return schemas[0], schemas[1]


def _check(step: Downsample, head: Manifest) -> None:
    source, target = _schemas(step)
    missing = [c for c in ROW_COLUMNS if c not in head.schema.names]
    extra = [c for c in head.schema.names if c not in ROW_COLUMNS and c not in _OPTIONAL]
    if missing or extra:
        raise ConfigError(
            f"{head.entrypoint} is not a FeatureVector entrypoint: missing {missing}, "
            f"unknown {extra}",
            entrypoint=head.entrypoint,
        )
    if target.features != source.features or target.version == source.version:
        raise ConfigError("the target version must keep the source's features", parameter="target")
    if set(step.functions) != set(source.names) or any(
        len(fs) != 1 or fs[0] not in AGGREGATES for fs in step.functions.values()
    ):
        raise ConfigError(
            f"a feature_vectors step names one of {', '.join(AGGREGATES)} per feature",
            parameter="functions",
        )
    if step.every % _MS:
        raise ConfigError("downsample every must be whole milliseconds", parameter="every")


def _pick(agg: str, values: list[Any]) -> Any:
    if agg == "last":
        return values[-1]
    if agg == "first":
        return values[0]
    present = [v for v in values if v is not None]
    if not present:
        return None
    return min(present) if agg == "min" else max(present)


def derive_vectors(table: pa.Table, head: Manifest, step: Downsample) -> pa.Table:
    """One source day's rows (every column of ``head``'s schema) → the day's downsampled
    vectors, in the same schema and key order (module docstring)."""
    _check(step, head)
    source, target = _schemas(step)
    every_ms = int(step.every // _MS)
    columns = {name: table[name].to_pylist() for name in ROW_COLUMNS}
    rows = [
        dict(zip(ROW_COLUMNS, values, strict=True))
        for values in zip(*(columns[n] for n in ROW_COLUMNS), strict=True)
        if values[ROW_COLUMNS.index("feature_schema_version")] == source.version
    ]
    rows.sort(key=lambda r: (r["market_id"], r["window_end_ms"], r["window_start_ms"],
                             r["epoch_id"], r["tick_index"]))  # fmt: skip
    buckets: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        blob = bytes(r["features_blob"])
        if features_hash(blob) != bytes(r["features_hash"]) or window_key(
            r["market_id"], r["epoch_id"], r["tick_index"], r["window_start_ms"],
            r["window_end_ms"], source.version,
        ) != bytes(r["window_key"]):  # fmt: skip
            raise IntegrityError(  # the lake proved these bytes: a row not made by t0lake
                "a source vector's features_hash or window_key does not match its content",
                entrypoint=head.entrypoint,
                window_key=bytes(r["window_key"]).hex(),
            )
        r["features"] = decode_features(source, blob)
        buckets.setdefault((r["market_id"], r["window_end_ms"] // every_ms), []).append(r)
    vectors = []
    for (market, _), group in buckets.items():
        last = group[-1]
        features = {
            name: _pick(step.functions[name][0], [g["features"][name] for g in group])
            for name in source.names
        }
        flags = 0
        for g in group:
            flags |= int(g["quality_flags"])
        vectors.append(
            FeatureVector.build(
                target,
                market_id=market,
                epoch_id=last["epoch_id"],
                tick_index=last["tick_index"],
                window_start_ms=min(g["window_start_ms"] for g in group),
                window_end_ms=max(g["window_end_ms"] for g in group),
                features=features,
                created_at_ms=max(g["created_at_ms"] for g in group),
                quality_flags=flags,
                coverage_json={
                    "every_ms": every_ms,
                    "n_windows": len(group),
                    "source_version": source.version,
                },
                producer_instance="t0lake-downsample",
            )
        )
    return _as_table(vectors, head)


def _as_table(vectors: list[FeatureVector], head: Manifest) -> pa.Table:
    values: dict[str, list[Any]] = {
        "market_id": [v.market_id for v in vectors],
        "epoch_id": [v.epoch_id for v in vectors],
        "tick_index": [v.tick_index for v in vectors],
        "window_start_ms": [v.window_start_ms for v in vectors],
        "window_end_ms": [v.window_end_ms for v in vectors],
        "feature_schema_version": [v.feature_schema_version for v in vectors],
        "features_blob": [v.features_blob for v in vectors],
        "features_hash": [v.features_hash for v in vectors],
        "window_key": [v.window_key for v in vectors],
        "created_at_ms": [v.created_at_ms for v in vectors],
        "quality_flags": [v.quality_flags for v in vectors],
        # the text jsonb prints for these keys (shorter keys first, ", " and ": ")
        "coverage_json": [
            json.dumps(dict(sorted(v.coverage_json.items(), key=lambda kv: (len(kv[0]), kv[0]))))
            for v in vectors
        ],
        "producer_instance": [v.producer_instance for v in vectors],
        "trace_id": [v.trace_id for v in vectors],
    }
    ends = pa.array(values["window_end_ms"], pa.int64())
    created = pa.array(values["created_at_ms"], pa.int64())
    derived = {
        "window_end_day": pa.array([e // _DAY_MS for e in values["window_end_ms"]], pa.int32()),
        "window_end_at": pc.multiply(ends, 1000),
        "created_at": pc.multiply(created, 1000),
    }
    arrays = []
    for f in head.schema:
        if f.name in values:
            arrays.append(pa.array(values[f.name]).cast(f.type))
        elif f.name == "window_end_day":
            arrays.append(derived[f.name].cast(pa.date32()).cast(f.type))
        else:  # timestamps: microseconds since the epoch
            arrays.append(derived[f.name].cast(pa.timestamp("us", tz=f.type.tz)).cast(f.type))
    result = pa.Table.from_arrays(arrays, schema=head.schema)
    return hashing.sort_by_key(result, list(head.key))


register_deriver(KIND, Deriver(check=_check, derive=derive_vectors))
