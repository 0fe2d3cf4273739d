"""The FeatureVector store across tiers (issue 19) on the real Postgres and a moto S3 lake:
export, compaction (warm and cold), a downsampled version and retention, then one range query
over Postgres and both lake tiers equals the query run before retention, row for row."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import polars as pl
import psycopg
import pytest
import s3fs

import t0lake
from t0lake import pg
from t0lake.vectors import FeatureStore, FeatureVector, retain_vectors

EP = "fv.feature_vector_store_t0_v1_v"
MS_DAY = 86_400_000
JAN10 = 1768003200000  # 2026-01-10 00:00 UTC, the first example day
DEC30 = JAN10 - 11 * MS_DAY  # 2025-12-30
END = JAN10 + 7 * MS_DAY  # 2026-01-17
AGGREGATES = {
    "mid_px": "last",
    "spread_bps": "max",
    "depth_bid": "min",
    "depth_ask": "first",
    "trades": "max",
    "volume": "last",
    "vwap": "last",
    "imbalance": "min",
}


def _december(store: FeatureStore) -> list[FeatureVector]:
    """Two days of 15-minute vectors of version 1 in December 2025 (a cold year), 2 markets."""
    schema = store.feature_schema(1)
    vectors = []
    for market in ("BTC-USD", "ETH-USD"):
        for i in range(2 * 96):
            end = DEC30 + (i + 1) * 900_000
            features = {
                name: (i * 7 + k * 13 + len(market)) % 997 for k, name in enumerate(schema.names)
            }
            vectors.append(
                FeatureVector.build(
                    schema,
                    market_id=market,
                    epoch_id=i // 96,
                    tick_index=i % 96,
                    window_start_ms=end - 900_000,
                    window_end_ms=end,
                    features=features,
                    created_at_ms=end + 1000,
                    quality_flags=int(i % 3 == 0),
                )
            )
    return vectors


def _rows(dsn: str) -> int:
    with pg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM fv.feature_vectors").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def tiered(examples_dsn: str, s3_bucket: str, s3_options: dict[str, Any]) -> Iterator[
    tuple[str, str, dict[str, Any]]
]:  # fmt: skip
    """Example vectors plus two December days, certified, exported to S3, compacted with a
    downsampling step (Dec 2025 cold, Jan 2026 warm) and a policy for version 101 at 1 h."""
    lake = f"s3://{s3_bucket}/lake"
    with FeatureStore(examples_dsn, cache=False) as store:
        store.write_batch(_december(store))
        step = store.register_downsampled_version(1, 101, "1h", AGGREGATES)
    t0lake.certify(examples_dsn, EP, check_days=20)
    t0lake.export(examples_dsn, EP, lake, storage_options=s3_options)
    t0lake.set_policy(
        lake, EP, t0lake.TierPolicy(hot_days=7, warm_months=1, downsample=step), s3_options
    )
    t0lake.compact(lake, "2026-03-01", EP, storage_options=s3_options)
    tiers = t0lake.open(lake, storage_options=s3_options).snapshot(EP).tiers()
    assert {t.value for t in tiers.values()} == {"warm", "cold"}
    yield examples_dsn, lake, s3_options


def _queries(store: FeatureStore) -> list[pl.DataFrame]:
    return [
        store.query_features("BTC-USD", DEC30, END, 1),
        store.query_features("ETH-USD", DEC30 + 5 * 3_600_000, END - 7_200_000, 1, ["vwap"]),
        store.query_features("BTC-USD", DEC30, END, 1, every="1h", agg="max"),
        store.query_features("SOL-USD", JAN10, END, 2, known_before_ms=JAN10 + 3 * MS_DAY),
    ]


def test_one_query_over_postgres_and_both_lake_tiers(
    tiered: tuple[str, str, dict[str, Any]],
) -> None:
    dsn, lake, options = tiered
    with FeatureStore(dsn, cache=False) as store:
        before = _queries(store)
        window = store.get_features_for_window("BTC-USD", DEC30, DEC30 + 900_000, 1)
        by_epoch = store.get_features_by_epoch("BTC-USD", 1, 5)
    assert before[0].height == 2 * 96 + 7 * 96 and window is not None and by_epoch

    total = _rows(dsn)
    result = retain_vectors(dsn, lake, "3d", storage_options=options, as_of=date(2026, 1, 17))
    assert result.retained == [
        "2025-12-30", "2025-12-31", "2026-01-01", "2026-01-10", "2026-01-11", "2026-01-12",
        "2026-01-13",
    ]  # fmt: skip
    assert result.kept == {}
    assert _rows(dsn) == total - result.rows_deleted == 3 * 4 * 2 * 96  # Jan 14-16 stay
    again = retain_vectors(dsn, lake, "3d", storage_options=options, as_of=date(2026, 1, 17))
    assert again.retained == [] and again.rows_deleted == 0

    no_lake = FeatureStore(dsn, cache=False)  # no lake: the gap is refused
    with no_lake, pytest.raises(t0lake.ConfigError, match="retained to the lake"):
        no_lake.query_features("BTC-USD", DEC30, END, 1)
    with FeatureStore(dsn, cache=False, lake=lake, storage_options=options) as store:
        after = _queries(store)
        for b, a in zip(before, after, strict=True):
            assert a.schema == b.schema
            assert a.equals(b)  # row for row, the same columns and types
        assert store.get_features_for_window("BTC-USD", DEC30, DEC30 + 900_000, 1) == window
        assert store.get_features_by_epoch("BTC-USD", 1, 5) == by_epoch

        # the downsampled version: only in the lake, its own schema, hash and window keys
        hourly = store.query_features("BTC-USD", DEC30, JAN10, 101)
        reference = (
            before[0]
            .filter(pl.col("window_end_ms") < DEC30 + 2 * MS_DAY)  # the cold year only
            .group_by((pl.col("window_end_ms") // 3_600_000).alias("bucket"), maintain_order=True)
            .agg(
                pl.col("window_end_ms").max(),
                *[getattr(pl.col(n), a)() for n, a in AGGREGATES.items()],
            )
            .drop("bucket")
        )
        assert hourly.select(reference.columns).equals(reference)
        assert hourly["feature_schema_version"].unique().to_list() == [101]
        assert set(hourly["window_key"]).isdisjoint(set(before[0]["window_key"]))
        assert store.feature_schema(101).schema_hash != store.feature_schema(1).schema_hash
    model = FeatureStore(
        dsn, cache=False, lake=lake, storage_options=options, supported_versions={1}
    )
    with model, pytest.raises(t0lake.SchemaVersionError):
        model.query_features("BTC-USD", DEC30, JAN10, 101)

    # a store that proved the days keeps their rows: another market reads no file again
    warm = FeatureStore(dsn, cache=False, lake=lake, storage_options=options)
    first = warm.query_features("BTC-USD", DEC30, END, 1)
    assert first.equals(before[0])

    # a tampered lake file (the cold year) makes the query raise
    snap = t0lake.open(lake, storage_options=options).snapshot(EP)
    fs = s3fs.S3FileSystem(**options)
    cold = next(f for f in snap.files() if "tier=cold" in f)
    data = bytearray(fs.cat_file(cold))
    data[len(data) // 2] ^= 0xFF
    fs.pipe_file(cold, bytes(data))
    store = FeatureStore(dsn, cache=False, lake=lake, storage_options=options)
    with store, pytest.raises(t0lake.IntegrityError):
        store.query_features("BTC-USD", DEC30, END, 1)
    with warm:  # served from the rows its proof passed, until it forgets them
        other = warm.query_features("ETH-USD", DEC30, END, 1)
        assert other.height > 0 and set(other["market_id"]) == {"ETH-USD"}
        assert warm.lake is not None
        warm.lake.refresh()
        with pytest.raises(t0lake.IntegrityError):
            warm.query_features("ETH-USD", DEC30, END, 1)


def test_retain_refuses_days_whose_lake_copy_differs(examples_dsn: str, tmp_path: Any) -> None:
    lake = str(tmp_path / "lake")
    t0lake.certify(examples_dsn, EP, check_days=7)
    t0lake.export(examples_dsn, EP, lake)
    with FeatureStore(examples_dsn, cache=False) as store:  # a late vector of Jan 11
        schema = store.feature_schema(1)
        end = JAN10 + MS_DAY + 60_000
        store.write(
            FeatureVector.build(
                schema, market_id="BTC-USD", epoch_id=9, tick_index=9,
                window_start_ms=end - 30_000, window_end_ms=end,
                features=dict.fromkeys(schema.names, 1), created_at_ms=end,
            )
        )  # fmt: skip
    snap = t0lake.open(lake).snapshot(EP)  # and a damaged lake file of Jan 12
    path = next(p for p in snap.files("2026-01-12", "2026-01-12"))
    raw = bytearray(open(path, "rb").read())  # noqa: SIM115
    raw[len(raw) // 2] ^= 0xFF
    with open(path, "wb") as f:
        f.write(bytes(raw))
    total = _rows(examples_dsn)
    result = retain_vectors(examples_dsn, lake, 4, as_of=date(2026, 1, 17))
    assert result.kept == {"2026-01-11": "differs", "2026-01-12": "lake copy damaged"}
    assert result.retained == ["2026-01-10"]
    assert _rows(examples_dsn) == total - 4 * 2 * 96
    with pg.connect(examples_dsn, autocommit=True) as conn:
        recorded = conn.execute(
            "SELECT day, snapshot_id, manifest_sha256, rows FROM fv.vector_retention"
        ).fetchall()
        assert recorded == [(date(2026, 1, 10), snap.snapshot_id, snap.manifest.sha256, 768)]
        # the append-only guarantee: nothing but retention deletes, and retained days are closed
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            conn.execute("DELETE FROM fv.feature_vectors WHERE market_id = 'BTC-USD'")
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            conn.execute("TRUNCATE fv.feature_vectors")
    store = FeatureStore(examples_dsn, cache=False)
    with store, pytest.raises(t0lake.ConfigError, match="retained to the lake"):
        store.write(
                FeatureVector.build(
                    schema, market_id="BTC-USD", epoch_id=9, tick_index=9,
                    window_start_ms=JAN10, window_end_ms=JAN10 + 1000,
                    features=dict.fromkeys(schema.names, 1), created_at_ms=JAN10 + 1000,
                )
            )  # fmt: skip


def test_a_killed_retain_leaves_all_or_none_of_a_day(examples_dsn: str, tmp_path: Any) -> None:
    lake = str(tmp_path / "lake")
    t0lake.certify(examples_dsn, EP, check_days=7)
    t0lake.export(examples_dsn, EP, lake)
    total = _rows(examples_dsn)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            retain_vectors(examples_dsn, lake, 5, as_of=date(2026, 1, 17))
        except BaseException as exc:  # the test reads it
            errors.append(exc)

    with pg.connect(examples_dsn) as blocker:  # a row lock on Jan 11: the second day's DELETE waits
        blocker.execute(
            "SELECT 1 FROM fv.feature_vectors WHERE window_end_ms = %s FOR UPDATE",
            (JAN10 + MS_DAY + 900_000,),
        )
        worker = threading.Thread(target=run)
        worker.start()
        with pg.connect(examples_dsn, autocommit=True) as admin:
            pid = None
            for _ in range(300):
                row = admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE '%%fv.retain_day%%'"
                ).fetchone()
                if row:
                    pid = row[0]
                    break
                time.sleep(0.05)
            assert pid is not None, "retain never reached the second day"
            # Jan 10 is deleted inside the open transaction; kill the backend now
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        worker.join(30)
        blocker.rollback()
    assert errors and isinstance(errors[0], t0lake.T0LakeError | psycopg.Error)
    assert _rows(examples_dsn) == total  # none of Jan 10 (nor of Jan 11) went
    with pg.connect(examples_dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM fv.vector_retention").fetchone() == (0,)
    result = retain_vectors(examples_dsn, lake, 5, as_of=date(2026, 1, 17))
    assert result.retained == ["2026-01-10", "2026-01-11"]
    assert _rows(examples_dsn) == total - 2 * 4 * 2 * 96  # all of both days
