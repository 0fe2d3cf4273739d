"""Feature schemas of the FeatureVector store (seed 003, sections 4.2, 4.3 and 7).

A schema version fixes, once and for all, which features a vector carries, in which order,
with which type and fixed-point scale. Everything else in the store leans on that: the blob
layout is derived from it, and ``schema_hash`` (sha256 of the canonical JSON below) is how a
consumer proves that the schema it decodes with is the one the producer encoded with.

Canonical JSON (what ``schema_hash`` hashes; docs/feature_vectors.md)::

    {"domain":"example.orderbook","feature_schema_version":1,"features":[
     {"name":"mid_px","nullable":false,"scale":8,"type":"i64"}, ...]}

UTF-8, keys sorted, no whitespace, ASCII only (names and domains are ASCII), every key always
present, features in schema order. The same schema gives the same bytes on every machine.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from t0lake._util.canonical_json import canonical_json_bytes
from t0lake.errors import ConfigError

__all__ = [
    "FEATURE_TYPES",
    "MAX_SCHEMA_VERSION",
    "RESERVED_NAMES",
    "FeatureDef",
    "FeatureSchema",
    "FeatureType",
]

FeatureType = Literal["bool", "i32", "i64", "f64"]

# type -> (bytes in the blob, largest scale). Fixed-point scales stop where 10**scale no
# longer fits the integer, so every scale has at least one representable non-zero value.
FEATURE_TYPES: Mapping[str, tuple[int, int]] = {
    "bool": (1, 0),
    "i32": (4, 9),
    "i64": (8, 18),
    "f64": (8, 0),
}

# fv.feature_schemas.feature_schema_version is a smallint with a CHECK >= 0: the seed's u16
# stops at 32767 here.
MAX_SCHEMA_VERSION = 32767

# Column names of query_features' frames; a feature may not shadow one of them.
RESERVED_NAMES = frozenset(
    {
        "market_id",
        "feature_schema_version",
        "epoch_id",
        "tick_index",
        "window_start_ms",
        "window_end_ms",
        "created_at_ms",
        "quality_flags",
        "features_hash",
        "window_key",
        "bucket_start_ms",
        "bucket_end_ms",
        "n_windows",
    }
)

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_DOMAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")
_MAX_FEATURES = 4096


@dataclass(frozen=True)
class FeatureDef:
    """One feature: its name, wire type, fixed-point scale and whether it may be NULL.

    ``scale`` applies to the integer types: a value ``x`` is stored as the integer
    ``x * 10**scale`` and must be exact at that scale (no silent rounding). A NULL feature is
    unknown, never zero, so only features declared ``nullable`` may be missing.
    """

    name: str
    type: FeatureType
    scale: int = 0
    nullable: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(
                f"feature name {self.name!r} is not a lower-case identifier "
                "([a-z][a-z0-9_]{0,62})",
                feature=str(self.name),
            )
        if self.name in RESERVED_NAMES:
            raise ConfigError(
                f"feature name {self.name!r} is reserved for a column of query_features",
                feature=self.name,
            )
        if self.type not in FEATURE_TYPES:
            raise ConfigError(
                f"feature {self.name!r}: type {self.type!r} is not one of "
                f"{', '.join(sorted(FEATURE_TYPES))}",
                feature=self.name,
            )
        max_scale = FEATURE_TYPES[self.type][1]
        if isinstance(self.scale, bool) or not isinstance(self.scale, int):
            raise ConfigError(f"feature {self.name!r}: scale must be an int", feature=self.name)
        if not 0 <= self.scale <= max_scale:
            raise ConfigError(
                f"feature {self.name!r}: scale {self.scale} outside 0..{max_scale} for "
                f"type {self.type}",
                feature=self.name,
            )
        if not isinstance(self.nullable, bool):
            raise ConfigError(f"feature {self.name!r}: nullable must be a bool", feature=self.name)

    @property
    def width(self) -> int:
        """Bytes of this feature's slot in the blob."""
        return FEATURE_TYPES[self.type][0]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "nullable": self.nullable,
            "scale": self.scale,
            "type": self.type,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> FeatureDef:
        """A definition from its JSON object; unknown or missing keys are refused."""
        if not isinstance(doc, Mapping):
            raise ConfigError(f"a feature definition must be a JSON object, not {doc!r}")
        keys = set(doc)
        if not {"name", "type"} <= keys or keys - {"name", "type", "scale", "nullable"}:
            raise ConfigError(
                "a feature definition has the keys name, type, scale and nullable; got "
                f"{sorted(keys)}",
                feature=str(doc.get("name")),
            )
        return cls(
            name=doc["name"],
            type=cast(FeatureType, doc["type"]),
            scale=doc.get("scale", 0),
            nullable=doc.get("nullable", False),
        )


@dataclass(frozen=True)
class FeatureSchema:
    """A registered schema version: domain and the ordered feature definitions.

    Immutable once registered: changing a feature's meaning or scale needs a new version
    (seed section 7.1).
    """

    version: int
    domain: str
    features: tuple[FeatureDef, ...]

    def __post_init__(self) -> None:
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise ConfigError("feature_schema_version must be an int", version=str(self.version))
        if not 0 <= self.version <= MAX_SCHEMA_VERSION:
            raise ConfigError(
                f"feature_schema_version {self.version} outside 0..{MAX_SCHEMA_VERSION}",
                version=self.version,
            )
        if not isinstance(self.domain, str) or not _DOMAIN.match(self.domain):
            raise ConfigError(
                f"domain {self.domain!r} is not 1-128 ASCII letters, digits or _.:/-",
                version=self.version,
            )
        object.__setattr__(self, "features", tuple(self.features))
        if not self.features:
            raise ConfigError("a schema needs at least one feature", version=self.version)
        if len(self.features) > _MAX_FEATURES:
            raise ConfigError(
                f"a schema has at most {_MAX_FEATURES} features", version=self.version
            )
        seen: set[str] = set()
        for f in self.features:
            if not isinstance(f, FeatureDef):
                raise ConfigError("features must be FeatureDef objects", version=self.version)
            if f.name in seen:
                raise ConfigError(
                    f"feature {f.name!r} appears twice", version=self.version, feature=f.name
                )
            seen.add(f.name)

    @classmethod
    def of(
        cls, version: int, domain: str, features: Iterable[FeatureDef | Mapping[str, Any]]
    ) -> FeatureSchema:
        """A schema from definitions given as FeatureDef objects or JSON-like mappings."""
        defs = tuple(f if isinstance(f, FeatureDef) else FeatureDef.from_json(f) for f in features)
        return cls(version=version, domain=domain, features=defs)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def feature(self, name: str) -> FeatureDef:
        for f in self.features:
            if f.name == name:
                return f
        raise ConfigError(
            f"feature {name!r} is not in schema version {self.version}",
            version=self.version,
            feature=name,
        )

    def features_json(self) -> list[dict[str, Any]]:
        """The ordered definitions as stored in ``fv.feature_schemas.features``."""
        return [f.to_json() for f in self.features]

    def canonical_json(self) -> bytes:
        """The bytes ``schema_hash`` is the sha256 of (module docstring)."""
        doc = {
            "domain": self.domain,
            "feature_schema_version": self.version,
            "features": self.features_json(),
        }
        return canonical_json_bytes(doc)

    @property
    def schema_hash(self) -> bytes:
        return hashlib.sha256(self.canonical_json()).digest()

    def same_content(self, other: FeatureSchema) -> bool:
        return self.canonical_json() == other.canonical_json()
