"""Frame coercion: the data frames t0lake accepts, as the one frame type a module works on.

Callers pass pyarrow, Polars or pandas frames; each module converts once at its boundary,
here, so the accepted types and the error for anything else are the same everywhere.
polars and pandas are imported only when a frame needs them (pandas is no dependency of
t0lake: a pandas frame can only exist if the caller imported it).

A Polars frame has no field metadata, so the Arrow types of a frame t0lake hands out (e.g.
``numeric`` and ``jsonb`` text, tagged ``t0lake.type``) would be lost on the way back to
Arrow, and with them its content hash. :func:`remember_schema` keeps the exact Arrow schema
beside such a frame, and :func:`to_arrow` restores it while the frame is unchanged.
"""

from __future__ import annotations

import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from t0lake.errors import ConfigError

if TYPE_CHECKING:
    import polars as pl

__all__ = ["column_to_arrow", "remember_schema", "to_arrow", "to_polars"]

_SCHEMAS: dict[int, tuple[weakref.ref[Any], tuple[Any, ...], pa.Schema]] = {}
_LOCK = threading.Lock()


def _signature(df: pl.DataFrame) -> tuple[Any, ...]:
    return df.height, tuple((name, str(dtype)) for name, dtype in df.schema.items())


def _forget(key: int, ref: weakref.ref[Any]) -> None:
    with _LOCK:
        if key in _SCHEMAS and _SCHEMAS[key][0] is ref:
            del _SCHEMAS[key]


def remember_schema(df: pl.DataFrame, schema: pa.Schema) -> pl.DataFrame:
    """Keep the exact Arrow schema of ``df`` (a frame t0lake is about to hand out), for
    :func:`to_arrow` to restore while the frame is unchanged; returns ``df``."""
    ref = weakref.ref(df)
    with _LOCK:
        _SCHEMAS[id(df)] = (ref, _signature(df), schema)
    weakref.finalize(df, _forget, id(df), ref)
    return df


def _restored(df: pl.DataFrame, table: pa.Table) -> pa.Table:
    with _LOCK:
        entry = _SCHEMAS.get(id(df))
    if entry is None or entry[0]() is not df or entry[1] != _signature(df):
        return table
    schema = entry[2]
    if not set(table.column_names) <= set(schema.names):
        return table
    return table.cast(pa.schema([schema.field(name) for name in table.column_names]))


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
        return _restored(data, data.to_arrow())
    raise ConfigError(
        f"cannot hash a {type(data).__name__}: pass a pyarrow Table or a polars DataFrame/LazyFrame"
    )


def column_to_arrow(series: pl.Series) -> pa.Array | pa.ChunkedArray:
    """A Polars column as Arrow for hashing: text and binary as Polars' own string views
    (no copy; the hash reads views directly, see :mod:`t0lake.hashing.views`), every other
    type as ``to_arrow`` gives it. The default conversion of a view column copies all its
    bytes into offsets."""
    import polars as pl

    if series.dtype == pl.String or series.dtype == pl.Binary:
        return series.to_arrow(compat_level=pl.CompatLevel.newest())
    return series.to_arrow()


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
