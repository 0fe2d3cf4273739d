"""The Apache Iceberg mirror of a lake: every t0lake commit as one Iceberg snapshot.

Other engines (Spark, Trino, Snowflake, DuckDB, Polars) read an entrypoint through its
Iceberg table, at any t0lake snapshot by its tag (``t0lake-00000007``) or pin. The lake's
manifests stay the only proof source: the table is a follower, rebuilt from them, and
refused when it is not theirs (``docs/lake-format.md``, "The Iceberg mirror").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from t0lake.mirror.run import CATALOG_ENV, follow, mirror

if TYPE_CHECKING:
    from t0lake.mirror.schema import restore_types
    from t0lake.mirror.sync import MirrorResult, tag_name

__all__ = ["CATALOG_ENV", "MirrorResult", "follow", "mirror", "restore_types", "tag_name"]

# pyiceberg and SQLAlchemy cost ~0.5 s to import: an export without a catalog (and every
# Spark or Dask worker that imports t0lake) must not pay it, so these load on first use
_LAZY = {
    "MirrorResult": "t0lake.mirror.sync",
    "tag_name": "t0lake.mirror.sync",
    "restore_types": "t0lake.mirror.schema",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
