"""t0lake: an offline feature store, certified in PostgreSQL, proven on every read.

The public API; everything else is reached through the subpackages (docs/architecture.md).
``FeatureStore`` and the FeatureVector names load on first use, so ``import t0lake`` for a
lake read does not import the online store.
"""

from typing import TYPE_CHECKING, Any

from t0lake import backtest
from t0lake._version import __version__
from t0lake.certification import certify, require_certified
from t0lake.errors import (
    CommitConflictError,
    CommitStateUnknownError,
    ConfigError,
    DriftError,
    IntegrityError,
    InvalidVectorError,
    NotBuiltError,
    NotCertifiedError,
    SchemaVersionError,
    SnapshotExpiredError,
    SnapshotNotFoundError,
    StorageError,
    T0LakeError,
    T0ViolationError,
    UnsupportedTypeError,
    VectorConflictError,
)
from t0lake.exporter import ExportResult, export
from t0lake.hashing import column_hashes, dataset_hash
from t0lake.lake import Lake, Snapshot
from t0lake.lake import open_lake as open
from t0lake.lake.maintenance import (
    Downsample,
    compact,
    expire,
    get_policy,
    pin,
    set_policy,
    unpin,
    vacuum,
)
from t0lake.lake.tiers import TierPolicy
from t0lake.lineage import Fingerprint, frame_fingerprint
from t0lake.pit import pit_join

if TYPE_CHECKING:
    from t0lake.vectors import (
        FeatureDef,
        FeatureSchema,
        FeatureStore,
        FeatureVector,
        verify_features_hash,
    )

_LAZY = {"FeatureDef", "FeatureSchema", "FeatureStore", "FeatureVector", "verify_features_hash"}


def __getattr__(name: str) -> Any:
    """The FeatureVector store's names, imported when first asked for."""
    if name in _LAZY:
        from t0lake import vectors

        value = getattr(vectors, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 't0lake' has no attribute {name!r}")


__all__ = [
    "CommitConflictError",
    "CommitStateUnknownError",
    "ConfigError",
    "Downsample",
    "DriftError",
    "ExportResult",
    "FeatureDef",
    "FeatureSchema",
    "FeatureStore",
    "FeatureVector",
    "Fingerprint",
    "IntegrityError",
    "InvalidVectorError",
    "Lake",
    "NotBuiltError",
    "NotCertifiedError",
    "SchemaVersionError",
    "Snapshot",
    "SnapshotExpiredError",
    "SnapshotNotFoundError",
    "StorageError",
    "T0LakeError",
    "T0ViolationError",
    "TierPolicy",
    "UnsupportedTypeError",
    "VectorConflictError",
    "__version__",
    "backtest",
    "certify",
    "column_hashes",
    "compact",
    "dataset_hash",
    "expire",
    "export",
    "frame_fingerprint",
    "get_policy",
    "open",
    "pin",
    "pit_join",
    "require_certified",
    "set_policy",
    "unpin",
    "vacuum",
    "verify_features_hash",
]
