"""The compiled pass over string and binary views gives the bytes docs/hashing.md specifies:
the same digests as the same values as plain Arrow strings, for any layout of views
(inline and out-of-line values, many data buffers, slices, NULL rows holding anything)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from t0lake import hashing
from t0lake._util import jit
from t0lake.errors import ConfigError
from t0lake.hashing import views
from t0lake.hashing.streams import validity_bytes


@contextmanager
def _kernel_always() -> Iterator[None]:
    """The kernel for every size of input (it serves only big ones in a process where numba
    has not started)."""
    before = views.VIEW_KERNEL_MIN_ROWS
    views.VIEW_KERNEL_MIN_ROWS = 0
    try:
        yield
    finally:
        views.VIEW_KERNEL_MIN_ROWS = before


def _expected(values: list[object], dtype: pa.DataType, ranges: list[tuple[int, int]]) -> list[str]:
    plain = pa.array(values, dtype)
    field = pa.field("c", dtype)
    return [hashing.column_hash("c", plain.slice(o, n), field).digest for o, n in ranges]


_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)


@settings(max_examples=150, deadline=None)
@given(
    binary=st.booleans(),
    values=st.lists(st.none() | _TEXT, max_size=40),
    chunk=st.integers(1, 40),
    data=st.data(),
)
def test_property_view_digests_equal_those_of_plain_strings(
    binary: bool, values: list[str | None], chunk: int, data: st.DataObject
) -> None:
    """Views built by Polars from chunks (one data buffer per chunk, values of 12 bytes or
    fewer inline), sliced at any offset, against any ranges, overlapping ones too."""
    rows: list[object] = [v.encode() if binary and v is not None else v for v in values]
    dtype = pa.binary() if binary else pa.string()
    series = pl.concat(
        [
            pl.Series("c", rows[i : i + chunk], dtype=pl.Binary if binary else pl.String)
            for i in range(0, len(rows), chunk)
        ]
        or [pl.Series("c", [], dtype=pl.String)],
        rechunk=False,
    )
    column = series.to_arrow(compat_level=pl.CompatLevel.newest())
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    start = data.draw(st.integers(0, len(rows)))
    array = array.slice(start)
    rows = rows[start:]
    ranges = data.draw(
        st.lists(
            st.integers(0, len(rows)).flatmap(
                lambda o: st.tuples(st.just(o), st.integers(0, len(rows) - o))
            ),
            max_size=6,
        )
    )
    assert views.is_view(array.type)
    with _kernel_always():
        bounds = [i for o, n in ranges for i in (o, o + n)]
        assert views.view_streams(array, "c", validity_bytes(array), bounds) is not None
        got = hashing.range_digests("c", array, pa.field("c", dtype), ranges)
    assert got == _expected(rows, dtype, ranges)


def _views_array(entries: list[tuple[int, int, int] | None], data: bytes) -> pa.Array:
    """A string_view array of (length, buffer index, offset) views into one data buffer
    (None: a NULL row whose view says length 2**31 at buffer 7)."""
    words = np.zeros((len(entries), 4), dtype=np.uint32)
    valid = []
    for i, entry in enumerate(entries):
        length, buffer, offset = entry if entry is not None else (2**31, 7, 2**31)
        valid.append(entry is not None)
        words[i] = (length, 0, buffer, offset)
        if entry is not None and length <= 12:  # inline: the bytes follow the length
            inline = words[i : i + 1].view(np.uint8)
            inline[0, 4 : 4 + length] = np.frombuffer(data[offset : offset + length], np.uint8)
    bitmap = pa.array(valid).buffers()[1]
    return pa.Array.from_buffers(
        pa.string_view(), len(entries), [bitmap, pa.py_buffer(words.tobytes()), pa.py_buffer(data)]
    )


def test_null_rows_whose_views_point_anywhere_are_not_content() -> None:
    data = b"abcdefghijklmnopqrstuvwxyz-abcdefghijklmnopqrstuvwxyz"
    array = _views_array([(20, 0, 3), None, (5, 0, 0), (0, 0, 0), None, (26, 0, 27)], data)
    values = [data[3:23].decode(), None, "abcde", "", None, data[27:53].decode()]
    ranges = [(0, 6), (1, 3), (4, 2), (2, 0)]
    with _kernel_always():
        got = hashing.range_digests("c", array, pa.field("c", pa.string()), ranges)
    assert got == _expected(values, pa.string(), ranges)


@pytest.mark.parametrize(
    "bad", [(20, 0, 40), (20, 1, 0)], ids=["past the buffer's end", "no such buffer"]
)
def test_a_view_outside_its_buffers_is_refused_naming_the_column(
    bad: tuple[int, int, int],
) -> None:
    array = _views_array([(5, 0, 0), bad], b"x" * 50)
    with _kernel_always(), pytest.raises(ConfigError, match=r"'title'.*outside its data buffers"):
        hashing.range_digests("title", array, pa.field("title", pa.string()), [(0, 2)])


def test_without_numba_started_small_columns_convert_the_views(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a process where no kernel is loaded, a small column is not worth starting numba
    for: view_streams declines, and the conversion gives the same digests."""
    monkeypatch.setattr(jit, "_STARTED", [])
    values = ["a long value of text", None, "short"]
    array = pa.array(values, pa.string_view())
    assert views.view_streams(array, "c", validity_bytes(array), [0, 3]) is None
    got = hashing.range_digests("c", array, pa.field("c", pa.string()), [(0, 3), (1, 1)])
    assert got == _expected(values, pa.string(), [(0, 3), (1, 1)])
