"""The commit protocol: write the next manifest put-if-absent, rebase on a lost race.

Data files are written before this runs; the manifest is the single atomic step. A writer
that loses the race for sequence number N+1 re-reads the new head, rebuilds its manifest on
top of it (``build`` is called again) and tries N+2. A write whose outcome is unknown is
settled by reading sequence number N+1 back, never by writing again blindly.
"""

from __future__ import annotations

from collections.abc import Callable

from t0lake.errors import (
    CommitConflictError,
    CommitStateUnknownError,
    IntegrityError,
    SnapshotNotFoundError,
)
from t0lake.lake.layout import manifest_path
from t0lake.lake.log import head, load
from t0lake.lake.manifest import Manifest
from t0lake.lake.storage import Storage

__all__ = ["MAX_ATTEMPTS", "commit"]

MAX_ATTEMPTS = 20


def commit(
    storage: Storage,
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


def _landed(storage: Storage, entrypoint: str, proposed: Manifest) -> bool:
    """Whether an ambiguous write actually stored our manifest (re-read, compare checksum).

    If the object cannot even be read back, the state stays unknown: say so, do not guess.
    """
    try:
        stored = load(storage, entrypoint, proposed.snapshot_id)
    except (IntegrityError, SnapshotNotFoundError):
        return False
    except OSError as exc:
        raise CommitStateUnknownError(
            f"cannot tell whether snapshot {proposed.snapshot_id} of {entrypoint} was "
            f"committed: {exc}; re-read the lake before retrying",
            entrypoint=entrypoint,
            snapshot_id=proposed.snapshot_id,
        ) from exc
    return stored.sha256 == proposed.sha256
