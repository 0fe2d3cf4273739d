"""Column digests of many row ranges in one pass: the per-(day, column) digests of a read.

Same digests as hashing each slice on its own, without paying Python call overhead per
(day, column) pair (see :func:`range_digests`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from t0lake.errors import ConfigError
from t0lake.hashing.streams import as_numpy, fixed_width_bytes, validity_bytes, varlen_streams
from t0lake.hashing.types import VARIABLE_WIDTH, canonical_type

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
        counts = as_numpy(pc.list_value_length(present), np.int64)
        before = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=before[1:])
        child_ranges = [(int(before[a]), int(before[b] - before[a])) for a, b in spans]
        children = _range_digests(pc.list_flatten(present), tag[:-2], name, child_ranges)
        counts_be = counts.astype(">i4")
        tails = [
            [hashlib.sha256(counts_be[a:b].data).digest(), child]
            for (a, b), child in zip(spans, children, strict=True)
        ]
    elif tag in VARIABLE_WIDTH:
        lengths, data = varlen_streams(present, tag, name)
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
        values = fixed_width_bytes(present, tag, name)
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
