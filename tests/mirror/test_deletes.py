"""The position-delete files of the Iceberg mirror (t0lake.mirror.deletes): the dead rows
of a partial file against a row mask, the file's Iceberg layout (reserved field ids, one
data file, sorted positions), content-derived names, and a rewrite-free re-run, through
pyiceberg's real local FileIO."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.manifest import DataFileContent

from t0lake.errors import IntegrityError
from t0lake.lake.layout import Tier
from t0lake.lake.manifest import DayEntry, FileEntry
from t0lake.mirror.deletes import (
    PATH_FIELD_ID,
    POS_FIELD_ID,
    PlannedDelete,
    dead_positions,
    dead_ranges,
    read_deletes,
    write_delete_file,
)

_HEX = "0" * 64


def _entry(rows: int, slices: list[tuple[int, int]]) -> FileEntry:
    """A file of ``rows`` rows whose live days are ``slices`` (offset, rows)."""
    days = tuple(
        DayEntry(date(2025, 10, 1) + timedelta(days=i), n, off, _HEX, {"x": _HEX})
        for i, (off, n) in enumerate(slices)
    )
    path = "syn.events_v/tier=warm/month=2025-10/f.parquet"
    return FileEntry(path, Tier.WARM, 1, _HEX, rows, days)


@st.composite
def _files(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]]]:
    """A file cut into contiguous day slices (as a compaction writes it), some dropped."""
    sizes = draw(st.lists(st.integers(0, 6), min_size=1, max_size=12))
    keep = draw(st.lists(st.booleans(), min_size=len(sizes), max_size=len(sizes)))
    slices, offset = [], 0
    for size, kept in zip(sizes, keep, strict=True):
        if kept:
            slices.append((offset, size))
        offset += size
    return offset, draw(st.permutations(slices))


@given(_files())
def test_dead_positions_are_the_rows_no_day_serves(case: tuple[int, list[tuple[int, int]]]) -> None:
    rows, slices = case
    mask = np.ones(rows, dtype=bool)  # the reference: a row is dead unless a day holds it
    for offset, n in slices:
        mask[offset : offset + n] = False
    ranges = dead_ranges(_entry(rows, slices))
    assert np.array_equal(dead_positions(ranges), np.flatnonzero(mask))
    assert all(a < b for a, b in ranges)  # no empty range
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(ranges))  # merged
    assert (ranges == ()) == _entry(rows, slices).complete


def test_a_day_outside_its_file_is_refused() -> None:
    with pytest.raises(IntegrityError, match="outside its 5 rows") as caught:
        dead_ranges(_entry(5, [(0, 2), (3, 4)]))
    assert caught.value.context["file"].endswith("f.parquet")


def test_the_delete_file_is_an_iceberg_position_delete_file_written_once(tmp_path: Path) -> None:
    io = PyArrowFileIO()
    data_uri = str(tmp_path / "lake" / "f.parquet")
    plan = PlannedDelete("f.parquet", data_uri, str(tmp_path / "t" / "d.parquet"), ((2, 4), (7, 8)))
    first = write_delete_file(io, plan)
    assert first.content == DataFileContent.POSITION_DELETES and first.record_count == 3
    assert (
        first.lower_bounds[PATH_FIELD_ID]
        == first.upper_bounds[PATH_FIELD_ID]
        == (data_uri.encode())
    )
    schema = pq.read_schema(plan.uri)
    assert [f.metadata[b"PARQUET:field_id"] for f in schema] == [
        str(PATH_FIELD_ID).encode(),
        str(POS_FIELD_ID).encode(),
    ]
    assert not any(f.nullable for f in schema)
    deleted = read_deletes(io, plan.uri)
    assert list(deleted) == [data_uri] and deleted[data_uri].tolist() == [2, 3, 7]
    stamp = Path(plan.uri).stat().st_mtime_ns
    again = write_delete_file(io, plan)  # a re-run finds it and keeps it
    assert Path(plan.uri).stat().st_mtime_ns == stamp
    assert again.file_size_in_bytes == first.file_size_in_bytes == Path(plan.uri).stat().st_size
    other = PlannedDelete("f.parquet", data_uri, plan.uri, ((2, 4),))  # same name, other rows
    write_delete_file(io, other)  # (never happens with content names): rewritten to match
    assert read_deletes(io, plan.uri)[data_uri].tolist() == [2, 3]
