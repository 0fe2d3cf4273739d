"""The commit log of an entrypoint: its snapshot ids, each manifest, and the head.

A snapshot id is a manifest's sequence number; the head is the highest committed one, and
it must descend (by checksum) from the manifest stored as its parent, or history was
rewritten.
"""

from __future__ import annotations

from t0lake.errors import IntegrityError, SnapshotNotFoundError
from t0lake.lake.layout import MANIFEST_DIR, manifest_path, snapshot_id_of
from t0lake.lake.manifest import Manifest
from t0lake.lake.storage import Storage

__all__ = ["head", "load", "snapshot_ids"]


def snapshot_ids(storage: Storage, entrypoint: str) -> list[int]:
    """Committed snapshot ids, oldest first.

    The manifest directory listing only proposes candidates; each step after the highest
    listed id is probed directly, because an object store's listing may lag a commit.
    """
    listed = sorted(
        i
        for i in (snapshot_id_of(n) for n in storage.list_names(f"{entrypoint}/{MANIFEST_DIR}"))
        if i is not None
    )
    nxt = (listed[-1] if listed else 0) + 1
    while storage.exists(manifest_path(entrypoint, nxt)):
        listed.append(nxt)
        nxt += 1
    return listed


def load(storage: Storage, entrypoint: str, snapshot_id: int) -> Manifest:
    """One manifest, validated (IntegrityError if it was edited or does not belong here)."""
    where = manifest_path(entrypoint, snapshot_id)
    try:
        data = storage.read_bytes(where)
    except FileNotFoundError:
        raise SnapshotNotFoundError(
            f"snapshot {snapshot_id} of {entrypoint} does not exist in this lake",
            entrypoint=entrypoint,
            snapshot_id=snapshot_id,
        ) from None
    manifest = Manifest.from_bytes(data, where=where)
    if manifest.entrypoint != entrypoint or manifest.snapshot_id != snapshot_id:
        raise IntegrityError(
            f"manifest {where} claims to be snapshot {manifest.snapshot_id} of "
            f"{manifest.entrypoint}",
            manifest=where,
        )
    return manifest


def head(storage: Storage, entrypoint: str) -> Manifest | None:
    """The latest snapshot, or None for an entrypoint never committed to this lake."""
    ids = snapshot_ids(storage, entrypoint)
    if not ids:
        return None
    latest = load(storage, entrypoint, ids[-1])
    if latest.parent_snapshot_id is not None:
        try:
            parent = load(storage, entrypoint, latest.parent_snapshot_id)
        except SnapshotNotFoundError as exc:
            raise IntegrityError(
                f"snapshot {latest.snapshot_id} of {entrypoint} names parent snapshot "
                f"{latest.parent_snapshot_id}, which is gone from the lake",
                entrypoint=entrypoint,
                snapshot_id=latest.snapshot_id,
            ) from exc
        if parent.sha256 != latest.parent_sha256:
            raise IntegrityError(
                f"snapshot {latest.snapshot_id} of {entrypoint} does not descend from the "
                f"manifest now stored as snapshot {parent.snapshot_id} (history was rewritten)",
                entrypoint=entrypoint,
                snapshot_id=latest.snapshot_id,
            )
    return latest
