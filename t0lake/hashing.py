"""Canonical content hashes of tabular data, the same value in Python and in PostgreSQL.

A lake partition is provably the certified Postgres day when both sides hash the same rows
to the same string. ``docs/hashing.md`` is the byte-by-byte specification; ``sql/`` holds
the SQL twin (``audit.t0_dataset_hash``). Keep the two in lock step: a change here without
the same change there breaks every proof in the lake.

Why this shape:

* Rows are ordered by the key in byte order, so the hash does not depend on input order,
  chunking or the Parquet writer. Keys must be unique, or the order (and so the hash)
  would be arbitrary.
* Each column is hashed on its own, over streams both languages build without per-row code
  (a numpy byteswap of an Arrow buffer here; ``string_agg`` of ``*send`` values in SQL).
  Per-column digests let a reader verify exactly the columns it returns.
* Columns are hashed in parallel threads: hashlib and numpy release the GIL.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from t0lake.errors import ConfigError, UnsupportedTypeError
from t0lake.jit import compiled

__all__ = [
    "FORMAT",
    "ColumnHash",
    "canonical_order",
    "canonical_type",
    "column_hash",
    "column_hashes",
    "combine",
    "dataset_hash",
    "range_digests",
    "sort_by_key",
    "to_arrow",
]

FORMAT = "t0lake-dataset-hash-v1"

# Postgres' own epoch (2000-01-01) so that SQL can use date_send/timestamp_send unchanged.
_PG_EPOCH_DAYS = 10_957
_PG_EPOCH_US = 946_684_800_000_000
_US_PER_UNIT = {"s": 1_000_000, "ms": 1_000, "us": 1}
_CANONICAL_NAN: dict[str, tuple[np.dtype[Any], int]] = {
    "float4": (np.dtype(">u4"), 0x7FC00000),
    "float8": (np.dtype(">u8"), 0x7FF8000000000000),
}

_FIXED_WIDTH: dict[str, np.dtype[Any]] = {
    "bool": np.dtype("u1"),
    "int2": np.dtype(">i2"),
    "int4": np.dtype(">i4"),
    "int8": np.dtype(">i8"),
    "float4": np.dtype(">f4"),
    "float8": np.dtype(">f8"),
    "date": np.dtype(">i4"),
    "timestamp": np.dtype(">i8"),
    "timestamptz": np.dtype(">i8"),
}
_VARIABLE_WIDTH = frozenset({"text", "bytea", "numeric", "jsonb"})
_KEY_TYPES = frozenset(_FIXED_WIDTH) | {"text", "bytea", "numeric"}
# Field metadata that names the Postgres type of a text column: jsonb, or numeric kept as
# its exact text because it has no fixed precision/scale (see docs/lake-format.md).
TYPE_METADATA_KEY = b"t0lake.type"
_TEXT_TYPES_BY_METADATA = {b"jsonb": "jsonb", b"numeric": "numeric"}


@dataclass(frozen=True)
class ColumnHash:
    """The canonical digest of one column of rows in key order."""

    name: str
    type: str
    digest: str


def to_arrow(data: Any) -> pa.Table:
    """Accept the frames t0lake promises to hash and return an Arrow table."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    import polars as pl

    if isinstance(data, pl.LazyFrame):
        data = data.collect()
    if isinstance(data, pl.DataFrame):
        return data.to_arrow()
    raise ConfigError(
        f"cannot hash a {type(data).__name__}: pass a pyarrow Table or a polars DataFrame/LazyFrame"
    )


def canonical_type(field: pa.Field) -> str:
    """The Postgres-side type tag of an Arrow field, or UnsupportedTypeError.

    The tag is part of the dataset hash, so it must name the same type SQL sees:
    ``int4`` for Arrow int32 and Postgres integer alike.
    """
    return _tag(field.type, field.metadata or {}, field.name)


