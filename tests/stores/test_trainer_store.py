"""The trainer-derived store of seed 000 against its brute-force reference
(tests/trainer_reference.py), its validation queries (seed file 07), its feature-block
metadata (seed file 05) and its certification, on the real Postgres."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

import t0lake
from t0lake import pg
from t0lake.testing import TempPostgres
from tests import trainer_reference as ref
from tests.conftest import clone_database

EP = "ml.trainer_derived_feature_store_t0_v1_v"
MV = "ml.trainer_derived_features_v1_mv"
GUARDED = "ml.trainer_derived_features_train_v"
INPUTS = {
    "ml.listing_t0_events": ("generation", "listing_id", "t0"),
    "ml.listing_posts": ("generation", "listing_id", "posted_at"),
    "ml.listing_battery_screenshots": ("generation", "listing_id", "observed_at", "battery_pct"),
    "ml.listing_battery_text": ("generation", "listing_id", "observed_at", "battery_pct"),
}


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(*name.split("."))


@pytest.fixture(scope="module")
def shared_dsn(pg_server: TempPostgres, _examples_template: str) -> Iterator[str]:
    """One database with the example stores for the tests of this module that do not certify:
    each runs in a transaction that is rolled back (see `conn`), so none sees another's."""
    yield from clone_database(pg_server, _examples_template)


@pytest.fixture
def conn(shared_dsn: str) -> Iterator[psycopg.Connection]:
    """A connection to the shared database inside a transaction that is always rolled back."""
    with pg.connect(shared_dsn) as c:
        c.execute("SELECT 1")  # open the transaction: conn.transaction() blocks are savepoints
        try:
            yield c
        finally:
            c.rollback()


@pytest.fixture
def own_conn(examples_dsn: str) -> Iterator[psycopg.Connection]:
    with pg.connect(examples_dsn, autocommit=True) as c:
        yield c


def _select_store(conn: psycopg.Connection, relation: str = EP) -> list[tuple[Any, ...]]:
    query = sql.SQL("SELECT {} FROM {} ORDER BY generation, listing_id, t0").format(
        sql.SQL(", ").join(map(sql.Identifier, ref.COLUMNS)), _ident(relation)
    )
    return conn.execute(query).fetchall()


def _read_inputs(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: conn.execute(
            sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(map(sql.Identifier, cols)), _ident(table)
            )
        ).fetchall()
        for table, cols in INPUTS.items()
    }


def _replace_inputs(conn: psycopg.Connection, data: dict[str, Sequence[tuple[Any, ...]]]) -> None:
    """TRUNCATE the inputs, COPY the given rows in, refresh the materialized view."""
    with conn.transaction():
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(_ident(t) for t in INPUTS)))
        for table, cols in INPUTS.items():
            copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
                _ident(table), sql.SQL(", ").join(map(sql.Identifier, cols))
            )
            with conn.cursor().copy(copy) as cp:
                for row in data.get(table, ()):
                    cp.write_row(row)
        conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(_ident(MV)))


