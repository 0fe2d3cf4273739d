"""Postgres catalog types → the lake's Arrow schema.

An entrypoint's lake schema is fixed by the catalog (``pg_attribute``/``pg_type``), not by
what a day's rows happen to hold, so every day of an entrypoint has the same schema and a
type with no canonical hash encoding is refused before anything is fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
import pyarrow as pa

from t0lake.errors import UnsupportedTypeError
from t0lake.hashing import TYPE_METADATA_KEY

__all__ = ["ColumnSpec", "arrow_schema", "relation_columns"]

_SCALAR: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bytea": pa.binary(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "jsonb": pa.string(),
}


@dataclass(frozen=True)
class ColumnSpec:
    """One output column of the entrypoint as the Postgres catalog declares it."""

    name: str
    type_name: str  # pg_type.typname of the base type, e.g. int8, numeric, _text
    typmod: int

    def arrow_field(self) -> pa.Field:
        return pa.field(self.name, _arrow_type(self), metadata=_metadata(self))


def _numeric_type(typmod: int) -> pa.DataType | None:
    """decimal128(p, s) for numeric(p, s) with p <= 38; None (exact text) otherwise."""
    if typmod < 4:
        return None
    precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    if not 1 <= precision <= 38 or scale > precision:
        return None
    return pa.decimal128(precision, scale)


def _arrow_type(col: ColumnSpec) -> pa.DataType:
    element = col.type_name[1:] if col.type_name.startswith("_") else col.type_name
    if element == "numeric":
        scalar = _numeric_type(col.typmod) if element == col.type_name else None
        scalar = scalar or pa.string()
    elif element in _SCALAR and not (element == "jsonb" and element != col.type_name):
        scalar = _SCALAR[element]
    else:
        raise UnsupportedTypeError(
            f"column {col.name!r} has type {col.type_name}, which the lake cannot hold with a "
            "canonical hash (see docs/hashing.md)",
            column=col.name,
            type=col.type_name,
        )
    return pa.list_(scalar) if element != col.type_name else scalar


def _metadata(col: ColumnSpec) -> dict[bytes, bytes] | None:
    if col.type_name == "jsonb":
        return {TYPE_METADATA_KEY: b"jsonb"}
    if col.type_name == "numeric" and _numeric_type(col.typmod) is None:
        return {TYPE_METADATA_KEY: b"numeric"}
    return None


def arrow_schema(columns: Sequence[ColumnSpec]) -> pa.Schema:
    """The lake schema of an entrypoint: fixed by the catalog, identical for every day."""
    return pa.schema([c.arrow_field() for c in columns])


# Each column's type with its domains resolved, innermost last: a domain is stored, sent and
# hashed as its base type (audit.t0_hash_type_tag resolves it the same way), and its typmod
# is the domain's own (numeric(12, 3) under "CREATE DOMAIN money3 AS numeric(12, 3)") unless
# the column declares one. An array of a domain keeps its own type name, which the lake
# refuses: ADBC's built-in type table would not know it.
_COLUMNS = """
WITH RECURSIVE chain (attnum, attname, typid, typmod, depth) AS (
  SELECT a.attnum, a.attname, a.atttypid, a.atttypmod, 0
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT c.attnum, c.attname, t.typbasetype,
         CASE WHEN c.typmod <> -1 THEN c.typmod ELSE t.typtypmod END, c.depth + 1
    FROM chain c JOIN pg_catalog.pg_type t ON t.oid = c.typid
   WHERE t.typtype = 'd'
)
SELECT DISTINCT ON (c.attnum) c.attname, t.typname, c.typmod
  FROM chain c JOIN pg_catalog.pg_type t ON t.oid = c.typid
 ORDER BY c.attnum, c.depth DESC
"""


def relation_columns(conn: psycopg.Connection, relation: str) -> list[ColumnSpec]:
    """The output columns of an existing relation, in column order, each domain as its base
    type."""
    return [
        ColumnSpec(name, type_name, typmod)
        for name, type_name, typmod in conn.execute(_COLUMNS, (relation,)).fetchall()
    ]
