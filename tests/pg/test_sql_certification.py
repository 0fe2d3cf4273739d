"""The SQL side of the certification on the real Postgres: idempotent `db init`, the
closure walk, the leak corpus of gate B (each refused with the offending object named), and
the seeds' runbook statements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

import t0lake
from t0lake import pg

EP = "ml.trainer_derived_feature_store_t0_v1_v"
EP_ID = sql.Identifier(*EP.split("."))


@pytest.fixture
def conn(examples_dsn: str) -> Iterator[psycopg.Connection]:
    with pg.connect(examples_dsn, autocommit=True) as c:
        yield c


def _catalog(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """Everything db init could touch, by oid and definition, plus the rows it writes."""
    objects = conn.execute(
        """
        SELECT c.oid::bigint, n.nspname, c.relname, c.relkind::text,
               CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END,
               (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ',')
                  FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0),
               CASE WHEN c.relkind = 'i' THEN pg_get_indexdef(c.oid) END
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('audit', 'ml')
        UNION ALL
        SELECT p.oid::bigint, n.nspname, p.proname, p.prokind::text,
               CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END, NULL, NULL
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname IN ('audit', 'ml')
         ORDER BY 1
        """
    ).fetchall()
    rows = conn.execute(
        """
        SELECT 'entrypoint', count(*), md5(string_agg(e::text, ',' ORDER BY e::text))
          FROM audit.t0_entrypoint e
        UNION ALL SELECT 'probe', count(*), NULL FROM audit.t0_probe_source
        UNION ALL SELECT 'posts', count(*), md5(string_agg(p::text, ',' ORDER BY p::text))
          FROM ml.listing_posts p
        UNION ALL SELECT 'events', count(*), md5(string_agg(e::text, ',' ORDER BY e::text))
          FROM ml.listing_t0_events e
        UNION ALL SELECT 'mv', count(*), NULL FROM ml.trainer_derived_features_v1_mv
        """
    ).fetchall()
    return [*objects, *rows]


def test_db_init_twice_changes_nothing(examples_dsn: str) -> None:
    with pg.connect(examples_dsn) as conn:
        before = _catalog(conn)
        pg.apply_sql(conn, examples=True)
        pg.apply_sql(conn)
        after = _catalog(conn)
    assert before == after
    assert any(r[2] == "trainer_derived_features_train_v" for r in before)


def test_synthetic_inputs_are_fixed_and_strictly_before_t0(conn: psycopg.Connection) -> None:
    stats = conn.execute(
        sql.SQL(
            "SELECT count(*), count(DISTINCT t0::date), min(t0)::text, max(t0)::text FROM {}"
        ).format(EP_ID)
    ).fetchone()
    assert stats == (600, 20, "2026-01-01 00:00:00", "2026-01-20 23:00:00")
    # Recount one row by hand: posts in [t0 - 30 days, t0) of its generation.
    row = conn.execute(
        sql.SQL(
            "SELECT f.gen_30d_post_count = (SELECT count(*) FROM ml.listing_posts p"
            "  WHERE p.generation = f.generation AND p.posted_at >= f.t0 - interval '30 days'"
            "  AND p.posted_at < f.t0)"
            " FROM {} f ORDER BY t0 DESC, generation, listing_id LIMIT 1"
        ).format(EP_ID)
    ).fetchone()
    assert row == (True,)


def test_closure_walks_views_materialized_views_and_tables(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT object_kind, object_name FROM audit.t0_closure(%s::regclass) ORDER BY 2", (EP,)
    ).fetchall()
    assert ("materialized view", "ml.trainer_derived_features_v1_mv") in rows
    assert ("view", "ml.trainer_derived_features_v1") in rows
    assert ("table", "ml.listing_posts") in rows and ("table", "ml.listing_t0_events") in rows


def test_closure_reaches_functions_and_what_they_read(conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE TABLE ml.fx_rates (day date PRIMARY KEY, rate float8);"
        "CREATE FUNCTION ml.rate_on(d date) RETURNS float8 LANGUAGE sql STABLE"
        " BEGIN ATOMIC SELECT rate FROM ml.fx_rates WHERE day = d; END;"
        "CREATE VIEW ml.fx_v AS SELECT t0, ml.rate_on(t0::date) AS rate"
        " FROM ml.listing_t0_events"
    )
    names = {
        r[0] for r in conn.execute("SELECT object_name FROM audit.t0_closure('ml.fx_v'::regclass)")
    }
    assert {"ml.rate_on(d date)", "ml.fx_rates", "ml.listing_t0_events"} <= names


# --------------------------------------------------------------------------- leak corpus


def _declare(
    conn: psycopg.Connection,
    view: str,
    key: list[str] | None = None,
    *,
    strict_t0: bool = True,
    forbid_timestamps: bool = False,
) -> None:
    conn.execute(
        "INSERT INTO audit.t0_entrypoint (entrypoint, key_cols, event_time_col, day_expr,"
        " strict_t0, forbid_timestamp_outputs) VALUES (%s, %s, 't0', 't0::date', %s, %s)",
        (view, key or ["generation", "listing_id", "t0"], strict_t0, forbid_timestamps),
    )


def _refused(dsn: str, view: str) -> t0lake.T0ViolationError:
    with pytest.raises(t0lake.T0ViolationError) as info:
        t0lake.certify(dsn, view)
    assert info.value.context["gate"] == "B"
    return info.value


def test_leak_now_in_a_view_of_the_closure(examples_dsn: str, conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE VIEW ml.leak_now_inner AS SELECT * FROM ml.listing_t0_events"
        " WHERE t0 < now() - interval '1 day';"
        "CREATE VIEW ml.leak_now_v AS SELECT * FROM ml.leak_now_inner"
    )
    _declare(conn, "ml.leak_now_v")
    err = _refused(examples_dsn, "ml.leak_now_v")
    assert err.context["object"] == "ml.leak_now_inner"
    assert "ml.leak_now_inner: time-of-query token now(" in err.message


def test_leak_current_date_inside_a_cte(examples_dsn: str, conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE VIEW ml.leak_cte_v AS WITH recent AS ("
        "  SELECT * FROM ml.listing_t0_events WHERE t0::date >= CURRENT_DATE - 30)"
        " SELECT generation, listing_id, t0 FROM recent"
    )
    _declare(conn, "ml.leak_cte_v")
    err = _refused(examples_dsn, "ml.leak_cte_v")
    assert err.context["object"] == "ml.leak_cte_v"
    assert "time-of-query token current_date" in err.message


def test_leak_volatile_sql_function(examples_dsn: str, conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE FUNCTION ml.leak_bump(x bigint) RETURNS bigint LANGUAGE sql VOLATILE"
        " AS 'SELECT x + 1';"
        "CREATE VIEW ml.leak_fn_v AS SELECT generation, ml.leak_bump(listing_id) AS listing_id,"
        " t0 FROM ml.listing_t0_events"
    )
    _declare(conn, "ml.leak_fn_v")
    err = _refused(examples_dsn, "ml.leak_fn_v")
    assert err.context["object"] == "ml.leak_bump(x bigint)"
    assert "ml.leak_bump(x bigint): volatile function" in err.message


def test_leak_now_in_a_sql_function_body(examples_dsn: str, conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE FUNCTION ml.leak_cutoff() RETURNS timestamp LANGUAGE sql STABLE"
        " AS 'SELECT (now() - interval ''30 days'')::timestamp';"
        "CREATE VIEW ml.leak_body_v AS SELECT * FROM ml.listing_t0_events"
        " WHERE t0 > ml.leak_cutoff()"
    )
    _declare(conn, "ml.leak_body_v")
    err = _refused(examples_dsn, "ml.leak_body_v")
    assert "ml.leak_cutoff(): time-of-query token now(" in err.message


def test_leak_volatile_function_called_from_a_string_body(
    examples_dsn: str, conn: psycopg.Connection
) -> None:
    # String-bodied functions record no dependencies: only the text shows the call.
    conn.execute(
        "CREATE FUNCTION ml.leak_jitter() RETURNS float8 LANGUAGE sql VOLATILE"
        " AS 'SELECT 0.5::float8';"
        "CREATE FUNCTION ml.leak_wrapper() RETURNS float8 LANGUAGE sql STABLE"
        " AS 'SELECT ml.leak_jitter()';"
        "CREATE VIEW ml.leak_wrap_v AS SELECT * FROM ml.listing_t0_events"
        " WHERE ml.leak_wrapper() < 1"
    )
    _declare(conn, "ml.leak_wrap_v")
    err = _refused(examples_dsn, "ml.leak_wrap_v")
    assert "ml.leak_wrapper(): calls volatile function leak_jitter()" in err.message


def test_leak_random_sample(examples_dsn: str, conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE VIEW ml.leak_random_v AS SELECT * FROM ml.listing_t0_events WHERE random() < 0.5"
    )
    _declare(conn, "ml.leak_random_v")
    err = _refused(examples_dsn, "ml.leak_random_v")
    assert err.context["object"] == "ml.leak_random_v"
    assert "time-of-query token random(" in err.message


_LEAKY_JOIN = """
CREATE VIEW ml.leak_join_v AS
SELECT e.generation, e.listing_id, e.t0,
       (SELECT count(*) FROM ml.listing_posts p
         WHERE p.generation = e.generation
           AND p.posted_at >= e.t0 - interval '30 days'
           AND e.t0 >= p.posted_at) AS gen_30d_post_count
  FROM ml.listing_t0_events e
