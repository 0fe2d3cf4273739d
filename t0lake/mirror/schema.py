"""A manifest's Arrow schema as the schema of its Iceberg table.

Iceberg has no int16 and no field metadata: an ``int2`` column is an Iceberg ``int`` (it
reads back as int32), and the ``t0lake.type`` marks of jsonb and unconstrained numeric
columns (text in the files) are lost. So every field's Iceberg ``doc`` carries the column's
t0lake type tag (``t0lake.type=int2``, ``…=jsonb``), which a reader needs to restore the
certified Arrow types (:func:`restore_types`); the files themselves are never rewritten.
"""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema
from pyiceberg.types import NestedField

from t0lake.errors import ConfigError
from t0lake.hashing import canonical_type

__all__ = ["DOC_PREFIX", "iceberg_schema", "restore_types", "same_columns"]

DOC_PREFIX = "t0lake.type="


def iceberg_schema(arrow: pa.Schema) -> Schema:
    """The Iceberg schema of a manifest's Arrow schema: the same names, order and
    nullability, each field documented with its t0lake type tag. Field ids are placeholders
    (the catalog assigns them when the table is created)."""
    try:
        # pyiceberg's own Arrow → Iceberg conversion, the one create_table applies
        converted = Catalog._convert_schema_if_needed(arrow)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"the lake's schema has no Iceberg equivalent: {exc}", parameter="schema"
        ) from exc
    fields = [
        NestedField(
            field_id=f.field_id,
            name=f.name,
            field_type=f.field_type,
            required=f.required,
            doc=f"{DOC_PREFIX}{canonical_type(arrow.field(f.name))}",
        )
        for f in converted.fields
    ]
    return Schema(*fields)


def same_columns(table_schema: Schema, arrow: pa.Schema) -> bool:
    """Whether an existing Iceberg table has the columns (names, types, nullability) the
    manifest's schema maps to: a table made for another schema is never mirrored into."""
    wanted = iceberg_schema(arrow)
    have = [(f.name, str(f.field_type), f.required) for f in table_schema.fields]
    return have == [(f.name, str(f.field_type), f.required) for f in wanted.fields]


def restore_types(table: pa.Table, arrow: pa.Schema) -> pa.Table:
    """Rows an Iceberg reader returned, cast back to the manifest's exact Arrow schema
    (int32 → int16, field metadata restored), so they hash to the certified values."""
    return table.select(arrow.names).cast(arrow)
