"""Regenerate tests/golden/fv_vectors.json (only when the FeatureVector encoding changes on
purpose, which also needs a new encoding version: see docs/feature_vectors.md).

    .venv/bin/python tests/golden/make_fv_vectors.py

Each case is a schema, a feature map and a window; values are JSON with decimals written as
strings (``{"decimal": "1.5"}``) and floats as their repr (``{"float": "0.1"}``). The
expected bytes come from t0lake; tests/test_fv_codec.py checks t0lake and the plain reference
of tests/fv_reference.py against them, so a change of either shows up as a diff of this file.
"""

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from t0lake.vectors import codec as fv_codec
from t0lake.vectors.schema import FeatureSchema

CASES: list[dict[str, Any]] = [
    {
        "name": "orderbook",
        "schema": {
            "version": 1,
            "domain": "example.orderbook",
            "features": [
                {"name": "mid_px", "type": "i64", "scale": 8, "nullable": False},
                {"name": "spread_bps", "type": "i32", "scale": 2, "nullable": True},
                {"name": "trades", "type": "i64", "scale": 0, "nullable": False},
                {"name": "halted", "type": "bool", "scale": 0, "nullable": False},
                {"name": "realized_vol", "type": "f64", "scale": 0, "nullable": True},
            ],
        },
        "features": {
            "mid_px": {"decimal": "43125.12345678"},
            "spread_bps": {"decimal": "1.25"},
            "trades": 1234,
            "halted": False,
            "realized_vol": {"float": "0.1"},
        },
        "window": ["BTC-USD", 20463, 17, 1768003200000, 1768003230000],
    },
    {
        "name": "nulls-and-negatives",
        "schema": {
            "version": 2,
            "domain": "example.orderbook",
            "features": [
                {"name": "a", "type": "i64", "scale": 18, "nullable": False},
                {"name": "b", "type": "i32", "scale": 0, "nullable": True},
                {"name": "c", "type": "f64", "scale": 0, "nullable": True},
                {"name": "d", "type": "bool", "scale": 0, "nullable": True},
                {"name": "e", "type": "i32", "scale": 9, "nullable": False},
                {"name": "f", "type": "i64", "scale": 0, "nullable": False},
                {"name": "g", "type": "f64", "scale": 0, "nullable": False},
                {"name": "h", "type": "f64", "scale": 0, "nullable": False},
                {"name": "i", "type": "bool", "scale": 0, "nullable": True},
            ],
        },
        "features": {
            "a": {"decimal": "-9.223372036854775808"},
            "b": None,
            "c": None,
            "d": None,
            "e": {"decimal": "2.147483647"},
            "f": -1,
            "g": {"float": "-0.0"},
            "h": {"float": "5e-324"},
            "i": True,
        },
        "window": ["ÉTH-€/USD", 0, 0, 0, 1],
    },
    {
        "name": "max-identity",
        "schema": {
            "version": 32767,
            "domain": "z",
            "features": [{"name": "x", "type": "f64", "scale": 0, "nullable": False}],
        },
        "features": {"x": {"float": "1.7976931348623157e+308"}},
        "window": ["M", 9223372036854775807, 2147483647, 9223372036854775806, 9223372036854775807],
    },
]


def value(doc: Any) -> Any:
    if isinstance(doc, dict) and "decimal" in doc:
        return Decimal(doc["decimal"])
    if isinstance(doc, dict) and "float" in doc:
        return float(doc["float"])
    return doc


def schema_of(case: dict[str, Any]) -> FeatureSchema:
    s = case["schema"]
    return FeatureSchema.of(s["version"], s["domain"], s["features"])


def main() -> None:
    out = []
    for case in CASES:
        schema = schema_of(case)
        blob = fv_codec.encode_features(schema, {k: value(v) for k, v in case["features"].items()})
        out.append(
            {
                **case,
                "expected": {
                    "canonical_json": schema.canonical_json().decode("ascii"),
                    "schema_hash": schema.schema_hash.hex(),
                    "features_blob": blob.hex(),
                    "features_hash": fv_codec.features_hash(blob).hex(),
                    "window_key": fv_codec.window_key(*case["window"], schema.version).hex(),
                },
            }
        )
    path = Path(__file__).with_name("fv_vectors.json")
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(out)} cases to {path}")


if __name__ == "__main__":
    main()
