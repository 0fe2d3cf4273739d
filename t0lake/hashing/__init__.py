"""Canonical content hashes of tabular data, the same value in Python and in PostgreSQL.

A lake partition is provably the certified Postgres day when both sides hash the same rows
to the same string. ``docs/hashing.md`` is the byte-by-byte specification; ``sql/`` holds
the SQL twin (``audit.t0_dataset_hash``). Keep the two in lock step: a change here without
the same change there breaks every proof in the lake.

Why this shape:

* Rows are ordered by the key in byte order, so the hash does not depend on input order,
  chunking or the Parquet writer. Keys must be unique, or the order (and so the hash)
  would be arbitrary.
* Each column is hashed on its own, over streams both languages build without per-row code
  (a numpy byteswap of an Arrow buffer here; ``string_agg`` of ``*send`` values in SQL).
  Per-column digests let a reader verify exactly the columns it returns.
* Columns are hashed in parallel threads: hashlib and numpy release the GIL.

The submodules, each importing only those above it::

    types      Arrow field -> type tag (int4, text, numeric[] ...); fixed/variable widths
    text       numeric and jsonb values as the text Postgres prints
    streams    a column's byte streams and the per-column hasher
    order      canonical row order and key checks
    ranges     digests of many row ranges of one column in one pass
    dataset    column digests, their combination, the dataset hash
"""

from t0lake._util.frames import to_arrow
from t0lake.hashing.dataset import (
    FORMAT,
    ColumnHash,
    column_hash,
    column_hashes,
    combine,
    dataset_hash,
)
from t0lake.hashing.order import canonical_order, sort_by_key
from t0lake.hashing.ranges import range_digests
from t0lake.hashing.types import TYPE_METADATA_KEY, canonical_type

__all__ = [
    "FORMAT",
    "TYPE_METADATA_KEY",
    "ColumnHash",
    "canonical_order",
    "canonical_type",
    "column_hash",
    "column_hashes",
    "combine",
    "dataset_hash",
    "range_digests",
    "sort_by_key",
    "to_arrow",
]