def _tag(dtype: pa.DataType, metadata: Mapping[bytes, bytes], name: str) -> str:
    marked = _TEXT_TYPES_BY_METADATA.get(metadata.get(TYPE_METADATA_KEY, b""))
    if marked is not None:
        if not _is_string(dtype):
            raise UnsupportedTypeError(
                f"column {name!r} is marked {marked} but holds {dtype}",
                column=name,
                type=str(dtype),
            )
        return marked
    if isinstance(dtype, pa.BaseExtensionType):
        if dtype.extension_name == "arrow.json":
            return "jsonb"
        raise UnsupportedTypeError(
            f"column {name!r} has extension type {dtype.extension_name!r} with no canonical hash",
            column=name,
            type=str(dtype),
        )
    if pa.types.is_dictionary(dtype):
        return _tag(dtype.value_type, {}, name)
    simple = {
        pa.bool_(): "bool",
        pa.int16(): "int2",
        pa.int32(): "int4",
        pa.int64(): "int8",
        pa.float32(): "float4",
        pa.float64(): "float8",
        pa.date32(): "date",
        pa.date64(): "date",
        pa.string(): "text",
        pa.large_string(): "text",
        pa.string_view(): "text",
        pa.binary(): "bytea",
        pa.large_binary(): "bytea",
        pa.binary_view(): "bytea",
    }
    if dtype in simple:
        return simple[dtype]
    if pa.types.is_decimal(dtype):
        return "numeric"
    if pa.types.is_timestamp(dtype):
        return "timestamptz" if dtype.tz is not None else "timestamp"
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_list_view(dtype):
        element = _tag(dtype.value_type, {}, name)
        if element.endswith("[]") or element == "jsonb":
            raise UnsupportedTypeError(
                f"column {name!r}: arrays of {element} have no canonical hash (only 1-D arrays "
                "of scalar types)",
                column=name,
                type=str(dtype),
            )
        return element + "[]"
    raise UnsupportedTypeError(
        f"column {name!r} has type {dtype}, which has no canonical hash encoding; "
        "cast it to a supported type (see docs/hashing.md)",
        column=name,
        type=str(dtype),
    )


# --------------------------------------------------------------------------- streams


class _ColumnHasher:
    """Feeds one column, chunk by chunk, into its sha256 streams.

    Streaming chunk by chunk makes the digest independent of how the column is chunked.
    """

    def __init__(self, name: str, tag: str) -> None:
        self.name = name
        self.tag = tag
        self.validity = hashlib.sha256()
        self.lengths = hashlib.sha256()  # lengths (varlen) or element counts (arrays)
        self.values = hashlib.sha256()
        self.child = _ColumnHasher(name, tag[:-2]) if tag.endswith("[]") else None

    def update(self, chunk: pa.Array) -> None:
        if pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_decode()
        self.validity.update(_validity_bytes(chunk).data)
        present = pc.drop_null(chunk) if chunk.null_count else chunk
        if self.child is not None:
            if pa.types.is_list_view(present.type):
                present = present.cast(pa.large_list(present.type.value_type))
            counts = _as_numpy(pc.list_value_length(present), np.int64).astype(">i4")
            self.lengths.update(counts.data)
            self.child.update(pc.list_flatten(present))
        elif self.tag in _VARIABLE_WIDTH:
            lengths, data = _varlen_streams(present, self.tag, self.name)
            self.lengths.update(lengths.data)
            self.values.update(data)
        else:
            self.values.update(_fixed_width_bytes(present, self.tag, self.name).data)

    def digest(self) -> bytes:
        parts = [self.validity.digest()]
        if self.child is not None:
            parts += [self.lengths.digest(), self.child.digest()]
        elif self.tag in _VARIABLE_WIDTH:
            parts += [self.lengths.digest(), self.values.digest()]
        else:
            parts.append(self.values.digest())
        return hashlib.sha256(b"".join(parts)).digest()


