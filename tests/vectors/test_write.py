"""Writes (t0lake/vectors/write.py through FeatureStore): retries and concurrent writers from two
processes leave exactly one row, a conflicting rewrite is refused and changes nothing, a batch
with one bad record writes nothing and names the record."""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import t0lake
from t0lake import pg
from t0lake.vectors import FeatureStore
from t0lake.vectors.schema import FeatureSchema
from tests.fvcases import BOOK, book_vector, open_store


@pytest.fixture
def store(fresh_dsn: str) -> Iterator[FeatureStore]:
    yield from open_store(fresh_dsn)


def _rows(dsn: str) -> list[tuple[Any, ...]]:
    with pg.connect(dsn, autocommit=True) as conn:
        return conn.execute(
            "SELECT window_key, market_id, features_hash, quality_flags, created_at_ms,"
            " producer_instance FROM fv.feature_vectors ORDER BY window_key"
        ).fetchall()


def _dsn(s: FeatureStore) -> str:
    return s._dsn


def test_retries_of_the_same_write_leave_one_row(store: FeatureStore) -> None:
    v = book_vector(i=1)
    assert store.write(v) is True
    assert store.write(v) is False
    assert store.write(v) is False
    rows = _rows(_dsn(store))
    assert len(rows) == 1 and bytes(rows[0][0]) == v.window_key


def test_same_content_from_another_producer_is_a_no_op(store: FeatureStore) -> None:
    first = book_vector(i=2)
    store.write(first)
    again = book_vector(i=2, created_at_ms=first.created_at_ms + 999, producer_instance="other")
    assert again.window_key == first.window_key
    assert store.write(again) is False
    (row,) = _rows(_dsn(store))
    assert row[4] == first.created_at_ms and row[5] == "test-producer"  # the first stays


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"features": {**book_vector(i=3).features, "trades": 1}}, "features_hash"),  # type: ignore[dict-item]
        ({"quality_flags": 7}, "quality_flags"),
        ({"coverage_json": {"sources": 3}}, "coverage_json"),
    ],
)
def test_conflicting_rewrite_is_refused_and_changes_nothing(
    store: FeatureStore, change: dict[str, Any], field: str
) -> None:
    original = book_vector(i=3)
    store.write(original)
    before = _rows(_dsn(store))
    rewrite = book_vector(i=3, **change)
    assert rewrite.window_key == original.window_key
    with pytest.raises(t0lake.VectorConflictError) as info:
        store.write(rewrite)
    assert info.value.context["fields"] == [field]
    assert info.value.context["window_key"] == original.window_key.hex()
    assert _rows(_dsn(store)) == before
    # and in a batch: the other, valid records are not written either
    with pytest.raises(t0lake.VectorConflictError) as info:
        store.write_batch([book_vector(i=10), rewrite, book_vector(i=11)])
    assert info.value.context["index"] == 1
    assert _rows(_dsn(store)) == before


def test_coverage_compares_as_json_not_as_text(store: FeatureStore) -> None:
    store.write(book_vector(i=4, coverage_json={"a": 1, "b": [1, 2]}))
    assert store.write(book_vector(i=4, coverage_json={"b": [1, 2], "a": 1})) is False


def _bad(kind: str) -> Any:
    v = book_vector(i=21)
    if kind == "hash":
        return dataclasses.replace(v, features_hash=bytes(32))
    if kind == "key":
        return dataclasses.replace(v, window_key=book_vector(i=22).window_key)
    if kind == "bounds":
        return dataclasses.replace(v, window_end_ms=v.window_start_ms)
    if kind == "market":
        return dataclasses.replace(v, market_id="BTC USD")
    if kind == "created":
        return dataclasses.replace(v, created_at_ms=v.window_end_ms - 1)
    if kind == "blob":
        # mark the non-nullable mid_px NULL: a hash-consistent blob, but not canonical
        blob = v.features_blob[:41] + bytes([v.features_blob[41] | 1]) + v.features_blob[42:]

        return dataclasses.replace(
            v, features_blob=blob, features_hash=hashlib.sha256(blob).digest()
        )
    if kind == "not a vector":
        return {"market_id": "BTC-USD"}
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("hash", "features_hash"),
        ("key", "window_key"),
        ("bounds", "window_end_ms"),
        ("market", "market_id"),
        ("created", "created_at_ms"),
        ("blob", "features_blob"),
        ("not a vector", None),
    ],
)
def test_batch_with_one_bad_record_writes_nothing(
    store: FeatureStore, kind: str, field: str | None
) -> None:
    good = [book_vector(i=i) for i in range(5)]
    with pytest.raises(t0lake.InvalidVectorError) as info:
        store.write_batch([*good[:3], _bad(kind), *good[3:]])
    assert info.value.context["index"] == 3
    assert info.value.message.startswith("record 3:")
    assert info.value.context.get("field") == field
    assert _rows(_dsn(store)) == []
    assert store.write_batch(good).written == (0, 1, 2, 3, 4)


