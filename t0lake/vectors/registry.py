"""The schema registry in ``fv.feature_schemas`` (seed 003, sections 4.3 and 7).

A version, once registered, never changes: registering the same content again is a no-op
(so producers can register on every start), other content under the same version is a
:class:`SchemaVersionError`. Every schema read back is re-hashed and compared to its stored
``schema_hash``, so a consumer never decodes with a definition that was altered in place.
"""

from __future__ import annotations

import json
import time
from typing import Any

from t0lake import pg
from t0lake.errors import IntegrityError, SchemaVersionError
from t0lake.vectors.schema import FeatureSchema

__all__ = ["list_schemas", "load_schema", "register_schema"]


def _from_row(row: tuple[Any, ...]) -> FeatureSchema:
    version, domain, stored_hash, features = row
    schema = FeatureSchema.of(int(version), str(domain), features)
    if schema.schema_hash != bytes(stored_hash):
        raise IntegrityError(
            f"feature schema version {version}: its stored schema_hash does not match the "
            "sha256 of its canonical JSON (altered in place, or not registered by t0lake)",
            version=int(version),
            expected=bytes(stored_hash).hex(),
            actual=schema.schema_hash.hex(),
        )
    return schema


def register_schema(
    conn: pg.Connection, schema: FeatureSchema, *, created_at_ms: int | None = None
) -> bool:
    """Register ``schema``; True if this call registered it, False if it already was.

    Safe under concurrent registrations of the same version (the primary key decides; the
    loser compares contents).
    """
    created = time.time_ns() // 1_000_000 if created_at_ms is None else created_at_ms
    with conn.transaction():
        inserted = conn.execute(
            "INSERT INTO fv.feature_schemas"
            " (feature_schema_version, domain, schema_hash, created_at_ms, features)"
            " VALUES (%s, %s, %s, %s, %s::jsonb)"
            " ON CONFLICT (feature_schema_version) DO NOTHING RETURNING 1",
            (
                schema.version,
                schema.domain,
                schema.schema_hash,
                created,
                json.dumps(schema.features_json()),
            ),
        ).fetchone()
        if inserted is not None:
            return True
        row = conn.execute(
            "SELECT feature_schema_version, domain, schema_hash, features"
            " FROM fv.feature_schemas WHERE feature_schema_version = %s",
            (schema.version,),
        ).fetchone()
    assert row is not None  # rows are never updated; a concurrent DELETE is not supported
    if bytes(row[2]) != schema.schema_hash:
        raise SchemaVersionError(
            f"feature schema version {schema.version} is already registered with other "
            "content; a changed schema needs a new version",
            version=schema.version,
            registered=bytes(row[2]).hex(),
            given=schema.schema_hash.hex(),
        )
    _from_row(row)  # the registered row is intact too
    return False


def load_schema(conn: pg.Connection, version: int) -> FeatureSchema:
    """The registered schema of ``version``; SchemaVersionError when there is none."""
    row = conn.execute(
        "SELECT feature_schema_version, domain, schema_hash, features"
        " FROM fv.feature_schemas WHERE feature_schema_version = %s",
        (version,),
    ).fetchone()
    if row is None:
        raise SchemaVersionError(
            f"feature schema version {version} is not registered", version=version
        )
    return _from_row(row)


def list_schemas(conn: pg.Connection, domain: str | None = None) -> list[FeatureSchema]:
    """Registered schemas, by version; only those of ``domain`` when given."""
    rows = conn.execute(
        "SELECT feature_schema_version, domain, schema_hash, features"
        " FROM fv.feature_schemas"
        " WHERE %(domain)s::text IS NULL OR domain = %(domain)s"
        " ORDER BY feature_schema_version",
        {"domain": domain},
    ).fetchall()
    return [_from_row(r) for r in rows]
