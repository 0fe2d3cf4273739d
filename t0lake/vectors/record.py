"""The FeatureVector record (seed 003, section 4.1) and the checks a record must pass before
it may be written (section 5.4) that need no database.

Records are built with :meth:`FeatureVector.build`, which derives ``features_blob``,
``features_hash`` and ``window_key`` from the window and the feature map, so a producer
cannot get them wrong; :func:`check_vector` re-checks any record, however it was made,
because a record with a wrong key or hash would break idempotency and every commitment.

A record's ``repr`` never shows the blob or the feature values: records end up in logs and
tracebacks, and the seed (section 11) forbids features in logs.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from t0lake._util.canonical_json import canonical_json
from t0lake.errors import InvalidVectorError, T0LakeError
from t0lake.vectors.codec import (
    FeatureValue,
    decode_features,
    encode_features,
    features_hash,
    window_key,
)
from t0lake.vectors.schema import MAX_SCHEMA_VERSION, FeatureSchema

__all__ = [
    "MAX_MARKET_ID_LENGTH",
    "FeatureVector",
    "canonical_coverage",
    "check_features",
    "check_market_id",
    "check_vector",
]

MAX_MARKET_ID_LENGTH = 256
_I64 = 2**63 - 1
_I32 = 2**31 - 1
_U32 = 2**32 - 1
_MAX_TEXT = 256


@dataclass(frozen=True)
class FeatureVector:
    """One stored FeatureVector: the window, its canonical features and their commitments.

    ``features`` is the decoded feature map (read-only); it is derived from
    ``features_blob`` and so takes no part in equality.
    """

    market_id: str
    epoch_id: int
    tick_index: int
    window_start_ms: int
    window_end_ms: int
    feature_schema_version: int
    features_blob: bytes = field(repr=False)
    features_hash: bytes
    window_key: bytes
    created_at_ms: int
    quality_flags: int = 0
    coverage_json: Mapping[str, Any] = field(default_factory=dict)
    producer_instance: str | None = None
    trace_id: str | None = None
    features: Mapping[str, FeatureValue] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        schema: FeatureSchema,
        *,
        market_id: str,
        epoch_id: int,
        tick_index: int,
        window_start_ms: int,
        window_end_ms: int,
        features: Mapping[str, object],
        created_at_ms: int | None = None,
        quality_flags: int = 0,
        coverage_json: Mapping[str, Any] | None = None,
        producer_instance: str | None = None,
        trace_id: str | None = None,
    ) -> FeatureVector:
        """A checked record with its blob, hash and key derived (seed section 5.1).

        ``created_at_ms`` defaults to now: the moment the record became known.
        """
        blob = encode_features(schema, features)
        vector = cls(
            market_id=market_id,
            epoch_id=epoch_id,
            tick_index=tick_index,
            window_start_ms=window_start_ms,
            window_end_ms=window_end_ms,
            feature_schema_version=schema.version,
            features_blob=blob,
            features_hash=features_hash(blob),
            window_key=_key_or_raise(
                market_id, epoch_id, tick_index, window_start_ms, window_end_ms, schema.version
            ),
            created_at_ms=time.time_ns() // 1_000_000 if created_at_ms is None else created_at_ms,
            quality_flags=quality_flags,
            coverage_json=dict(coverage_json or {}),
            producer_instance=producer_instance,
            trace_id=trace_id,
            features=MappingProxyType(decode_features(schema, blob)),
        )
        check_vector(vector, schema)
        return vector

    def log_fields(self) -> dict[str, Any]:
        """The seed's log fields (section 12) for this record: never the blob or features."""
        return {
            "market_id": self.market_id,
            "epoch_id": self.epoch_id,
            "window_end_ms": self.window_end_ms,
            "schema_version": self.feature_schema_version,
            "features_hash": self.features_hash.hex(),
            "trace_id": self.trace_id,
        }


def _key_or_raise(
    market_id: str, epoch_id: int, tick_index: int, start_ms: int, end_ms: int, version: int
) -> bytes:
    _check_identity(market_id, epoch_id, tick_index, start_ms, end_ms, version)
    return window_key(market_id, epoch_id, tick_index, start_ms, end_ms, version)


def _invalid(message: str, **context: Any) -> InvalidVectorError:
    return InvalidVectorError(message, **context)