def test_unknown_schema_version_rejects_the_batch(store: FeatureStore) -> None:
    other = FeatureSchema.of(9, "test.other", [{"name": "x", "type": "i64"}])
    stranger = t0lake.FeatureVector.build(
        other, market_id="BTC-USD", epoch_id=0, tick_index=0, window_start_ms=0,
        window_end_ms=1, features={"x": 1}, created_at_ms=1,
    )  # fmt: skip
    with pytest.raises(t0lake.SchemaVersionError) as info:
        store.write_batch([book_vector(i=0), stranger])
    assert info.value.context["index"] == 1 and info.value.context["version"] == 9
    assert _rows(_dsn(store)) == []


def test_duplicates_within_a_batch(store: FeatureStore) -> None:
    a, b = book_vector(i=0), book_vector(i=1)
    result = store.write_batch([a, b, a])
    assert result.written == (0, 1) and result.existing == (2,)
    result = store.write_batch([b, book_vector(i=2), a])
    assert result.written == (1,) and result.existing == (0, 2)
    with pytest.raises(t0lake.VectorConflictError) as info:
        store.write_batch([book_vector(i=5), book_vector(i=5, quality_flags=7)])
    assert info.value.context["index"] == 1 and info.value.context["other_index"] == 0
    assert len(_rows(_dsn(store))) == 3


def test_empty_batch(store: FeatureStore) -> None:
    assert store.write_batch([]).written == ()


# --------------------------------------------------------------------------- two processes


def _writer(dsn: str, start: Any, out: Any, offset: int) -> None:
    """A producer process: waits for the start signal, then writes the same 200 vectors (in
    its own order, singly and in batches) and reports how many it inserted."""
    with FeatureStore(dsn, cache=False) as s:
        s.register_feature_schema(BOOK)
        vectors = [book_vector(f"M{m}", i) for m in range(4) for i in range(50)]
        vectors = vectors[offset:] + vectors[:offset]
        start.wait()
        written = 0
        for i in range(0, 100, 1):
            written += s.write(vectors[i])
        for i in range(100, 200, 25):
            written += len(s.write_batch(vectors[i : i + 25]).written)
        # retry everything once more: all no-ops
        again = s.write_batch(vectors)
        assert again.written == ()
        out.put(written)


def test_concurrent_writers_from_two_processes_leave_exactly_one_row_each(
    fresh_dsn: str,
) -> None:
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(fresh_dsn, start, out, off)) for off in (0, 60)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    inserted = [out.get(timeout=5), out.get(timeout=5)]
    assert sum(inserted) == 200  # every vector inserted by exactly one of them
    rows = _rows(fresh_dsn)
    assert len(rows) == 200 and len({bytes(r[0]) for r in rows}) == 200


def test_a_writer_waits_for_a_concurrent_uncommitted_insert(store: FeatureStore) -> None:
    """The second writer of a key blocks on the first one's transaction, then sees its row
    (same content: no-op; other content: conflict) instead of a unique violation."""
    v = book_vector(i=30)
    with pg.connect(_dsn(store)) as other:
        other.execute(
            "INSERT INTO fv.feature_vectors (window_key, market_id, epoch_id, tick_index,"
            " window_start_ms, window_end_ms, feature_schema_version, features_blob,"
            " features_hash, quality_flags, coverage_json, created_at_ms)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (v.window_key, v.market_id, v.epoch_id, v.tick_index, v.window_start_ms,
             v.window_end_ms, v.feature_schema_version, v.features_blob, v.features_hash,
             v.quality_flags, psycopg.types.json.Jsonb(dict(v.coverage_json)), v.created_at_ms),
        )  # fmt: skip
        import threading

        result: list[Any] = []
        t = threading.Thread(target=lambda: result.append(store.write(v)))
        t.start()
        t.join(0.5)
        assert t.is_alive()  # waiting for the other transaction
        other.commit()
        t.join(10)
    assert result == [False]
    assert len(_rows(_dsn(store))) == 1
