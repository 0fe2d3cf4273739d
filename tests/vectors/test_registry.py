"""The schema registry (t0lake/vectors/registry.py): registration is idempotent, a version is
immutable, listing filters by domain and re-proves every schema_hash."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

import t0lake
from t0lake import pg
from t0lake.vectors import registry as fv_registry
from t0lake.vectors.schema import FeatureDef, FeatureSchema
from tests.fvcases import BOOK


@pytest.fixture
def conn(fresh_dsn: str) -> Iterator[psycopg.Connection]:
    with pg.connect(fresh_dsn, autocommit=True) as c:
        yield c


def test_register_is_idempotent_and_versions_are_immutable(conn: psycopg.Connection) -> None:
    assert fv_registry.register_schema(conn, BOOK, created_at_ms=5) is True
    assert fv_registry.register_schema(conn, BOOK, created_at_ms=6) is False
    changed = FeatureSchema.of(1, BOOK.domain, [*BOOK.features[:-1], FeatureDef("vol", "f64")])
    with pytest.raises(t0lake.SchemaVersionError) as info:
        fv_registry.register_schema(conn, changed)
    assert info.value.context["registered"] == BOOK.schema_hash.hex()
    assert info.value.context["given"] == changed.schema_hash.hex()
    assert fv_registry.load_schema(conn, 1) == BOOK
    row = conn.execute("SELECT created_at_ms, schema_hash FROM fv.feature_schemas").fetchall()
    assert row == [(5, BOOK.schema_hash)]


def test_list_by_domain_and_unknown_versions(conn: psycopg.Connection) -> None:
    other = FeatureSchema.of(7, "test.trades", [FeatureDef("n", "i64")])
    v3 = FeatureSchema.of(3, BOOK.domain, [FeatureDef("n", "i64")])
    for s in (other, v3, BOOK):
        fv_registry.register_schema(conn, s)
    assert fv_registry.list_schemas(conn, BOOK.domain) == [BOOK, v3]
    assert fv_registry.list_schemas(conn) == [BOOK, v3, other]
    assert fv_registry.list_schemas(conn, "none") == []
    with pytest.raises(t0lake.SchemaVersionError, match="not registered"):
        fv_registry.load_schema(conn, 99)


def test_rows_whose_hash_does_not_prove_them_are_refused(conn: psycopg.Connection) -> None:
    # a schema registered by other means, hashing something else (like a jsonb text)
    conn.execute(
        "INSERT INTO fv.feature_schemas VALUES (5, 'x', sha256('x'), 0,"
        ' \'[{"name": "n", "type": "i64"}]\')'
    )
    with pytest.raises(t0lake.IntegrityError, match="schema_hash") as info:
        fv_registry.load_schema(conn, 5)
    assert info.value.context["version"] == 5
    with pytest.raises(t0lake.IntegrityError):
        fv_registry.list_schemas(conn, "x")