def _reference(data: dict[str, Sequence[tuple[Any, ...]]]) -> list[ref.Row]:
    return ref.store(
        data.get("ml.listing_t0_events", ()),  # type: ignore[arg-type]
        data.get("ml.listing_posts", ()),  # type: ignore[arg-type]
        data.get("ml.listing_battery_screenshots", ()),  # type: ignore[arg-type]
        data.get("ml.listing_battery_text", ()),  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- the reference


def test_example_store_equals_the_reference(conn: psycopg.Connection) -> None:
    inputs = _read_inputs(conn)
    assert len(inputs["ml.listing_posts"]) == 3000
    expected = _reference(inputs)
    assert _select_store(conn) == expected
    # The synthetic inputs exercise every rule: each flag is true, false and (where it may
    # be) unknown somewhere, and strict T0 is visible (screenshots at exactly t0).
    by_col = {c: {row[i] for row in expected} for i, c in enumerate(ref.COLUMNS)}
    for col in ("batt_cross_consistent", "batt_text_overstates", "batt_clean", "rocket_clean"):
        assert by_col[col] == {True, False, None}, col
    for col in ("is_weekend", "batt_cross_known", "fast_pattern_v2"):
        assert by_col[col] == {True, False}, col
    at_t0 = {(g, lid, at) for g, lid, at, _ in inputs["ml.listing_battery_screenshots"]}
    assert len(at_t0 & set(inputs["ml.listing_t0_events"])) == 15


BASE = datetime(2026, 3, 1, 12)
US = timedelta(microseconds=1)
# Offsets from an event's t0 on every boundary of the windows and the freshness rule.
EDGES = [
    timedelta(0),
    -US,
    US,
    -timedelta(days=30),
    -timedelta(days=30) - US,
    -timedelta(days=30) + US,
    -timedelta(days=7),
    -timedelta(days=7) - US,
    -timedelta(days=7) + US,
    -timedelta(hours=72),
    -timedelta(hours=72) - US,
    -timedelta(hours=72) + US,
    -timedelta(hours=1),
    timedelta(days=1),
]
offsets = st.one_of(
    st.sampled_from(EDGES),
    st.integers(-40 * 24 * 3600, 2 * 24 * 3600).map(lambda s: timedelta(seconds=s)),
)
events_st = st.lists(
    st.tuples(
        st.integers(1, 2),
        st.integers(1, 3),
        st.integers(0, 12).map(lambda k: BASE + k * timedelta(hours=7)),
    ),
    min_size=1,
    max_size=8,
    unique=True,
)
percent = st.one_of(st.sampled_from([0, 84, 85, 89, 90, 91, 94, 95, 96, 100]), st.integers(0, 100))


@st.composite
def inputs_st(draw: st.DrawFn) -> dict[str, list[tuple[Any, ...]]]:
    """Events, and posts / readings placed around their t0s: same listing, same generation
    with another listing, or another generation (3 never has events)."""
    events = draw(events_st)

    def placed() -> tuple[int, int, datetime]:
        generation, listing, t0 = draw(st.sampled_from(events))
        where = draw(st.sampled_from(["same listing", "same generation", "other generation"]))
        if where == "same generation":
            listing = draw(st.integers(1, 4))
        elif where == "other generation":
            generation = draw(st.integers(1, 3).filter(lambda g: g != generation))
        return generation, listing, t0 + draw(offsets)

    n_posts = draw(st.integers(0, 25))
    posts = [placed() for _ in range(n_posts)]
    shots = [(*placed(), draw(percent)) for _ in range(draw(st.integers(0, 6)))]
    texts = [(*placed(), draw(percent)) for _ in range(draw(st.integers(0, 6)))]
    return {
        "ml.listing_t0_events": events,
        "ml.listing_posts": posts,
        "ml.listing_battery_screenshots": shots,
        "ml.listing_battery_text": texts,
    }


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=inputs_st())
def test_store_equals_the_reference_on_generated_inputs(
    conn: psycopg.Connection, data: dict[str, list[tuple[Any, ...]]]
) -> None:
    _replace_inputs(conn, data)
    assert _select_store(conn) == _reference(data)


def test_window_boundaries_by_hand(conn: psycopg.Connection) -> None:
    """The strict-T0 windows on their edges, without the reference: [t0 - 30 days, t0)."""
    t0 = BASE
    posts = [
        (1, 1, t0),  # exactly t0: never counts
        (1, 1, t0 - timedelta(days=30)),  # exactly t0 - 30 days: counts
        (1, 1, t0 - timedelta(days=30) - US),  # just outside
        (1, 2, t0 - US),  # same generation, other listing: gen and allgen
        (2, 1, t0 - timedelta(hours=1)),  # other generation: allgen only
        (1, 1, t0 + timedelta(days=1)),  # the future
    ]
    _replace_inputs(conn, {"ml.listing_t0_events": [(1, 1, t0)], "ml.listing_posts": posts})
    ((gen30, allgen30, gen7, age),) = conn.execute(
        "SELECT gen_30d_post_count, allgen_30d_post_count, gen_7d_post_count,"
        " listing_age_hours FROM ml.trainer_derived_feature_store_t0_v1_v"
    ).fetchall()
    assert (gen30, allgen30, gen7, age) == (2, 3, 1, 30 * 24)


