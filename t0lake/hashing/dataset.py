"""Column digests and the dataset hash: the strings Python and SQL must both produce.

Each column is hashed on its own (so a reader can verify exactly the columns it returns),
in parallel threads (hashlib and numpy release the GIL); the dataset hash is the sha256 of
a small text document naming the format, the row count, the key and every column digest.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from t0lake._util.frames import to_arrow
from t0lake.hashing.order import canonical_order
from t0lake.hashing.streams import ColumnHasher
from t0lake.hashing.types import canonical_type

__all__ = ["FORMAT", "ColumnHash", "column_hash", "column_hashes", "combine", "dataset_hash"]

FORMAT = "t0lake-dataset-hash-v1"


@dataclass(frozen=True)
class ColumnHash:
    """The canonical digest of one column of rows in key order."""

    name: str
    type: str
    digest: str


def column_hash(
    name: str, column: pa.Array | pa.ChunkedArray, field: pa.Field | None = None
) -> ColumnHash:
    """Digest of one column whose rows are already in canonical (key) order."""
    tag = canonical_type(field if field is not None else pa.field(name, column.type))
    hasher = ColumnHasher(name, tag)
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        hasher.update(chunk)
    return ColumnHash(name=name, type=tag, digest=hasher.digest().hex())


def column_hashes(
    data: Any, key: Sequence[str], *, threads: int | None = None
) -> dict[str, ColumnHash]:
    """Per-column digests of ``data`` in key order, keyed and ordered by column name bytes."""
    table = to_arrow(data)
    for field in table.schema:
        canonical_type(field)  # refuse unsupported types before doing any work
    indices = canonical_order(table, key)

    def one(field: pa.Field) -> ColumnHash:
        column = table.column(field.name)
        return column_hash(field.name, column if indices is None else column.take(indices), field)

    workers = max(1, min(table.num_columns, threads or os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="t0lake-hash") as pool:
        results = list(pool.map(one, table.schema))
    return {h.name: h for h in sorted(results, key=lambda h: h.name.encode())}


def combine(row_count: int, key: Sequence[str], hashes: Iterable[ColumnHash]) -> str:
    """The dataset hash from a row count, the key and per-column digests."""
    lines = [FORMAT, f"rows={row_count}", "key=" + ",".join(_length_prefixed(k) for k in key)]
    for h in sorted(hashes, key=lambda h: h.name.encode()):
        lines.append(f"col={_length_prefixed(h.name)}:{h.type}:{h.digest}")
    document = "".join(line + "\n" for line in lines)
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def dataset_hash(data: Any, key: Sequence[str], *, threads: int | None = None) -> str:
    """The canonical content hash of ``data``: the same hex string as SQL
    ``audit.t0_dataset_hash(query, key)`` for the same rows."""
    table = to_arrow(data)
    return combine(table.num_rows, key, column_hashes(table, key, threads=threads).values())


def _length_prefixed(name: str) -> str:
    return f"{len(name.encode('utf-8'))}:{name}"
