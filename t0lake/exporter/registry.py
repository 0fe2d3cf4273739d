"""Keeping ``audit.t0_export_registry`` in step with the lake it describes.

Before an export commits, the registry is held against the lake: a snapshot registered
with another manifest than the lake's, or registered and no longer in the lake, means the
lake's history was rewritten (a manifest deleted, forged or replaced), and the export stops
before it could reuse a number. After the commit every retained snapshot the registry lacks
is registered, so a registration lost to a crash, or a snapshot committed by compaction,
expiry or a pin (which have no Postgres connection), is caught up by the next export of
any range.
"""

from __future__ import annotations

import time

from t0lake import pg
from t0lake.errors import ConfigError, IntegrityError
from t0lake.lake import log
from t0lake.lake.manifest import Manifest
from t0lake.lake.storage import LakeStorage, Storage

__all__ = ["REGISTER_ATTEMPTS", "check_lake", "check_registry", "register"]

REGISTER_ATTEMPTS = 3


def check_registry(
    conn: pg.Connection, lake_url: str, entrypoint: str, head: Manifest | None
) -> bool:
    """IntegrityError unless the registry's record of this lake agrees with its head;
    whether the registry holds anything of the entrypoint in this lake at all."""
    registered = pg.registered_snapshots(conn, lake_url, entrypoint)
    head_id = head.snapshot_id if head else 0
    lost = sorted(i for i in registered if i > head_id)
    forget = (
        "if the loss is known and accepted, delete those rows from audit.t0_export_registry "
        "(lake_url and entrypoint as named) and export again"
    )
    if lost:
        raise IntegrityError(
            f"{entrypoint}: snapshot(s) {', '.join(map(str, lost[:5]))} of {lake_url} are "
            f"registered in Postgres but gone from the lake (its head is "
            f"{head_id or 'empty'}): a manifest was deleted; restore it, or {forget}",
            entrypoint=entrypoint,
            lake=lake_url,
            snapshot_id=lost[0],
        )
    if head is not None and registered.get(head_id, head.sha256) != head.sha256:
        raise IntegrityError(
            f"{entrypoint}: the lake's snapshot {head_id} is not the manifest registered for "
            f"it (registered {registered[head_id][:12]}…, found {head.sha256[:12]}…): the "
            f"head was replaced or forged; restore it, or {forget}",
            entrypoint=entrypoint,
            lake=lake_url,
            snapshot_id=head_id,
        )
    return bool(registered)


def check_lake(dsn: str, storage: LakeStorage, entrypoints: list[str] | None = None) -> list[str]:
    """Hold a lake against what Postgres registered for it (``t0lake verify --dsn``): the
    entrypoints the registry knows in this lake, or IntegrityError for the first whose head
    is older than, or other than, the registered one (a deleted newest manifest leaves a
    chain that is sound on its own; only the source of truth still knows the snapshot that
    was committed). With ``entrypoints`` None, every entrypoint registered for the lake is
    checked, so one whose manifests are all gone is found too."""
    with pg.connect(dsn, autocommit=True) as conn:
        names = list(entrypoints or [])
        if entrypoints is None:
            names = pg.registered_entrypoints(conn, storage.canonical_url)
        return [
            name
            for name in names
            if check_registry(conn, storage.canonical_url, name, log.head(storage, name))
        ]


def register(dsn: str, lake_url: str, storage: Storage, head: Manifest, cert_id: int) -> list[int]:
    """Register every retained snapshot up to ``head`` the registry lacks; the ids
    registered now. A connection that fails is retried a few times (the commit has landed:
    giving up early would leave it unregistered until the next export)."""
    for attempt in range(REGISTER_ATTEMPTS):
        try:
            return _register_missing(dsn, lake_url, storage, head, cert_id)
        except ConfigError:
            if attempt == REGISTER_ATTEMPTS - 1:
                raise
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


def _register_missing(
    dsn: str, lake_url: str, storage: Storage, head: Manifest, cert_id: int
) -> list[int]:
    entrypoint = head.entrypoint
    with pg.connect(dsn, autocommit=True) as conn:
        registered = pg.registered_snapshots(conn, lake_url, entrypoint)
        missing = [
            i
            for i in log.retained(storage, entrypoint, head)
            if i <= head.snapshot_id and i not in registered
        ]
        for snapshot_id in missing:
            manifest = (
                head
                if snapshot_id == head.snapshot_id
                else log.load(storage, entrypoint, snapshot_id)
            )
            stored = pg.register_export(
                conn,
                entrypoint=entrypoint,
                lake_url=lake_url,
                snapshot_id=snapshot_id,
                manifest_sha256=manifest.sha256,
                parent_snapshot_id=manifest.parent_snapshot_id,
                cert_id=manifest.certification.get("cert_id", cert_id),
                day_hashes={d: e.dataset_hash for d, (_, e) in manifest.days().items()},
            )
            if stored != manifest.sha256:
                raise IntegrityError(
                    f"{entrypoint}: snapshot {snapshot_id} of {lake_url} was registered "
                    "meanwhile with another manifest than the lake's",
                    entrypoint=entrypoint,
                    lake=lake_url,
                    snapshot_id=snapshot_id,
                )
    return missing
