"""Reads from object storage (moto S3): the bytes of many files fetched at once, every byte
returned proven, and every fault named as on local disk."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import t0lake
from t0lake import hashing
from t0lake.lake import commit
from t0lake.lake.layout import Tier, data_path
from t0lake.lake.manifest import DayEntry, FileEntry
from t0lake.lake.reader import _column_chunks
from t0lake.lake.storage import LakeStorage, open_storage
from t0lake.lake.writer import write_parquet
from tests.lake.synth import EP, SCHEMA, day_table, days, export_days, model_table
from tests.lakecases import synthetic_manifest

Model = dict[date, pa.Table]
FIRST = date(2026, 4, 1)
DAYS = days(FIRST, 6)


# how a read reaches S3: Polars' own client (options it can map), or s3fs's concurrent range
# requests (an s3fs option Polars' client has no name for)
PATHS = {"polars": {}, "s3fs": {"default_block_size": 2**20}}


@pytest.fixture(params=sorted(PATHS))
def s3_path(request: pytest.FixtureRequest, s3_options: dict[str, Any]) -> dict[str, Any]:
    """The storage options of one read path."""
    return {**s3_options, **PATHS[request.param]}


@pytest.fixture
def s3_lake(s3_bucket: str, s3_options: dict[str, Any]) -> Iterator[tuple[LakeStorage, Model]]:
    """Six days of the synthetic table on S3, and the model of what a read returns."""
    storage = open_storage(f"s3://{s3_bucket}/lake", s3_options)
    model = {d: day_table(d, 40 + 3 * i) for i, d in enumerate(DAYS)}
    export_days(storage, model)
    yield storage, model


def _snap(storage: LakeStorage, options: dict[str, Any]) -> t0lake.Snapshot:
    return t0lake.open(storage.url, storage_options=options).snapshot(EP)


def _as_polars(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def test_object_store_options_are_derived_only_from_options_polars_can_honour(
    s3_options: dict[str, Any],
) -> None:
    storage = open_storage("s3://some-bucket/lake", s3_options, check=False)
    native = storage.native_options()
    assert native is not None
    assert native["aws_endpoint_url"] == s3_options["endpoint_url"]
    assert native["aws_allow_http"] == "true"
    assert set(native) == {
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_endpoint_url",
        "aws_allow_http",
    }
    regional = {**s3_options, "client_kwargs": {"region_name": "eu-west-1"}}
    native = open_storage("s3://b/l", regional, check=False).native_options()
    assert native is not None and native["aws_region"] == "eu-west-1"
    for other in PATHS["s3fs"], {"client_kwargs": {"verify": False}}, {"anon": "yes"}:
        opened = open_storage("s3://some-bucket/lake", {**s3_options, **other}, check=False)
        assert opened.native_options() is None


@pytest.mark.parametrize("columns", [None, ["id", "s"], ["x"]])
def test_s3_reads_return_the_model_rows_fetched_in_a_few_concurrent_calls(
    s3_lake: tuple[LakeStorage, Model],
    s3_options: dict[str, Any],
    columns: list[str] | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through s3fs: one round of concurrent range requests for a read of every column, two
    (the footers, then the column chunks) for some; never one file object after another."""
    storage, model = s3_lake
    snap = _snap(storage, {**s3_options, **PATHS["s3fs"]})
    calls: list[int] = []
    fs = snap.storage.fs
    real = fs.cat_ranges

    def counted(paths: list[str], *args: Any, **kwargs: Any) -> Any:
        calls.append(len(paths))
        return real(paths, *args, **kwargs)

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a read opened a file object")

    monkeypatch.setattr(fs, "cat_ranges", counted)  # the real s3fs call, counted
    monkeypatch.setattr(fs, "open", refused)
    frame = snap.read(DAYS[1], DAYS[4], columns)
    monkeypatch.undo()
    names = columns or SCHEMA.names
    expected = _as_polars(model_table(model, DAYS[1], DAYS[4]).select(names))
    assert frame.equals(expected)
    assert calls[0] == 4  # four files in one batch
    assert len(calls) == (1 if columns is None else 2)


