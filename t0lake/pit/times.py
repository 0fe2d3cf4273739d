"""Every time a join compares, as an int64 in one unit.

The join compares ``t0``, ``ts``, ``known_at`` and ``max_age`` as integers, so "strictly
before" and "at most max_age old" are exact: one unit for all (``ns`` if any side has it,
otherwise ``us``; Dates and ms widen exactly), aware times as their UTC epoch. This is the
one place that turns a polars time column or a timedelta into those integers.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from t0lake.pit.kernel import Array

__all__ = ["age_units", "time_ints", "time_unit"]

_US_PER_DAY = 86_400_000_000


def time_unit(*dtypes: pl.DataType) -> str:
    """One integer unit for every compared time: ns if any side has it, else us (Dates and
    ms widen exactly to us, so max_age stays exact)."""
    return "ns" if any(isinstance(d, pl.Datetime) and d.time_unit == "ns" for d in dtypes) else "us"


def time_ints(series: pl.Series, unit: str) -> Array:
    """Times as int64 in ``unit`` (UTC epoch for aware times); NULL becomes 0 (callers mask)."""
    if series.dtype == pl.Date:
        scale = _US_PER_DAY * (1000 if unit == "ns" else 1)
        values = series.cast(pl.Int64) * scale
    else:
        values = series.dt.cast_time_unit(unit).to_physical()  # type: ignore[arg-type]
    return values.fill_null(0).to_numpy().astype(np.int64, copy=False)


def age_units(max_age: timedelta, unit: str) -> int:
    """``max_age`` as a whole number of ``unit`` (exact: a timedelta counts microseconds)."""
    micros = (max_age.days * 86_400 + max_age.seconds) * 1_000_000 + max_age.microseconds
    return micros * (1000 if unit == "ns" else 1)
