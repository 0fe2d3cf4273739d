"""The FeatureStore facade (t0lake/vectors/store.py) end to end: a producer registers and writes,
a model reads, a verifier checks a commitment (seed section 10), schemas are discovered."""

from __future__ import annotations

import pytest

import t0lake
from t0lake import pg
from t0lake.vectors import FeatureStore
from tests.fvcases import BOOK, book_vector


def test_producer_model_verifier(fresh_dsn: str) -> None:
    with FeatureStore(fresh_dsn) as producer:
        assert producer.register_feature_schema(BOOK) is True
        assert producer.register_feature_schema(BOOK) is False
        producer.write_batch([book_vector("BTC-USD", i) for i in range(10)])
    with FeatureStore(fresh_dsn, supported_versions=[1]) as model:
        assert model.list_feature_schemas("test.orderbook") == [BOOK]
        assert model.list_feature_schemas("other") == []
        latest = model.get_latest_features("BTC-USD", 1)
        assert latest is not None and latest.tick_index == 9
        bundle_commitment = latest.features_hash.hex()  # what an oracle bundle carries
    with FeatureStore(fresh_dsn, cache=False) as verifier:
        checked = verifier.verify(
            "BTC-USD", latest.window_start_ms, latest.window_end_ms, 1, bundle_commitment
        )
        assert checked == latest
        other = book_vector("BTC-USD", 8).features_hash
        with pytest.raises(t0lake.IntegrityError) as info:
            verifier.verify("BTC-USD", latest.window_start_ms, latest.window_end_ms, 1, other)
        assert info.value.context["window_key"] == latest.window_key.hex()
        assert info.value.context["expected"] == other.hex()
        with pytest.raises(t0lake.IntegrityError, match="nothing to verify"):
            verifier.verify("BTC-USD", 0, 1, 1, other)
        assert verifier.sync() is True  # no cache: nothing to wait for


def test_bad_arguments_are_config_errors(fresh_dsn: str) -> None:
    with FeatureStore(fresh_dsn, cache=False) as s:
        s.register_feature_schema(BOOK)
        with pytest.raises(t0lake.ConfigError):
            s.get_latest_features("BTC USD", 1)
        with pytest.raises(t0lake.ConfigError):
            s.get_latest_features("BTC-USD", "1")  # type: ignore[arg-type]
        with pytest.raises(t0lake.ConfigError, match="agg"):
            s.query_features("BTC-USD", 0, 10, 1, every="5m", agg="mean")
    with pytest.raises(t0lake.ConfigError, match="cannot connect"):
        FeatureStore("host=127.0.0.1 port=1 dbname=x connect_timeout=1", cache=False)


def test_the_example_store_is_readable_and_proven(fresh_dsn: str) -> None:
    """`db init --examples` writes what FeatureStore writes: every example row decodes,
    verifies and matches the SQL window key; schemas prove their hash."""
    with pg.connect(fresh_dsn) as conn:
        pg.apply_sql(conn, examples=True)
    with FeatureStore(fresh_dsn, cache=False) as s:
        schemas = s.list_feature_schemas("example.orderbook")
        assert [x.version for x in schemas] == [1, 2]
        assert schemas[1].names[-1] == "realized_vol"
        latest = s.get_latest_features("XAU-USD", 2)
        assert latest is not None and latest.window_end_ms == 1_768_003_200_000 + 671 * 900_000
        assert set(latest.features or {}) == set(schemas[1].names)
        s.verify("XAU-USD", latest.window_start_ms, latest.window_end_ms, 2, latest.features_hash)
        for version in (1, 2):
            frame = s.query_features("BTC-USD", 0, 2**62, version, every="1d")
            # windows end every 15 min from 2026-01-10 00:00 to 2026-01-16 23:45: the first
            # one ends on a day boundary, so it belongs to the day before (end - 1 ms)
            assert frame["n_windows"].to_list() == [1] + [96] * 6 + [95]
        assert len(s.get_features_by_epoch("SOL-USD", 3, 17)) == 2
