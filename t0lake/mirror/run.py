"""``t0lake mirror``: open the lake and the catalog, and mirror one entrypoint or all.

Also the step every lake commit runs when a catalog is configured (:func:`follow`): the
commit has landed by then, so a failed mirror step is reported in the commit's result,
never raised; re-running ``t0lake mirror`` catches it up.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from t0lake.errors import ConfigError, T0LakeError
from t0lake.lake import log
from t0lake.lake.snapshot import Lake
from t0lake.lake.storage import check_name, open_storage

if TYPE_CHECKING:  # pyiceberg and SQLAlchemy load only when a catalog is named
    from t0lake.mirror.sync import MirrorResult

__all__ = ["CATALOG_ENV", "follow", "mirror"]

CATALOG_ENV = "T0LAKE_ICEBERG_CATALOG"


def mirror(
    lake_url: str,
    entrypoint: str | None = None,
    *,
    catalog: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> list[MirrorResult]:
    """Bring the Iceberg table of ``entrypoint`` (default: of every entrypoint in the lake)
    up to the lake's head, one Iceberg snapshot per t0lake snapshot not mirrored yet.

    Args:
        lake_url: a local path or ``s3://bucket/prefix``.
        entrypoint: ``schema.view``; None mirrors every entrypoint of the lake.
        catalog: a SQLAlchemy URL of the catalog (``postgresql+psycopg://…``, ``sqlite:///…``);
            None reads ``T0LAKE_ICEBERG_CATALOG``.
        storage_options: fsspec options of the lake (the same ones reach pyiceberg's FileIO).

    Raises:
        ConfigError: a bad argument, lake or catalog URL, or a table made for another lake
            or schema (nothing written).
        IntegrityError: a table's head is not a snapshot of this lake (nothing written).
        CommitConflictError, CommitStateUnknownError: a commit lost a race or its outcome
            is unknown; re-running settles it.
    """
    from t0lake.mirror.catalog import open_catalog, open_table
    from t0lake.mirror.sync import mirror_entrypoint

    url = catalog if catalog is not None else os.environ.get(CATALOG_ENV)
    if not url:
        raise ConfigError(
            f"no Iceberg catalog: pass --iceberg-catalog URL or set {CATALOG_ENV}",
            parameter="iceberg_catalog",
        )
    storage = open_storage(lake_url, storage_options)
    names = [check_name(entrypoint)] if entrypoint is not None else Lake(storage).entrypoints()
    iceberg = open_catalog(url, storage)
    results = []
    for name in names:
        head = log.require_head(storage, name, "there is nothing to mirror")
        table = open_table(iceberg, storage, name, head.schema)
        results.append(mirror_entrypoint(storage, table, name))
    return results


def follow(
    lake_url: str,
    entrypoint: str,
    catalog: str | None,
    storage_options: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The mirror step after a landed commit: None without a catalog, else
    ``{"mirrored": true, …}`` or ``{"mirrored": false, "error": …}``: a failed step never
    fails the commit before it."""
    if not catalog:
        return None
    try:
        (result,) = mirror(lake_url, entrypoint, catalog=catalog, storage_options=storage_options)
    except T0LakeError as exc:
        return {"mirrored": False, "error": exc.message, "kind": type(exc).__name__}
    except Exception as exc:  # pyiceberg, SQLAlchemy, the network: the commit stands
        text = _redact_text(str(exc), catalog)
        return {
            "mirrored": False,
            "error": f"{type(exc).__name__}: {text}".strip(),
            "kind": "Error",
        }
    return {"mirrored": True, **result.to_dict()}


def _redact_text(text: str, catalog: str) -> str:
    """``text`` with the catalog URL (and so its password) replaced by its masked form."""
    from t0lake.mirror.catalog import redact

    return text.replace(catalog, redact(catalog)) if catalog else text
