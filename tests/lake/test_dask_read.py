"""Snapshot.to_dask: Snapshot.read as a Dask frame, every file proven on the worker that
reads it, on a real distributed.LocalCluster (local and moto S3 lakes)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from distributed import Client, LocalCluster
from polars.testing import assert_frame_equal

import t0lake
from t0lake.errors import ConfigError
from t0lake.lake.dask_read import FileRead, read_file_part
from tests.lakecases import DAYS, EP, ROWS_PER_DAY, day_file, tamper_one_value

TAMPERED = date(2026, 3, 2)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """One small in-process cluster for the module (2 workers of 1 thread): worker
    processes would cost seconds of start-up per worker on a shared machine."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as dask_client,
    ):
        yield dask_client


def _polars(frame: pd.DataFrame) -> pl.DataFrame:
    out = pl.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    assert isinstance(out, pl.DataFrame)
    return out


def _same_rows(ddf: Any, expected: pl.DataFrame) -> None:
    computed = ddf.compute()
    assert list(computed.index) == list(range(expected.height))  # the position in the read
    assert_frame_equal(_polars(computed), expected)


def test_to_dask_is_read_row_for_row_one_partition_per_file(lake: str, client: Client) -> None:
    snap = t0lake.open(lake).snapshot(EP)
    ddf = snap.to_dask()
    assert ddf.npartitions == DAYS  # one hot file per day
    assert ddf.divisions == (*range(0, DAYS * ROWS_PER_DAY, ROWS_PER_DAY), DAYS * ROWS_PER_DAY - 1)
    assert len(ddf) == DAYS * ROWS_PER_DAY
    _same_rows(ddf, snap.read())
    # a day range and columns, as read takes them
    some = snap.to_dask("2026-03-02", "2026-03-03", ["payload", "grp", "amount", "tags"])
    assert some.npartitions == 2
    _same_rows(some, snap.read("2026-03-02", "2026-03-03", ["payload", "grp", "amount", "tags"]))
    # a selection after to_dask is pushed into the reads
    projected = ddf[["tz", "blob"]]
    _same_rows(projected, snap.read(columns=["tz", "blob"]))
    # the Arrow types come back exactly as the manifest has them
    computed = pa.Table.from_pandas(ddf.compute(), preserve_index=False)
    for field in snap.schema:
        assert computed.schema.field(field.name).type == field.type or (
            pa.types.is_string(field.type)
            and pa.types.is_large_string(computed.schema.field(field.name).type)
        ), field.name


def test_to_dask_equals_read_on_an_s3_lake(
    store_dsn: str, s3_bucket: str, s3_options: dict[str, Any], client: Client
) -> None:
    url = f"s3://{s3_bucket}/lake"
    t0lake.export(store_dsn, EP, url, storage_options=dict(s3_options))
    snap = t0lake.open(url, dict(s3_options)).snapshot(EP)
    ddf = snap.to_dask(columns=["grp", "id", "ts", "score", "payload", "raw"])
    assert ddf.npartitions == DAYS
    _same_rows(ddf, snap.read(columns=["grp", "id", "ts", "score", "payload", "raw"]))


def test_to_dask_refuses_a_tampered_file_from_compute(lake: str, client: Client) -> None:
    tamper_one_value(day_file(lake, TAMPERED), "score")
    snap = t0lake.open(lake).snapshot(EP)
    ddf = snap.to_dask()  # lazy: nothing is read yet
    with pytest.raises(t0lake.IntegrityError) as info:
        ddf.compute()
    context = info.value.context
    assert context["day"] == TAMPERED.isoformat() and context["column"] == "score"
    assert context["file"].endswith(day_file(lake, TAMPERED).name)
    assert "score" in str(info.value) and TAMPERED.isoformat() in str(info.value)
    with pytest.raises(t0lake.IntegrityError):
        ddf["score"].sum().compute()  # any computation that reads the day
    # the other days, and the other columns of that day, are proven and served
    assert len(snap.to_dask(end="2026-03-01").compute()) == ROWS_PER_DAY
    assert len(ddf[["grp", "id"]].compute()) == DAYS * ROWS_PER_DAY
    # only an explicit verify=False serves the tampered value
    assert len(snap.to_dask(verify=False).compute()) == DAYS * ROWS_PER_DAY


def test_a_task_is_small_and_survives_pickling(lake: str) -> None:
    """A task carries its own file's entry only, and runs the same after a trip through
    pickle (what a worker process gets); its IntegrityError keeps its context."""
    snap = t0lake.open(lake).snapshot(EP)
    ddf = snap.to_dask()
    graph = dict(ddf.__dask_graph__())
    tasks = [a for t in graph.values() for a in getattr(t, "args", ()) if isinstance(a, FileRead)]
    assert len(tasks) == DAYS and all(len(t.manifest.files) == 1 for t in tasks)
    task = pickle.loads(pickle.dumps(tasks[1]))
    assert_frame_equal(
        _polars(read_file_part(task)), snap.read(TAMPERED, TAMPERED), check_column_order=False
    )
    tamper_one_value(day_file(lake, TAMPERED), "score")
    with pytest.raises(t0lake.IntegrityError) as info:
        read_file_part(task, ["score"])
    error = pickle.loads(pickle.dumps(info.value))
    assert error.context["column"] == "score" and error.context["day"] == TAMPERED.isoformat()


def test_bad_columns_are_refused_before_reading_and_an_empty_range_is_empty(
    lake: str, client: Client
) -> None:
    snap = t0lake.open(lake).snapshot(EP)
    with pytest.raises(ConfigError) as info:
        snap.to_dask(columns=["grp", "nope"])
    assert info.value.context["columns"] == ["nope"]
    empty = snap.to_dask("2027-01-01", "2027-01-31", ["grp", "score"])
    computed = empty.compute()
    assert len(computed) == 0 and list(computed.columns) == ["grp", "score"]


def test_import_t0lake_does_not_import_dask() -> None:
    code = (
        "import sys, t0lake; print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
