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

__all__ = ["HOT_OPTIONS", "WriterOptions", "write_day", "write_parquet"]


@dataclass(frozen=True)
class WriterOptions:
    """pyarrow.parquet.write_table settings, frozen so a tier's files are reproducible."""

    row_group_size: int = 131_072
    compression: str = "zstd"
    compression_level: int = 1
    use_dictionary: bool = True
    write_statistics: bool = True
    data_page_size: int = 1 << 20

    def to_json(self) -> dict[str, Any]:
        """The settings as a JSON-ready mapping (what a manifest records)."""
        return asdict(self)


# Hot-tier files: one per day, fast to write (an export writes them while it fetches).
HOT_OPTIONS = WriterOptions()


def write_parquet(table: pa.Table, options: WriterOptions = HOT_OPTIONS) -> bytes:
    """The deterministic Parquet bytes of a key-ordered table."""
    sink = io.BytesIO()
    pq.write_table(table, sink, **options.to_json())
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
