"""The FeatureVector tables of seed 003 (`sql/core/50_feature_vectors.sql`) and their example
entrypoint (`sql/examples/55_example_feature_vectors.sql`) on the real Postgres: the primary key and
CHECKs refuse what the seed forbids, latest reads use their index, the example certifies."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

import t0lake
from t0lake import pg

EP = "fv.feature_vector_store_t0_v1_v"
GUARDED = "fv.feature_vectors_train_v"
EP_ID = sql.Identifier(*EP.split("."))
EXAMPLE_ROWS = 4 * 2 * 7 * 96  # markets x schema versions x days x windows a day


@pytest.fixture
def conn(fresh_dsn: str) -> Iterator[psycopg.Connection]:
    """A database of its own with only the non-example SQL (empty FeatureVector tables)."""
    with pg.connect(fresh_dsn, autocommit=True) as c:
        c.execute(
            "INSERT INTO fv.feature_schemas VALUES (7, 'test.domain', %s, 0, '[]')",
            (hashlib.sha256(b"schema 7").digest(),),
        )
        yield c


def _vector(**overrides: Any) -> dict[str, Any]:
    blob = overrides.pop("features_blob", b"\x00\x01\x02\x03")
    row: dict[str, Any] = {
        "window_key": hashlib.sha256(b"window 1").digest(),
        "market_id": "BTC-USD",
        "epoch_id": 12,
        "tick_index": 3,
        "window_start_ms": 1_768_003_200_000,
        "window_end_ms": 1_768_003_230_000,
        "feature_schema_version": 7,
        "features_blob": blob,
        "features_hash": hashlib.sha256(blob).digest(),
        "quality_flags": 0,
        "coverage_json": json.dumps({"sources": 2}),
        "created_at_ms": 1_768_003_231_000,
    }
    row.update(overrides)
    return row


def _insert(conn: psycopg.Connection, row: dict[str, Any], *, on_conflict: str = "") -> int:
    statement = sql.SQL("INSERT INTO fv.feature_vectors ({}) VALUES ({}) {}").format(
        sql.SQL(", ").join(map(sql.Identifier, row)),
        sql.SQL(", ").join(sql.Placeholder(k) for k in row),
        sql.SQL(on_conflict),
    )
    return conn.execute(statement, row).rowcount


def _count(conn: psycopg.Connection, relation: str) -> int:
    (n,) = conn.execute(
        sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*relation.split(".")))
    ).fetchone() or (None,)
    return int(n)  # type: ignore[arg-type]


def test_db_init_creates_empty_tables(conn: psycopg.Connection) -> None:
    assert _count(conn, "fv.feature_vectors") == 0
    # Not an example: the entrypoint of the example file is absent without --examples.
    assert conn.execute("SELECT to_regclass(%s)", (EP,)).fetchone() == (None,)


def test_window_key_is_the_primary_key(conn: psycopg.Connection) -> None:
    assert _insert(conn, _vector()) == 1
    with pytest.raises(psycopg.errors.UniqueViolation) as info:
        _insert(conn, _vector(market_id="ETH-USD"))  # same window_key, other content
    assert info.value.diag.constraint_name == "feature_vectors_pkey"
    # The writer's idempotent form: the same record again is a no-op.
    assert _insert(conn, _vector(), on_conflict="ON CONFLICT (window_key) DO NOTHING") == 0
    assert _insert(conn, _vector(window_key=hashlib.sha256(b"window 2").digest())) == 1
    assert _count(conn, "fv.feature_vectors") == 2


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"window_end_ms": 1_768_003_200_000}, "feature_vectors_window_bounds"),
        ({"window_end_ms": 1_768_003_199_999}, "feature_vectors_window_bounds"),
        ({"window_start_ms": -1, "window_end_ms": 5}, "feature_vectors_window_start_nonnegative"),
        ({"created_at_ms": 1_768_003_229_999}, "feature_vectors_created_after_window"),
        ({"window_key": b"\x01" * 31}, "feature_vectors_window_key_32"),
        ({"window_key": b"\x01" * 33}, "feature_vectors_window_key_32"),
        (
            {"features_hash": hashlib.sha256(b"other").digest()},
            "feature_vectors_features_hash_matches",
        ),
        ({"features_hash": b"\x00" * 16}, "feature_vectors_features_hash_32"),
        ({"quality_flags": -1}, "feature_vectors_quality_flags_u32"),
        ({"quality_flags": 2**32}, "feature_vectors_quality_flags_u32"),
        ({"market_id": ""}, "feature_vectors_market_id_canonical"),
        ({"market_id": "BTC USD"}, "feature_vectors_market_id_canonical"),
        ({"market_id": "x" * 257}, "feature_vectors_market_id_canonical"),
        ({"epoch_id": -1}, "feature_vectors_epoch_u64"),
        ({"tick_index": -1}, "feature_vectors_tick_u32"),
        ({"coverage_json": "[1, 2]"}, "feature_vectors_coverage_object"),
    ],
)
def test_checks_refuse_bad_vectors(
    conn: psycopg.Connection, overrides: dict[str, Any], constraint: str
) -> None:
    with pytest.raises(psycopg.errors.CheckViolation) as info:
        _insert(conn, _vector(**overrides))
    assert info.value.diag.constraint_name == constraint
    assert _count(conn, "fv.feature_vectors") == 0


def test_limits_of_the_unsigned_ranges_are_accepted(conn: psycopg.Connection) -> None:
    assert _insert(conn, _vector(quality_flags=2**32 - 1, market_id="x" * 256, epoch_id=0)) == 1


def test_unknown_schema_version_is_refused(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        _insert(conn, _vector(feature_schema_version=8))


def test_schema_checks(conn: psycopg.Connection) -> None:
    digest = hashlib.sha256(b"s").digest()
    bad = [
        (-1, "d", digest, "[]", "feature_schemas_version_u16"),
        (9, "", digest, "[]", "feature_schemas_domain_nonempty"),
        (9, "d", digest[:31], "[]", "feature_schemas_schema_hash_32"),
        (9, "d", digest, "{}", "feature_schemas_features_array"),
    ]
    for version, domain, schema_hash, features, constraint in bad:
        with pytest.raises(psycopg.errors.CheckViolation) as info:
            conn.execute(
                "INSERT INTO fv.feature_schemas VALUES (%s, %s, %s, 0, %s)",
                (version, domain, schema_hash, features),
            )
        assert info.value.diag.constraint_name == constraint
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO fv.feature_schemas VALUES (7, 'other', %s, 0, '[]')", (digest,))


def test_committed_rows_are_immutable_but_can_expire(conn: psycopg.Connection) -> None:
    _insert(conn, _vector())
    with pytest.raises(psycopg.errors.RestrictViolation, match="immutable"):
        conn.execute("UPDATE fv.feature_vectors SET quality_flags = 1")
    with pytest.raises(psycopg.errors.RestrictViolation):
        conn.execute("UPDATE fv.feature_schemas SET domain = 'changed'")
    # append-only: only retention (fv.retain_day, after the lake proved the day) deletes
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
        conn.execute("DELETE FROM fv.feature_vectors")
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
        conn.execute("TRUNCATE fv.feature_vectors")


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def _index_scans(conn: psycopg.Connection, query: sql.Composable, params: tuple[Any, ...]) -> set:
    (doc,) = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(query), params).fetchone() or (
        None,
    )
    return {
        node.get("Index Name")
        for node in _plan_nodes(doc[0]["Plan"])
        if node["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
    }


def test_latest_reads_use_their_indexes(examples_dsn: str) -> None:
    with pg.connect(examples_dsn, autocommit=True) as conn:
        conn.execute("ANALYZE fv.feature_vectors")  # 5376 rows: big enough for the planner
        latest = sql.SQL(
            "SELECT * FROM fv.feature_vectors WHERE market_id = %s"
            " ORDER BY window_end_ms DESC LIMIT 1"
        )
        assert _index_scans(conn, latest, ("ETH-USD",)) == {"feature_vectors_market_end"}
        latest_v = sql.SQL(
            "SELECT * FROM fv.feature_vectors WHERE market_id = %s"
            " AND feature_schema_version = %s ORDER BY window_end_ms DESC LIMIT 1"
        )
        assert _index_scans(conn, latest_v, ("ETH-USD", 2)) == {"feature_vectors_market_schema_end"}
        by_epoch = sql.SQL(
            "SELECT * FROM fv.feature_vectors WHERE market_id = %s AND epoch_id = %s"
            " AND tick_index = %s"
        )
        assert _index_scans(conn, by_epoch, ("ETH-USD", 3, 17)) == {
            "feature_vectors_market_epoch_tick"
        }
        # A certified day, read through the entrypoint, uses the day index.
        day = sql.SQL("SELECT * FROM {} WHERE window_end_day = %s").format(
            sql.Identifier(*EP.split("."))
        )
        assert _index_scans(conn, day, (date(2026, 1, 12),)) == {"feature_vectors_window_end_day"}
        # And the latest read returns the newest window of that market and version.
        row = conn.execute(latest_v, ("ETH-USD", 2)).fetchone()
        assert row is not None and row[5] == 1_768_003_200_000 + (7 * 96 - 1) * 900_000


def test_example_rows_are_valid_and_deterministic(examples_dsn: str) -> None:
    with pg.connect(examples_dsn, autocommit=True) as conn:
        assert _count(conn, EP) == EXAMPLE_ROWS
        rows = conn.execute(
            sql.SQL(
                "SELECT window_end_ms, window_end_day, window_end_at, created_at_ms, created_at,"
                " features_blob, features_hash FROM {}"
            ).format(sql.Identifier(*EP.split(".")))
        ).fetchall()
        days = {}
        for end_ms, day, end_at, created_ms, created_at, blob, digest in rows:
            utc = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=end_ms)
            assert day == utc.date() and end_at == utc.replace(tzinfo=None)
            created = datetime(1970, 1, 1) + timedelta(milliseconds=created_ms)
            assert created_at == created and created_ms > end_ms
            assert hashlib.sha256(blob).digest() == bytes(digest) and len(blob) == 42 + 64
            days[day] = days.get(day, 0) + 1
        assert days == {date(2026, 1, 10) + timedelta(d): 768 for d in range(7)}
        before = conn.execute(
            "SELECT md5(string_agg(v::text, ',' ORDER BY window_key)) FROM fv.feature_vectors v"
        ).fetchone()
    with pg.connect(examples_dsn) as conn:
        pg.apply_sql(conn, examples=True)  # re-running fills nothing twice
        after = conn.execute(
            "SELECT md5(string_agg(v::text, ',' ORDER BY window_key)) FROM fv.feature_vectors v"
        ).fetchone()
    assert before == after


@pytest.mark.parametrize(
    "ms", [0, 1, 86_399_999, 86_400_000, 951_782_400_000, 1_768_003_200_001, 4_102_444_800_000]
)
def test_day_and_time_arithmetic_is_exact(examples_dsn: str, ms: int) -> None:
    # The same expressions as the entrypoint, on edge values (leap day 2000-02-29, 2100).
    with pg.connect(examples_dsn, autocommit=True) as conn:
        got = conn.execute(
            "SELECT date '1970-01-01' + (%(ms)s::bigint / 86400000)::integer,"
            " (date '1970-01-01' + (%(ms)s::bigint / 86400000)::integer)"
            "   + (%(ms)s::bigint %% 86400000) * interval '1 millisecond'",
            {"ms": ms},
        ).fetchone()
    utc = datetime(1970, 1, 1) + timedelta(milliseconds=ms)
    assert got == (utc.date(), utc)


def test_example_entrypoint_certifies_and_serves(examples_dsn: str) -> None:
    with pg.connect(examples_dsn, autocommit=True) as conn:
        assert _count(conn, GUARDED) == 0  # never certified: fail closed
        result = t0lake.certify(examples_dsn, EP, check_days=7)
        assert result.certified and result.gates == {"A": "pass", "B": "pass", "C": "pass"}
        assert result.checked_days == [date(2026, 1, 10) + timedelta(d) for d in range(7)]
        assert _count(conn, GUARDED) == EXAMPLE_ROWS
        # The certified day hash is the canonical hash of the day's rows (bytea, jsonb, ...).
        (baseline,) = conn.execute(
            "SELECT dataset_hash FROM audit.t0_dataset_hash_baseline"
            " WHERE entrypoint = %s AND day = '2026-01-16'",
            (EP,),
        ).fetchone() or (None,)
        assert baseline == pg.sql_dataset_hash(
            conn,
            sql.SQL("SELECT * FROM {} WHERE window_end_day = '2026-01-16'")
            .format(EP_ID)
            .as_string(conn),
            ["market_id", "feature_schema_version", "window_end_ms", "window_key"],
        )
        # A vector deleted from a certified day is drift: the next run fails, serving stops.
        # (an administrator's delete past the append-only guard, which they may disable)
        with conn.transaction():
            conn.execute(
                "ALTER TABLE fv.feature_vectors DISABLE TRIGGER feature_vectors_append_only"
            )
            conn.execute(
                "DELETE FROM fv.feature_vectors WHERE window_key = (SELECT window_key"
                " FROM fv.feature_vectors WHERE window_end_ms = 1768521600000 LIMIT 1)"
            )
            conn.execute(
                "ALTER TABLE fv.feature_vectors ENABLE TRIGGER feature_vectors_append_only"
            )
        with pytest.raises(t0lake.DriftError) as info:
            t0lake.certify(examples_dsn, EP, check_days=7)
        assert info.value.context["object"] == "2026-01-16"
        assert _count(conn, GUARDED) == 0
