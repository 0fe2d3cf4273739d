"""The commit protocol: find the head, write the next manifest put-if-absent, rebase on loss.

Data files are written before this runs; the manifest is the single atomic step. A writer
that loses the race for sequence number N+1 re-reads the new head, rebuilds its manifest on
top of it (``build`` is called again) and tries N+2. A write whose outcome is unknown is
settled by reading sequence number N+1 back, never by writing again blindly.
"""

from __future__ import annotations

from collections.abc import Callable

from t0lake.errors import CommitConflictError, CommitStateUnknownError, IntegrityError
from t0lake.manifest import MANIFEST_DIR, Manifest, manifest_path, snapshot_id_of
from t0lake.storage import LakeStorage

__all__ = ["commit", "head", "load", "snapshot_ids"]

MAX_ATTEMPTS = 20


def snapshot_ids(storage: LakeStorage, entrypoint: str) -> list[int]:
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


def load(storage: LakeStorage, entrypoint: str, snapshot_id: int) -> Manifest:
    """One manifest, validated (IntegrityError if it was edited or does not belong here)."""
    where = manifest_path(entrypoint, snapshot_id)
    try:
        data = storage.read_bytes(where)
    except FileNotFoundError:
        raise IntegrityError(
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


def head(storage: LakeStorage, entrypoint: str) -> Manifest | None:
    """The latest snapshot, or None for an entrypoint never committed to this lake."""
    ids = snapshot_ids(storage, entrypoint)
    if not ids:
        return None
    latest = load(storage, entrypoint, ids[-1])
    if latest.parent_snapshot_id is not None:
        parent = load(storage, entrypoint, latest.parent_snapshot_id)
        if parent.sha256 != latest.parent_sha256:
            raise IntegrityError(
                f"snapshot {latest.snapshot_id} of {entrypoint} does not descend from the "
                f"manifest now stored as snapshot {parent.snapshot_id} (history was rewritten)",
                entrypoint=entrypoint,
                snapshot_id=latest.snapshot_id,
            )
    return latest


def commit(
    storage: LakeStorage,
    entrypoint: str,
    build: Callable[[Manifest | None], Manifest | None],
    *,
    max_attempts: int = MAX_ATTEMPTS,
) -> Manifest | None:
    """Commit ``build(head)`` as the next snapshot; None when ``build`` says there is nothing
    to commit. ``build`` must return a manifest whose snapshot id is head + 1 and whose
    parent is ``head``; it is called again after every lost race."""
    for _ in range(max_attempts):
        current = head(storage, entrypoint)
        proposed = build(current)
        if proposed is None:
            return None
        proposed = proposed.sealed()
        expected_id = (current.snapshot_id if current else 0) + 1
        if proposed.snapshot_id != expected_id:
            raise ValueError(f"build() proposed snapshot {proposed.snapshot_id}, not {expected_id}")
        path = manifest_path(entrypoint, proposed.snapshot_id)
        try:
            storage.put_if_absent(path, proposed.to_bytes())
            return proposed
        except CommitConflictError:
            continue
        except CommitStateUnknownError:
            if _landed(storage, entrypoint, proposed):
                return proposed
            continue
    raise CommitConflictError(
        f"gave up committing to {entrypoint} after {max_attempts} lost races",
        entrypoint=entrypoint,
    )


def _landed(storage: LakeStorage, entrypoint: str, proposed: Manifest) -> bool:
    """Whether an ambiguous write actually stored our manifest (re-read, compare checksum).

    If the object cannot even be read back, the state stays unknown: say so, do not guess.
    """
    try:
        stored = load(storage, entrypoint, proposed.snapshot_id)
    except IntegrityError:
        return False
    except OSError as exc:
        raise CommitStateUnknownError(
            f"cannot tell whether snapshot {proposed.snapshot_id} of {entrypoint} was "
            f"committed: {exc}; re-read the lake before retrying",
            entrypoint=entrypoint,
            snapshot_id=proposed.snapshot_id,
        ) from exc
    return stored.sha256 == proposed.sha256
