"""Feature schemas (t0lake/vectors/schema.py): canonical JSON and schema_hash, and the
definitions refused before they could reach the registry."""

from __future__ import annotations

import hashlib
import json

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import t0lake
from t0lake.vectors.schema import FeatureDef, FeatureSchema
from tests.fv_reference import ref_schema_hash
from tests.fvcases import BOOK, schemas


def test_canonical_json_is_sorted_compact_and_complete() -> None:
    schema = FeatureSchema.of(4, "d", [{"type": "i32", "name": "b", "scale": 3}])
    assert schema.canonical_json() == (
        b'{"domain":"d","feature_schema_version":4,"features":'
        b'[{"name":"b","nullable":false,"scale":3,"type":"i32"}]}'
    )
    assert schema.schema_hash == hashlib.sha256(schema.canonical_json()).digest()
    assert schema.schema_hash == ref_schema_hash(schema)
    # the JSON form round-trips, so the registry can rebuild the same schema
    assert FeatureSchema.of(4, "d", schema.features_json()) == schema


def test_every_part_of_a_schema_is_in_its_hash() -> None:
    hashes = {
        BOOK.schema_hash,
        FeatureSchema.of(2, BOOK.domain, BOOK.features).schema_hash,
        FeatureSchema.of(1, "other", BOOK.features).schema_hash,
        FeatureSchema.of(1, BOOK.domain, BOOK.features[::-1]).schema_hash,
        FeatureSchema.of(
            1, BOOK.domain, [*BOOK.features[:-1], FeatureDef("vol", "f64")]
        ).schema_hash,
        FeatureSchema.of(
            1, BOOK.domain, [FeatureDef("mid_px", "i64", 7), *BOOK.features[1:]]
        ).schema_hash,
    }
    assert len(hashes) == 6


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: FeatureDef("Mid", "i64"), "lower-case identifier"),
        (lambda: FeatureDef("window_end_ms", "i64"), "reserved"),
        (lambda: FeatureDef("x", "f32"), "not one of"),  # type: ignore[arg-type]
        (lambda: FeatureDef("x", "i32", 10), "outside 0..9"),
        (lambda: FeatureDef("x", "f64", 1), "outside 0..0"),
        (lambda: FeatureDef("x", "i64", -1), "outside"),
        (lambda: FeatureSchema.of(1, "d", []), "at least one feature"),
        (lambda: FeatureSchema.of(1, "d", [FeatureDef("x", "i64")] * 2), "twice"),
        (lambda: FeatureSchema.of(32768, "d", [FeatureDef("x", "i64")]), "outside 0..32767"),
        (lambda: FeatureSchema.of(1, "a b", [FeatureDef("x", "i64")]), "domain"),
        (lambda: FeatureSchema.of(1, "d", [{"name": "x", "type": "i64", "unit": "s"}]), "keys"),
    ],
)
def test_bad_definitions_are_refused(make: object, match: str) -> None:
    with pytest.raises(t0lake.ConfigError, match=match):
        make()  # type: ignore[operator]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schema=schemas(max_features=8), explicit=st.booleans())
def test_schema_hash_matches_sql(
    pg_conn: psycopg.Connection, schema: FeatureSchema, explicit: bool
) -> None:
    # the stored features may omit defaults (scale 0, nullable false): same hash
    features = schema.features_json()
    if not explicit:
        features = [
            {k: v for k, v in f.items() if (k, v) not in (("scale", 0), ("nullable", False))}
            for f in features
        ]
    (digest,) = pg_conn.execute(
        "SELECT fv.schema_hash(%s::smallint, %s, %s::jsonb)",
        (schema.version, schema.domain, json.dumps(features)),
    ).fetchone() or (None,)
    assert bytes(digest) == schema.schema_hash
