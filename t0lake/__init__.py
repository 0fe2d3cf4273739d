"""t0lake: an offline feature store, certified in PostgreSQL, proven on every read.

The public API; everything else is reached through the subpackages (docs/architecture.md).
Only the errors and ``__version__`` are imported with the package: every other name loads
its module on first use (PEP 562), so ``import t0lake`` costs next to nothing and a lake
read or a ``pit_join`` imports what it needs and no more: not psycopg and ADBC (only
certification and export talk to Postgres), not prometheus_client (the FeatureVector
store), not numba (the compiled join, for large inputs). ``dir(t0lake)`` and
``from t0lake import *`` see every name of ``__all__``.
"""

import importlib
from typing import TYPE_CHECKING, Any

from t0lake._version import __version__
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

if TYPE_CHECKING:
    from t0lake import backtest
    from t0lake.certification import certify, require_certified
    from t0lake.exporter.export import ExportResult, export
    from t0lake.hashing import column_hashes, dataset_hash
    from t0lake.lake import Lake, Snapshot
    from t0lake.lake import open_lake as open
    from t0lake.lake.maintenance import Downsample, expire, get_policy, pin, set_policy, unpin
    from t0lake.lake.maintenance.compact import compact
    from t0lake.lake.maintenance.vacuum import vacuum
    from t0lake.lake.tiers import TierPolicy
    from t0lake.lineage import Fingerprint, frame_fingerprint
    from t0lake.pit import pit_join
    from t0lake.pit.distributed import pit_join_dask
    from t0lake.vectors import (
        FeatureDef,
        FeatureSchema,
        FeatureStore,
        FeatureVector,
        RetainResult,
        retain_vectors,
        verify_features_hash,
    )

# public name -> (module, attribute in it; None: the module itself), imported on first use
_LAZY: dict[str, tuple[str, str | None]] = {
    "backtest": ("t0lake.backtest", None),
    "certify": ("t0lake.certification", "certify"),
    "require_certified": ("t0lake.certification", "require_certified"),
    "ExportResult": ("t0lake.exporter", "ExportResult"),
    "export": ("t0lake.exporter", "export"),
    "column_hashes": ("t0lake.hashing", "column_hashes"),
    "dataset_hash": ("t0lake.hashing", "dataset_hash"),
    "Lake": ("t0lake.lake", "Lake"),
    "Snapshot": ("t0lake.lake", "Snapshot"),
    "open": ("t0lake.lake", "open_lake"),
    "Downsample": ("t0lake.lake.maintenance", "Downsample"),
    "compact": ("t0lake.lake.maintenance", "compact"),
    "expire": ("t0lake.lake.maintenance", "expire"),
    "get_policy": ("t0lake.lake.maintenance", "get_policy"),
    "pin": ("t0lake.lake.maintenance", "pin"),
    "set_policy": ("t0lake.lake.maintenance", "set_policy"),
    "unpin": ("t0lake.lake.maintenance", "unpin"),
    "vacuum": ("t0lake.lake.maintenance", "vacuum"),
    "TierPolicy": ("t0lake.lake.tiers", "TierPolicy"),
    "Fingerprint": ("t0lake.lineage", "Fingerprint"),
    "frame_fingerprint": ("t0lake.lineage", "frame_fingerprint"),
    "pit_join": ("t0lake.pit", "pit_join"),
    "pit_join_dask": ("t0lake.pit.distributed", "pit_join_dask"),
    "FeatureDef": ("t0lake.vectors", "FeatureDef"),
    "FeatureSchema": ("t0lake.vectors", "FeatureSchema"),
    "FeatureStore": ("t0lake.vectors", "FeatureStore"),
    "FeatureVector": ("t0lake.vectors", "FeatureVector"),
    "RetainResult": ("t0lake.vectors", "RetainResult"),
    "retain_vectors": ("t0lake.vectors", "retain_vectors"),
    "verify_features_hash": ("t0lake.vectors", "verify_features_hash"),
}


def __getattr__(name: str) -> Any:
    """A public name's value, its module imported when it is first asked for (and kept,
    so later lookups are plain attribute reads)."""
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 't0lake' has no attribute {name!r}")
    module = importlib.import_module(target[0])
    value = module if target[1] is None else getattr(module, target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The loaded names and every public one, loaded or not (for completion and ``dir``)."""
    return sorted(set(globals()) | set(__all__))


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
    "RetainResult",
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
    "pit_join_dask",
    "require_certified",
    "retain_vectors",
    "set_policy",
    "unpin",
    "vacuum",
    "verify_features_hash",
]
