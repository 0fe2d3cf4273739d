"""The ``audit`` schema's certification objects, read and called with bound parameters.

Postgres decides certification (``sql/core/20_certification.sql``); these functions only
call it and return its rows as dicts. :mod:`t0lake.certification` gives them types and
meaning. An entrypoint name reaches SQL only after :func:`resolve_entrypoint` found it to
be an existing, declared view, and then only as a bound parameter.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from t0lake.errors import ConfigError
from t0lake.pg.errors import sql_errors

__all__ = [
    "cert_status_rows",
    "entrypoint_row",
    "entrypoint_rows",
    "latest_certification",
    "materialized_views",
    "require_certified_strict",
    "resolve_entrypoint",
    "run_certification",
]

_DECLARATION = (
    "SELECT entrypoint, key_cols, event_time_col, day_expr, drift_policy,"
    " forbid_timestamp_outputs, strict_t0, max_age, guarded_view FROM audit.t0_entrypoint"
)


def resolve_entrypoint(conn: psycopg.Connection, entrypoint: str) -> None:
    """ConfigError unless the name is an existing view and a declared entrypoint, before any
    SQL is composed with it (the name travels only as a bound parameter)."""
    if not isinstance(entrypoint, str) or not entrypoint.strip():
        raise ConfigError("the entrypoint must be a view name like schema.view")
    try:
        with conn.transaction():
            row = conn.execute(
                "SELECT c.relkind::text FROM pg_catalog.pg_class c WHERE c.oid = to_regclass(%s)",
                (entrypoint,),
            ).fetchone()
    except psycopg.Error as exc:
        raise ConfigError(
            f"{entrypoint!r} is not a valid relation name", entrypoint=entrypoint
        ) from exc
    if row is None or row[0] not in ("v", "m"):
        raise ConfigError(f"{entrypoint!r} is not an existing view", entrypoint=entrypoint)
    declared = conn.execute(
        "SELECT 1 FROM audit.t0_entrypoint WHERE to_regclass(entrypoint) = to_regclass(%s)",
        (entrypoint,),
    ).fetchone()
    if declared is None:
        raise ConfigError(
            f"{entrypoint} is not a declared entrypoint (add it to audit.t0_entrypoint)",
            entrypoint=entrypoint,
        )


def run_certification(
    conn: psycopg.Connection,
    entrypoint: str,
    check_days: int,
    allow_drift: bool | None,
    update_drifted: bool,
    accept_changes: bool,
) -> dict[str, Any]:
    """``audit.run_t0_cert``: gates A, B and C; the registry row it wrote (uncommitted)."""
    resolve_entrypoint(conn, entrypoint)
    with sql_errors(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT * FROM audit.run_t0_cert(%s, %s, %s, %s, %s)",
            (entrypoint, check_days, allow_drift, update_drifted, accept_changes),
        ).fetchone()
    assert row is not None
    return row


def require_certified_strict(conn: psycopg.Connection, entrypoint: str, max_age: timedelta) -> None:
    """``audit.require_certified_strict``: raises NotCertifiedError (typed) unless servable."""
    resolve_entrypoint(conn, entrypoint)
    with sql_errors():
        conn.execute("SELECT audit.require_certified_strict(%s, %s)", (entrypoint, max_age))


def latest_certification(conn: psycopg.Connection, entrypoint: str) -> dict[str, Any] | None:
    """The newest ``audit.t0_cert_registry`` row of an entrypoint."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT r.* FROM audit.t0_cert_registry r"
            " JOIN audit.t0_entrypoint e ON e.entrypoint = r.entrypoint"
            " WHERE to_regclass(e.entrypoint) = to_regclass(%s)"
            " ORDER BY r.cert_id DESC LIMIT 1",
            (entrypoint,),
        ).fetchone()


def entrypoint_row(conn: psycopg.Connection, entrypoint: str) -> dict[str, Any]:
    """The ``audit.t0_entrypoint`` row of an entrypoint (ConfigError if undeclared)."""
    resolve_entrypoint(conn, entrypoint)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            _DECLARATION + " WHERE to_regclass(entrypoint) = to_regclass(%s)", (entrypoint,)
        ).fetchone()
    assert row is not None
    return row


def entrypoint_rows(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every ``audit.t0_entrypoint`` row, by name."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_DECLARATION + " ORDER BY entrypoint").fetchall()


def cert_status_rows(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """``audit.t0_cert_status()``, or nothing where ``db init`` has not run."""
    installed = conn.execute(
        "SELECT to_regprocedure('audit.t0_cert_status()') IS NOT NULL"
    ).fetchone()
    if installed is None or not installed[0]:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM audit.t0_cert_status()").fetchall()


def materialized_views(conn: psycopg.Connection, entrypoint: str) -> list[str]:
    """The materialized views an entrypoint reads (itself included), deepest first: the
    order a REFRESH must follow for new inputs to reach the entrypoint."""
    rows = conn.execute(
        "SELECT object_name FROM audit.t0_closure(audit.t0_relation(%s))"
        " WHERE object_kind = 'materialized view' ORDER BY depth DESC, object_name",
        (entrypoint,),
    ).fetchall()
    return [str(r[0]) for r in rows]
