"""Frame coercion: the data frames t0lake accepts, as the one frame type a module works on.

Callers pass pyarrow, Polars or pandas frames; each module converts once at its boundary,
here, so the accepted types and the error for anything else are the same everywhere.
polars and pandas are imported only when a frame needs them (pandas is no dependency of
t0lake: a pandas frame can only exist if the caller imported it).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from t0lake.errors import ConfigError

if TYPE_CHECKING:
    import polars as pl

__all__ = ["to_arrow", "to_polars"]


def to_arrow(data: Any) -> pa.Table:
    """Accept the frames t0lake promises to hash and return an Arrow table."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    import polars as pl

    if isinstance(data, pl.LazyFrame):
        data = data.collect()
    if isinstance(data, pl.DataFrame):
        return data.to_arrow()
    raise ConfigError(
        f"cannot hash a {type(data).__name__}: pass a pyarrow Table or a polars DataFrame/LazyFrame"
    )


def to_polars(data: Any, parameter: str = "data", *, also: str = "") -> pl.DataFrame:
    """A Polars DataFrame of a pyarrow Table/RecordBatch, a Polars DataFrame/LazyFrame or a
    pandas DataFrame (its index dropped, as :func:`polars.from_pandas` does by default).
    ConfigError naming ``parameter`` otherwise; ``also`` names what else the caller accepts
    (checked before this is called), for the message."""
    import polars as pl

    if isinstance(data, pl.LazyFrame):
        data = data.collect()
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        frame = pl.from_arrow(data)
        assert isinstance(frame, pl.DataFrame)
        return frame
    if "pandas" in sys.modules:
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            return pl.from_pandas(data)
    raise ConfigError(
        f"{parameter} must be a polars DataFrame/LazyFrame, a pyarrow Table or a pandas "
        f"DataFrame{also}, got {type(data).__name__}",
        parameter=parameter,
    )
