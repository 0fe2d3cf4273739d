"""Observability (t0lake/vectors/metrics.py through FeatureStore): the seed's metrics in a
registry the caller can expose, and JSON log lines with the seed's fields, never a feature
value or the blob."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest
from prometheus_client import CollectorRegistry, generate_latest

import t0lake
from t0lake.vectors import FeatureStore
from t0lake.vectors.metrics import LOGGER_NAME
from tests.fvcases import BOOK, book_features, book_vector


def test_metrics_count_what_happened(fresh_dsn: str) -> None:
    registry = CollectorRegistry()
    with FeatureStore(fresh_dsn, registry=registry) as s:
        s.register_feature_schema(BOOK)
        s.write_batch([book_vector("M", i) for i in range(5)])
        s.write(book_vector("M", 0))  # a retry: no-op
        with pytest.raises(t0lake.VectorConflictError):
            s.write(book_vector("M", 1, quality_flags=7))
        with pytest.raises(t0lake.SchemaVersionError):
            s.get_latest_features("M", 9)
        assert s.sync()  # the writes' notifications are in: the next read can be cached
        s.get_latest_features("M", 1)
        s.get_latest_features("M", 1)
        s.get_latest_features("M", 1)
        s.query_features("M", 0, 2**62, 1)
    value = registry.get_sample_value
    assert value("feature_vectors_written_total") == 5
    assert value("feature_vectors_unchanged_total") == 1
    assert value("uniqueness_violation_count_total") == 1
    assert value("schema_version_mismatch_count_total") == 1
    assert value("feature_store_write_latency_ms_count", {"op": "write_batch"}) == 1
    assert value("feature_store_write_latency_ms_count", {"op": "write"}) == 2
    latest = {"op": "get_latest_features"}
    assert value("feature_store_read_latency_ms_count", {**latest, "source": "db"}) == 1
    assert value("feature_store_read_latency_ms_count", {**latest, "source": "cache"}) == 2
    assert value("cache_hit_rate") == pytest.approx(2 / 3)
    text = generate_latest(registry).decode()
    for name in (
        "feature_vectors_written_total",
        "feature_store_write_latency_ms_bucket",
        "feature_store_read_latency_ms_bucket",
        "cache_hit_rate",
        "uniqueness_violation_count_total",
        "schema_version_mismatch_count_total",
    ):
        assert name in text


def test_log_lines_carry_the_seed_fields_and_no_features(
    fresh_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = {**book_features(3), "trades": 424242424242}
    v = book_vector("M", 3, features=secret, trace_id="t-3")
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)
    with FeatureStore(fresh_dsn, cache=False) as s:
        s.register_feature_schema(BOOK)
        s.write(v)
        s.write(v)
        with pytest.raises(t0lake.VectorConflictError):
            s.write(dataclasses.replace(book_vector("M", 3, quality_flags=7), trace_id="t-3"))
        s.verify("M", v.window_start_ms, v.window_end_ms, 1, v.features_hash.hex())
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == LOGGER_NAME]
    kinds = [e["event"] for e in events]
    assert kinds == [
        "feature_schema_registered",
        "feature_vector_written",
        "feature_vector_unchanged",
        "feature_vector_conflict",
        "feature_vector_verified",
    ]
    written = events[1]
    assert written == {
        "event": "feature_vector_written",
        "market_id": "M",
        "epoch_id": 0,
        "window_end_ms": v.window_end_ms,
        "schema_version": 1,
        "features_hash": v.features_hash.hex(),
        "trace_id": "t-3",
        "window_key": v.window_key.hex(),
    }
    assert events[3]["error"] == "VectorConflictError" and events[3]["index"] == 0
    assert all(r.fv["event"] for r in caplog.records if r.name == LOGGER_NAME)  # type: ignore[attr-defined]
    text = caplog.text
    assert "424242424242" not in text and v.features_blob.hex() not in text
    assert str(secret["mid_px"]) not in text