def test_fast_pattern_and_rocket_clean_by_hand(conn: psycopg.Connection) -> None:
    """The rule features on their edges: momentum exactly at the 30-day weekly average is not
    heating (30 * 7 = 7 * 30), one more recent post is; rocket_clean needs clean battery."""
    t0 = BASE
    own = [(1, 1, t0 - timedelta(hours=71))]  # the listing's first post: fresh (< 72 h)
    recent = [(1, 2, t0 - timedelta(days=d)) for d in range(1, 7)]  # 6 more in [t0 - 7d, t0)
    older = [(1, 3, t0 - timedelta(days=8, hours=h)) for h in range(23)]  # 23 in the 30 days
    events = [(1, 1, t0)]
    query = (
        "SELECT gen_7d_post_count, gen_30d_post_count, fast_pattern_v2, batt_clean, rocket_clean"
        " FROM ml.trainer_derived_feature_store_t0_v1_v"
    )
    _replace_inputs(
        conn, {"ml.listing_t0_events": events, "ml.listing_posts": own + recent + older}
    )
    assert conn.execute(query).fetchall() == [(7, 30, False, None, False)]
    hotter = [*own, *recent, (1, 4, t0 - timedelta(hours=2)), *older]
    shot = [(1, 1, t0 - timedelta(days=2), 92)]
    text = [(1, 1, t0 - timedelta(days=1), 97)]  # 5 points apart: consistent
    _replace_inputs(conn, {"ml.listing_t0_events": events, "ml.listing_posts": hotter})
    assert conn.execute(query).fetchall() == [(8, 31, True, None, None)]  # battery unknown
    _replace_inputs(
        conn,
        {
            "ml.listing_t0_events": events,
            "ml.listing_posts": hotter,
            "ml.listing_battery_screenshots": shot,
            "ml.listing_battery_text": text,
        },
    )
    assert conn.execute(query).fetchall() == [(8, 31, True, True, True)]
    text = [(1, 1, t0 - timedelta(days=1), 98)]  # 6 points apart: the text overstates
    _replace_inputs(
        conn,
        {
            "ml.listing_t0_events": events,
            "ml.listing_posts": hotter,
            "ml.listing_battery_screenshots": shot,
            "ml.listing_battery_text": text,
        },
    )
    assert conn.execute(query).fetchall() == [(8, 31, True, False, False)]


def test_refresh_concurrently_uses_the_unique_index(conn: psycopg.Connection) -> None:
    conn.execute("INSERT INTO ml.listing_t0_events VALUES (11, 999999, '2026-01-21 08:00')")
    conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW CONCURRENTLY {}").format(_ident(MV)))
    assert conn.execute(
        "SELECT count(*) FROM ml.trainer_derived_feature_store_t0_v1_v WHERE listing_id = 999999"
    ).fetchone() == (1,)


# --------------------------------------------------------------------------- certification


def _count(conn: psycopg.Connection, relation: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_ident(relation))).fetchone()
    return int(row[0]) if row else -1


def test_store_certifies_and_serves_only_when_certified(
    examples_dsn: str, own_conn: psycopg.Connection
) -> None:
    assert _count(own_conn, GUARDED) == 0
    result = t0lake.certify(examples_dsn, EP, check_days=3)
    assert result.certified and result.gates == {"A": "pass", "B": "pass", "C": "pass"}
    assert _count(own_conn, GUARDED) == 600
    assert _select_store(own_conn, GUARDED) == _select_store(own_conn, EP)
    # A later failed run (drift on the last day under the strict policy) revokes serving.
    own_conn.execute(
        "DELETE FROM ml.listing_battery_text WHERE (generation, listing_id) IN"
        " (SELECT generation, listing_id FROM ml.listing_t0_events WHERE t0::date = '2026-01-20');"
        "REFRESH MATERIALIZED VIEW ml.trainer_derived_features_v1_mv"
    )
    with pytest.raises(t0lake.DriftError):
        t0lake.certify(examples_dsn, EP, check_days=3)
    assert _count(own_conn, GUARDED) == 0


def _viewdef(conn: psycopg.Connection, view: str) -> str:
    row = conn.execute("SELECT pg_get_viewdef(%s::regclass, true)", (view,)).fetchone()
    assert row is not None
    return str(row[0])


def test_the_t0_probe_covers_every_input(examples_dsn: str, own_conn: psycopg.Connection) -> None:
    # Every declared input is probed: at-or-before on each of them fails gate B by name.
    body = _viewdef(own_conn, "ml.trainer_derived_features_v1")
    sources = {
        "s.observed_at < e.t0": "ml.listing_battery_screenshots",
        "x.observed_at < e.t0": "ml.listing_battery_text",
        "p.posted_at < e.t0": "ml.listing_posts",
    }
    for strict in sources:
        assert strict in body
        body = body.replace(strict, strict.replace("<", "<="))
    own_conn.execute(
        sql.SQL("CREATE OR REPLACE VIEW ml.trainer_derived_features_v1 AS {}").format(
            sql.SQL(body)  # type: ignore[arg-type]
        )
    )
    with pytest.raises(t0lake.T0ViolationError) as info:
        t0lake.certify(examples_dsn, EP)
    for source in sources.values():
        assert f"a row of {source} with" in info.value.message


