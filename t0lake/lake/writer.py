"""The deterministic Parquet writer: the same rows give the same bytes, on every run.

Rows arrive sorted by the key; the writer options are a frozen object, fixed per tier, so
nothing wall-clock or thread-dependent reaches the bytes, and a file can be named by the
content hash of what it holds. ``WriterOptions.to_json()`` is the canonical record of the
settings, for a manifest to say how its files were written.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from t0lake import hashing
from t0lake.errors import IntegrityError
from t0lake.lake.layout import Tier, data_path
from t0lake.lake.manifest import DayEntry, FileEntry
from t0lake.lake.storage import Storage

__all__ = [
    "COLD_OPTIONS",
    "HOT_OPTIONS",
    "WARM_OPTIONS",
    "WriterOptions",
    "write_day",
    "write_parquet",
]


@dataclass(frozen=True)
class WriterOptions:
    """pyarrow.parquet.write_table settings, frozen so a tier's files are reproducible."""

    row_group_size: int = 131_072
    compression: str = "zstd"
    compression_level: int | None = 1  # None for codecs without levels (snappy, lz4)
    use_dictionary: bool = True
    write_statistics: bool = True
    data_page_size: int = 1 << 20

    def to_json(self) -> dict[str, Any]:
        """The settings as a JSON-ready mapping (what a manifest records)."""
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> WriterOptions:
        """The options a manifest or policy file recorded; unknown keys are refused, so a
        record from a newer t0lake is not silently read as something else."""
        unknown = set(doc) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown writer option(s): {', '.join(sorted(unknown))}")
        return cls(**dict(doc))


# Hot-tier files: one per day, fast to write (an export writes them while it fetches).
HOT_OPTIONS = WriterOptions()
# Warm-tier files: one per month, written once by compaction and read by backtests.
WARM_OPTIONS = WriterOptions(row_group_size=262_144, compression_level=3)
# Cold-tier files: one per year, rarely read: heavier compression for the bytes at rest.
COLD_OPTIONS = WriterOptions(row_group_size=524_288, compression_level=9)


def write_parquet(table: pa.Table, options: WriterOptions = HOT_OPTIONS) -> bytes:
    """The deterministic Parquet bytes of a key-ordered table.

    The columns are made contiguous first: how a table happens to be chunked (which depends
    on how it was read, in how many threads) must not reach the bytes.
    """
    sink = io.BytesIO()
    pq.write_table(table.combine_chunks(), sink, **options.to_json())
    return sink.getvalue()


def write_day(
    storage: Storage,
    entrypoint: str,
    day: date,
    table: pa.Table,
    key: Sequence[str],
    *,
    expect: str | None = None,
    hashes: Mapping[str, hashing.ColumnHash] | None = None,
) -> FileEntry:
    """Hash one key-ordered day (unless its ``hashes`` are given), write it as a hot-tier
    file named by its content hash, and describe it for the manifest. With ``expect`` (the
    SQL hash of the same rows), nothing is written unless the Python hash equals it."""
    if hashes is None:
        hashes = hashing.column_hashes(table, key)
    day_hash = hashing.combine(table.num_rows, key, hashes.values())
    if expect is not None and day_hash != expect:
        raise IntegrityError(
            f"{entrypoint} day {day}: the rows fetched hash to {day_hash[:12]}… but "
            f"Postgres hashed the same snapshot to {expect[:12]}…; nothing written",
            entrypoint=entrypoint,
            day=day.isoformat(),
            python_hash=day_hash,
            sql_hash=expect,
        )
    payload = write_parquet(table)
    path = data_path(entrypoint, Tier.HOT, f"day={day.isoformat()}", day_hash)
    storage.write_bytes(path, payload)
    return FileEntry(
        path=path,
        tier=Tier.HOT,
        bytes=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
        rows=table.num_rows,
        days=(
            DayEntry(
                day=day,
                rows=table.num_rows,
                row_offset=0,
                dataset_hash=day_hash,
                columns={name: h.digest for name, h in hashes.items()},
            ),
        ),
    )
