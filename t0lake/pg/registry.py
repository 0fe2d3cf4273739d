"""``audit.t0_export_registry``: which lake snapshot holds which certified days.

The registry lets a Postgres user ask where the certified rows went without reading the
lake; the lake's manifests stay the proof.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date

from t0lake.pg.connect import connect

__all__ = ["register_export"]


def register_export(
    dsn: str,
    *,
    entrypoint: str,
    lake_url: str,
    snapshot_id: int,
    manifest_sha256: str,
    parent_snapshot_id: int | None,
    cert_id: int,
    day_hashes: Mapping[date, str],
) -> None:
    """Record one committed snapshot (idempotent per lake, entrypoint and snapshot id)."""
    with connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO audit.t0_export_registry (entrypoint, lake_url, snapshot_id,"
            " manifest_sha256, parent_snapshot_id, cert_id, days, day_hashes)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (lake_url, entrypoint, snapshot_id) DO NOTHING",
            (
                entrypoint,
                lake_url,
                snapshot_id,
                manifest_sha256,
                parent_snapshot_id,
                cert_id,
                sorted(day_hashes),
                json.dumps({d.isoformat(): h for d, h in sorted(day_hashes.items())}),
            ),
        )
