"""Recording a committed lake snapshot in Postgres' ``audit.t0_export_registry``."""

from __future__ import annotations

from t0lake import pg
from t0lake.lake.manifest import Manifest

__all__ = ["register"]


def register(dsn: str, lake_url: str, manifest: Manifest, cert_id: int) -> None:
    """Record the head (idempotent per snapshot); the manifest's own certification wins
    over ``cert_id`` when it names one."""
    pg.register_export(
        dsn,
        entrypoint=manifest.entrypoint,
        lake_url=lake_url,
        snapshot_id=manifest.snapshot_id,
        manifest_sha256=manifest.sha256,
        parent_snapshot_id=manifest.parent_snapshot_id,
        cert_id=manifest.certification.get("cert_id", cert_id),
        day_hashes={d: e.dataset_hash for d, (_, e) in manifest.days().items()},
    )
