"""Canonical row order: key ascending in byte order, NaN after numbers, NULLs last.

The hash must not depend on input order, chunking or the Parquet writer, so rows are hashed
in key order; keys must be unique, or that order (and so the hash) would be arbitrary.
Data on t0lake's own paths is usually in order already, so one linear pass over adjacent
rows proves it and skips the sort.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from t0lake.errors import ConfigError
from t0lake.hashing.streams import as_numpy
from t0lake.hashing.types import KEY_TYPES, canonical_type

__all__ = ["canonical_order", "sort_by_key"]


def sort_by_key(table: pa.Table, key: Sequence[str]) -> pa.Table:
    """Rows in canonical order (key ascending, byte order, NULLs last); keys must be unique."""
    indices = canonical_order(table, key)
    return table if indices is None else table.take(indices)


def canonical_order(table: pa.Table, key: Sequence[str]) -> pa.Array | None:
    """Indices that put ``table`` in canonical order, or None when it already is.

    Data on t0lake's own paths (exports ordered by the key, lake files written sorted) is
    usually in order already; one linear pass proves it and skips the sort and the gather.
    """
    _check_key(table, key)
    keys = table.select(list(key))
    if table.num_rows < 2 or bool(np.all(_adjacent_order(keys, key) > 0)):
        return None
    sort_keys = [(k, "ascending", "at_end") for k in key]
    indices = pc.sort_indices(keys, options=pc.SortOptions(sort_keys))
    duplicates = int(np.count_nonzero(_adjacent_order(keys.take(indices), key) == 0))
    if duplicates:
        raise ConfigError(
            f"key ({', '.join(key)}) is not unique: {duplicates} rows repeat a key, so their "
            "order and the hash would be arbitrary",
            key=list(key),
            duplicates=duplicates,
        )
    return indices


def _check_key(table: pa.Table, key: Sequence[str]) -> None:
    if isinstance(key, str) or not key:
        raise ConfigError("key must be a non-empty list of column names", key=key)
    names = table.schema.names
    if len(set(names)) != len(names):
        raise ConfigError("column names must be unique to hash a table", columns=names)
    if len(set(key)) != len(key):
        raise ConfigError(f"key {list(key)} names a column twice", key=list(key))
    for k in key:
        if k not in names:
            raise ConfigError(f"key column {k!r} is not in the data", column=k, columns=names)
        tag = canonical_type(table.schema.field(k))
        if tag not in KEY_TYPES:
            raise ConfigError(f"key column {k!r} has type {tag}, which cannot order rows", column=k)


def _adjacent_order(keys: pa.Table, key: Sequence[str]) -> np.ndarray[Any, np.dtype[np.int8]]:
    """For each pair of adjacent rows, -1/0/+1 as the second sorts before/with/after the
    first in canonical order (lexicographic over the key; NaN after numbers; NULL last)."""
    order: np.ndarray[Any, np.dtype[np.int8]] | None = None
    for k in key:
        col = keys.column(k).combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        prev, cur = col.slice(0, len(col) - 1), col.slice(1)
        cmp = as_numpy(pc.fill_null(pc.greater(cur, prev), False), np.int8) - as_numpy(
            pc.fill_null(pc.less(cur, prev), False), np.int8
        )
        if pa.types.is_floating(col.type):
            _rank_specials(
                cmp, pc.fill_null(pc.is_nan(prev), False), pc.fill_null(pc.is_nan(cur), False)
            )
        if col.null_count:
            _rank_specials(cmp, prev.is_null(), cur.is_null())
        order = cmp if order is None else np.where(order != 0, order, cmp)
    assert order is not None
    return order


def _rank_specials(cmp: np.ndarray[Any, np.dtype[np.int8]], prev: pa.Array, cur: pa.Array) -> None:
    """Values flagged special (NaN, or NULL) sort after all others and equal each other."""
    p, c = as_numpy(prev, np.bool_), as_numpy(cur, np.bool_)
    cmp[c & ~p] = 1
    cmp[p & ~c] = -1
    cmp[p & c] = 0
