"""Columns of domain types export as their base types: the lake schema, the values and the
proof are those of the base type; an array of a domain is refused before anything is
written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

import t0lake
from t0lake import pg
from tests.lakecases import run_sql

_DOMAINS = """
CREATE SCHEMA dom;
CREATE DOMAIN dom.money3 AS numeric(12, 3);
CREATE DOMAIN dom.label AS text CHECK (VALUE <> '');
CREATE DOMAIN dom.big AS int8;
CREATE DOMAIN dom.count AS dom.big CHECK (VALUE >= 0);
CREATE DOMAIN dom.counts AS int4[];
CREATE TABLE dom.src (
  grp dom.label NOT NULL,
  id dom.count NOT NULL,
  ts timestamp NOT NULL,
  price dom.money3,
  tags dom.counts,
  PRIMARY KEY (grp, id)
);
INSERT INTO dom.src
SELECT (ARRAY['a', 'B', 'c'])[1 + i % 3], i,
       timestamp '2026-03-01' + (i % 2) * interval '1 day' + i * interval '1 minute',
       CASE WHEN i % 4 <> 0 THEN (i * 1.125)::numeric(12, 3) END,
       CASE WHEN i % 5 <> 0 THEN ARRAY[i, NULL, -i]::int4[] END
  FROM generate_series(1, 30) AS i;
CREATE VIEW dom.features_v AS SELECT * FROM dom.src;
INSERT INTO audit.t0_entrypoint (entrypoint, key_cols, event_time_col, day_expr)
VALUES ('dom.features_v', ARRAY['grp', 'id'], 'ts', 'ts::date');
"""


def test_domain_columns_export_as_their_base_types(fresh_dsn: str, tmp_path: Path) -> None:
    run_sql(fresh_dsn, _DOMAINS)
    t0lake.certify(fresh_dsn, "dom.features_v", check_days=2)
    lake = str(tmp_path / "lake")
    result = t0lake.export(fresh_dsn, "dom.features_v", lake)
    assert result.days_written == [date(2026, 3, 1), date(2026, 3, 2)]
    snap = t0lake.open(lake).snapshot("dom.features_v")
    assert snap.schema.field("grp").type == pa.string()
    assert snap.schema.field("id").type == pa.int64()
    assert snap.schema.field("price").type == pa.decimal128(12, 3)  # the domain's typmod
    assert snap.schema.field("tags").type == pa.list_(pa.int32())
    frame = snap.read()  # verified: every (day, column) proven against the manifest
    rows = {(r["grp"], r["id"]): r for r in frame.to_dicts()}
    with pg.connect(fresh_dsn) as conn:
        source = conn.execute("SELECT grp, id, price, tags FROM dom.src").fetchall()
    assert len(rows) == len(source) == 30
    for grp, key, price, tags in source:
        row = rows[(grp, key)]
        assert row["price"] == price  # psycopg's Decimal, or None
        assert row["tags"] == tags


def test_an_array_of_a_domain_is_refused_before_anything_is_written(
    fresh_dsn: str, tmp_path: Path
) -> None:
    run_sql(
        fresh_dsn,
        "CREATE SCHEMA dom; CREATE DOMAIN dom.label AS text;"
        " CREATE TABLE dom.src (id int8 PRIMARY KEY, ts timestamp NOT NULL, names dom.label[]);"
        " INSERT INTO dom.src VALUES (1, '2026-03-01 10:00', ARRAY['x']::dom.label[]);"
        " CREATE VIEW dom.features_v AS SELECT * FROM dom.src;"
        " INSERT INTO audit.t0_entrypoint (entrypoint, key_cols, event_time_col, day_expr)"
        " VALUES ('dom.features_v', ARRAY['id'], 'ts', 'ts::date');",
    )
    t0lake.certify(fresh_dsn, "dom.features_v", check_days=1)
    lake = tmp_path / "lake"
    with pytest.raises(t0lake.UnsupportedTypeError) as info:
        t0lake.export(fresh_dsn, "dom.features_v", str(lake))
    assert info.value.context["column"] == "names"
    assert not lake.exists()
