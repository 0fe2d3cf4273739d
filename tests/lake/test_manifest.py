"""The manifest's day index answers a read's range as a scan over every day would."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from t0lake.lake.layout import Tier
from t0lake.lake.manifest import DayEntry, FileEntry, Manifest
from tests.lakecases import synthetic_manifest

FIRST = date(2026, 1, 1)


def _manifest(files_of_days: list[list[int]]) -> Manifest:
    files = tuple(
        FileEntry(
            path=f"f{i}.parquet",
            tier=Tier.HOT,
            bytes=1,
            sha256="0" * 64,
            rows=len(offsets),
            days=tuple(
                DayEntry(FIRST + timedelta(days=o), 1, row, f"{o:064d}", {})
                for row, o in enumerate(offsets)
            ),
        )
        for i, offsets in enumerate(files_of_days)
    )
    return synthetic_manifest("lk.days_v", pa.schema([("id", pa.int64())]), files)


@settings(max_examples=150, deadline=None)
@given(
    held=st.lists(st.integers(0, 60), unique=True, max_size=40),
    split=st.integers(1, 5),
    first=st.none() | st.integers(-3, 63),
    span=st.none() | st.integers(-2, 40),
)
def test_property_day_slices_are_the_days_of_the_range_in_order(
    held: list[int], split: int, first: int | None, span: int | None
) -> None:
    # the days spread over files in no order, as compaction and re-exports leave them
    manifest = _manifest([held[i::split] for i in range(split)])
    lo = None if first is None else FIRST + timedelta(days=first)
    hi = None if span is None else FIRST + timedelta(days=(first or 0) + span)
    expected = [
        (day, f, entry)
        for day, (f, entry) in sorted(manifest.days().items())
        if (lo is None or day >= lo) and (hi is None or day <= hi)
    ]
    assert manifest.day_slices(lo, hi) == expected
    assert manifest.day_slices() == sorted(
        ((d, f, e) for d, (f, e) in manifest.days().items()), key=lambda s: s[0]
    )
