"""The commit protocol: write the next manifest put-if-absent, rebase on a lost race.

Data files are written before this runs; the manifest is the single atomic step. A writer
that loses the race for sequence number N+1 re-reads the new head, rebuilds its manifest on
top of it (``build`` is called again) and tries N+2. A write whose outcome is unknown is
settled by reading sequence number N+1 back, never by writing again blindly.

A conflict is read back too: a client that re-sends a PUT whose response was lost (botocore
does) meets the object its first attempt stored, and that is our commit, not a lost race.
Lost races and unknown outcomes are counted apart, so a storage that keeps failing is
reported as that, not as contention.
"""

from __future__ import annotations

from collections.abc import Callable

from t0lake.errors import (
    CommitConflictError,
    CommitStateUnknownError,
    IntegrityError,
    SnapshotNotFoundError,
    StorageError,
)
from t0lake.lake.layout import manifest_path
from t0lake.lake.log import head, load
from t0lake.lake.manifest import Manifest
from t0lake.lake.storage import Storage

__all__ = ["MAX_ATTEMPTS", "MAX_UNKNOWN", "commit"]

MAX_ATTEMPTS = 20  # lost races before giving up
MAX_UNKNOWN = 3  # writes with no answer that read back as not landed, before giving up


def commit(
    storage: Storage,
    entrypoint: str,
    build: Callable[[Manifest | None], Manifest | None],
    *,
    max_attempts: int = MAX_ATTEMPTS,
    max_unknown: int = MAX_UNKNOWN,
) -> Manifest | None:
    """Commit ``build(head)`` as the next snapshot; None when ``build`` says there is nothing
    to commit. ``build`` must return a manifest whose snapshot id is head + 1 and whose
    parent is ``head``; it is called again after every lost race.

    Raises:
        CommitConflictError: ``max_attempts`` races were lost to other writers.
        CommitStateUnknownError: ``max_unknown`` writes failed without an answer (none of
            them is there when read back), or reading back failed: re-read the lake.
    """
    races = unknown = 0
    while True:
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
            if _landed(storage, entrypoint, proposed):
                return proposed  # our own earlier attempt, met again by a re-sent request
            races += 1
            if races >= max_attempts:
                raise CommitConflictError(
                    f"gave up committing to {entrypoint} after {races} lost races",
                    entrypoint=entrypoint,
                    attempts=races,
                ) from None
        except CommitStateUnknownError as exc:
            if _landed(storage, entrypoint, proposed):
                return proposed
            unknown += 1
            if unknown >= max_unknown:
                raise CommitStateUnknownError(
                    f"the storage kept failing: {unknown} writes of the next manifest of "
                    f"{entrypoint} got no answer, and none is there when read back (last: "
                    f"{exc.message}); nothing is known to be committed: re-read the lake "
                    "(t0lake snapshots) before retrying",
                    entrypoint=entrypoint,
                    snapshot_id=proposed.snapshot_id,
                    attempts=unknown,
                ) from exc


def _landed(storage: Storage, entrypoint: str, proposed: Manifest) -> bool:
    """Whether the object at our manifest's name is our manifest (re-read, compare checksum).

    If the object cannot even be read back, the state stays unknown: say so, do not guess.
    """
    try:
        stored = load(storage, entrypoint, proposed.snapshot_id)
    except (IntegrityError, SnapshotNotFoundError):
        return False
    except (OSError, StorageError) as exc:
        raise CommitStateUnknownError(
            f"cannot tell whether snapshot {proposed.snapshot_id} of {entrypoint} was "
            f"committed: reading it back failed too ({exc}); re-read the lake before "
            "retrying",
            entrypoint=entrypoint,
            snapshot_id=proposed.snapshot_id,
        ) from exc
    return stored.sha256 == proposed.sha256