"""


def _declare_leaky_join(conn: psycopg.Connection, *, strict_t0: bool) -> None:
    conn.execute(_LEAKY_JOIN)
    _declare(conn, "ml.leak_join_v", strict_t0=strict_t0)
    conn.execute(
        "INSERT INTO audit.t0_probe_source VALUES ('ml.leak_join_v', 'ml.listing_posts',"
        ' \'posted_at\', \'{"generation": "generation", "listing_id": "listing_id"}\')'
    )


def test_leak_join_at_or_after_t0_is_caught_by_the_t0_probe(
    examples_dsn: str, conn: psycopg.Connection
) -> None:
    _declare_leaky_join(conn, strict_t0=True)
    err = _refused(examples_dsn, "ml.leak_join_v")
    assert err.context["object"] == "ml.leak_join_v"
    assert "a row of ml.listing_posts with posted_at at exactly t0 changed" in err.message
    assert "gen_30d_post_count" in err.message
    # The probe rolled back: no synthetic rows stayed behind.
    assert conn.execute("SELECT count(*) FROM ml.listing_posts").fetchone() == (3000,)


def test_the_same_join_passes_where_at_or_before_is_declared(
    examples_dsn: str, conn: psycopg.Connection
) -> None:
    _declare_leaky_join(conn, strict_t0=False)
    assert t0lake.certify(examples_dsn, "ml.leak_join_v").certified


def test_the_example_store_passes_the_probe(conn: psycopg.Connection) -> None:
    assert conn.execute("SELECT * FROM audit.t0_gate_b(%s)", (EP,)).fetchall() == []


def test_forbidden_timestamp_outputs_and_duplicate_keys(
    examples_dsn: str, conn: psycopg.Connection
) -> None:
    conn.execute(
        "CREATE VIEW ml.ts_v AS SELECT generation, listing_id, t0 FROM ml.listing_t0_events;"
        "CREATE VIEW ml.dup_v AS SELECT generation, t0 FROM ml.listing_posts"
        " CROSS JOIN (VALUES (timestamp '2026-01-01')) AS v (t0)"
    )
    _declare(conn, "ml.ts_v", forbid_timestamps=True)
    _declare(conn, "ml.dup_v", ["generation", "t0"])
    assert "timestamp output column t0" in _refused(examples_dsn, "ml.ts_v").message
    assert "key (generation, t0) is not unique" in _refused(examples_dsn, "ml.dup_v").message


# --------------------------------------------------------------------------- runbook


def test_seed_runbook_statements(conn: psycopg.Connection) -> None:
    conn.execute("CALL audit.run_t0_cert_trainer_derived_store_v1(3)")
    assert conn.execute(
        "SELECT audit.require_certified_strict(%s, interval '24 hours')", (EP,)
    ).fetchone() == (True,)
    conn.execute("CALL audit.run_t0_cert_trainer_derived_store_v1(30)")
    row = conn.execute(
        "SELECT status, cardinality(checked_days) FROM audit.t0_cert_registry"
        " ORDER BY cert_id DESC LIMIT 1"
    ).fetchone()
    assert row == ("CERTIFIED", 20)
    assert conn.execute("SELECT count(*) FROM ml.trainer_derived_features_train_v").fetchone() == (
        600,
    )


def test_baseline_primitives_of_the_seeds(conn: psycopg.Connection) -> None:
    # The entrypoint, its materialized view, the logical view and four input tables.
    assert conn.execute("SELECT audit.capture_viewdef_baseline(%s)", (EP,)).fetchone() == (7,)
    rows = conn.execute(
        "SELECT day::text, row_count, previous_hash FROM audit.rebaseline_last_n_days(%s, 3, 2)",
        (EP,),
    ).fetchall()
    assert [r[0] for r in rows] == ["2026-01-20", "2026-01-19"]
    assert all(r[2] is None for r in rows)
    again = conn.execute(
        "SELECT dataset_hash = previous_hash FROM audit.rebaseline_last_n_days(%s, 3, NULL)",
        (EP,),
    ).fetchall()
    assert again == [(True,), (True,), (True,)]
    (day_hash,) = conn.execute(
        "SELECT dataset_hash FROM audit.t0_dataset_hash_baseline WHERE day = '2026-01-20'"
    ).fetchone() or (None,)
    assert day_hash == pg.sql_dataset_hash(
        conn,
        sql.SQL("SELECT * FROM {} WHERE t0::date = '2026-01-20'").format(EP_ID).as_string(conn),
        ["generation", "listing_id", "t0"],
    )


def test_guard_is_a_one_time_filter(conn: psycopg.Connection) -> None:
    plan = "\n".join(
        r[0] for r in conn.execute("EXPLAIN SELECT * FROM ml.trainer_derived_features_train_v")
    )
    assert "One-Time Filter: audit.t0_guard" in plan


def test_require_certified_strict_raises_documented_sqlstates(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT audit.require_certified_strict(%s, interval '1 hour')", (EP,))
    assert info.value.sqlstate == "T0L01" and "never certified" in str(info.value)
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT audit.require_certified_strict('ml.nope', interval '1 hour')")
    assert info.value.sqlstate == "T0L04"
