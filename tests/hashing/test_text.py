"""Numeric text as Postgres prints it, trimmed by Arrow's trims: held to the two regexes it
replaced, on any text (well-formed numbers, odd strings, NULLs, slices, every string type)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from t0lake.hashing.text import _trim_printed, _trim_printed_regex, numeric_text

_NUMBER = st.builds(
    lambda minus, whole, point, frac, zeros: (
        ("-" if minus else "") + whole + ("." if point else "") + frac + "0" * zeros
    ),
    st.booleans(),
    st.text("0123456789", max_size=4),
    st.booleans(),
    st.text("0123456789", max_size=4),
    st.integers(0, 5),
)
_ANY = st.text("0123456789.-aé", max_size=8)
_VALUES = st.lists(st.one_of(st.none(), _NUMBER, _ANY), max_size=40)
_TYPES = [pa.string(), pa.large_string(), pa.string_view()]


@settings(max_examples=300, deadline=None)
@given(values=_VALUES, dtype=st.sampled_from(_TYPES), cut=st.integers(0, 3))
def test_trim_printed_equals_the_regexes(
    values: list[str | None], dtype: pa.DataType, cut: int
) -> None:
    array = pa.array(values, dtype)[cut:]  # a slice: offsets that do not start at zero
    got = _trim_printed(array)
    want = _trim_printed_regex(array.cast(pa.large_string()))
    assert got.cast(pa.large_string()).to_pylist() == want.to_pylist()


@pytest.mark.parametrize("dtype", _TYPES)
def test_numeric_text_trims_printed_numbers(dtype: pa.DataType) -> None:
    array = pa.array(["1.500", "-0.000", "12", None, "3.", "7.010", "1e5", "NaN", ""], dtype)
    got = numeric_text(array).cast(pa.large_string()).to_pylist()
    assert got == ["1.5", "-0", "12", None, "3", "7.01", "1e5", "NaN", ""]


def test_trim_printed_ignores_bytes_under_nulls() -> None:
    """A NULL slot may keep bytes under it (Polars' copies do): it stays NULL, and the
    bytes do not reach its neighbours."""
    data = b"1.50" + b"10.00" + b"2.0"
    offsets = pa.array([0, 4, 9, 12], pa.int32()).buffers()[1]
    validity = pa.array([True, False, True]).buffers()[1]
    array = pa.Array.from_buffers(pa.string(), 3, [validity, offsets, pa.py_buffer(data)])
    assert _trim_printed(array).to_pylist() == ["1.5", None, "2"]


def test_trim_printed_keeps_untouched_arrays() -> None:
    """Nothing to trim: the array comes back as it is (no copy of its buffers)."""
    array = pa.array(["1.5", "20", None, "-3.25"])
    assert _trim_printed(array) is array