def check_market_id(market_id: object) -> str:
    """Canonical market ids: 1 to 256 characters in Unicode NFC, none of them whitespace,
    a control or a format character (categories Z* and C*), so a market id has one spelling
    and prints on one line. Returns it, or raises InvalidVectorError."""
    if not isinstance(market_id, str) or not market_id:
        raise _invalid("market_id must be a non-empty string", field="market_id")
    if len(market_id) > MAX_MARKET_ID_LENGTH:
        raise _invalid(
            f"market_id is longer than {MAX_MARKET_ID_LENGTH} characters", field="market_id"
        )
    if unicodedata.normalize("NFC", market_id) != market_id:
        raise _invalid("market_id is not in Unicode NFC", field="market_id")
    bad = next((c for c in market_id if unicodedata.category(c)[0] in "ZC"), None)
    if bad is not None:
        raise _invalid(
            f"market_id contains the character U+{ord(bad):04X} (whitespace, control or "
            "format characters are not allowed)",
            field="market_id",
        )
    return market_id


def _int_in(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{name} must be an int, not {type(value).__name__}", field=name)
    if not low <= value <= high:
        raise _invalid(f"{name} {value} is outside {low}..{high}", field=name)
    return value


def _check_identity(
    market_id: object,
    epoch_id: object,
    tick_index: object,
    start_ms: object,
    end_ms: object,
    version: object,
) -> None:
    check_market_id(market_id)
    _int_in("epoch_id", epoch_id, 0, _I64)
    _int_in("tick_index", tick_index, 0, _I32)
    start = _int_in("window_start_ms", start_ms, 0, _I64)
    end = _int_in("window_end_ms", end_ms, 0, _I64)
    if end <= start:
        raise _invalid(
            f"window bounds inconsistent: window_end_ms {end} <= window_start_ms {start}",
            field="window_end_ms",
        )
    _int_in("feature_schema_version", version, 0, MAX_SCHEMA_VERSION)


def canonical_coverage(coverage: object) -> str:
    """``coverage_json`` as the JSON text written to Postgres (a JSON object; no NaN)."""
    if not isinstance(coverage, Mapping):
        raise _invalid("coverage_json must be a mapping (a JSON object)", field="coverage_json")
    try:
        return canonical_json(coverage)
    except (TypeError, ValueError) as exc:
        raise _invalid(f"coverage_json is not JSON: {exc}", field="coverage_json") from None


def _check_text(name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise _invalid(f"{name} must be a string of at most {_MAX_TEXT} characters", field=name)
    if any(unicodedata.category(c)[0] == "C" for c in value):
        # it goes into log lines as it is: no control characters, no forged lines
        raise _invalid(f"{name} contains a control character", field=name)


def check_vector(vector: FeatureVector, schema: FeatureSchema | None = None) -> None:
    """Every check of seed section 5.4 on one record; raises InvalidVectorError (context:
    ``field``, ``window_key``). With ``schema``, the blob must also be the canonical encoding
    of a feature map of that schema version."""
    if not isinstance(vector, FeatureVector):
        raise _invalid(f"not a FeatureVector: {type(vector).__name__}")
    v = vector
    _check_identity(
        v.market_id, v.epoch_id, v.tick_index, v.window_start_ms, v.window_end_ms,
        v.feature_schema_version,
    )  # fmt: skip
    created = _int_in("created_at_ms", v.created_at_ms, 0, _I64)
    if created < v.window_end_ms:
        raise _invalid(
            f"created_at_ms {created} is before window_end_ms {v.window_end_ms}: a vector is "
            "known only after its window closed",
            field="created_at_ms",
        )
    _int_in("quality_flags", v.quality_flags, 0, _U32)
    canonical_coverage(v.coverage_json)
    _check_text("producer_instance", v.producer_instance)
    _check_text("trace_id", v.trace_id)
    if not isinstance(v.features_blob, bytes):
        raise _invalid("features_blob must be bytes", field="features_blob")
    if not isinstance(v.features_hash, bytes) or v.features_hash != features_hash(v.features_blob):
        raise _invalid("features_hash does not match sha256(features_blob)", field="features_hash")
    expected_key = window_key(
        v.market_id, v.epoch_id, v.tick_index, v.window_start_ms, v.window_end_ms,
        v.feature_schema_version,
    )  # fmt: skip
    if v.window_key != expected_key:
        raise _invalid(
            "window_key is not the key of the window (docs/feature_vectors.md)",
            field="window_key",
            expected=expected_key.hex(),
        )
    if schema is not None:
        check_features(v, schema)


def check_features(vector: FeatureVector, schema: FeatureSchema) -> None:
    """The record's blob is the canonical encoding of a feature map of ``schema``."""
    if schema.version != vector.feature_schema_version:
        raise _invalid(
            f"checked against schema version {schema.version}, the record has "
            f"{vector.feature_schema_version}",
            field="feature_schema_version",
        )
    try:
        decode_features(schema, vector.features_blob)
    except T0LakeError as exc:
        raise _invalid(exc.message, field="features_blob") from None
