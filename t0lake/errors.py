"""The exception hierarchy of t0lake.

Every failure a caller can act on is a subclass of :class:`T0LakeError`, so one ``except``
clause catches everything t0lake raises on purpose, and the CLI can turn each into a
one-line message and a non-zero exit. Errors carry their context as attributes (the
entrypoint, day, column or object that failed) so callers never parse messages::

    T0LakeError
    ├── ConfigError               bad input: clear message, nothing written
    │   ├── SnapshotNotFoundError no such snapshot (or none at all) of an entrypoint
    │   ├── UnsupportedTypeError  a column type with no canonical hash encoding
    │   └── InvalidVectorError    a FeatureVector or one of its features fails validation
    ├── NotCertifiedError         entrypoint not certified, expired, or its views changed
    ├── DriftError                certified rows differ from their baseline (strict policy)
    ├── T0ViolationError          a feature could see data at or after its event time
    ├── IntegrityError            bytes read back do not match the hashes committed for them
    ├── SchemaVersionError        unknown or conflicting schema version
    ├── CommitConflictError       another writer committed first: re-read, rebase, retry
    ├── VectorConflictError       another FeatureVector holds the window_key: nothing written
    ├── CommitStateUnknownError   the commit may or may not have happened: re-read, never
    │                             blindly retry
    ├── StorageError              the storage failed (disk full, read-only, unreachable):
    │                             nothing of that write is left behind
    └── NotBuiltError             a command or operation this version does not have yet

Fail-closed paths raise these instead of returning partial or unproven data.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CommitConflictError",
    "CommitStateUnknownError",
    "ConfigError",
    "DriftError",
    "IntegrityError",
    "InvalidVectorError",
    "NotBuiltError",
    "NotCertifiedError",
    "SchemaVersionError",
    "SnapshotExpiredError",
    "SnapshotNotFoundError",
    "StorageError",
    "T0LakeError",
    "T0ViolationError",
    "UnsupportedTypeError",
    "VectorConflictError",
]


class T0LakeError(Exception):
    """Root of every error t0lake raises on purpose.

    ``context`` holds the structured facts of the failure (entrypoint, day, column, ...),
    so the CLI's ``--json`` output and callers can use them without parsing the message.
    """

    exit_code = 1

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context: dict[str, Any] = {k: v for k, v in context.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        """The error as a JSON-ready object: its kind, its message and its context."""
        return {"error": type(self).__name__, "message": self.message, **self.context}


class ConfigError(T0LakeError):
    """The caller's input is wrong (bad name, argument, column or type); nothing was done."""

    exit_code = 2


class SnapshotNotFoundError(ConfigError):
    """The lake has no such snapshot of the entrypoint (or none at all); ``snapshot_id`` is
    absent when the entrypoint was never committed to this lake."""


class SnapshotExpiredError(SnapshotNotFoundError):
    """The snapshot existed but was expired (``t0lake expire``); ``expired_by`` names the
    snapshot that recorded its expiry. Pin a snapshot to keep it readable."""


class UnsupportedTypeError(ConfigError):
    """A column's type has no canonical hash encoding; t0lake refuses rather than guess."""


class InvalidVectorError(ConfigError):
    """A FeatureVector fails the writer's checks (seed section 5.4) or a feature value cannot
    be encoded exactly under its schema; ``index`` names the record of a batch, ``feature``
    or ``field`` what is wrong. Nothing of the batch was written."""


class NotCertifiedError(T0LakeError):
    """The entrypoint is not certified, its certification expired, or a view changed."""


class DriftError(T0LakeError):
    """Rows of a certified day no longer match their baseline hash under a strict policy."""


class T0ViolationError(T0LakeError):
    """A feature definition or join could see information at or after its event time."""


class IntegrityError(T0LakeError):
    """Data read back does not match the hashes committed for it (tampered or corrupt)."""


class SchemaVersionError(T0LakeError):
    """A schema version is unknown, or the same version was registered with other content."""


class CommitConflictError(T0LakeError):
    """Another writer committed the same sequence number first; re-read and retry."""


class CommitStateUnknownError(T0LakeError):
    """The outcome of a commit is unknown; resolve by re-reading, never by blind retry."""


class StorageError(T0LakeError):
    """The storage failed an operation for a reason of its own (the disk is full, read-only
    or refuses access; an object store cannot be reached): an environment problem to fix
    before re-running, not a bug. ``path`` is the lake path it failed on; a file whose write
    failed was removed again, and no commit was made by that operation."""


class VectorConflictError(T0LakeError):
    """A different FeatureVector is already stored under this ``window_key``. Records are
    immutable (seed section 7.3): a correction is a new record under a new key (a new schema
    version), so retrying cannot help. ``fields`` names what differs; nothing was written."""


class NotBuiltError(T0LakeError):
    """The command or operation exists in the contract but not yet in this version; asking
    for it is a usage error (exit 2), never a silent no-op."""

    exit_code = 2