@pytest.mark.parametrize("columns", [None, ["id", "s"]])
def test_s3_reads_through_polars_client_touch_no_python_filesystem(
    s3_lake: tuple[LakeStorage, Model],
    s3_options: dict[str, Any],
    columns: list[str] | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage, model = s3_lake
    snap = _snap(storage, s3_options)

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a read went through s3fs")

    for name in ("cat_ranges", "open", "cat_file"):
        monkeypatch.setattr(snap.storage.fs, name, refused)
    frame = snap.read(DAYS[0], DAYS[5], columns)
    monkeypatch.undo()
    expected = _as_polars(model_table(model, DAYS[0], DAYS[5]).select(columns or SCHEMA.names))
    assert frame.equals(expected)


def test_a_tampered_file_on_s3_is_refused_naming_file_day_and_column(
    s3_lake: tuple[LakeStorage, Model], s3_path: dict[str, Any]
) -> None:
    storage, model = s3_lake
    snap = _snap(storage, s3_path)
    victim = next(f for f in snap.manifest.files if f.days[0].day == DAYS[2])
    table = model[DAYS[2]]
    x = table.column("x").to_pylist()
    x[5] = 12345.5
    storage.write_bytes(
        victim.path, write_parquet(table.set_column(2, "x", pa.array(x, pa.float64())))
    )
    for columns in (None, ["id", "x"]):
        with pytest.raises(t0lake.IntegrityError) as info:
            snap.read(DAYS[0], DAYS[5], columns)
        assert info.value.context["file"] == victim.path
        assert info.value.context["day"] == DAYS[2].isoformat()
        assert info.value.context["column"] == "x"
    # the columns the tampering did not touch still prove; the other days too
    assert snap.read(DAYS[0], DAYS[5], ["id", "s"]).height == sum(
        t.num_rows for t in model.values()
    )
    assert snap.read(DAYS[3], DAYS[5]).height == sum(model[d].num_rows for d in DAYS[3:])


@pytest.mark.parametrize("fault", ["missing", "truncated", "garbage"])
@pytest.mark.parametrize("columns", [None, ["s"]])
def test_a_missing_or_broken_file_on_s3_is_an_integrity_error(
    s3_lake: tuple[LakeStorage, Model],
    s3_path: dict[str, Any],
    fault: str,
    columns: list[str] | None,
) -> None:
    storage, _ = s3_lake
    snap = _snap(storage, s3_path)
    victim = next(f for f in snap.manifest.files if f.days[0].day == DAYS[3])
    data = storage.read_bytes(victim.path)
    if fault == "missing":
        storage.delete(victim.path)
    elif fault == "truncated":
        storage.write_bytes(victim.path, data[: len(data) // 2])
    else:
        storage.write_bytes(victim.path, bytes(len(data)))
    with pytest.raises(t0lake.IntegrityError) as info:
        snap.read(DAYS[0], DAYS[5], columns)
    assert info.value.context["file"] == victim.path
    if fault == "missing":
        assert "missing" in str(info.value)


def test_a_few_days_of_a_file_of_many_on_s3_are_proven_alone(
    s3_bucket: str, s3_options: dict[str, Any], s3_path: dict[str, Any]
) -> None:
    """A compacted file (three days in one): a read of its middle day returns and proves
    only those rows, and a tampered last day is refused only when it is read."""
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("x", pa.float64())])
    table = pa.table({"id": list(range(12)), "x": [i / 2 for i in range(12)]}, schema)
    entries = []
    for i in range(3):
        rows = table.slice(4 * i, 4)
        hashes = hashing.column_hashes(rows, ["id"])
        entries.append(
            DayEntry(
                day=FIRST + timedelta(days=i),
                rows=4,
                row_offset=4 * i,
                dataset_hash=hashing.combine(4, ["id"], hashes.values()),
                columns={name: h.digest for name, h in hashes.items()},
            )
        )
    x = table.column("x").to_pylist()
    x[10] = -1.0  # the last day's content no longer matches its digests
    payload = write_parquet(table.set_column(1, "x", pa.array(x, pa.float64())))
    storage = open_storage(f"s3://{s3_bucket}/lake", s3_options)
    path = data_path("syn.multi_v", "warm", "month=2026-04", "cd" * 32)
    storage.write_bytes(path, payload)
    entry = FileEntry(
        path=path,
        tier=Tier.WARM,
        bytes=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
        rows=12,
        days=tuple(entries),
    )
    commit.commit(
        storage, "syn.multi_v", lambda head: synthetic_manifest("syn.multi_v", schema, (entry,))
    )
    snap = t0lake.open(storage.url, storage_options=s3_path).snapshot("syn.multi_v")
    assert snap.read(FIRST + timedelta(days=1), FIRST + timedelta(days=1))["id"].to_list() == [
        4,
        5,
        6,
        7,
    ]
    assert snap.read(FIRST, FIRST + timedelta(days=1), ["x"]).height == 8
    with pytest.raises(t0lake.IntegrityError) as info:
        snap.read(FIRST + timedelta(days=1), FIRST + timedelta(days=2))
    assert info.value.context["day"] == (FIRST + timedelta(days=2)).isoformat()


_COLUMN_TYPES = {
    "i": pa.int64(),
    "f": pa.float32(),
    "s": pa.string(),
    "b": pa.bool_(),
    "l": pa.list_(pa.int32()),
}


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(0, 300),
    wanted=st.sets(st.sampled_from(sorted(_COLUMN_TYPES)), min_size=1),
    group=st.integers(1, 120),
    dictionary=st.booleans(),
)
def test_property_the_column_chunks_alone_decode_to_the_columns(
    rows: int, wanted: set[str], group: int, dictionary: bool
) -> None:
    """A buffer holding only the footer and the chunks ``_column_chunks`` names (zeros
    elsewhere) decodes to exactly the wanted columns of the whole file."""
    table = pa.table(
        {
            "i": pa.array(range(rows), pa.int64()),
            "f": pa.array([i / 3 if i % 5 else None for i in range(rows)], pa.float32()),
            "s": pa.array([f"s{i % 17}" * (i % 3) for i in range(rows)], pa.string()),
            "b": pa.array([i % 2 == 0 for i in range(rows)], pa.bool_()),
            "l": pa.array([[i, None][: i % 3] for i in range(rows)], pa.list_(pa.int32())),
        }
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=group, use_dictionary=dictionary)
    data = sink.getvalue().to_pybytes()
    names = sorted(wanted)
    chunks = _column_chunks(len(data), data[-4096:], names)
    if chunks is None:  # a footer over 4 KiB: the reader then fetches the file whole
        assert len(pq.read_metadata(pa.BufferReader(data)).to_dict()) > 0
        return
    sparse = bytearray(len(data))
    sparse[-4096:] = data[-4096:]
    for start, end in chunks:
        sparse[start:end] = data[start:end]
    frame = pl.read_parquet(bytes(sparse), columns=names)
    assert frame.equals(_as_polars(table.select(names)))


def test_column_chunks_refuse_a_tail_without_a_footer() -> None:
    assert _column_chunks(100, bytes(100), ["i"]) is None
    assert _column_chunks(100, b"x" * 92 + (500).to_bytes(4, "little") + b"PAR1", ["i"]) is None
