"""t0lake: an offline feature store, certified in PostgreSQL, proven on every read."""

from t0lake import backtest
from t0lake.certify import certify, require_certified
from t0lake.errors import (
    CommitConflictError,
    CommitStateUnknownError,
    ConfigError,
    DriftError,
    IntegrityError,
    InvalidVectorError,
    NotCertifiedError,
    SchemaVersionError,
    T0LakeError,
    T0ViolationError,
    UnsupportedTypeError,
    VectorConflictError,
)
from t0lake.export import ExportResult, export
from t0lake.fv_codec import verify_features_hash
from t0lake.fv_record import FeatureVector
from t0lake.fv_schema import FeatureDef, FeatureSchema
from t0lake.hashing import column_hashes, dataset_hash
from t0lake.lineage import Fingerprint, frame_fingerprint
from t0lake.pit import pit_join
from t0lake.read import Lake, Snapshot
from t0lake.read import open_lake as open
from t0lake.vectors import FeatureStore

__version__ = "0.1.0"

__all__ = [
    "CommitConflictError",
    "CommitStateUnknownError",
    "ConfigError",
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
    "NotCertifiedError",
    "SchemaVersionError",
    "Snapshot",
    "T0LakeError",
    "T0ViolationError",
    "UnsupportedTypeError",
    "VectorConflictError",
    "__version__",
    "backtest",
    "certify",
    "column_hashes",
    "dataset_hash",
    "export",
    "frame_fingerprint",
    "open",
    "pit_join",
    "require_certified",
    "verify_features_hash",
]