# --------------------------------------------------------------------------- seed file 07


def test_coverage_query(conn: psycopg.Connection) -> None:
    expected = _reference(_read_inputs(conn))
    col = {c: i for i, c in enumerate(ref.COLUMNS)}
    rows = conn.execute(
        "SELECT events, store_rows, missing_rows, orphan_rows, with_gen_posts,"
        " listing_age_known, batt_img_known, batt_text_known, batt_fused_known,"
        " batt_cross_known, batt_cross_consistent, batt_clean_known, fast_pattern_v2,"
        " rocket_clean_known, rocket_clean, pct_batt_known"
        " FROM ml.trainer_derived_coverage_v WHERE day IS NULL"
    ).fetchall()

    def known(c: str) -> int:
        return sum(r[col[c]] is not None for r in expected)

    def true(c: str) -> int:
        return sum(r[col[c]] is True for r in expected)

    fused = known("batt_fused")
    assert rows == [
        (
            600,
            600,
            0,
            0,
            sum(r[col["gen_30d_post_count"]] > 0 for r in expected),  # type: ignore[operator]
            known("listing_age_hours"),
            known("batt_img_min"),
            known("batt_text_min"),
            fused,
            true("batt_cross_known"),
            true("batt_cross_consistent"),
            known("batt_clean"),
            true("fast_pattern_v2"),
            known("rocket_clean"),
            true("rocket_clean"),
            (Decimal(100 * fused) / 600).quantize(Decimal("0.01"), ROUND_HALF_UP),
        )
    ]
    days = conn.execute(
        "SELECT count(*), sum(store_rows) FROM ml.trainer_derived_coverage_v WHERE day IS NOT NULL"
    ).fetchone()
    assert days == (20, 600)
    # A stale materialized view shows: a new event is missing, a deleted one is an orphan.
    conn.execute(
        "INSERT INTO ml.listing_t0_events VALUES (11, 999999, '2026-01-21 08:00');"
        "DELETE FROM ml.listing_t0_events WHERE listing_id = 1"
    )
    stale = conn.execute(
        "SELECT events, store_rows, missing_rows, orphan_rows FROM ml.trainer_derived_coverage_v"
        " WHERE day IS NULL"
    ).fetchone()
    assert stale == (600, 600, 1, 1)


def test_key_check_query(conn: psycopg.Connection) -> None:
    assert conn.execute("SELECT * FROM ml.trainer_derived_key_check_v").fetchall() == [
        (600, 600, 0, 0)
    ]


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def test_point_lookup_uses_the_unique_index(
    examples_dsn: str, own_conn: psycopg.Connection
) -> None:
    own_conn.execute(sql.SQL("ANALYZE {}").format(_ident(MV)))  # 600 rows, statistics current
    key = own_conn.execute(
        "SELECT generation, listing_id, t0 FROM ml.listing_t0_events"
        " ORDER BY t0 DESC, listing_id LIMIT 1"
    ).fetchone()
    assert key is not None
    (doc,) = own_conn.execute(
        "SELECT ml.trainer_derived_point_lookup_plan(%s, %s, %s)", key
    ).fetchone() or (None,)
    nodes = list(_plan_nodes(doc[0]["Plan"]))
    scans = [n for n in nodes if n["Node Type"] in ("Index Scan", "Index Only Scan")]
    assert [n["Index Name"] for n in scans] == ["trainer_derived_features_v1_mv_key"]
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"]
    assert "audit.t0_guard" in nodes[0].get("One-Time Filter", "")
    assert own_conn.execute(
        "SELECT ml.trainer_derived_point_lookup_uses_index(%s, %s, %s)", key
    ).fetchone() == (True,)
    # The lookup goes through the guarded view: no row before certification, one after.
    lookup = "SELECT * FROM ml.trainer_derived_point_lookup(%s, %s, %s)"
    assert own_conn.execute(lookup, key).fetchall() == []
    t0lake.certify(examples_dsn, EP)
    (row,) = own_conn.execute(lookup, key).fetchall()
    assert row[:3] == key