def _validity_bytes(chunk: pa.Array) -> np.ndarray[Any, np.dtype[np.uint8]]:
    if chunk.null_count == 0:
        return np.ones(len(chunk), dtype=np.uint8)
    return _as_numpy(chunk.is_valid(), np.bool_).view(np.uint8)


def _as_numpy(array: pa.Array, dtype: type[np.generic]) -> np.ndarray[Any, np.dtype[Any]]:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=dtype)


def _fixed_width_bytes(values: pa.Array, tag: str, name: str) -> np.ndarray[Any, np.dtype[Any]]:
    """Big-endian fixed-width values of the non-null rows."""
    out_dtype = _FIXED_WIDTH[tag]
    if tag == "bool":
        return _as_numpy(values, np.bool_).view(np.uint8)
    if tag == "date":
        if pa.types.is_date64(values.type):
            ms = _as_numpy(values.view(pa.int64()), np.int64)
            if np.any(ms % 86_400_000):
                raise ConfigError(f"column {name!r}: date64 values must be whole days", column=name)
            days = ms // 86_400_000
            return (days - _PG_EPOCH_DAYS).astype(out_dtype)
        days32 = _as_numpy(values.view(pa.int32()), np.int32)
        # straight into the big-endian result: every temporary array of a month of rows
        # costs more than the arithmetic (int32 wraps like the int64 -> int32 cast did)
        shifted: np.ndarray[Any, np.dtype[Any]] = np.empty(len(days32), out_dtype)
        np.subtract(days32, np.int32(_PG_EPOCH_DAYS), out=shifted)
        return shifted
    if tag in ("timestamp", "timestamptz"):
        raw = _as_numpy(values.view(pa.int64()), np.int64)
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
    if tag in _CANONICAL_NAN:
        nan = np.isnan(native)
        if nan.any():
            bits_dtype, bits = _CANONICAL_NAN[tag]
            out.view(bits_dtype)[nan] = bits
    return out


def _varlen_streams(
    values: pa.Array, tag: str, name: str
) -> tuple[np.ndarray[Any, np.dtype[Any]], memoryview]:
    """(big-endian int4 byte lengths, concatenated bytes) of the non-null rows."""
    if tag == "numeric" and _is_small_decimal(values.type):
        return _decimal_streams(values)
    if tag == "numeric":
        values = _numeric_text(values)
    elif tag == "jsonb":
        values = pa.array([_canonical_jsonb(v) for v in values.to_pylist()], type=pa.large_string())
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
        return np.empty(0, dtype=">i4"), memoryview(b"")
    lengths = np.diff(offsets)
    if lengths.size and lengths.max() > np.iinfo(np.int32).max:
        raise ConfigError(f"column {name!r} holds a value over 2 GiB", column=name)
    data = (
        memoryview(buffers[2])[int(offsets[0]) : int(offsets[-1])]
        if buffers[2]
        else memoryview(b"")
    )
    return lengths.astype(">i4"), data


def _is_string(dtype: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
    )


def _numeric_text(values: pa.Array) -> pa.Array:
    """Decimals as Postgres ``trim_scale(x)::text`` prints them: plain digits, no exponent,
    no trailing fractional zeros. Vectorised on Arrow strings; no per-row Python."""
    if _is_string(values.type):
        # numeric text as Postgres printed it: only trailing fractional zeros to drop
        trimmed = pc.replace_substring_regex(values, r"^(-?\d+\.\d*?)0+$", r"\1")
        return pc.replace_substring_regex(trimmed, r"^(-?\d+)\.$", r"\1")
    scale = values.type.scale
    factory = {32: pa.decimal32, 64: pa.decimal64, 128: pa.decimal128, 256: pa.decimal256}
    unscaled_type = factory[values.type.bit_width](values.type.precision, 0)
    digits = pc.cast(values.view(unscaled_type), pa.string())
    negative = pc.starts_with(digits, "-")
    digits = pc.utf8_ltrim(digits, "-")
    if scale > 0:
        padded = pc.utf8_lpad(digits, width=scale + 1, padding="0")
        whole = pc.utf8_slice_codeunits(padded, 0, -scale)
        frac = pc.utf8_rtrim(pc.utf8_slice_codeunits(padded, -scale), "0")
        text = pc.if_else(pc.equal(frac, ""), whole, pc.binary_join_element_wise(whole, frac, "."))
    elif scale < 0:
        text = pc.if_else(
            pc.equal(digits, "0"), digits, pc.binary_join_element_wise(digits, "0" * -scale, "")
        )
    else:
        text = digits
    return pc.if_else(negative, pc.binary_join_element_wise("-", text, ""), text)


