"""Synthetic lakes for the life-cycle tests: days of a small table, committed the way an
export commits them (``write_day`` + ``ReplaceDays``), without Postgres.

A lake built here is a reference model too: ``tables`` maps each day to the rows the lake
must serve for it, so a test can compare any read with the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import pyarrow as pa

from t0lake.lake.commit import commit
from t0lake.lake.manifest import Manifest
from t0lake.lake.operations import ReplaceDays
from t0lake.lake.storage import Storage
from t0lake.lake.writer import write_day

EP = "syn.events_v"
KEY = ("id",)
SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("d", pa.date32(), nullable=False),
        pa.field("x", pa.float64()),
        pa.field("s", pa.string()),
    ]
)


def day_table(day: date, rows: int, version: int = 0) -> pa.Table:
    """``rows`` key-ordered rows of ``day``; another ``version`` is other content."""
    base = day.toordinal()
    return pa.table(
        {
            "id": list(range(rows)),
            "d": [day] * rows,
            "x": [
                None if (i + base) % 7 == 0 else (base % 97) * 0.5 + i + version
                for i in range(rows)
            ],
            "s": [f"v{version}-{(base + i) % 13}" for i in range(rows)],
        },
        schema=SCHEMA,
    )


def days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


def export_days(
    storage: Storage, tables: Mapping[date, pa.Table], entrypoint: str = EP
) -> Manifest | None:
    """Write and commit ``tables`` (day → rows) as one export; None when nothing changed."""
    entries = tuple(
        write_day(storage, entrypoint, day, table, KEY) for day, table in sorted(tables.items())
    )
    operation = ReplaceDays(
        entrypoint=entrypoint,
        schema=SCHEMA,
        key=KEY,
        day_expr="d",
        event_time_col="d",
        viewdef_hash="v",
        certification={"cert_id": 1},
        entries=entries,
    )
    return commit(storage, entrypoint, operation)


def model_table(
    model: Mapping[date, pa.Table], start: date | None = None, end: date | None = None
) -> pa.Table:
    """The rows the model says a read of ``start``..``end`` returns, in day order."""
    chosen = [
        t
        for d, t in sorted(model.items())
        if (start is None or d >= start) and (end is None or d <= end)
    ]
    return pa.concat_tables(chosen) if chosen else SCHEMA.empty_table()
