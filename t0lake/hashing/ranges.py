"""Column digests of many row ranges in one pass: the per-(day, column) digests of a read.

Same digests as hashing each slice on its own, without paying Python call overhead per
(day, column) pair (see :func:`range_digests`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from t0lake.errors import ConfigError
from t0lake.hashing.streams import (
    CANONICAL_NAN,
    as_numpy,
    fixed_width_bytes,
    validity_bytes,
    varlen_native,
    without_views,
)
from t0lake.hashing.text import decimal_streams, is_small_decimal
from t0lake.hashing.types import FIXED_WIDTH, VARIABLE_WIDTH, canonical_type
from t0lake.hashing.views import is_view, view_streams

__all__ = ["range_digests"]


def range_digests(
    name: str,
    column: pa.Array | pa.ChunkedArray,
    field: pa.Field,
    ranges: Sequence[tuple[int, int]],
) -> list[str]:
    """The column digest of each ``(offset, length)`` row range of ``column``: what
    :func:`~t0lake.hashing.column_hash` gives for each slice, in one pass over the whole
    column.

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
    """Digests as ``ColumnHasher.digest`` computes them, one per row range."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    validity = validity_bytes(array)
    viewed = (
        view_streams(array, name, validity, [i for o, n in ranges for i in (o, o + n)])
        if tag in ("text", "bytea") and is_view(array.type)
        else None
    )
    if viewed is None:
        array = without_views(array)
    # the present values of rows o..o+n are present[before(o):before(o+n)]; Arrow counts
    # the nulls of a prefix from its bitmap (a cumulative sum over every row cost more than
    # the hashing of an int column)
    if array.null_count:

        def present_before(row: int) -> int:
            return int(row - array.slice(0, row).null_count)

        spans = [(present_before(o), present_before(o + n)) for o, n in ranges]
        validity_digests = [hashlib.sha256(validity[o : o + n].data).digest() for o, n in ranges]
    else:
        spans = [(o, o + n) for o, n in ranges]
        # no NULL in the column: each validity stream is n bytes 0x01, whose digest depends
        # on n alone (the days of a read mostly share one n): computed once per n
        validity_digests = [_all_valid_digest(n) for _, n in ranges]
    plain = (
        viewed
        if viewed is not None
        else _plain_varlen(array, validity)
        if tag in ("text", "bytea")
        else None
    )
    # the small decimals' printer skips NULL rows itself (dropping them copies the column)
    printed = tag == "numeric" and is_small_decimal(array.type)
    present = (
        pc.drop_null(array)
        if array.null_count and plain is None and tag not in FIXED_WIDTH and not printed
        else array
    )
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
        counts = as_numpy(pc.list_value_length(present), np.int64)
        before = _prefix_sums(counts, spans)
        child_ranges = [(before[a], before[b] - before[a]) for a, b in spans]
        children = _range_digests(pc.list_flatten(present), tag[:-2], name, child_ranges)
        counts_be = counts.astype(">i4")
        tails = [
            [hashlib.sha256(counts_be[a:b].data).digest(), child]
            for (a, b), child in zip(spans, children, strict=True)
        ]
    elif tag in VARIABLE_WIDTH:
        native, data = (
            decimal_streams(array, validity if array.null_count else None)
            if printed
            else varlen_native(present, tag, name)
        )
        lengths = native.astype(">i4")
        before = _prefix_sums(native, spans)
        tails = [
            [
                hashlib.sha256(lengths[a:b].data).digest(),
                hashlib.sha256(data[before[a] : before[b]]).digest(),
            ]
            for a, b in spans
        ]
    else:
        values = _present_fixed(array, tag, name, validity)
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


@functools.lru_cache(maxsize=64)
def _all_valid_digest(rows: int) -> bytes:
    """H(validity) of ``rows`` rows without a NULL: the digest of ``rows`` bytes 0x01."""
    return hashlib.sha256(bytes([1]) * rows).digest()


# fixed-width tags whose Arrow values are the native-endian numbers themselves
_PLAIN_NUMBERS: dict[str, np.dtype[Any]] = {
    "int2": np.dtype(np.int16),
    "int4": np.dtype(np.int32),
    "int8": np.dtype(np.int64),
    "float4": np.dtype(np.float32),
    "float8": np.dtype(np.float64),
}


def _present_fixed(
    array: pa.Array, tag: str, name: str, validity: np.ndarray[Any, np.dtype[np.uint8]]
) -> np.ndarray[Any, np.dtype[Any]]:
    """The values stream of a fixed-width column: big-endian values of its non-NULL rows.

    Numbers with NULLs are selected by the validity mask straight from Arrow's value buffer
    and swapped in one more pass (dropping the NULLs through Arrow first, then converting,
    cost twice that); other types drop their NULLs first.
    """
    native = _PLAIN_NUMBERS.get(tag)
    if not array.null_count or native is None or pa.types.is_dictionary(array.type):
        present = pc.drop_null(array) if array.null_count else array
        return fixed_width_bytes(present, tag, name)
    raw: np.ndarray[Any, np.dtype[Any]] = np.frombuffer(array.buffers()[1], dtype=native)
    selected = raw[array.offset : array.offset + len(array)][validity.view(np.bool_)]
    out: np.ndarray[Any, np.dtype[Any]] = selected.astype(FIXED_WIDTH[tag])
    nan_bits = CANONICAL_NAN.get(tag)
    if nan_bits is not None:
        nan = np.isnan(selected)
        if nan.any():
            out.view(nan_bits[0])[nan] = nan_bits[1]
    return out


def _prefix_sums(
    values: np.ndarray[Any, np.dtype[Any]], spans: Sequence[tuple[int, int]]
) -> dict[int, int]:
    """``sum(values[:i])`` for every bound ``i`` of ``spans``, in one pass of segment sums
    between the sorted bounds (a cumulative sum over every row cost ten times as much)."""
    bounds = sorted({0, len(values)} | {i for span in spans for i in span})
    inside = [i for i in bounds if i < len(values)]
    sums = {0: 0}
    if inside:
        segments = np.add.reduceat(values, inside, dtype=np.int64).tolist()
        total = 0
        for start, segment in zip(inside, segments, strict=True):
            sums[start] = total
            total += int(segment)
        sums[len(values)] = total
    return sums