def _is_small_decimal(dtype: pa.DataType) -> bool:
    """Decimals with a fraction whose unscaled values fit an int64: numeric(p <= 18, s > 0).
    (Without a fraction, Arrow's own integer printing is faster.)"""
    return bool(
        pa.types.is_decimal(dtype)
        and dtype.bit_width <= 128
        and dtype.precision <= 18
        and dtype.scale > 0
    )


def _decimal_streams(
    values: pa.Array,
) -> tuple[np.ndarray[Any, np.dtype[Any]], memoryview]:
    """The numeric text streams of a small decimal column: its unscaled int64 values printed
    by :func:`_print_decimals`. Same bytes as :func:`_numeric_text` (the general path, held
    to it by tests), an order of magnitude faster: a month of a decimal column was a third of
    a verified read's proof when printed through numpy passes."""
    dtype = values.type
    scale = dtype.scale
    word = np.int32 if dtype.bit_width == 32 else np.int64
    words_per_value = 2 if dtype.bit_width == 128 else 1  # low word first, little-endian
    raw = np.frombuffer(values.buffers()[1], dtype=word)
    start = values.offset * words_per_value
    unscaled = np.ascontiguousarray(
        raw[start : start + len(values) * words_per_value : words_per_value], dtype=np.int64
    )
    out = np.empty(len(unscaled) * (_MAX_DECIMAL_TEXT + scale), dtype=np.uint8)
    lengths = np.empty(len(unscaled), dtype=np.int32)
    size = _print_decimals(unscaled, scale, out, lengths)
    return lengths.astype(">i4"), out[:size].data


# sign, at most 18 integer digits (precision <= 18), the point; the fraction adds `scale`
_MAX_DECIMAL_TEXT = 20


@compiled(
    lambda t: t.int64(
        t.Array(t.int64, 1, "C"), t.int64, t.Array(t.uint8, 1, "C"), t.Array(t.int32, 1, "C")
    )
)
def _print_decimals(
    unscaled: np.ndarray[Any, Any], scale: int, out: np.ndarray[Any, Any], lengths: Any
) -> int:
    """Print each ``unscaled / 10**scale`` as ``trim_scale(x)::text`` into ``out``, one
    after the other, its byte length into ``lengths``; return the bytes written."""
    digits = np.empty(_MAX_DECIMAL_TEXT + scale, dtype=np.uint8)
    ten = np.uint64(10)  # unsigned: division by a constant compiles to a multiply
    pos = 0
    for i in range(unscaled.shape[0]):
        signed = unscaled[i]
        begin = pos
        if signed < 0:
            out[pos] = 45  # "-"
            pos += 1
            signed = -signed
        value = np.uint64(signed)
        n = 0  # the digits, least significant first
        while True:
            quotient = value // ten
            digits[n] = np.uint8(value - quotient * ten)
            value = quotient
            n += 1
            if value == np.uint64(0):
                break
        while n <= scale:  # "0.001": a whole part of at least one digit
            digits[n] = 0
            n += 1
        for k in range(n - 1, scale - 1, -1):  # the whole part
            out[pos] = np.uint8(48) + digits[k]
            pos += 1
        last = 0  # the fraction without its trailing zeros
        while last < scale and digits[last] == 0:
            last += 1
        if last < scale:
            out[pos] = 46  # "."
            pos += 1
            for k in range(scale - 1, last - 1, -1):
                out[pos] = np.uint8(48) + digits[k]
                pos += 1
        lengths[i] = pos - begin
    return pos


