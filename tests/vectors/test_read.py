"""Reads (t0lake/vectors/read.py through FeatureStore): latest / window / epoch lookups, range
queries with projection and downsampling checked against a brute-force reference, the
bitemporal cut, schema-version enforcement and refusal of rows that fail their proofs."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import polars as pl
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import t0lake
from t0lake import pg
from t0lake.vectors import FeatureStore
from t0lake.vectors.read import parse_every
from t0lake.vectors.schema import FeatureSchema
from tests.fv_reference import ref_downsample
from tests.fvcases import BOOK, T0, book_features, book_vector, open_store


@pytest.fixture
def store(fresh_dsn: str) -> Iterator[FeatureStore]:
    yield from open_store(fresh_dsn)


V2 = FeatureSchema.of(2, "test.orderbook", [{"name": "mid_px", "type": "i64", "scale": 4}])


def test_latest_window_and_epoch(store: FeatureStore) -> None:
    store.register_feature_schema(V2)
    store.write_batch([book_vector("BTC-USD", i) for i in (5, 1, 150, 7)])
    v2 = t0lake.FeatureVector.build(
        V2, market_id="BTC-USD", epoch_id=0, tick_index=7, window_start_ms=T0,
        window_end_ms=T0 + 1000, features={"mid_px": Decimal("1.5")}, created_at_ms=T0 + 1000,
    )  # fmt: skip
    store.write(v2)
    latest = store.get_latest_features("BTC-USD", 1)
    assert latest is not None and (latest.epoch_id, latest.tick_index) == (1, 50)
    assert dict(latest.features or {}) == book_features(150)
    assert store.get_latest_features("BTC-USD", 2) == v2
    assert store.get_latest_features("NO-SUCH", 1) is None

    w = book_vector("BTC-USD", 7)
    assert store.get_features_for_window("BTC-USD", w.window_start_ms, w.window_end_ms, 1) == w
    assert (
        store.get_features_for_window("BTC-USD", w.window_start_ms, w.window_end_ms + 1, 1) is None
    )

    by_epoch = store.get_features_by_epoch("BTC-USD", 0, 7)
    assert [v.feature_schema_version for v in by_epoch] == [1, 2]
    assert store.get_features_by_epoch("BTC-USD", 0, 7, schema_version=2) == [v2]


def test_ties_on_window_end_are_broken_deterministically(store: FeatureStore) -> None:
    a = book_vector("X", 0, window_start_ms=T0, window_end_ms=T0 + 60_000, epoch_id=1)
    b = book_vector("X", 1, window_start_ms=T0 + 30_000, window_end_ms=T0 + 60_000, epoch_id=1)
    c = book_vector("X", 2, window_start_ms=T0 + 30_000, window_end_ms=T0 + 60_000, epoch_id=2)
    store.write_batch([c, a, b])
    assert store.get_latest_features("X", 1) == c  # latest start, then epoch, then tick
    assert store.get_features_for_window("X", T0 + 30_000, T0 + 60_000, 1, epoch_id=1) == b
    with pytest.raises(t0lake.ConfigError, match="share this window"):
        store.get_features_for_window("X", T0 + 30_000, T0 + 60_000, 1)


def test_unknown_and_unsupported_versions_are_rejected(fresh_dsn: str) -> None:
    with FeatureStore(fresh_dsn, supported_versions={1}, cache=False) as s:
        s.register_feature_schema(BOOK)
        s.register_feature_schema(V2)
        with pytest.raises(t0lake.SchemaVersionError, match="not supported"):
            s.get_latest_features("BTC-USD", 2)
        with pytest.raises(t0lake.SchemaVersionError, match="not registered"):
            FeatureStore(fresh_dsn, cache=False).get_latest_features("BTC-USD", 3)
        with pytest.raises(t0lake.SchemaVersionError):
            s.query_features("BTC-USD", 0, 1, 2)
        assert s.get_features_by_epoch("BTC-USD", 0, 0) == []
        assert s.metrics.registry.get_sample_value("schema_version_mismatch_count_total") == 2


def test_query_features_projection_and_types(store: FeatureStore) -> None:
    store.write_batch([book_vector("BTC-USD", i) for i in range(20)])
    store.write_batch([book_vector("ETH-USD", i) for i in range(5)])
    frame = store.query_features("BTC-USD", T0 + 60_000, T0 + 300_000, 1)
    # start <= window_end_ms < end: windows 1 .. 8 end at T0 + 60 s .. T0 + 270 s
    assert frame["tick_index"].to_list() == list(range(1, 9))
    assert frame.columns[:10] == [
        "market_id", "feature_schema_version", "epoch_id", "tick_index", "window_start_ms",
        "window_end_ms", "created_at_ms", "quality_flags", "features_hash", "window_key",
    ]  # fmt: skip
    assert frame.columns[10:] == list(BOOK.names)
    assert frame.schema["mid_px"] == pl.Decimal(38, 8)
    assert frame.schema["spread_bps"] == pl.Decimal(38, 2)
    assert frame.schema["trades"] == pl.Int64 and frame.schema["halted"] == pl.Boolean
    assert frame.schema["vol"] == pl.Float64
    for row in frame.iter_rows(named=True):
        assert {n: row[n] for n in BOOK.names} == book_features(row["tick_index"])
        assert row["features_hash"] == book_vector("BTC-USD", row["tick_index"]).features_hash
    projected = store.query_features("BTC-USD", T0, T0 + 10**9, 1, columns=["vol", "trades"])
    assert projected.columns[-2:] == ["vol", "trades"] and projected.height == 20
    with pytest.raises(t0lake.ConfigError, match="nope"):
        store.query_features("BTC-USD", T0, T0 + 1, 1, columns=["nope"])
    with pytest.raises(t0lake.ConfigError, match="empty range"):
        store.query_features("BTC-USD", T0, T0, 1)
    assert store.query_features("BTC-USD", 0, 1, 1).height == 0


def test_known_before_keeps_late_vectors_out(store: FeatureStore) -> None:
    store.write_batch(
        [book_vector("BTC-USD", i, created_at_ms=T0 + (i + 1) * 30_000 + (10**6 if i % 2 else 0))
         for i in range(10)]
    )  # fmt: skip
    cut = T0 + 200_000
    frame = store.query_features("BTC-USD", T0, T0 + 10**9, 1, known_before_ms=cut)
    assert frame["tick_index"].to_list() == [0, 2, 4]
    assert (frame["created_at_ms"] < cut).all()


def test_parse_every() -> None:
    assert parse_every("5m") == 300_000
    assert parse_every("1h30m") == 5_400_000
    assert parse_every("250ms") == 250
    assert parse_every(1000) == 1000
    for bad in ("", "5", "m5", "5 mins", "-5m", 0, "0s", "0.5ms", True):
        with pytest.raises(t0lake.ConfigError):
            parse_every(bad)  # type: ignore[arg-type]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ticks=st.lists(st.integers(0, 400), min_size=0, max_size=60, unique=True),
    every=st.sampled_from(["30s", "1m", "5m", "7s", "1h"]),
    agg=st.sampled_from(["last", "first", "min", "max"]),
    start=st.integers(0, 200),
    span=st.integers(1, 400),
)
def test_downsampling_equals_the_reference(
    pg_dsn: str, ticks: list[int], every: str, agg: str, start: int, span: int
) -> None:
    market = f"DS-{abs(hash((tuple(ticks), every, agg, start, span))) % 10**12}"
    with FeatureStore(pg_dsn, cache=False) as s:
        s.register_feature_schema(BOOK)
        # 20 s windows, so buckets of 30 s, 7 s ... cut windows in all kinds of places
        vectors = [book_vector(market, i, width_ms=20_000) for i in ticks]
        s.write_batch(vectors)
        lo, hi = T0 + start * 20_000, T0 + (start + span) * 20_000
        full = s.query_features(market, lo, hi, 1)
        got = s.query_features(market, lo, hi, 1, every=every, agg=agg)
    rows: list[dict[str, Any]] = sorted(
        (r for r in full.iter_rows(named=True)), key=lambda r: r["window_end_ms"]
    )
    expected = ref_downsample(rows, list(BOOK.names), parse_every(every), agg)
    assert got.drop("market_id", "feature_schema_version").to_dicts() == expected
    assert got.columns[:9] == [
        "market_id", "feature_schema_version", "bucket_start_ms", "bucket_end_ms", "n_windows",
        "window_start_ms", "window_end_ms", "created_at_ms", "quality_flags",
    ]  # fmt: skip


def _raw_insert(dsn: str, v: t0lake.FeatureVector, **override: Any) -> None:
    row = {
        "window_key": v.window_key, "market_id": v.market_id, "epoch_id": v.epoch_id,
        "tick_index": v.tick_index, "window_start_ms": v.window_start_ms,
        "window_end_ms": v.window_end_ms, "feature_schema_version": v.feature_schema_version,
        "features_blob": v.features_blob, "features_hash": v.features_hash,
        "quality_flags": v.quality_flags, "created_at_ms": v.created_at_ms,
    }  # fmt: skip
    row.update(override)
    with pg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("INSERT INTO fv.feature_vectors ({}) VALUES ({})").format(
                psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, row)),
                psycopg.sql.SQL(", ").join(psycopg.sql.Placeholder(k) for k in row),
            ),
            row,
        )


def test_rows_not_written_by_t0lake_are_refused_on_read(store: FeatureStore) -> None:
    # a window_key that is not the key of its window (the table cannot check that)
    _raw_insert(store._dsn, book_vector("K", 1), window_key=book_vector("K", 2).window_key)
    with pytest.raises(t0lake.IntegrityError, match="window_key"):
        store.get_latest_features("K", 1)
    with pytest.raises(t0lake.IntegrityError, match="window_key"):
        store.query_features("K", T0, T0 + 10**9, 1)
    # a hash-consistent blob that is not a canonical encoding
    v = book_vector("B", 1)
    blob = v.features_blob[:41] + bytes([v.features_blob[41] | 1]) + v.features_blob[42:]
    import hashlib

    _raw_insert(store._dsn, v, features_blob=blob, features_hash=hashlib.sha256(blob).digest())
    with pytest.raises(t0lake.IntegrityError, match="non-nullable"):
        store.get_latest_features("B", 1)
    with pytest.raises(t0lake.IntegrityError, match="non-nullable"):
        store.query_features("B", T0, T0 + 10**9, 1)


def test_altered_schema_is_refused(store: FeatureStore) -> None:
    with pg.connect(store._dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE fv.feature_schemas DISABLE TRIGGER feature_schemas_immutable")
        conn.execute(
            "UPDATE fv.feature_schemas SET features = jsonb_set(features, '{0,scale}', '6')"
            " WHERE feature_schema_version = 1"
        )
    with pytest.raises(t0lake.IntegrityError, match="schema_hash"):
        FeatureStore(store._dsn, cache=False).get_latest_features("BTC-USD", 1)
