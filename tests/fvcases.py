"""Shared makings of the FeatureVector tests: hypothesis strategies for schemas and feature
maps, a small fixed schema, and a store fixture on a database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from t0lake.vectors import FeatureStore
from t0lake.vectors.record import FeatureVector
from t0lake.vectors.schema import FEATURE_TYPES, RESERVED_NAMES, FeatureDef, FeatureSchema

BOOK = FeatureSchema.of(
    1,
    "test.orderbook",
    [
        FeatureDef("mid_px", "i64", 8),
        FeatureDef("spread_bps", "i32", 2, nullable=True),
        FeatureDef("trades", "i64", 0),
        FeatureDef("halted", "bool"),
        FeatureDef("vol", "f64", nullable=True),
    ],
)

T0 = 1_768_003_200_000  # 2026-01-10 00:00 UTC


def book_features(i: int) -> dict[str, Any]:
    return {
        "mid_px": Decimal(100_000 + i) / 100,
        "spread_bps": None if i % 5 == 0 else Decimal(i % 97) / 4,
        "trades": i * 3,
        "halted": i % 7 == 0,
        "vol": None if i % 4 == 0 else (i % 13) / 8,
    }


def book_vector(
    market: str = "BTC-USD", i: int = 0, *, width_ms: int = 30_000, **overrides: Any
) -> FeatureVector:
    """The i-th 30 s window of a market under BOOK (epoch = i // 100, tick = i % 100)."""
    args: dict[str, Any] = {
        "market_id": market,
        "epoch_id": i // 100,
        "tick_index": i % 100,
        "window_start_ms": T0 + i * width_ms,
        "window_end_ms": T0 + (i + 1) * width_ms,
        "features": book_features(i),
        "quality_flags": i % 3,
        "coverage_json": {"sources": 2, "ticks": i % 30},
        "producer_instance": "test-producer",
        "trace_id": f"trace-{i}",
    }
    args.update(overrides)
    args.setdefault("created_at_ms", args["window_end_ms"] + 500)
    return FeatureVector.build(BOOK, **args)


def open_store(dsn: str) -> Iterator[FeatureStore]:
    """Body of the test modules' ``store`` fixture: a cached store with BOOK registered."""
    with FeatureStore(dsn) as s:
        s.register_feature_schema(BOOK)
        yield s


# --------------------------------------------------------------------------- hypothesis

names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda n: n not in RESERVED_NAMES
)


@st.composite
def feature_defs(draw: st.DrawFn) -> FeatureDef:
    kind = draw(st.sampled_from(sorted(FEATURE_TYPES)))
    scale = draw(st.integers(0, FEATURE_TYPES[kind][1]))
    return FeatureDef(draw(names), kind, scale, draw(st.booleans()))  # type: ignore[arg-type]


@st.composite
def schemas(draw: st.DrawFn, max_features: int = 20) -> FeatureSchema:
    defs = draw(
        st.lists(feature_defs(), min_size=1, max_size=max_features, unique_by=lambda f: f.name)
    )
    version = draw(st.integers(0, 32767))
    return FeatureSchema(version, draw(st.sampled_from(["a", "b.c"])), tuple(defs))


def value_of(f: FeatureDef) -> st.SearchStrategy[Any]:
    if f.type == "bool":
        return st.booleans()
    if f.type == "f64":
        return st.floats(allow_nan=False, allow_infinity=False)
    bits = 32 if f.type == "i32" else 64
    ints = st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if f.scale == 0:
        return ints
    return ints.map(lambda n: Decimal(n).scaleb(-f.scale))


@st.composite
def feature_maps(draw: st.DrawFn, schema: FeatureSchema) -> dict[str, Any]:
    out = {}
    for f in schema.features:
        if f.nullable and draw(st.booleans()):
            out[f.name] = None
        else:
            out[f.name] = draw(value_of(f))
    return out