def _canonical_jsonb(text: str) -> str:
    """Postgres' jsonb output of a JSON text: keys ordered by (byte length, bytes), last
    duplicate key wins, numbers as numeric prints them, ``", "`` and ``": "`` separators.

    jsonb columns are rare on the hot path; this per-value function keeps them exact.
    """
    value = json.loads(
        text, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant
    )
    return _jsonb_out(value)


def _reject_constant(name: str) -> Any:
    raise ConfigError(f"JSON constant {name} is not valid jsonb")


def _jsonb_out(value: Any) -> str:
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: (len(kv[0].encode()), kv[0].encode()))
        return "{" + ", ".join(f"{_json_string(k)}: {_jsonb_out(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_jsonb_out(v) for v in value) + "]"
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return _numeric_out(value)


def _json_string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _numeric_out(d: Decimal) -> str:
    """Decimal as Postgres numeric_out prints it (dscale = max(0, -exponent))."""
    sign, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    scale = max(0, -exponent)
    text = format(d.copy_abs(), f".{scale}f")
    is_zero = not any(digits)
    return ("-" if sign and not is_zero else "") + text


# --------------------------------------------------------------------------- API


def sort_by_key(table: pa.Table, key: Sequence[str]) -> pa.Table:
    """Rows in canonical order (key ascending, byte order, NULLs last); keys must be unique."""
    indices = canonical_order(table, key)
    return table if indices is None else table.take(indices)


def canonical_order(table: pa.Table, key: Sequence[str]) -> pa.Array | None:
    """Indices that put ``table`` in canonical order, or None when it already is.

    Data on t0lake's own paths (exports ordered by the key, lake files written sorted) is
    usually in order already; one linear pass proves it and skips the sort and the gather.
    """
    _check_key(table, key)
    keys = table.select(list(key))
    if table.num_rows < 2 or bool(np.all(_adjacent_order(keys, key) > 0)):
        return None
    sort_keys = [(k, "ascending", "at_end") for k in key]
    indices = pc.sort_indices(keys, options=pc.SortOptions(sort_keys))
    duplicates = int(np.count_nonzero(_adjacent_order(keys.take(indices), key) == 0))
    if duplicates:
        raise ConfigError(
            f"key ({', '.join(key)}) is not unique: {duplicates} rows repeat a key, so their "
            "order and the hash would be arbitrary",
            key=list(key),
            duplicates=duplicates,
        )
    return indices


def column_hash(
    name: str, column: pa.Array | pa.ChunkedArray, field: pa.Field | None = None
) -> ColumnHash:
    """Digest of one column whose rows are already in canonical (key) order."""
    tag = canonical_type(field if field is not None else pa.field(name, column.type))
    hasher = _ColumnHasher(name, tag)
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        hasher.update(chunk)
    return ColumnHash(name=name, type=tag, digest=hasher.digest().hex())


def range_digests(
    name: str,
    column: pa.Array | pa.ChunkedArray,
    field: pa.Field,
    ranges: Sequence[tuple[int, int]],
) -> list[str]:
    """The column digest of each ``(offset, length)`` row range of ``column``: what
    :func:`column_hash` gives for each slice, in one pass over the whole column.

    A reader proving a month of days proves hundreds of (day, column) pairs of a few
    thousand rows each; encoding each slice on its own would spend more time in Python call
    overhead than in hashing. Here the canonical streams are built once for the column and
    only the sha256 calls run per range.
    """
    tag = canonical_type(field)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    for offset, length in ranges:
        if offset < 0 or length < 0 or offset + length > len(column):
            raise ConfigError(
                f"column {name!r}: rows {offset}..{offset + length} are outside its "
                f"{len(column)} rows",
                column=name,
            )
    return [d.hex() for d in _range_digests(column, tag, name, ranges)]


