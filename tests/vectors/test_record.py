"""FeatureVector records (t0lake/vectors/record.py): derived fields, the checks of seed section
5.4, canonical market ids, and a repr that never shows features."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

import t0lake
from t0lake.vectors.codec import features_hash, window_key
from t0lake.vectors.record import check_market_id, check_vector
from tests.fvcases import BOOK, book_features, book_vector


def test_build_derives_blob_hash_and_key() -> None:
    v = book_vector("BTC-USD", 42)
    assert v.features_hash == features_hash(v.features_blob)
    assert v.window_key == window_key(
        "BTC-USD", v.epoch_id, v.tick_index, v.window_start_ms, v.window_end_ms, 1
    )
    assert dict(v.features or {}) == book_features(42)
    with pytest.raises(TypeError):
        v.features["trades"] = 0  # type: ignore[index]
    check_vector(v, BOOK)


def test_repr_and_log_fields_hold_no_feature_values() -> None:
    v = book_vector("BTC-USD", 1, features={**book_features(1), "trades": 987654321})
    text = repr(v) + repr(v.log_fields())
    assert "987654321" not in text and v.features_blob.hex() not in text
    assert "features_blob" not in text
    assert v.log_fields() == {
        "market_id": "BTC-USD",
        "epoch_id": 0,
        "window_end_ms": v.window_end_ms,
        "schema_version": 1,
        "features_hash": v.features_hash.hex(),
        "trace_id": "trace-1",
    }


@pytest.mark.parametrize(
    ("market", "ok"),
    [
        ("BTC-USD", True),
        ("ÉTH/€", True),
        ("x" * 256, True),
        ("", False),
        ("x" * 257, False),
        ("BTC USD", False),
        ("BTC\tUSD", False),
        ("BTC\u200bUSD", False),  # zero-width space (format character)
        ("BTC\u00a0USD", False),  # no-break space
        ("E\u0301TH", False),  # not NFC (É decomposed)
        (42, False),
    ],
)
def test_canonical_market_ids(market: object, ok: bool) -> None:
    if ok:
        assert check_market_id(market) == market
    else:
        with pytest.raises(t0lake.InvalidVectorError) as info:
            check_market_id(market)
        assert info.value.context["field"] == "market_id"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"epoch_id": -1}, "epoch_id"),
        ({"epoch_id": 2**63}, "epoch_id"),
        ({"tick_index": 2**31}, "tick_index"),
        ({"tick_index": True}, "tick_index"),
        ({"quality_flags": 2**32}, "quality_flags"),
        ({"coverage_json": [1]}, "coverage_json"),
        ({"coverage_json": {"x": float("nan")}}, "coverage_json"),
        ({"coverage_json": {"x": Decimal(1)}}, "coverage_json"),
        ({"trace_id": "a\nforged log line"}, "trace_id"),
        ({"producer_instance": "p" * 257}, "producer_instance"),
        ({"feature_schema_version": 2}, "window_key"),
    ],
)
def test_checks_name_the_field(change: dict[str, object], field: str) -> None:
    v = dataclasses.replace(book_vector("BTC-USD", 1), **change)  # type: ignore[arg-type]
    with pytest.raises(t0lake.InvalidVectorError) as info:
        check_vector(v)
    assert info.value.context["field"] == field


def test_build_refuses_bad_windows() -> None:
    with pytest.raises(t0lake.InvalidVectorError, match="window bounds") as info:
        book_vector("BTC-USD", 1, window_end_ms=1, window_start_ms=1)
    assert info.value.context["field"] == "window_end_ms"
