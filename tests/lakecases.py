"""A small certified store of every supported type, for the lake tests.

``lk.features_v`` has a text+int8 key (so byte order matters), NULLs in every non-key
column, NaN, jsonb, arrays, constrained and unconstrained numerics, and timestamptz. Each
test gets it in its own database, certified, with ``DAYS`` days of ``ROWS_PER_DAY`` rows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from psycopg import sql

import t0lake
from t0lake import pg
from t0lake.lake.manifest import FileEntry, Manifest, Operation, schema_hash, schema_to_b64

EP = "lk.features_v"
DAYS = 5
ROWS_PER_DAY = 40
FIRST_DAY = "2026-03-01"

_SQL = """
CREATE SCHEMA lk;
CREATE TABLE lk.src (
  grp text NOT NULL,
  id bigint NOT NULL,
  ts timestamp NOT NULL,
  tz timestamptz,
  amount numeric(12, 3),
  raw numeric,
  score double precision,
  ratio real,
  flag boolean,
  small smallint,
  d date,
  payload jsonb,
  tags text[],
  blob bytea,
  PRIMARY KEY (grp, id)
);
INSERT INTO lk.src
SELECT (ARRAY['alpha', 'Beta', 'gamma', 'Zeta'])[1 + i % 4],
       i,
       timestamp {first} + ((i - 1) / {per_day}) * interval '1 day'
                           + (i % 1440) * interval '1 minute',
       CASE WHEN i % 7 <> 0 THEN timestamptz {first_utc} + i * interval '37 minutes' END,
       CASE WHEN i % 5 <> 0 THEN (i * 1.125)::numeric(12, 3) END,
       CASE WHEN i % 6 <> 0 THEN (i::numeric / 7)::numeric(30, 20) END,
       CASE WHEN i % 11 = 0 THEN 'NaN'::float8 WHEN i % 9 <> 0 THEN i * 0.5 END,
       CASE WHEN i % 4 <> 0 THEN (i * 0.25)::real END,
       CASE WHEN i % 3 <> 0 THEN i % 2 = 0 END,
       CASE WHEN i % 8 <> 0 THEN (i % 300)::smallint END,
       CASE WHEN i % 10 <> 0 THEN date '2025-01-01' + i END,
       CASE WHEN i % 4 = 0 THEN NULL
            ELSE jsonb_build_object('n', i, 'tag', 'x' || i, 'f', i * 0.5) END,
       CASE WHEN i % 5 = 0 THEN NULL ELSE ARRAY['t' || i, NULL, 'u'] END,
       CASE WHEN i % 3 = 0 THEN NULL ELSE decode(lpad(to_hex(i), 8, '0'), 'hex') END
  FROM generate_series(1, {days} * {per_day}) AS i;
CREATE VIEW lk.features_v AS
SELECT grp, id, ts, tz, amount, raw, score, ratio, flag, small, d, payload, tags, blob
  FROM lk.src;
INSERT INTO audit.t0_entrypoint (entrypoint, key_cols, event_time_col, day_expr, drift_policy)
VALUES ('lk.features_v', ARRAY['grp', 'id'], 'ts', 'ts::date', {policy});
"""


def make_store(dsn: str, *, policy: str = "strict", certify: bool = True) -> None:
    """Create and (by default) certify ``lk.features_v`` in the database of ``dsn``."""
    with pg.connect(dsn) as conn:
        conn.execute(
            sql.SQL(_SQL).format(
                first=sql.Literal(FIRST_DAY),
                first_utc=sql.Literal(f"{FIRST_DAY} 00:00+00"),
                per_day=sql.Literal(ROWS_PER_DAY),
                days=sql.Literal(DAYS),
                policy=sql.Literal(policy),
            )
        )
        conn.commit()
    if certify:
        t0lake.certify(dsn, EP, check_days=DAYS)


def run_sql(dsn: str, statement: str) -> None:
    with pg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement.encode())


@pytest.fixture
def store_dsn(fresh_dsn: str) -> str:
    """A database holding the certified ``lk.features_v``."""
    make_store(fresh_dsn)
    return fresh_dsn


@pytest.fixture
def lake_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="t0lake-lake-") as tmp:
        yield str(Path(tmp) / "lake")


@pytest.fixture
def lake(store_dsn: str, lake_dir: str) -> str:
    """A local lake holding one export of ``lk.features_v``."""
    t0lake.export(store_dsn, EP, lake_dir)
    return lake_dir


def day_file(lake: str, day: date) -> Path:
    """The one hot-tier data file of ``day`` in an exported lake."""
    (path,) = (Path(lake) / EP / "tier=hot" / f"day={day}").glob("*.parquet")
    return path


def tamper_one_value(path: Path, column: str) -> None:
    """Rewrite a data file as valid Parquet with the same schema and the first value of the
    float ``column`` changed: only the content hashes can tell."""
    table = pq.read_table(path)
    values = table.column(column).to_pylist()
    values[0] = -12345.5 if values[0] != -12345.5 else 0.0  # (NaN + 1 would still be NaN)
    field = table.field(column)
    table = table.set_column(
        table.schema.get_field_index(column), field, pa.array(values, field.type)
    )
    pq.write_table(table, path, compression="zstd")


def tree_digest(root: str) -> dict[str, int]:
    """Every file under a local lake with its size and mtime: equal digests, untouched tree."""
    base = Path(root)
    return {
        str(p.relative_to(base)): p.stat().st_mtime_ns
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


def synthetic_manifest(
    entrypoint: str,
    schema: pa.Schema,
    files: tuple[FileEntry, ...],
    head: Manifest | None = None,
) -> Manifest:
    """The next manifest after ``head`` of a lake written by a test, not by an export: key
    ``id``, placeholder declaration and certification."""
    return Manifest(
        entrypoint=entrypoint,
        snapshot_id=(head.snapshot_id if head else 0) + 1,
        parent_snapshot_id=head.snapshot_id if head else None,
        parent_sha256=head.sha256 if head else None,
        committed_at="2026-11-24T00:00:00+00:00",
        operation=Operation.EXPORT,
        key=("id",),
        day_expr="d",
        event_time_col="d",
        viewdef_hash="v",
        certification={"cert_id": 1},
        arrow_schema=schema_to_b64(schema),
        schema_hash=schema_hash(schema),
        files=files,
    )
