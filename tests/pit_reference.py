"""Brute-force point-in-time join: for every event, scan every feature row.

Written to be obviously right rather than fast, straight from the semantics of issue 8 (and
``docs/pit-join.md``), with Python's own datetime comparisons and no shared code with
``t0lake.pit``. The property tests hold ``t0lake.pit_join`` to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import polars as pl


def _instant(value: date) -> datetime:
    """A Date compares as midnight of that day (naive), like the join does."""
    return value if isinstance(value, datetime) else datetime.combine(value, time())


def pit_reference(
    events: pl.DataFrame,
    features: pl.DataFrame,
    by: Sequence[str],
    t0: str,
    ts: str,
    created: str | None = None,
    max_age: timedelta | None = None,
    strict: bool = True,
    known_at: str | None = None,
) -> pl.DataFrame:
    out_cols = [c for c in features.columns if c not in by]
    rows = features.to_dicts()
    picks: list[int | None] = []
    for event in events.to_dicts():
        when = _instant(event[t0])
        best: tuple[Any, ...] | None = None
        pick = None
        for i, row in enumerate(rows):
            if any(event[k] is None or row[k] is None or event[k] != row[k] for k in by):
                continue  # NULL never equals anything, NULL included
            if row[ts] is None:
                continue
            seen = _instant(row[ts])
            if strict and not seen < when:
                continue
            if not strict and not seen <= when:
                continue
            if known_at is not None and (
                row[known_at] is None or not _instant(row[known_at]) < when
            ):
                continue
            if max_age is not None and when - seen > max_age:
                continue
            c = row[created] if created is not None else None
            rank = (seen, c is not None, c if c is not None else 0, i)
            if best is None or rank > best:
                best, pick = rank, i
        picks.append(pick)
    data = {name: events.get_column(name) for name in events.columns}
    for name in out_cols:
        values = [rows[p][name] if p is not None else None for p in picks]
        data[name] = pl.Series(name, values, dtype=features.schema[name])
    return pl.DataFrame(data) if data else pl.DataFrame()
