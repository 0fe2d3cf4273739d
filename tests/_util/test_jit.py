"""The compiled kernels' helpers: ``copy_bytes`` inside a kernel copies exactly the bytes
its Python form copies (LLVM's memcpy, whatever the count: the constant 16 of a short
string, or any length), and the kernel loads once."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from t0lake._util import jit, jit_copy


@jit.compiled(
    lambda t: t.void(
        t.Array(t.uint8, 1, "C"),
        t.uint64,
        t.Array(t.uint8, 1, "C", readonly=True),
        t.uint64,
        t.uint64,
    )
)
def _copy(dst: Any, dst_at: Any, src: Any, src_at: Any, count: Any) -> None:
    jit_copy.copy_bytes(dst, dst_at, src, src_at, count)


@jit.compiled(
    lambda t: t.void(t.Array(t.uint8, 1, "C"), t.uint64, t.Array(t.uint8, 1, "C", readonly=True))
)
def _copy_sixteen(dst: Any, dst_at: Any, src: Any) -> None:
    jit_copy.copy_bytes(dst, dst_at, src, np.uint64(0), 16)


@settings(max_examples=60, deadline=None)
@given(
    source=st.binary(min_size=1, max_size=200),
    data=st.data(),
)
def test_property_copy_bytes_compiled_equals_the_slice_assignment(source: bytes, data: Any) -> None:
    src = np.frombuffer(source, dtype=np.uint8)
    src_at = data.draw(st.integers(0, len(source) - 1))
    count = data.draw(st.integers(0, len(source) - src_at))
    size = data.draw(st.integers(count, count + 40))
    dst_at = data.draw(st.integers(0, size - count))
    compiled = np.full(size, 0xAB, dtype=np.uint8)
    python = compiled.copy()
    _copy(compiled, np.uint64(dst_at), src, np.uint64(src_at), np.uint64(count))
    _copy.__wrapped__(python, dst_at, src, src_at, count)
    assert compiled.tobytes() == python.tobytes()
    assert compiled[dst_at : dst_at + count].tobytes() == source[src_at : src_at + count]
    assert jit.loaded(_copy) and jit.ready()


def test_a_constant_count_copies_that_many_bytes_and_no_more() -> None:
    src = np.arange(32, dtype=np.uint8)
    src.flags.writeable = False
    dst = np.zeros(40, dtype=np.uint8)
    _copy_sixteen(dst, np.uint64(3), src)
    assert dst[3:19].tolist() == list(range(16))
    assert not dst[:3].any() and not dst[19:].any()