def test_point_lookup_check_detects_a_missing_index(conn: psycopg.Connection) -> None:
    # The plan check can fail: without the unique index the lookup scans the whole view.
    conn.execute("DROP INDEX ml.trainer_derived_features_v1_mv_key")
    assert conn.execute(
        "SELECT ml.trainer_derived_point_lookup_uses_index(11, 1, '2026-01-01')"
    ).fetchone() == (False,)


def test_registry_check_query(examples_dsn: str, own_conn: psycopg.Connection) -> None:
    query = (
        "SELECT status, servable, problem, viewdef_baseline_objects, closure_objects,"
        " baselined_days, latest_baselined_day::text, latest_data_day::text"
        " FROM ml.trainer_derived_registry_check_v"
    )
    assert own_conn.execute(query).fetchall() == [
        (None, False, "never certified", 0, 7, 0, None, "2026-01-20")
    ]
    t0lake.certify(examples_dsn, EP, check_days=3)
    assert own_conn.execute(query).fetchall() == [
        ("CERTIFIED", True, None, 7, 7, 3, "2026-01-20", "2026-01-20")
    ]
    # A changed definition in the closure: still certified in the registry, but not servable.
    body = _viewdef(own_conn, "ml.trainer_derived_features_v1").rstrip().rstrip(";")
    own_conn.execute(
        sql.SQL("CREATE OR REPLACE VIEW ml.trainer_derived_features_v1 AS {} WHERE true").format(
            sql.SQL(body)  # type: ignore[arg-type]
        )
    )
    assert own_conn.execute(query).fetchone()[:3] == ("CERTIFIED", False, "viewdef changed")  # type: ignore[index]


# --------------------------------------------------------------------------- seed file 05


def test_feature_block_metadata_covers_the_entrypoint(conn: psycopg.Connection) -> None:
    coverage = "SELECT feature_name, problem FROM ml.trainer_feature_block_coverage_v"
    assert conn.execute(coverage).fetchall() == []
    blocks = conn.execute(
        "SELECT block, array_agg(feature_name ORDER BY feature_order)"
        " FROM ml.trainer_feature_block_members GROUP BY block"
    ).fetchall()
    assert sorted(c for _, cols in blocks for c in cols) == sorted(ref.COLUMNS)
    # The check can fail: a column without metadata, and a NULL where none is allowed.
    conn.execute(
        "DELETE FROM ml.trainer_feature_block_members WHERE feature_name = 'rocket_clean';"
        "UPDATE ml.trainer_feature_block_members SET nullable = false"
        " WHERE feature_name = 'batt_img_min'"
    )
    problems = dict(conn.execute(coverage).fetchall())
    assert problems.keys() == {"rocket_clean", "batt_img_min"}
    assert problems["rocket_clean"] == "column has no feature-block metadata"
    assert problems["batt_img_min"].startswith("NULL in 359 rows")


@pytest.mark.parametrize(
    ("model_feature", "column"),
    [
        ("gen_30d_post_count", "gen_30d_post_count"),
        ("num__gen_7d_post_count", "gen_7d_post_count"),
        ("  Dow_6 ", "dow"),
        ("is_weekend=True", "is_weekend"),
        ("batt_img_min_missing", "batt_img_min"),
        ("cat__fast_pattern_v2_1", "fast_pattern_v2"),
        ("rocket_clean__missing", "rocket_clean"),
        ("price_eur", None),
    ],
)
def test_model_feature_names_normalize_to_columns(
    conn: psycopg.Connection, model_feature: str, column: str | None
) -> None:
    assert conn.execute("SELECT ml.trainer_feature_canonical(%s)", (model_feature,)).fetchone() == (
        column,
    )


def test_importance_by_block(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT block, model_features, store_features, importance, share"
        " FROM ml.trainer_feature_importance_by_block(%s::jsonb)",
        (
            '{"num__gen_7d_post_count": 2, "dow_6": 1, "dow_0": 1, "is_weekend=True": 1,'
            ' "batt_img_min_missing": 3, "batt_img_min": 1, "price_eur": 1}',
        ),
    ).fetchall()
    assert rows == [
        ("calendar", 3, 2, 3.0, 0.3),
        ("activity", 1, 1, 2.0, 0.2),
        ("battery", 2, 1, 4.0, 0.4),
        ("unmapped", 1, 0, 1.0, 0.1),
    ]
