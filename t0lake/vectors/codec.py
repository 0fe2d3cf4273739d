"""The canonical bytes of the FeatureVector store: ``features_blob``, ``features_hash`` and
``window_key`` (seed 003, sections 4.1, 4.2 and 10).

These bytes are commitments: ``features_hash`` goes into oracle bundles and is re-checked by
verifiers on other machines, so every input has exactly one encoding and every accepted blob
exactly one meaning. Encoding is strict (no silent rounding, no NaN, no -0.0), decoding is
strict too (a blob that is not the canonical encoding of some feature map is refused), so
``encode(decode(blob)) == blob`` and ``decode(encode(m)) == m`` both hold.

``features_blob``, encoding version 1 (all integers big-endian)::

    offset  size  field
    0       4     magic b"T0FV"
    4       1     encoding version (1)
    5       2     feature_schema_version (u16)
    7       32    schema_hash of the schema version (binds the bytes to the scales)
    39      2     number of features n (u16)
    41      ⌈n/8⌉ null bitmap: bit i (LSB first in byte i // 8) set = feature i is NULL;
                  padding bits and bits of non-nullable features are 0
    ...           one fixed-width slot per feature, in schema order:
                    bool  1 byte, 0 or 1
                    i32   4 bytes, two's complement of value * 10**scale
                    i64   8 bytes, two's complement of value * 10**scale
                    f64   8 bytes, IEEE 754 binary64; finite; zero is +0.0
                  a NULL feature's slot is all zero bytes

``window_key`` (32 bytes)::

    sha256(b"t0lake/fv/window_key/v1\\x00"
           || u32 byte length of market_id (UTF-8) || market_id (UTF-8)
           || u64 epoch_id || u32 tick_index || u64 window_start_ms || u64 window_end_ms
           || u16 feature_schema_version)

the same function as ``fv.window_key(...)`` in ``sql/core/51_feature_vector_api.sql``.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import cache
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa

from t0lake.errors import ConfigError, IntegrityError, InvalidVectorError
from t0lake.vectors.schema import FeatureDef, FeatureSchema

__all__ = [
    "ENCODING_VERSION",
    "MAGIC",
    "FeatureValue",
    "blob_length",
    "decode_columns",
    "decode_features",
    "encode_features",
    "features_hash",
    "verify_features_hash",
    "window_key",
]

MAGIC = b"T0FV"
ENCODING_VERSION = 1
_WINDOW_KEY_TAG = b"t0lake/fv/window_key/v1\x00"
_HEADER = struct.Struct(">4sBH32sH")  # magic, encoding version, schema version, hash, n

FeatureValue: TypeAlias = bool | int | Decimal | float | None

_INT_RANGE = {"i32": (-(2**31), 2**31 - 1), "i64": (-(2**63), 2**63 - 1)}
_STRUCT = {"bool": struct.Struct(">B"), "i32": struct.Struct(">i"), "i64": struct.Struct(">q")}
_F64 = struct.Struct(">d")
_POW10: list[int] = [10**i for i in range(19)]
_NUMPY_TYPE = {"bool": ">u1", "i32": ">i4", "i64": ">i8", "f64": ">f8"}


def _bitmap_len(n: int) -> int:
    return (n + 7) // 8


@cache
def _layout(schema: FeatureSchema) -> tuple[bytes, tuple[int, ...], int]:
    """(header bytes, slot offsets, blob length) of a schema; computed once per schema."""
    header = _HEADER.pack(
        MAGIC, ENCODING_VERSION, schema.version, schema.schema_hash, len(schema.features)
    )
    offset = len(header) + _bitmap_len(len(schema.features))
    offsets = []
    for f in schema.features:
        offsets.append(offset)
        offset += f.width
    return header, tuple(offsets), offset


def blob_length(schema: FeatureSchema) -> int:
    """Every blob of a schema version has this many bytes."""
    return _layout(schema)[2]


# --------------------------------------------------------------------------- encoding


def _scaled(f: FeatureDef, value: object) -> int:
    """``value * 10**scale`` as an exact integer, or InvalidVectorError."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        raise InvalidVectorError(
            f"feature {f.name!r} ({f.type}, scale {f.scale}) takes an int, Decimal or float, "
            f"not {type(value).__name__}",
            feature=f.name,
        )
    if isinstance(value, int):
        scaled = value * _POW10[f.scale]
    else:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidVectorError(
                    f"feature {f.name!r}: {value} is not finite (use None for unknown)",
                    feature=f.name,
                )
            # the float's shortest round-trip decimal: the number the producer printed
            value = Decimal(repr(value))
        if not value.is_finite():
            raise InvalidVectorError(
                f"feature {f.name!r}: {value} is not finite (use None for unknown)",
                feature=f.name,
            )
        if value.adjusted() > 40:
            raise InvalidVectorError(f"feature {f.name!r}: out of range", feature=f.name)
        num, den = value.as_integer_ratio()
        num *= _POW10[f.scale]
        if num % den:
            raise InvalidVectorError(
                f"feature {f.name!r}: {value} has more than {f.scale} decimal places "
                "(round it to the schema's scale; t0lake never rounds)",
                feature=f.name,
            )
        scaled = num // den
    low, high = _INT_RANGE[f.type]
    if not low <= scaled <= high:
        raise InvalidVectorError(
            f"feature {f.name!r}: {value} is out of range for {f.type} at scale {f.scale}",
            feature=f.name,
        )
    return scaled