def _range_digests(
    array: pa.Array, tag: str, name: str, ranges: Sequence[tuple[int, int]]
) -> list[bytes]:
    """Digests as ``_ColumnHasher.digest`` computes them, one per row range."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    validity = _validity_bytes(array)
    # the present values of rows o..o+n are present[before(o):before(o+n)]; Arrow counts
    # the nulls of a prefix from its bitmap (a cumulative sum over every row cost more than
    # the hashing of an int column)
    if array.null_count:

        def present_before(row: int) -> int:
            return int(row - array.slice(0, row).null_count)

        spans = [(present_before(o), present_before(o + n)) for o, n in ranges]
    else:
        spans = [(o, o + n) for o, n in ranges]
    validity_digests = [hashlib.sha256(validity[o : o + n].data).digest() for o, n in ranges]
    plain = _plain_varlen(array, validity) if tag in ("text", "bytea") else None
    present = pc.drop_null(array) if array.null_count and plain is None else array
    if plain is not None:
        lengths, data, offsets = plain
        tails = [
            [
                hashlib.sha256(lengths[a:b].data).digest(),
                hashlib.sha256(data[offsets[o] : offsets[o + n]]).digest(),
            ]
            for (a, b), (o, n) in zip(spans, ranges, strict=True)
        ]
    elif tag.endswith("[]"):
        if pa.types.is_list_view(present.type):
            present = present.cast(pa.large_list(present.type.value_type))
        counts = _as_numpy(pc.list_value_length(present), np.int64)
        before = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=before[1:])
        child_ranges = [(int(before[a]), int(before[b] - before[a])) for a, b in spans]
        children = _range_digests(pc.list_flatten(present), tag[:-2], name, child_ranges)
        counts_be = counts.astype(">i4")
        tails = [
            [hashlib.sha256(counts_be[a:b].data).digest(), child]
            for (a, b), child in zip(spans, children, strict=True)
        ]
    elif tag in _VARIABLE_WIDTH:
        lengths, data = _varlen_streams(present, tag, name)
        before = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=before[1:])
        tails = [
            [
                hashlib.sha256(lengths[a:b].data).digest(),
                hashlib.sha256(data[before[a] : before[b]]).digest(),
            ]
            for a, b in spans
        ]
    else:
        values = _fixed_width_bytes(present, tag, name)
        tails = [[hashlib.sha256(values[a:b].data).digest()] for a, b in spans]
    return [
        hashlib.sha256(b"".join([head, *tail])).digest()
        for head, tail in zip(validity_digests, tails, strict=True)
    ]


def _plain_varlen(
    array: pa.Array, validity: np.ndarray[Any, np.dtype[np.uint8]]
) -> tuple[np.ndarray[Any, np.dtype[Any]], memoryview, np.ndarray[Any, np.dtype[Any]]] | None:
    """(big-endian lengths of the present values, the data buffer, each row's start in it)
    of a string or binary column whose NULL rows take no bytes, as Arrow writers leave them:
    then the bytes stream of rows o..o+n is one slice of the buffer, and nothing is copied.
    None for other layouts, which take the general path."""
    dtype = array.type
    if pa.types.is_string(dtype) or pa.types.is_binary(dtype):
        offset_type: type[np.generic] = np.int32
    elif pa.types.is_large_string(dtype) or pa.types.is_large_binary(dtype):
        offset_type = np.int64
    else:
        return None
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offset_type)[
        array.offset : array.offset + len(array) + 1
    ]
    lengths = np.diff(offsets)
    if array.null_count:
        valid = validity.view(np.bool_)
        if lengths[~valid].any():
            return None
        lengths = lengths[valid]
    if lengths.size and lengths.max() > np.iinfo(np.int32).max:
        return None  # the general path names the column
    data = memoryview(buffers[2]) if buffers[2] is not None else memoryview(b"")
    return lengths.astype(">i4"), data, offsets


def column_hashes(
    data: Any, key: Sequence[str], *, threads: int | None = None
) -> dict[str, ColumnHash]:
    """Per-column digests of ``data`` in key order, keyed and ordered by column name bytes."""
    table = to_arrow(data)
    for field in table.schema:
        canonical_type(field)  # refuse unsupported types before doing any work
    indices = canonical_order(table, key)

    def one(field: pa.Field) -> ColumnHash:
        column = table.column(field.name)
        return column_hash(field.name, column if indices is None else column.take(indices), field)

    workers = max(1, min(table.num_columns, threads or os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="t0lake-hash") as pool:
        results = list(pool.map(one, table.schema))
    return {h.name: h for h in sorted(results, key=lambda h: h.name.encode())}


def combine(row_count: int, key: Sequence[str], hashes: Iterable[ColumnHash]) -> str:
    """The dataset hash from a row count, the key and per-column digests."""
    lines = [FORMAT, f"rows={row_count}", "key=" + ",".join(_length_prefixed(k) for k in key)]
    for h in sorted(hashes, key=lambda h: h.name.encode()):
        lines.append(f"col={_length_prefixed(h.name)}:{h.type}:{h.digest}")
    document = "".join(line + "\n" for line in lines)
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def dataset_hash(data: Any, key: Sequence[str], *, threads: int | None = None) -> str:
    """The canonical content hash of ``data``: the same hex string as SQL
    ``audit.t0_dataset_hash(query, key)`` for the same rows."""
    table = to_arrow(data)
    return combine(table.num_rows, key, column_hashes(table, key, threads=threads).values())


def _length_prefixed(name: str) -> str:
    return f"{len(name.encode('utf-8'))}:{name}"


def _check_key(table: pa.Table, key: Sequence[str]) -> None:
    if isinstance(key, str) or not key:
        raise ConfigError("key must be a non-empty list of column names", key=key)
    names = table.schema.names
    if len(set(names)) != len(names):
        raise ConfigError("column names must be unique to hash a table", columns=names)
    if len(set(key)) != len(key):
        raise ConfigError(f"key {list(key)} names a column twice", key=list(key))
    for k in key:
        if k not in names:
            raise ConfigError(f"key column {k!r} is not in the data", column=k, columns=names)
        tag = canonical_type(table.schema.field(k))
        if tag not in _KEY_TYPES:
            raise ConfigError(f"key column {k!r} has type {tag}, which cannot order rows", column=k)


def _adjacent_order(keys: pa.Table, key: Sequence[str]) -> np.ndarray[Any, np.dtype[np.int8]]:
    """For each pair of adjacent rows, -1/0/+1 as the second sorts before/with/after the
    first in canonical order (lexicographic over the key; NaN after numbers; NULL last)."""
    order: np.ndarray[Any, np.dtype[np.int8]] | None = None
    for k in key:
        col = keys.column(k).combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        prev, cur = col.slice(0, len(col) - 1), col.slice(1)
        cmp = _as_numpy(pc.fill_null(pc.greater(cur, prev), False), np.int8) - _as_numpy(
            pc.fill_null(pc.less(cur, prev), False), np.int8
        )
        if pa.types.is_floating(col.type):
            _rank_specials(
                cmp, pc.fill_null(pc.is_nan(prev), False), pc.fill_null(pc.is_nan(cur), False)
            )
        if col.null_count:
            _rank_specials(cmp, prev.is_null(), cur.is_null())
        order = cmp if order is None else np.where(order != 0, order, cmp)
    assert order is not None
    return order


def _rank_specials(cmp: np.ndarray[Any, np.dtype[np.int8]], prev: pa.Array, cur: pa.Array) -> None:
    """Values flagged special (NaN, or NULL) sort after all others and equal each other."""
    p, c = _as_numpy(prev, np.bool_), _as_numpy(cur, np.bool_)
    cmp[c & ~p] = 1
    cmp[p & ~c] = -1
    cmp[p & c] = 0
