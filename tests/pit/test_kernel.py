"""The two merges of the join: the numpy one and the compiled one pick the same rows.

``as_of_rows`` answers a process's first small join with numpy sorts and searches
(``vectorized``) and everything else with the compiled merge loop (``merged``). Both are
held here to each other on raw arrays (every sort shortcut: rows already in key order, in
time order, shuffled; entity ids past 16 bits; times too far apart to share an int64 with
the id) and, through ``pit_join``, each to the brute-force reference.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import t0lake
from t0lake.pit import kernel
from tests.pit.test_pit import _frames, cases
from tests.pit_reference import pit_reference


@st.composite
def arrays(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(1, 40))
    m = draw(st.integers(1, 20))
    groups = draw(st.sampled_from([1, 3, 2**16 + 5]))  # past 16 bits: the two-pass radix
    ids = st.integers(0, min(2, groups - 1)) | st.just(groups - 1)  # ids < groups, always
    scale = draw(st.sampled_from([1, 2**59]))  # 2**59: times numbered, not offset
    gid = np.array(draw(st.lists(ids, min_size=n, max_size=n)), dtype=np.int64)
    ts = np.array(draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)), dtype=np.int64)
    valid = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    created = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    created = np.where(valid, created, 0).astype(np.int64)  # created_ints: NULL is 0
    layout = draw(st.sampled_from(["any", "time", "key"]))
    if layout != "any":  # in (time, created valid, created) order, or entity-major too
        order = np.lexsort((created, valid, ts) if layout == "time" else (created, valid, ts, gid))
        gid, ts, valid, created = gid[order], ts[order], valid[order], created[order]
    strict = draw(st.booleans())
    avail = ts if strict else ts - 1
    shift: int | None = 0 if strict else 1
    if draw(st.booleans()):  # known_at: availability is no longer ts order
        known = np.array(draw(st.lists(st.integers(0, 8), min_size=n, max_size=n)))
        avail, shift = np.maximum(avail, known.astype(np.int64)), None
    t0 = np.array(draw(st.lists(st.integers(-1, 9), min_size=m, max_size=m)), dtype=np.int64)
    event_ids = st.integers(-1, min(3, groups - 1)) | st.just(groups - 1)  # -1: no entity
    gid_e = np.array(draw(st.lists(event_ids, min_size=m, max_size=m)), dtype=np.int64)
    return {
        "avail": avail * scale,
        "gid_f": gid,
        "ts": ts * scale,
        "created": created,
        "c_valid": valid,
        "use_created": draw(st.booleans()),
        "shift": shift if shift is None else shift * scale,
        "t0": t0 * scale,
        "gid_e": gid_e,
        "groups": groups,
    }


@settings(max_examples=200, deadline=None)
@given(case=arrays())
def test_vectorized_picks_the_rows_of_the_compiled_merge(case: dict[str, Any]) -> None:
    features = {k: case[k] for k in ("avail", "gid_f", "ts", "created", "c_valid")}
    run = kernel.merged(**features, use_created=case["use_created"], shift=case["shift"])
    expected = run(case["t0"], case["gid_e"], case["groups"])
    assert kernel.vectorized(**case).tolist() == expected.tolist()


@contextmanager
def _path(name: str) -> Iterator[None]:
    """Force one of the two merges, whatever this process has loaded so far."""
    saved = kernel.VECTORIZED_MAX_ROWS, kernel.loaded
    if name == "compiled":
        kernel.VECTORIZED_MAX_ROWS = -1
    else:
        kernel.loaded = lambda function: False
    try:
        yield
    finally:
        kernel.VECTORIZED_MAX_ROWS, kernel.loaded = saved


@pytest.mark.parametrize("path", ["vectorized", "compiled"])
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_each_path_of_pit_join_equals_the_reference(path: str, case: dict[str, Any]) -> None:
    ev, ft = _frames(case)
    if case["presort"]:
        ft = ft.sort("ts", *([case["created"]] if case["created"] else []), maintain_order=True)
    args = {k: case[k] for k in ("created", "known_at", "max_age", "strict")}
    by = case["by"]
    expected = pit_reference(ev, ft, [by] if isinstance(by, str) else by, "t0", "ts", **args)
    with _path(path):
        actual = t0lake.pit_join(ev, ft, by, t0="t0", ts="ts", **args)
    assert_frame_equal(actual, expected)


def test_a_large_join_takes_the_compiled_merge_and_a_small_first_one_does_not() -> None:
    rows = np.arange(4, dtype=np.int64)
    args = (rows, rows * 0, rows, rows, rows > 0, False, 0, rows + 1, rows * 0, 1)
    with _path("vectorized"):
        assert kernel.as_of_rows(*args).tolist() == [0, 1, 2, 3]
    saved = kernel.VECTORIZED_MAX_ROWS
    kernel.VECTORIZED_MAX_ROWS = 3  # four rows are "large" now
    try:
        assert kernel.as_of_rows(*args).tolist() == [0, 1, 2, 3]
    finally:
        kernel.VECTORIZED_MAX_ROWS = saved
    assert kernel.loaded(kernel._merge)


def test_a_first_small_join_in_a_fresh_process_loads_neither_numba_nor_the_lake() -> None:
    """What a notebook's first join pays: no numba (a second of CPU), no lake, no Postgres."""
    script = """
import sys
import polars as pl
import t0lake
from datetime import datetime
ev = pl.DataFrame({"id": [1, 2, 9], "t0": [datetime(2026, 1, 3)] * 3})
ft = pl.DataFrame({"id": [1, 1, 2], "ts": [datetime(2026, 1, d) for d in (1, 2, 3)],
                   "x": [10, 20, 30]})
out = t0lake.pit_join(ev, ft, by="id", t0="t0", ts="ts")
print(out.get_column("x").to_list())
print(sorted(m for m in ("numba", "psycopg", "t0lake.lake", "t0lake.pg") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[20, None, None]", "[]"]
