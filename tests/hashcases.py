"""Build the same rows as an Arrow table and as a Postgres table, for hash comparisons.

A case is a list of (column name, Postgres type) and rows of plain Python values. The
Arrow types chosen here are the ones t0lake maps to each Postgres type.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal, localcontext
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

Columns = Sequence[tuple[str, str]]

ARROW_TYPES: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "numeric": pa.decimal128(38, 10),
    "text": pa.string(),
    "bytea": pa.binary(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "jsonb": pa.json_(),
    "int4[]": pa.list_(pa.int32()),
    "int8[]": pa.list_(pa.int64()),
    "text[]": pa.list_(pa.string()),
    "float8[]": pa.list_(pa.float64()),
}


def arrow_table(columns: Columns, rows: Sequence[Sequence[Any]]) -> pa.Table:
    arrays = {}
    for i, (name, pg_type) in enumerate(columns):
        values = [row[i] for row in rows]
        if pg_type == "numeric":
            with localcontext(prec=60):
                values = [
                    None if v is None else Decimal(v).quantize(Decimal("1e-10")) for v in values
                ]
        arrays[name] = pa.array(values, type=ARROW_TYPES[pg_type])
    return pa.table(arrays)


def pg_table(
    conn: psycopg.Connection, name: str, columns: Columns, rows: Sequence[Sequence[Any]]
) -> None:
    """(Re)create a table of these column types in Postgres and load the rows."""
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
    conn.execute(
        sql.SQL("CREATE TABLE {} ({})").format(
            sql.Identifier(name),
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns
            ),
        )
    )
    if not rows:
        return
    insert = sql.SQL("INSERT INTO {} VALUES ({})").format(
        sql.Identifier(name),
        sql.SQL(", ").join(sql.SQL("%s::{}").format(sql.SQL(t)) for _, t in columns),
    )
    with conn.cursor() as cur:
        # jsonb goes in as its JSON text, so Postgres (not psycopg) parses the numbers
        cur.executemany(insert, [list(row) for row in rows])


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)  # type: ignore[misc]


def _decode(pg_type: str, value: Any) -> Any:
    if value is None:
        return None
    if pg_type.endswith("[]"):
        return [_decode(pg_type[:-2], v) for v in value]
    decoders = {
        "float4": float,
        "float8": float,
        "numeric": Decimal,
        "date": dt.date.fromisoformat,
        "timestamp": dt.datetime.fromisoformat,
        "timestamptz": dt.datetime.fromisoformat,
        "bytea": bytes.fromhex,
    }
    return decoders.get(pg_type, lambda v: v)(value)


def decode_rows(columns: Columns, rows: list[list[Any]]) -> list[list[Any]]:
    return [[_decode(t, v) for (_, t), v in zip(columns, row, strict=True)] for row in rows]
