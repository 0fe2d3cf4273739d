"""The canonical FeatureVector bytes (t0lake/vectors/codec.py): golden bytes committed in
tests/golden/fv_vectors.json, agreement with the plain reference of tests/fv_reference.py on
generated schemas and maps, exact round trips both ways, refusal of every non-canonical blob,
and the window key identical in Python and SQL."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import t0lake
from t0lake.vectors import codec as fv_codec
from t0lake.vectors.codec import (
    decode_columns,
    decode_features,
    encode_features,
    verify_features_hash,
    window_key,
)
from t0lake.vectors.schema import FeatureDef, FeatureSchema
from tests.fv_reference import ref_encode, ref_schema_hash, ref_window_key
from tests.fvcases import BOOK, book_features, feature_maps, schemas

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "fv_vectors.json").read_text())


def _value(doc: Any) -> Any:
    if isinstance(doc, dict) and "decimal" in doc:
        return Decimal(doc["decimal"])
    if isinstance(doc, dict) and "float" in doc:
        return float(doc["float"])
    return doc


def _schema(case: dict[str, Any]) -> FeatureSchema:
    s = case["schema"]
    return FeatureSchema.of(s["version"], s["domain"], s["features"])


# --------------------------------------------------------------------------- golden bytes


@pytest.mark.parametrize("case", GOLDEN, ids=[c["name"] for c in GOLDEN])
def test_golden_bytes(case: dict[str, Any]) -> None:
    schema = _schema(case)
    features = {k: _value(v) for k, v in case["features"].items()}
    expected = case["expected"]
    assert schema.canonical_json().decode() == expected["canonical_json"]
    assert schema.schema_hash.hex() == expected["schema_hash"] == ref_schema_hash(schema).hex()
    blob = encode_features(schema, features)
    assert blob.hex() == expected["features_blob"]
    assert ref_encode(schema, features).hex() == expected["features_blob"]
    assert fv_codec.features_hash(blob).hex() == expected["features_hash"]
    key = window_key(*case["window"], schema.version)
    assert key.hex() == expected["window_key"]
    assert ref_window_key(*case["window"], schema.version).hex() == expected["window_key"]
    # and back: the golden blob decodes to the map (-0.0 comes back as the one zero, 0.0)
    assert decode_features(schema, bytes.fromhex(expected["features_blob"])) == features


def test_golden_layout_worked_example() -> None:
    """The first golden blob, field by field as docs/feature_vectors.md lays it out."""
    case = GOLDEN[0]
    blob = bytes.fromhex(case["expected"]["features_blob"])
    assert blob[:4] == b"T0FV" and blob[4] == 1
    assert blob[5:7] == (1).to_bytes(2, "big")
    assert blob[7:39].hex() == case["expected"]["schema_hash"]
    assert blob[39:41] == (5).to_bytes(2, "big")
    assert blob[41] == 0  # no NULLs
    assert blob[42:50] == (4312512345678).to_bytes(8, "big")  # 43125.12345678 at scale 8
    assert blob[50:54] == (125).to_bytes(4, "big")  # 1.25 at scale 2
    assert blob[54:62] == (1234).to_bytes(8, "big")
    assert blob[62:63] == b"\x00"
    assert blob[63:71].hex() == "3fb999999999999a"  # 0.1
    assert len(blob) == fv_codec.blob_length(_schema(case)) == 71


def test_window_key_matches_sql(pg_conn: psycopg.Connection) -> None:
    for case in GOLDEN:
        (key,) = pg_conn.execute(
            "SELECT fv.window_key(%s, %s, %s, %s, %s, %s::smallint)",
            (*case["window"], case["schema"]["version"]),
        ).fetchone() or (None,)
        assert bytes(key).hex() == case["expected"]["window_key"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    market=st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40
    ),
    epoch=st.integers(0, 2**63 - 1),
    tick=st.integers(0, 2**31 - 1),
    start=st.integers(0, 2**62),
    width=st.integers(1, 2**40),
    version=st.integers(0, 32767),
)
def test_window_key_python_sql_reference_agree(
    pg_conn: psycopg.Connection,
    market: str,
    epoch: int,
    tick: int,
    start: int,
    width: int,
    version: int,
) -> None:
    market = market.replace("\x00", "") or "m"  # text in Postgres has no NUL
    key = window_key(market, epoch, tick, start, start + width, version)
    assert key == ref_window_key(market, epoch, tick, start, start + width, version)
    (sql_key,) = pg_conn.execute(
        "SELECT fv.window_key(%s, %s, %s, %s, %s, %s::smallint)",
        (market, epoch, tick, start, start + width, version),
    ).fetchone() or (None,)
    assert bytes(sql_key) == key


def test_window_key_separates_its_fields() -> None:
    base = ("AB", 1, 2, 3, 4, 5)
    keys = {
        window_key(*base),
        window_key("ABC", 1, 2, 3, 4, 5),
        window_key("AB", 2, 2, 3, 4, 5),
        window_key("AB", 1, 3, 3, 4, 5),
        window_key("AB", 1, 2, 2, 4, 5),
        window_key("AB", 1, 2, 3, 5, 5),
        window_key("AB", 1, 2, 3, 4, 6),
    }
    assert len(keys) == 7 and all(len(k) == 32 for k in keys)
    # the length prefix: moving bytes between market id and epoch cannot collide
    assert window_key("A", 0, 0, 0, 1, 0) != window_key("A\x00", 0, 0, 0, 1, 0)


# --------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(data=st.data(), schema=schemas())
def test_encoding_equals_reference_and_round_trips(
    data: st.DataObject, schema: FeatureSchema
) -> None:
    features = data.draw(feature_maps(schema))
    blob = encode_features(schema, features)
    assert blob == ref_encode(schema, features)
    assert len(blob) == fv_codec.blob_length(schema)
    decoded = decode_features(schema, blob)
    assert decoded == features
    assert list(decoded) == list(schema.names)  # schema order
    assert encode_features(schema, decoded) == blob
    # byte-identical on a rerun and from the map in another key order
    assert encode_features(schema, dict(reversed(list(features.items())))) == blob


@settings(max_examples=100, deadline=None)
@given(data=st.data(), schema=schemas(max_features=12))
def test_columnar_decoding_equals_row_decoding(data: st.DataObject, schema: FeatureSchema) -> None:
    maps = data.draw(st.lists(feature_maps(schema), min_size=0, max_size=12))
    blobs = [encode_features(schema, m) for m in maps]
    columns = decode_columns(schema, blobs)
    assert list(columns) == list(schema.names)
    for name, array in columns.items():
        assert array.to_pylist() == [m[name] for m in maps]
    subset = list(reversed(schema.names))[:2]
    assert list(decode_columns(schema, blobs, subset)) == subset


@settings(max_examples=300, deadline=None)
@given(data=st.data(), schema=schemas(max_features=8))
def test_every_accepted_blob_is_canonical(data: st.DataObject, schema: FeatureSchema) -> None:
    """Flip any bits of a valid blob: either it is refused, or it is the canonical encoding
    of the map it decodes to (so one map never has two accepted blobs)."""
    blob = bytearray(encode_features(schema, data.draw(feature_maps(schema))))
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] ^= 1 << data.draw(st.integers(0, 7))
    try:
        decoded = decode_features(schema, bytes(blob))
    except t0lake.IntegrityError:
        with pytest.raises(t0lake.IntegrityError):
            decode_columns(schema, [bytes(blob)])
        return
    assert encode_features(schema, decoded) == bytes(blob)
    assert {
        k: v.to_pylist()[0] for k, v in decode_columns(schema, [bytes(blob)]).items()
    } == decoded


# --------------------------------------------------------------------------- refusals

EXACT = FeatureSchema.of(
    3,
    "t",
    [
        FeatureDef("px", "i64", 2),
        FeatureDef("n", "i32", 0),
        FeatureDef("ok", "bool"),
        FeatureDef("x", "f64", nullable=True),
    ],
)
GOOD = {"px": Decimal("1.25"), "n": 7, "ok": True, "x": 0.5}


@pytest.mark.parametrize(
    ("feature", "value", "match"),
    [
        ("px", Decimal("1.255"), "more than 2 decimal places"),
        ("px", 0.001, "more than 2 decimal places"),
        ("px", float("nan"), "not finite"),
        ("px", Decimal("Infinity"), "not finite"),
        ("px", Decimal("92233720368547758.08"), "out of range"),
        ("px", Decimal("1e50"), "out of range"),
        ("px", "1.25", "takes an int, Decimal or float"),
        ("px", True, "takes an int, Decimal or float"),
        ("px", None, "not nullable"),
        ("n", 2**31, "out of range"),
        ("n", Decimal("1.5"), "more than 0 decimal places"),
        ("ok", 1, "takes True or False"),
        ("x", float("inf"), "not finite"),
        ("x", 2**53 + 1, "no exact float"),
        ("x", "0.5", "takes a float"),
    ],
)
def test_values_that_cannot_be_encoded_exactly_are_refused(
    feature: str, value: Any, match: str
) -> None:
    with pytest.raises(t0lake.InvalidVectorError, match=match) as info:
        encode_features(EXACT, {**GOOD, feature: value})
    assert info.value.context["feature"] == feature


def test_missing_and_unknown_features_are_refused() -> None:
    with pytest.raises(t0lake.InvalidVectorError, match="missing") as info:
        encode_features(EXACT, {k: v for k, v in GOOD.items() if k != "x"})
    assert info.value.context["feature"] == "x"
    with pytest.raises(t0lake.InvalidVectorError, match="not in schema") as info:
        encode_features(EXACT, {**GOOD, "extra": 1})
    assert info.value.context["feature"] == "extra"


def test_exact_values_at_the_scale_are_accepted_in_any_form() -> None:
    blobs = {
        encode_features(EXACT, {**GOOD, "px": v})
        for v in (Decimal("1.25"), Decimal("1.250000"), 1.25, Decimal("125e-2"))
    }
    assert len(blobs) == 1
    assert decode_features(EXACT, blobs.pop())["px"].as_tuple().exponent == -2
    # -0.0 and 0.0 are one value: one encoding
    assert encode_features(EXACT, {**GOOD, "x": -0.0}) == encode_features(EXACT, {**GOOD, "x": 0.0})
    assert (
        math.copysign(1, decode_features(EXACT, encode_features(EXACT, {**GOOD, "x": -0.0}))["x"])
        == 1
    )


def test_blobs_of_another_schema_or_version_are_refused() -> None:
    blob = encode_features(BOOK, book_features(3))
    renamed = FeatureSchema.of(
        BOOK.version,
        BOOK.domain,
        [*BOOK.features_json()[:-1], {"name": "vol2", "type": "f64", "nullable": True}],
    )
    with pytest.raises(t0lake.IntegrityError, match="encoded for schema version 1"):
        decode_features(renamed, blob)  # same version and layout, other schema_hash
    with pytest.raises(t0lake.IntegrityError, match="bytes, expected"):
        decode_features(BOOK, blob + b"\x00")
    with pytest.raises(t0lake.IntegrityError, match="wrong header") as info:
        decode_columns(renamed, [blob, blob])
    assert info.value.context["row"] == 0
    with pytest.raises(t0lake.IntegrityError) as info:
        decode_columns(BOOK, [blob, blob[:-1]])
    assert info.value.context["row"] == 1


def test_verifier_compares_a_commitment() -> None:
    blob = encode_features(BOOK, book_features(1))
    digest = fv_codec.features_hash(blob)
    assert verify_features_hash(blob, digest) == digest
    assert verify_features_hash(blob, digest.hex()) == digest
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(t0lake.IntegrityError) as info:
        verify_features_hash(tampered, digest.hex())
    assert info.value.context["expected"] == digest.hex()
    with pytest.raises(t0lake.ConfigError):
        verify_features_hash(blob, "not hex")
    with pytest.raises(t0lake.ConfigError):
        verify_features_hash(blob, digest[:16])
