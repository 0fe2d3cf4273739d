"""Where things are in a lake: tiers, partition paths, manifest names.

Hive-style paths that DuckDB, Polars, pyarrow, Spark and Trino read as they are::

    {entrypoint}/tier=hot/day=2026-11-20/{content-hash}.parquet
    {entrypoint}/_manifests/00000001.json

A data file is named by its content hash, so equal content is one file and a name never
changes meaning; manifest names are zero-padded so they sort in commit order.
"""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = [
    "MANIFEST_DIR",
    "Tier",
    "data_path",
    "manifest_path",
    "snapshot_id_of",
]

MANIFEST_DIR = "_manifests"
_MANIFEST_NAME = re.compile(r"^(\d{8,})\.json$")


class Tier(StrEnum):
    """The storage tiers of the lake: ``hot`` a file per day, ``warm`` a file per month,
    ``cold`` a file per year (docs/lake-format.md)."""

    HOT = "hot"
    WARM = "warm"
    COLD = "cold"

    @property
    def rank(self) -> int:
        """0 for hot, 1 for warm, 2 for cold: data only ever moves to a higher rank."""
        return list(Tier).index(self)


def manifest_path(entrypoint: str, snapshot_id: int) -> str:
    """Zero-padded so names sort in commit order."""
    return f"{entrypoint}/{MANIFEST_DIR}/{snapshot_id:08d}.json"


def snapshot_id_of(name: str) -> int | None:
    """The snapshot id of a manifest file name, or None for anything else."""
    match = _MANIFEST_NAME.match(name)
    return int(match.group(1)) if match else None


def data_path(entrypoint: str, tier: Tier | str, partition: str, content_hash: str) -> str:
    """``{entrypoint}/tier={tier}/{partition}/{content_hash}.parquet``."""
    return f"{entrypoint}/tier={Tier(tier)}/{partition}/{content_hash}.parquet"
