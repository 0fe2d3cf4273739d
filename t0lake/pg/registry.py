"""``audit.t0_export_registry``: which lake snapshot holds which certified days.

The registry lets a Postgres user ask where the certified rows went without reading the
lake; the lake's manifests stay the proof. A row is never rewritten: a snapshot number
registered with one manifest and found in the lake with another means the lake's history
was rewritten, which the exporter refuses rather than papers over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date

import psycopg

__all__ = ["register_export", "registered_entrypoints", "registered_snapshots"]


def registered_snapshots(
    conn: psycopg.Connection, lake_url: str, entrypoint: str
) -> dict[int, str]:
    """The manifest checksum registered for each snapshot of one entrypoint in one lake."""
    rows = conn.execute(
        "SELECT snapshot_id, manifest_sha256 FROM audit.t0_export_registry"
        " WHERE lake_url = %s AND entrypoint = %s",
        (lake_url, entrypoint),
    ).fetchall()
    return {int(r[0]): str(r[1]) for r in rows}


def registered_entrypoints(conn: psycopg.Connection, lake_url: str) -> list[str]:
    """Every entrypoint the registry says was exported to one lake."""
    rows = conn.execute(
        "SELECT DISTINCT entrypoint FROM audit.t0_export_registry WHERE lake_url = %s"
        " ORDER BY entrypoint",
        (lake_url,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def register_export(
    conn: psycopg.Connection,
    *,
    entrypoint: str,
    lake_url: str,
    snapshot_id: int,
    manifest_sha256: str,
    parent_snapshot_id: int | None,
    cert_id: int,
    day_hashes: Mapping[date, str],
) -> str:
    """Record one committed snapshot unless it is registered already; the manifest checksum
    the registry holds for it afterwards (another than ``manifest_sha256`` when the number
    was registered with another manifest)."""
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
    row = conn.execute(
        "SELECT manifest_sha256 FROM audit.t0_export_registry"
        " WHERE lake_url = %s AND entrypoint = %s AND snapshot_id = %s",
        (lake_url, entrypoint, snapshot_id),
    ).fetchone()
    return str(row[0]) if row is not None else manifest_sha256
