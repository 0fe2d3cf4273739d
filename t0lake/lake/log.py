"""The commit log of an entrypoint: its snapshot ids, each manifest, and the head.

A snapshot id is a manifest's sequence number; the head is the highest committed one, and
it must descend (by checksum) from the manifest stored as its parent, or history was
rewritten. An expired parent is gone on purpose: the head's expiry record holds its
checksum, which the link is checked against instead.
"""

from __future__ import annotations

from t0lake.errors import IntegrityError, SnapshotExpiredError, SnapshotNotFoundError
from t0lake.lake.layout import MANIFEST_DIR, manifest_path, snapshot_id_of
from t0lake.lake.manifest import Manifest
from t0lake.lake.storage import Storage

__all__ = [
    "check_chain",
    "head",
    "load",
    "load_retained",
    "require_head",
    "retained",
    "snapshot_ids",
]


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
    _check_link(storage, latest, latest)
    return latest


def require_head(storage: Storage, entrypoint: str, consequence: str = "") -> Manifest:
    """The head, or SnapshotNotFoundError for an entrypoint never committed to this lake;
    ``consequence`` ends the message ("there is nothing to compact")."""
    latest = head(storage, entrypoint)
    if latest is None:
        raise SnapshotNotFoundError(
            f"{entrypoint} has no snapshot in {storage.url} (looked in "
            f"{entrypoint}/{MANIFEST_DIR}/)" + (f"; {consequence}" if consequence else ""),
            entrypoint=entrypoint,
            lake=storage.url,
        )
    return latest


def _check_link(storage: Storage, child: Manifest, head: Manifest) -> None:
    """IntegrityError unless ``child`` descends from the snapshot just before it (the first
    from none): from the manifest stored there, or from the checksum ``head``'s expiry record
    keeps for it. A null or skipping parent would let a resealed manifest drop history."""
    entrypoint, parent_id = child.entrypoint, child.parent_snapshot_id
    expected = child.snapshot_id - 1 if child.snapshot_id > 1 else None
    if parent_id != expected or (parent_id is None) != (child.parent_sha256 is None):
        raise IntegrityError(
            f"snapshot {child.snapshot_id} of {entrypoint} names parent "
            f"{'none' if parent_id is None else parent_id}, not "
            f"{'none' if expected is None else expected}: every commit descends from the one "
            "before it, so history was rewritten",
            entrypoint=entrypoint,
            snapshot_id=child.snapshot_id,
        )
    if parent_id is None:
        return
    if parent_id in head.expired:
        digest = head.expired[parent_id]
    else:
        try:
            digest = load(storage, entrypoint, parent_id).sha256
        except SnapshotNotFoundError as exc:
            raise IntegrityError(
                f"snapshot {child.snapshot_id} of {entrypoint} names parent snapshot "
                f"{parent_id}, which is gone from the lake and was never expired",
                entrypoint=entrypoint,
                snapshot_id=child.snapshot_id,
            ) from exc
    if digest != child.parent_sha256:
        raise IntegrityError(
            f"snapshot {child.snapshot_id} of {entrypoint} does not descend from the "
            f"manifest recorded as snapshot {parent_id} (history was rewritten)",
            entrypoint=entrypoint,
            snapshot_id=child.snapshot_id,
        )


def retained(storage: Storage, entrypoint: str, latest: Manifest) -> list[int]:
    """The snapshot ids still part of the history (stored and not expired), oldest first."""
    return [i for i in snapshot_ids(storage, entrypoint) if i not in latest.expired]


def load_retained(storage: Storage, latest: Manifest, snapshot_id: int) -> Manifest:
    """One snapshot for time travel: SnapshotExpiredError when ``latest`` recorded it as
    expired (even if its manifest has not been deleted yet)."""
    if snapshot_id in latest.expired:
        raise SnapshotExpiredError(
            f"snapshot {snapshot_id} of {latest.entrypoint} was expired (t0lake expire); "
            "pin a snapshot to keep it readable",
            entrypoint=latest.entrypoint,
            snapshot_id=snapshot_id,
            expired_by=_first_expiry(storage, latest, snapshot_id),
        )
    return load(storage, latest.entrypoint, snapshot_id)


def _first_expiry(storage: Storage, latest: Manifest, snapshot_id: int) -> int | None:
    """The retained snapshot whose commit first recorded ``snapshot_id`` as expired."""
    for sid in retained(storage, latest.entrypoint, latest):
        if sid <= snapshot_id:
            continue
        try:
            if snapshot_id in load(storage, latest.entrypoint, sid).expired:
                return sid
        except (IntegrityError, SnapshotNotFoundError):
            return None
    return None


def check_chain(storage: Storage, latest: Manifest) -> list[Manifest]:
    """Every retained manifest, validated, each linked to its parent by checksum (or to
    the expiry record of an expired parent); IntegrityError at the first broken link."""
    ids = retained(storage, latest.entrypoint, latest)
    manifests = [load(storage, latest.entrypoint, i) for i in ids]
    for m in manifests:
        _check_link(storage, m, latest)
    return manifests
