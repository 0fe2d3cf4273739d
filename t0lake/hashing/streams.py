"""The byte streams of a column and the per-column hasher that digests them.

Every column hashes as a few streams both languages build without per-row code: validity
bytes, then either big-endian fixed-width values, or int4 byte lengths and concatenated
bytes (variable-length types), or int4 element counts and the element column (arrays).
Dates and timestamps count from Postgres' epoch (2000-01-01) so that SQL can use
``date_send`` and ``timestamp_send`` unchanged.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from t0lake.errors import ConfigError
from t0lake.hashing.text import canonical_jsonb, decimal_streams, is_small_decimal, numeric_text
from t0lake.hashing.types import FIXED_WIDTH, VARIABLE_WIDTH

__all__ = [
    "CANONICAL_NAN",
    "ColumnHasher",
    "as_numpy",
    "fixed_width_bytes",
    "validity_bytes",
    "varlen_native",
    "varlen_streams",
    "without_views",
]

# Postgres' own epoch (2000-01-01) so that SQL can use date_send/timestamp_send unchanged.
_PG_EPOCH_DAYS = 10_957
_PG_EPOCH_US = 946_684_800_000_000
_US_PER_UNIT = {"s": 1_000_000, "ms": 1_000, "us": 1}
# the one bit pattern every NaN is hashed as (Postgres float4send/float8send of NaN)
CANONICAL_NAN: dict[str, tuple[np.dtype[Any], int]] = {
    "float4": (np.dtype(">u4"), 0x7FC00000),
    "float8": (np.dtype(">u8"), 0x7FF8000000000000),
}


class ColumnHasher:
    """Feeds one column, chunk by chunk, into its sha256 streams.

    Streaming chunk by chunk makes the digest independent of how the column is chunked.
    """

    def __init__(self, name: str, tag: str) -> None:
        self.name = name
        self.tag = tag
        self.validity = hashlib.sha256()
        self.lengths = hashlib.sha256()  # lengths (varlen) or element counts (arrays)
        self.values = hashlib.sha256()
        self.child = ColumnHasher(name, tag[:-2]) if tag.endswith("[]") else None

    def update(self, chunk: pa.Array) -> None:
        if pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_decode()
        chunk = without_views(chunk)
        self.validity.update(validity_bytes(chunk).data)
        present = pc.drop_null(chunk) if chunk.null_count else chunk
        if self.child is not None:
            if pa.types.is_list_view(present.type):
                present = present.cast(pa.large_list(present.type.value_type))
            counts = as_numpy(pc.list_value_length(present), np.int64).astype(">i4")
            self.lengths.update(counts.data)
            self.child.update(pc.list_flatten(present))
        elif self.tag in VARIABLE_WIDTH:
            lengths, data = varlen_streams(present, self.tag, self.name)
            self.lengths.update(lengths.data)
            self.values.update(data)
        else:
            self.values.update(fixed_width_bytes(present, self.tag, self.name).data)

    def digest(self) -> bytes:
        parts = [self.validity.digest()]
        if self.child is not None:
            parts += [self.lengths.digest(), self.child.digest()]
        elif self.tag in VARIABLE_WIDTH:
            parts += [self.lengths.digest(), self.values.digest()]
        else:
            parts.append(self.values.digest())
        return hashlib.sha256(b"".join(parts)).digest()


def validity_bytes(chunk: pa.Array) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """One byte per row: 1 when the row holds a value, 0 when it is NULL."""
    if chunk.null_count == 0:
        return np.ones(len(chunk), dtype=np.uint8)
    bitmap = chunk.buffers()[0]
    if bitmap is None:  # no bitmap to unpack (a layout without one): Arrow says per row
        return as_numpy(chunk.is_valid(), np.bool_).view(np.uint8)
    # one unpack of the bitmap: a fifteenth of the cost of is_valid() then to_numpy()
    bits = np.frombuffer(bitmap, dtype=np.uint8)
    unpacked = np.unpackbits(bits, count=chunk.offset + len(chunk), bitorder="little")
    return unpacked[chunk.offset :]


def as_numpy(array: pa.Array, dtype: type[np.generic]) -> np.ndarray[Any, np.dtype[Any]]:
    """``array`` as a numpy array of ``dtype`` (copied only when Arrow cannot share it)."""
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=dtype)


def fixed_width_bytes(values: pa.Array, tag: str, name: str) -> np.ndarray[Any, np.dtype[Any]]:
    """Big-endian fixed-width values of the non-null rows."""
    out_dtype = FIXED_WIDTH[tag]
    if tag == "bool":
        return as_numpy(values, np.bool_).view(np.uint8)
    if tag == "date":
        if pa.types.is_date64(values.type):
            ms = as_numpy(values.view(pa.int64()), np.int64)
            if np.any(ms % 86_400_000):
                raise ConfigError(f"column {name!r}: date64 values must be whole days", column=name)
            days = ms // 86_400_000
            return (days - _PG_EPOCH_DAYS).astype(out_dtype)
        days32 = as_numpy(values.view(pa.int32()), np.int32)
        # straight into the big-endian result: every temporary array of a month of rows
        # costs more than the arithmetic (int32 wraps like the int64 -> int32 cast did)
        shifted: np.ndarray[Any, np.dtype[Any]] = np.empty(len(days32), out_dtype)
        np.subtract(days32, np.int32(_PG_EPOCH_DAYS), out=shifted)
        return shifted
    if tag in ("timestamp", "timestamptz"):
        raw = as_numpy(values.view(pa.int64()), np.int64)
        unit = values.type.unit
        if unit == "ns":
            if np.any(raw % 1_000):
                raise ConfigError(
                    f"column {name!r} has sub-microsecond timestamps, which Postgres cannot hold",
                    column=name,
                )
            micros = raw // 1_000
        else:
            micros = raw if unit == "us" else raw * _US_PER_UNIT[unit]
        since_2000: np.ndarray[Any, np.dtype[Any]] = np.empty(len(micros), out_dtype)
        np.subtract(micros, _PG_EPOCH_US, out=since_2000)
        return since_2000
    native = values.to_numpy(zero_copy_only=False)
    out: np.ndarray[Any, np.dtype[Any]] = native.astype(out_dtype)
    if tag in CANONICAL_NAN:
        nan = np.isnan(native)
        if nan.any():
            bits_dtype, bits = CANONICAL_NAN[tag]
            out.view(bits_dtype)[nan] = bits
    return out


def varlen_streams(
    values: pa.Array, tag: str, name: str
) -> tuple[np.ndarray[Any, np.dtype[Any]], memoryview]:
    """(big-endian int4 byte lengths, concatenated bytes) of the non-null rows."""
    lengths, data = varlen_native(values, tag, name)
    return lengths.astype(">i4"), data


def varlen_native(
    values: pa.Array, tag: str, name: str
) -> tuple[np.ndarray[Any, np.dtype[Any]], memoryview]:
    """(byte lengths as native integers, concatenated bytes) of the non-null rows: the
    streams of :func:`varlen_streams` before the lengths are made big-endian, for callers
    that also sum them (arithmetic on big-endian integers costs a conversion per pass)."""
    if tag == "numeric" and is_small_decimal(values.type):
        return decimal_streams(values)
    if tag == "numeric":
        values = numeric_text(values)
    elif tag == "jsonb":
        values = pa.array([canonical_jsonb(v) for v in values.to_pylist()], type=pa.large_string())
    if pa.types.is_string_view(values.type):
        values = values.cast(pa.large_string())
    elif pa.types.is_binary_view(values.type):
        values = values.cast(pa.large_binary())
    offset_type = (
        np.int64
        if pa.types.is_large_string(values.type) or pa.types.is_large_binary(values.type)
        else np.int32
    )
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offset_type)[
        values.offset : values.offset + len(values) + 1
    ]
    if len(values) == 0:
        return np.empty(0, dtype=np.int32), memoryview(b"")
    lengths = np.diff(offsets)
    if lengths.size and lengths.max() > np.iinfo(np.int32).max:
        raise ConfigError(f"column {name!r} holds a value over 2 GiB", column=name)
    data = (
        memoryview(buffers[2])[int(offsets[0]) : int(offsets[-1])]
        if buffers[2]
        else memoryview(b"")
    )
    return lengths, data


def without_views(array: pa.Array) -> pa.Array:
    """String and binary views (Polars' own layout, e.g. ``to_arrow(compat_level=
    CompatLevel.newest())``), alone or as list elements, as offsets and bytes: Arrow cannot
    drop the NULLs of views, and the zero-copy paths read offsets."""
    dtype = array.type
    large = {pa.string_view(): pa.large_string(), pa.binary_view(): pa.large_binary()}
    if dtype in large:
        return array.cast(large[dtype])
    listed = (
        pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_list_view(dtype)
    )
    if listed and dtype.value_type in large:
        return array.cast(pa.large_list(large[dtype.value_type]))
    return array
