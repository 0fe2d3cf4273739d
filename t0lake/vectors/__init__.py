"""The FeatureVector store of seed 003: online reads for models, commitments for verifiers.

    schema    FeatureDef / FeatureSchema: the fixed, versioned feature list
    codec     the canonical features_blob, features_hash and window_key
    record    FeatureVector and the writer's checks (seed 5.4)
    registry  fv.feature_schemas: immutable per version
    write     idempotent, atomic batches
    read      proven point reads and range queries (downsampled on request)
    cache     latest reads, invalidated by NOTIFY
    metrics   the seed's counters and histograms (prometheus_client)
    store     FeatureStore, the API that ties them together
    tiers     vectors read from the lake (retained days, downsampled versions)
    retain    retention of old days to the lake, proven in one transaction
    downsample  downsampled versions: aggregates under a schema version of their own

docs/feature_vectors.md describes the whole store.
"""

from t0lake.vectors.codec import verify_features_hash
from t0lake.vectors.record import FeatureVector
from t0lake.vectors.retain import RetainResult, retain_vectors
from t0lake.vectors.schema import FeatureDef, FeatureSchema
from t0lake.vectors.store import FeatureStore
from t0lake.vectors.write import WriteResult

__all__ = [
    "FeatureDef",
    "FeatureSchema",
    "FeatureStore",
    "FeatureVector",
    "RetainResult",
    "WriteResult",
    "retain_vectors",
    "verify_features_hash",
]
