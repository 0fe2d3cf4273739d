"""``Snapshot.live_files``: the live files of a snapshot and the rows of each it serves, so
that an engine reading only those bytes and rows gets exactly the snapshot's rows, where the
hive glob does not (tests/enginecases.py builds the history)."""

from __future__ import annotations

import glob
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import t0lake
from t0lake.lake.layout import Tier
from t0lake.lake.snapshot import LiveFile
from t0lake.testing import TempPostgres
from tests.enginecases import KEY, History, history_in
from tests.lakecases import DAYS, EP, FIRST_DAY, ROWS_PER_DAY

FIRST = date.fromisoformat(FIRST_DAY)


@pytest.fixture(scope="module")
def history(pg_server: TempPostgres) -> Iterator[History]:
    yield from history_in(pg_server)


def _rows_of(files: list[LiveFile]) -> pa.Table:
    """What an engine that honours the row ranges reads: the plain reference."""
    tables = []
    for f in files:
        table = pq.read_table(f.uri)
        tables += [table.slice(first, rows) for first, rows in f.row_ranges]
    return pa.concat_tables(tables)


def _same(read: pa.Table, expected: pa.Table) -> bool:
    """Equal rows in the same order, NaN equal to NaN (Arrow's ``equals`` says NaN != NaN)."""
    return bool(pl.DataFrame(read).equals(pl.DataFrame(expected)))


def test_after_a_hot_reexport_the_glob_counts_a_day_twice_the_list_does_not(
    history: History,
) -> None:
    snap = history.snapshot(2)
    hot = glob.glob(f"{history.lake}/{EP}/tier=hot/*/*.parquet")
    assert pq.ParquetDataset(hot).read().num_rows > DAYS * ROWS_PER_DAY  # the bug
    files = snap.live_files()
    assert len(files) == DAYS and all(f.whole and f.tier == Tier.HOT for f in files)
    assert [f.days for f in files] == [(FIRST + timedelta(days=i),) for i in range(DAYS)]
    assert all(Path(f.uri).is_absolute() and Path(f.uri).exists() for f in files)
    assert all(f.row_ranges == ((0, ROWS_PER_DAY),) for f in files)
    read = pa.concat_tables([pq.read_table(f.uri) for f in files])
    assert _same(read, snap.to_arrow())
    assert snap.files() == [f.uri for f in files]


def test_a_compacted_file_read_in_part_says_which_rows(history: History) -> None:
    snap = history.snapshot(3)
    (month,) = snap.live_files("2026-03-02", "2026-03-03")
    assert month.tier == Tier.WARM and not month.whole
    assert month.file_rows == DAYS * ROWS_PER_DAY and month.rows == 2 * ROWS_PER_DAY
    assert month.row_ranges == ((ROWS_PER_DAY, ROWS_PER_DAY), (2 * ROWS_PER_DAY, ROWS_PER_DAY))
    (whole,) = snap.live_files()
    assert whole.whole and whole.path == month.path
    assert month.to_dict()["whole"] is False and month.to_dict()["tier"] == "warm"


def test_a_reexported_day_of_a_compacted_file_is_left_out_of_its_rows(history: History) -> None:
    snap = history.snapshot(4)
    month, hot = snap.live_files()  # each file once, by its first day
    assert hot.tier == Tier.HOT and hot.days == (FIRST + timedelta(days=1),) and hot.whole
    assert month.days == tuple(FIRST + timedelta(days=i) for i in (0, 2, 3, 4))
    assert not month.whole and month.rows == (DAYS - 1) * ROWS_PER_DAY
    assert month.row_ranges == tuple((i * ROWS_PER_DAY, ROWS_PER_DAY) for i in (0, 2, 3, 4))
    assert pq.read_table(month.uri).num_rows == DAYS * ROWS_PER_DAY  # the stale slice is there


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    snapshot_id=st.integers(1, 4),
    first=st.integers(-1, DAYS),
    length=st.integers(0, DAYS + 1),
)
def test_the_listed_rows_are_the_snapshots_rows(
    history: History, snapshot_id: int, first: int, length: int
) -> None:
    """Against every snapshot and day range: the listed row ranges of the listed files are
    exactly what the verified read returns, in the same order."""
    snap = history.snapshot(snapshot_id)
    start, end = FIRST + timedelta(days=first), FIRST + timedelta(days=first + length)
    files = snap.live_files(start, end)
    expected = snap.to_arrow(start, end)
    if expected.num_rows == 0:
        assert files == []
        return
    assert _same(
        _rows_of(files).sort_by([(k, "ascending") for k in KEY]),
        expected.sort_by([(k, "ascending") for k in KEY]),
    )
    assert sum(f.rows for f in files) == expected.num_rows
    listed = [d for f in files for d in f.days]
    assert sorted(listed) == [d for d in snap.days() if start <= d <= end]
    assert len({f.path for f in files}) == len(files)  # each file once


def test_bad_ranges_are_config_errors(history: History) -> None:
    snap = history.snapshot()
    with pytest.raises(t0lake.ConfigError, match="after"):
        snap.live_files("2026-03-05", "2026-03-01")
    with pytest.raises(t0lake.ConfigError, match="date"):
        snap.live_files("March")
