"""The export's mirror step: every column type of ``lk.features_v`` read back through
Iceberg equals t0lake's rows once restored to the certified types; a catalog that fails
never fails the landed commit, and its password is never shown."""

from __future__ import annotations

from datetime import date

import t0lake
from t0lake.lake.storage import open_storage
from t0lake.mirror.schema import DOC_PREFIX
from tests.lakecases import EP, make_store, run_sql
from tests.mirror.conftest import check_mirror, load_table


def test_export_mirrors_its_commit_and_every_type_reads_back_exactly(
    fresh_dsn: str, lake_dir: str, catalog_url: str
) -> None:
    make_store(fresh_dsn, policy="tolerant")
    first = t0lake.export(fresh_dsn, EP, lake_dir, iceberg_catalog=catalog_url)
    assert first.mirror is not None and first.mirror["mirrored"] == [1]
    run_sql(fresh_dsn, "UPDATE lk.src SET score = -1 WHERE id = 3")  # a drifted day
    second = t0lake.export(fresh_dsn, EP, lake_dir, iceberg_catalog=catalog_url)
    assert second.committed and second.mirror is not None and second.mirror["mirrored"] == [2]
    table = load_table(catalog_url, lake_dir, EP)
    check_mirror(table, lake_dir, EP)
    docs = {f.name: f.doc for f in table.schema().fields}
    assert docs["small"] == f"{DOC_PREFIX}int2" and docs["payload"] == f"{DOC_PREFIX}jsonb"
    assert str(table.schema().find_field("small").field_type) == "int"  # no int16 in Iceberg


def test_a_failed_mirror_step_never_fails_the_export(store_dsn: str, lake_dir: str) -> None:
    dead = "postgresql+psycopg://postgres:hunter2@127.0.0.1:9/nowhere"  # nothing listens
    result = t0lake.export(store_dsn, EP, lake_dir, iceberg_catalog=dead)
    assert result.committed and result.snapshot_id == 1
    assert result.mirror is not None and not result.mirror["mirrored"]
    assert "hunter2" not in str(result.to_dict())
    head = open_storage(lake_dir)
    assert t0lake.open(lake_dir).snapshot(EP).read().height == 200
    assert head.exists(f"{EP}/_manifests/00000001.json")
    assert date(2026, 3, 1) in t0lake.open(lake_dir).snapshot(EP).days()
