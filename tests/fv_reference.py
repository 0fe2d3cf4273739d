"""A deliberately plain re-statement of docs/feature_vectors.md's encoding, for property tests.

Written from the spec, not from t0lake/vectors/codec.py: no struct, no numpy, no shared helpers;
integers with int.to_bytes, floats through their IEEE bits, decimals through Fraction. It is
slow and obvious on purpose, so that the real codec can be checked against it.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

from t0lake.vectors.schema import FeatureSchema

WIDTH = {"bool": 1, "i32": 4, "i64": 8, "f64": 8}


def ref_schema_hash(schema: FeatureSchema) -> bytes:
    features = []
    for f in schema.features:
        nullable = "true" if f.nullable else "false"
        features.append(
            '{"name":"'
            + f.name
            + '","nullable":'
            + nullable
            + ',"scale":'
            + str(f.scale)
            + ',"type":"'
            + f.type
            + '"}'
        )
    text = (
        '{"domain":'
        + json.dumps(schema.domain)
        + ',"feature_schema_version":'
        + str(schema.version)
        + ',"features":['
        + ",".join(features)
        + "]}"
    )
    return hashlib.sha256(text.encode("ascii")).digest()


def _float_bits(x: float) -> bytes:
    if x == 0:
        return bytes(8)  # +0.0, also for -0.0
    # IEEE 754 binary64 by hand: sign, exponent, fraction (normal and subnormal numbers)
    sign = 1 if x < 0 else 0
    fr = Fraction(abs(x))
    exponent = 0
    while fr >= 2:
        fr /= 2
        exponent += 1
    while fr < 1 and exponent > -1022:
        fr *= 2
        exponent -= 1
    if fr < 1:  # subnormal
        mantissa = fr * 2**52
        biased = 0
    else:
        mantissa = (fr - 1) * 2**52
        biased = exponent + 1023
    assert mantissa.denominator == 1
    bits = (sign << 63) | (biased << 52) | int(mantissa)
    return bits.to_bytes(8, "big")


def _scaled(value: Any, scale: int) -> int:
    if isinstance(value, float):
        value = Decimal(repr(value))
    q = Fraction(value) * 10**scale
    assert q.denominator == 1, "inexact at scale"
    return int(q)


def ref_encode(schema: FeatureSchema, features: dict[str, Any]) -> bytes:
    out = b"T0FV" + bytes([1])
    out += schema.version.to_bytes(2, "big")
    out += ref_schema_hash(schema)
    out += len(schema.features).to_bytes(2, "big")
    bitmap = [0] * ((len(schema.features) + 7) // 8)
    slots = b""
    for i, f in enumerate(schema.features):
        value = features[f.name]
        if value is None:
            bitmap[i // 8] += 2 ** (i % 8)
            slots += bytes(WIDTH[f.type])
        elif f.type == "bool":
            slots += bytes([1 if value else 0])
        elif f.type == "f64":
            slots += _float_bits(float(value))
        else:
            slots += _scaled(value, f.scale).to_bytes(WIDTH[f.type], "big", signed=True)
    return out + bytes(bitmap) + slots


def ref_window_key(
    market_id: str, epoch_id: int, tick_index: int, start_ms: int, end_ms: int, version: int
) -> bytes:
    market = market_id.encode("utf-8")
    data = (
        b"t0lake/fv/window_key/v1\x00"
        + len(market).to_bytes(4, "big")
        + market
        + epoch_id.to_bytes(8, "big")
        + tick_index.to_bytes(4, "big")
        + start_ms.to_bytes(8, "big")
        + end_ms.to_bytes(8, "big")
        + version.to_bytes(2, "big")
    )
    return hashlib.sha256(data).digest()


def ref_downsample(
    rows: list[dict[str, Any]], names: list[str], every_ms: int, agg: str
) -> list[dict[str, Any]]:
    """query_features(every=...) by brute force over rows already in read order."""
    buckets: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        k = (r["window_end_ms"] - 1) // every_ms * every_ms
        buckets.setdefault(k, []).append(r)
    out = []
    for k in sorted(buckets):
        group = buckets[k]
        flags = 0
        for r in group:
            flags |= r["quality_flags"]
        row = {
            "bucket_start_ms": k,
            "bucket_end_ms": k + every_ms,
            "n_windows": len(group),
            "window_start_ms": min(r["window_start_ms"] for r in group),
            "window_end_ms": max(r["window_end_ms"] for r in group),
            "created_at_ms": max(r["created_at_ms"] for r in group),
            "quality_flags": flags,
        }
        for n in names:
            values = [r[n] for r in group]
            if agg == "last":
                row[n] = values[-1]
            elif agg == "first":
                row[n] = values[0]
            else:
                known = [v for v in values if v is not None]
                row[n] = (min if agg == "min" else max)(known) if known else None
        out.append(row)
    return out
