"""The text and bytea streams of string and binary *view* arrays, without converting them.

Polars holds strings as views (16 bytes a row: the length, then the bytes themselves when
they fit in 12, else a prefix, a buffer index and an offset), and a column read from a
dictionary-encoded Parquet page points into that page's dictionary, not into bytes in row
order. Converting such a column to Arrow offsets (``Series.to_arrow()``'s default) copies
every byte, and dropping its NULLs copies them again; a month of one text column spent more
in those two copies than sha256 spent on its bytes. One compiled pass over the views writes
the two streams docs/hashing.md defines (big-endian lengths of the present values, their
bytes in row order) and notes where each requested row starts in the bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from t0lake._util.jit import compiled, ready
from t0lake._util.jit_copy import copy_bytes
from t0lake.errors import ConfigError

__all__ = ["VIEW_KERNEL_MIN_ROWS", "is_view", "view_streams"]

# Below this many rows, a process in which numba has not started yet converts the views
# instead: starting it costs one to three seconds of CPU, the conversion it saves about
# 10 ns a row. Once any kernel is loaded (a decimal column, a join), this one costs 4 ms.
VIEW_KERNEL_MIN_ROWS = 2_000_000

_INLINE = 12  # bytes a view holds itself
_SLACK = 16  # bytes every short value is copied as, whatever its length (one unrolled loop)


def is_view(dtype: pa.DataType) -> bool:
    return bool(pa.types.is_string_view(dtype) or pa.types.is_binary_view(dtype))


def view_streams(
    array: pa.Array,
    name: str,
    validity: np.ndarray[Any, np.dtype[np.uint8]],
    bounds: Sequence[int],
) -> tuple[np.ndarray[Any, np.dtype[Any]], memoryview, dict[int, int]] | None:
    """(big-endian int4 lengths of the present values, their bytes in row order, the
    position in those bytes where each row of ``bounds`` starts) of a view array whose
    NULL mask is ``validity``; None when the kernel is not worth loading for this call
    (the caller converts the views instead)."""
    rows = len(array)
    if rows < VIEW_KERNEL_MIN_ROWS and not ready():
        return None
    buffers = array.buffers()
    views = np.frombuffer(buffers[1], dtype=np.uint8)[
        array.offset * 16 : (array.offset + rows) * 16
    ]
    words = views.view(np.uint32).reshape(rows, 4)  # length, prefix, buffer index, offset
    # every data buffer one after the other (plus slack for the 16-byte copy); a buffer's
    # index in a view becomes its start in this array
    datas = [np.frombuffer(b, dtype=np.uint8) for b in buffers[2:] if b is not None]
    sizes = [d.size for d in datas]
    data = np.concatenate([*datas, np.zeros(_SLACK, dtype=np.uint8)])
    starts = np.zeros(len(buffers) - 2, dtype=np.uint64)
    ends = np.zeros(len(buffers) - 2, dtype=np.uint64)
    if sizes:
        present_buffers = [i for i, b in enumerate(buffers[2:]) if b is not None]
        ends[present_buffers] = np.cumsum(sizes)
        starts[present_buffers] = ends[present_buffers] - np.array(sizes, dtype=np.uint64)
    wanted = np.array(sorted(set(bounds)), dtype=np.uint64)
    positions = np.empty(len(wanted), dtype=np.uint64)
    be_lengths = np.empty(rows - array.null_count, dtype=">u4")
    mask = validity.view()
    mask.flags.writeable = False  # the kernel's one signature: read-only inputs
    written, out = _copy_views(
        words, views, mask, data, starts, ends, wanted, be_lengths.view(np.uint32), positions
    )
    if written > len(out) - _SLACK:
        raise ConfigError(
            f"column {name!r} holds a string view outside its data buffers", column=name
        )
    at = dict(zip(wanted.tolist(), positions.tolist(), strict=True))
    return be_lengths.view(">i4"), out[: int(written)].data, at


@compiled(
    lambda t: t.Tuple((t.uint64, t.Array(t.uint8, 1, "C")))(
        t.Array(t.uint32, 2, "C", readonly=True),
        t.Array(t.uint8, 1, "C", readonly=True),
        t.Array(t.uint8, 1, "C", readonly=True),
        t.Array(t.uint8, 1, "C"),
        t.Array(t.uint64, 1, "C"),
        t.Array(t.uint64, 1, "C"),
        t.Array(t.uint64, 1, "C"),
        t.Array(t.uint32, 1, "C"),
        t.Array(t.uint64, 1, "C"),
    )
)
def _copy_views(
    words: np.ndarray[Any, Any],
    views: np.ndarray[Any, Any],
    validity: np.ndarray[Any, Any],
    data: np.ndarray[Any, Any],
    starts: np.ndarray[Any, Any],
    ends: np.ndarray[Any, Any],
    wanted: np.ndarray[Any, Any],
    be_lengths: np.ndarray[Any, Any],
    positions: np.ndarray[Any, Any],
) -> tuple[np.uint64, np.ndarray[Any, Any]]:
    """(bytes written, the bytes of every present row one after the other, followed by
    slack); each present row's byte-swapped length goes into ``be_lengths``, and
    ``positions[k]`` is where row ``wanted[k]`` starts in the bytes. The bytes written are
    more than the bytes without their slack when a view points outside its buffer
    ``starts[b]..ends[b]`` of ``data`` (nothing is read there).

    A first pass sums the present rows' lengths (a view of a NULL row may say anything),
    cheaper here than a masked sum in numpy. Every index is unsigned: numba checks signed
    indices for wraparound, which cost three quarters of the loop. Values of at most 16
    bytes are copied as 16 (``data`` and the result end in slack), one memcpy of a constant
    size."""
    rows = np.uint64(words.shape[0])
    zero = np.uint64(0)
    one = np.uint64(1)
    inline = np.uint32(_INLINE)
    slack = np.uint64(_SLACK)
    room = zero
    i = zero
    while i < rows:
        if validity[i]:
            room += np.uint64(words[i, 0])
        i += one
    out = np.empty(room + slack, dtype=np.uint8)
    pos = zero
    present = zero
    k = zero
    count = np.uint64(wanted.shape[0])
    buffers = np.uint32(starts.shape[0])
    i = zero
    while i < rows:
        while k < count and wanted[k] == i:
            positions[k] = pos
            k += one
        if validity[i]:
            length = words[i, 0]
            be_lengths[present] = (
                (length >> np.uint32(24))
                | ((length >> np.uint32(8)) & np.uint32(0xFF00))
                | ((length << np.uint32(8)) & np.uint32(0xFF0000))
                | (length << np.uint32(24))
            )
            present += one
            size = np.uint64(length)
            if length <= inline:
                copy_bytes(out, pos, views, i * slack + np.uint64(4), _INLINE)
            else:
                buffer = words[i, 2]
                start = starts[buffer] + np.uint64(words[i, 3])
                if buffer >= buffers or start + size > ends[buffer]:
                    return np.uint64(out.shape[0]), out
                if size <= slack:
                    copy_bytes(out, pos, data, start, _SLACK)
                else:
                    copy_bytes(out, pos, data, start, size)
            pos += size
        i += one
    while k < count:
        positions[k] = pos
        k += one
    return pos, out