def _slot(f: FeatureDef, value: object) -> bytes:
    if f.type == "bool":
        if not isinstance(value, bool | np.bool_):
            raise InvalidVectorError(
                f"feature {f.name!r} (bool) takes True or False, not {type(value).__name__}",
                feature=f.name,
            )
        return b"\x01" if value else b"\x00"
    if f.type == "f64":
        if isinstance(value, bool) or not isinstance(value, float | int):
            raise InvalidVectorError(
                f"feature {f.name!r} (f64) takes a float, not {type(value).__name__}",
                feature=f.name,
            )
        x = float(value)
        if isinstance(value, int) and x != value:
            raise InvalidVectorError(
                f"feature {f.name!r}: the int {value} has no exact float", feature=f.name
            )
        if not math.isfinite(x):
            raise InvalidVectorError(
                f"feature {f.name!r}: {value} is not finite (use None for unknown)",
                feature=f.name,
            )
        return _F64.pack(x + 0.0)  # -0.0 + 0.0 == +0.0: one encoding of zero
    return _STRUCT[f.type].pack(_scaled(f, value))


def encode_features(schema: FeatureSchema, features: Mapping[str, object]) -> bytes:
    """The canonical ``features_blob`` of a feature map under ``schema``.

    Every feature of the schema must be present (``None`` for unknown, only where the
    feature is nullable); a name the schema does not have is refused.
    """
    if not isinstance(features, Mapping):
        raise InvalidVectorError("features must be a mapping of feature name to value")
    extra = set(features) - set(schema.names)
    if extra:
        name = sorted(map(str, extra))[0]
        raise InvalidVectorError(
            f"feature {name!r} is not in schema version {schema.version}", feature=name
        )
    header, _, _ = _layout(schema)
    bitmap = bytearray(_bitmap_len(len(schema.features)))
    slots = []
    for i, f in enumerate(schema.features):
        if f.name not in features:
            raise InvalidVectorError(
                f"feature {f.name!r} is missing (pass None for unknown)", feature=f.name
            )
        value = features[f.name]
        if value is None:
            if not f.nullable:
                raise InvalidVectorError(
                    f"feature {f.name!r} is not nullable but is None", feature=f.name
                )
            bitmap[i // 8] |= 1 << (i % 8)
            slots.append(bytes(f.width))
        else:
            slots.append(_slot(f, value))
    return b"".join([header, bytes(bitmap), *slots])


def features_hash(blob: bytes) -> bytes:
    """sha256 of the blob: the commitment an oracle bundle carries (seed section 10.1)."""
    return hashlib.sha256(blob).digest()


def verify_features_hash(blob: bytes, commitment: bytes | str) -> bytes:
    """Recompute ``features_hash`` from ``blob`` and compare it to ``commitment`` (32 bytes
    or 64 hex digits); raises IntegrityError on a mismatch, returns the digest otherwise.

    The verifier of seed section 10.2: it needs the blob, never the feature values.
    """
    if isinstance(commitment, str):
        try:
            expected = bytes.fromhex(commitment)
        except ValueError:
            raise ConfigError("the commitment is not a hex string") from None
    else:
        expected = bytes(commitment)
    if len(expected) != 32:
        raise ConfigError(f"a commitment is 32 bytes (64 hex digits), not {len(expected)}")
    digest = features_hash(bytes(blob))
    if digest != expected:
        raise IntegrityError(
            "features_hash of the blob does not match the commitment",
            expected=expected.hex(),
            actual=digest.hex(),
        )
    return digest


def window_key(
    market_id: str,
    epoch_id: int,
    tick_index: int,
    window_start_ms: int,
    window_end_ms: int,
    feature_schema_version: int,
) -> bytes:
    """The deterministic 32-byte key of a window (module docstring); ranges are checked by
    ``struct`` (u64/u32/u16), the store's stricter ones by the writer."""
    market = market_id.encode("utf-8")
    try:
        body = struct.pack(
            ">QIQQH", epoch_id, tick_index, window_start_ms, window_end_ms, feature_schema_version
        )
    except struct.error as exc:
        raise ConfigError(f"window identity out of range: {exc}") from None
    return hashlib.sha256(_WINDOW_KEY_TAG + struct.pack(">I", len(market)) + market + body).digest()


# --------------------------------------------------------------------------- decoding


def _corrupt(schema: FeatureSchema, reason: str, **context: object) -> IntegrityError:
    return IntegrityError(
        f"features_blob is not a canonical version-{ENCODING_VERSION} encoding for schema "
        f"version {schema.version}: {reason}",
        version=schema.version,
        **context,
    )


def _value(f: FeatureDef, raw: bytes) -> FeatureValue:
    if f.type == "f64":
        x: float = _F64.unpack(raw)[0]
        if not math.isfinite(x) or (x == 0.0 and raw[0] & 0x80):
            raise ValueError("a non-finite float or -0.0")
        return x
    n: int = _STRUCT[f.type].unpack(raw)[0]
    if f.type == "bool":
        if n > 1:
            raise ValueError("a bool byte other than 0 or 1")
        return n == 1
    return Decimal(n).scaleb(-f.scale) if f.scale else n


def decode_features(schema: FeatureSchema, blob: bytes) -> dict[str, FeatureValue]:
    """The feature map of a canonical blob; IntegrityError for anything else (wrong schema
    version or hash, wrong length, stray bits, non-zero NULL slot, non-canonical value).

    Integer features with a scale come back as ``Decimal`` with exactly ``scale`` places,
    scale-0 integers as ``int``, ``f64`` as ``float``, NULL as ``None``.
    """
    blob = bytes(blob)
    header, offsets, length = _layout(schema)
    if len(blob) != length:
        raise _corrupt(schema, f"{len(blob)} bytes, expected {length}")
    if blob[: len(header)] != header:
        magic, version, schema_version, digest, _n = _HEADER.unpack_from(blob)
        if magic != MAGIC or version != ENCODING_VERSION:
            raise _corrupt(schema, "unknown magic or encoding version")
        if schema_version != schema.version or digest != schema.schema_hash:
            raise _corrupt(
                schema, f"it was encoded for schema version {schema_version} ({digest.hex()})"
            )
        raise _corrupt(schema, "wrong number of features")
    bitmap = blob[len(header) : offsets[0]]
    out: dict[str, FeatureValue] = {}
    for i, (f, offset) in enumerate(zip(schema.features, offsets, strict=True)):
        raw = blob[offset : offset + f.width]
        if bitmap[i // 8] >> (i % 8) & 1:
            if not f.nullable:
                raise _corrupt(schema, f"non-nullable feature {f.name!r} is NULL", feature=f.name)
            if any(raw):
                raise _corrupt(schema, f"NULL feature {f.name!r} has a non-zero slot")
            out[f.name] = None
            continue
        try:
            out[f.name] = _value(f, raw)
        except ValueError as exc:
            raise _corrupt(schema, f"feature {f.name!r}: {exc}", feature=f.name) from None
    n = len(schema.features)
    if n % 8 and bitmap[-1] >> (n % 8):
        raise _corrupt(schema, "padding bits of the null bitmap are set")
    return out


def _arrow_column(f: FeatureDef, raw: np.ndarray, null: np.ndarray) -> pa.Array:
    """One feature of n blobs as Arrow: raw is (n, width) uint8, null a bool mask."""
    values = np.ascontiguousarray(raw).view(_NUMPY_TYPE[f.type]).reshape(-1)
    if f.type == "bool":
        return pa.array(values.astype(bool), pa.bool_(), mask=null)
    if f.type == "f64":
        return pa.array(values.astype(np.float64), pa.float64(), mask=null)
    ints = values.astype(np.int64)
    if f.scale == 0:
        return pa.array(ints, pa.int64(), mask=null)
    # decimal128 from the scaled integers themselves: 16-byte little-endian two's complement
    wide = np.empty((len(ints), 2), dtype="<i8")
    wide[:, 0] = ints
    wide[:, 1] = ints >> 63
    validity = pa.array(~null, pa.bool_()).buffers()[1] if null.any() else None
    return pa.Array.from_buffers(
        pa.decimal128(38, f.scale), len(ints), [validity, pa.py_buffer(wide.tobytes())]
    )


def decode_columns(
    schema: FeatureSchema, blobs: Sequence[bytes], names: Sequence[str] | None = None
) -> dict[str, pa.Array]:
    """Decode many blobs of one schema version at once, column by column (numpy over the
    fixed-width layout, no Python object per value), with the checks of
    :func:`decode_features`; an IntegrityError names the first bad ``row``.

    Types: bool, int64 (scale 0), decimal128(38, scale), float64; NULL stays null.
    """
    header, offsets, length = _layout(schema)
    wanted = [schema.feature(n) for n in names] if names is not None else list(schema.features)
    n_rows = len(blobs)
    bad = next((i for i, b in enumerate(blobs) if len(b) != length), None)
    if bad is not None:
        raise _corrupt(schema, f"{len(blobs[bad])} bytes, expected {length}", row=bad)
    buf = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(n_rows, length)

    def fail(mask: Any, reason: str, **context: object) -> None:
        if mask.any():
            row = int(np.argmax(mask))
            raise _corrupt(schema, reason, row=row, **context)

    fail(
        ~(buf[:, : len(header)] == np.frombuffer(header, dtype=np.uint8)).all(axis=1),
        "wrong header (schema version, schema hash or encoding)",
    )
    bitmap = buf[:, len(header) : offsets[0]]
    nulls = np.unpackbits(bitmap, axis=1, bitorder="little", count=None)
    n = len(schema.features)
    fail(nulls[:, n:].any(axis=1), "padding bits of the null bitmap are set")
    out: dict[str, pa.Array] = {}
    index = {f.name: i for i, f in enumerate(schema.features)}
    for f in schema.features:
        i = index[f.name]
        null = nulls[:, i].astype(bool)
        if not f.nullable:
            fail(null, f"non-nullable feature {f.name!r} is NULL", feature=f.name)
        raw = buf[:, offsets[i] : offsets[i] + f.width]
        fail(null & raw.any(axis=1), f"NULL feature {f.name!r} has a non-zero slot")
        if f.type == "bool":
            fail(raw[:, 0] > 1, f"feature {f.name!r}: a bool byte other than 0 or 1")
        elif f.type == "f64":
            x = np.ascontiguousarray(raw).view(">f8").reshape(-1)
            fail(
                ~np.isfinite(x) | ((x == 0) & np.signbit(x)),
                f"feature {f.name!r}: a non-finite float or -0.0",
                feature=f.name,
            )
        if f in wanted:
            out[f.name] = _arrow_column(f, raw, null)
    return {f.name: out[f.name] for f in wanted}
