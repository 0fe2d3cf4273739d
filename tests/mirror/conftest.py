"""Fixtures of the mirror tests: a real PostgreSQL catalog (a database of its own on the
session server, reached through SQLAlchemy and psycopg 3), and the checks every test makes
of a mirrored table against the lake it mirrors."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from psycopg import sql
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table

import t0lake
from t0lake import pg
from t0lake.lake import log
from t0lake.lake.storage import open_storage
from t0lake.mirror import restore_types, tag_name
from t0lake.mirror.catalog import file_io_properties
from t0lake.mirror.deletes import dead_positions, dead_ranges, read_deletes
from t0lake.testing import TempPostgres

_counter = itertools.count()


@pytest.fixture
def catalog_url(pg_server: TempPostgres) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database on the session PostgreSQL, for one catalog."""
    name = f"t0lake_iceberg_{os.getpid()}_{next(_counter)}"
    with pg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield f"postgresql+psycopg://postgres@127.0.0.1:{pg_server.port}/{name}"
    with pg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def load_table(
    catalog_url: str, lake: str, entrypoint: str, options: dict[str, Any] | None = None
) -> Table:
    storage = open_storage(lake, options)
    catalog = SqlCatalog("t0lake", uri=catalog_url, **file_io_properties(storage))
    table = catalog.load_table(tuple(entrypoint.split(".", 1)))
    catalog.engine.dispose()
    return table


def check_mirror(
    table: Table,
    lake: str,
    entrypoint: str,
    options: dict[str, Any] | None = None,
    skipped: frozenset[int] = frozenset(),
) -> dict[int, int]:
    """Assert the table mirrors every retained snapshot of the lake exactly: a tag per
    snapshot whose files are the manifest's live files, each partial one with exactly one
    position-delete file naming the rows the manifest leaves out (a complete one with none),
    whose summary names the snapshot and its manifest, and whose rows, read by pyiceberg and
    by polars.scan_iceberg, are t0lake's rows of that snapshot (row for row once sorted, and
    the same canonical content hash, restored to the certified types); no tag of an expired
    or ``skipped`` one. Returns t0lake snapshot id → Iceberg snapshot id."""
    storage = open_storage(lake, options)
    latest = log.require_head(storage, entrypoint)
    opened = t0lake.open(lake, options)
    refs = table.refs()
    assert table.properties["gc.enabled"] == "false"
    assert table.properties["commit.retry.num-retries"] == "0"
    out = {}
    for sid in log.retained(storage, entrypoint, latest):
        if sid in skipped:
            assert tag_name(sid) not in refs
            continue
        manifest = log.load(storage, entrypoint, sid)
        ref = refs[tag_name(sid)]
        snapshot = table.snapshot_by_id(ref.snapshot_id)
        assert snapshot is not None and snapshot.summary is not None
        summary = snapshot.summary.additional_properties
        assert summary["t0lake.snapshot-id"] == str(sid)
        assert summary["t0lake.manifest-sha256"] == manifest.sha256
        scan = table.scan(snapshot_id=ref.snapshot_id)
        tasks = {task.file.file_path: task for task in scan.plan_files()}
        assert set(tasks) == {storage.uri(f.path) for f in manifest.files}
        for entry in manifest.files:
            task = tasks[storage.uri(entry.path)]
            if entry.complete:
                assert not task.delete_files
                continue
            (delete_file,) = task.delete_files
            assert delete_file.file_path.startswith(table.location())
            deleted = read_deletes(table.io, delete_file.file_path)
            assert set(deleted) == {task.file.file_path}
            dead = dead_positions(dead_ranges(entry))
            assert np.array_equal(deleted[task.file.file_path], dead)
            assert len(dead) == entry.rows - sum(d.rows for d in entry.days) > 0
        # unique across days: the key, then the event time
        key = list(dict.fromkeys([*manifest.key, manifest.event_time_col]))
        rows = opened.snapshot(entrypoint, sid).to_arrow()
        expected = t0lake.dataset_hash(rows, key)
        got = restore_types(scan.to_arrow(), manifest.schema)
        assert t0lake.dataset_hash(got, key) == expected
        assert _same_rows(got, rows, key)
        frame = pl.scan_iceberg(
            table, snapshot_id=ref.snapshot_id, storage_options=_polars_options(options)
        ).collect()
        got_pl = restore_types(frame.to_arrow(), manifest.schema)
        assert t0lake.dataset_hash(got_pl, key) == expected
        assert _same_rows(got_pl, rows, key)
        out[sid] = ref.snapshot_id
    for sid in latest.expired:
        assert tag_name(sid) not in refs
    for name, sid in latest.pins.items():
        assert refs[name].snapshot_id == out[sid]
    head = table.current_snapshot()
    assert head is not None and head.snapshot_id == out[latest.snapshot_id]
    return out


def _same_rows(got: pa.Table, want: pa.Table, key: list[str]) -> bool:
    """Whether two reads hold the same rows, compared row for row in key order (by polars,
    whose equality holds NaN equal to NaN and null to null, as the content hash does)."""
    if got.schema != want.schema:
        return False
    order = [(k, "ascending") for k in key]
    return pl.from_arrow(got.sort_by(order)).equals(pl.from_arrow(want.sort_by(order)))


def _polars_options(options: dict[str, Any] | None) -> dict[str, str] | None:
    if not options:
        return None
    return {
        "aws_endpoint_url": str(options["endpoint_url"]),
        "aws_access_key_id": str(options["key"]),
        "aws_secret_access_key": str(options["secret"]),
        "aws_region": "us-east-1",
        "aws_allow_http": "true",
    }
