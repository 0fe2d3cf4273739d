"""PostgreSQL: the only package of t0lake that talks to the server (psycopg, ADBC).

Everything else names what it needs from here, so connection errors are one typed error
with the password never echoed, t0lake's SQLSTATEs map to typed errors in one place
(:func:`sql_errors`), and identifiers are only ever composed with ``psycopg.sql``::

    connect      DSNs, connections, redaction
    errors       the SQLSTATE -> T0LakeError map
    install      db init: sql/core, sql/examples, the t0lake_hash extension
    snapshots    one exported snapshot shared by many connections
    arrow        ADBC: rows as Arrow
    types        catalog types -> the lake's Arrow schema
    days         an entrypoint's days as queries, their baselines
    hashes       the SQL side of the content hash
    audit        certification objects of the audit schema
    registry     the export registry
    notify       LISTEN/NOTIFY
    status       what the server is
"""

from t0lake.pg.arrow import arrow_reader, fetch_arrow
from t0lake.pg.audit import (
    cert_status_rows,
    entrypoint_row,
    entrypoint_rows,
    latest_certification,
    materialized_views,
    require_certified_strict,
    resolve_entrypoint,
    run_certification,
)
from t0lake.pg.connect import Connection, DatabaseError, connect, redact_dsn, resolve_dsn
from t0lake.pg.days import DayQueries, day_baselines, day_queries
from t0lake.pg.errors import (
    SQL_STATE_BAD_INPUT,
    SQL_STATE_DRIFT,
    SQL_STATE_NOT_CERTIFIED,
    SQL_STATE_T0_VIOLATION,
    sql_errors,
    typed_error,
)
from t0lake.pg.hashes import sql_column_hashes, sql_dataset_hash
from t0lake.pg.install import NATIVE_HASH_EXTENSION, SqlFile, apply_sql, sql_dir, sql_files
from t0lake.pg.notify import IntegrityViolation, listen, notifications
from t0lake.pg.registry import register_export, registered_entrypoints, registered_snapshots
from t0lake.pg.snapshots import begin_snapshot, join_snapshot, snapshot_position
from t0lake.pg.status import server_status
from t0lake.pg.types import ColumnSpec, arrow_schema, relation_columns

__all__ = [
    "NATIVE_HASH_EXTENSION",
    "SQL_STATE_BAD_INPUT",
    "SQL_STATE_DRIFT",
    "SQL_STATE_NOT_CERTIFIED",
    "SQL_STATE_T0_VIOLATION",
    "ColumnSpec",
    "Connection",
    "DatabaseError",
    "DayQueries",
    "IntegrityViolation",
    "SqlFile",
    "apply_sql",
    "arrow_reader",
    "arrow_schema",
    "begin_snapshot",
    "cert_status_rows",
    "connect",
    "day_baselines",
    "day_queries",
    "entrypoint_row",
    "entrypoint_rows",
    "fetch_arrow",
    "join_snapshot",
    "latest_certification",
    "listen",
    "materialized_views",
    "notifications",
    "redact_dsn",
    "register_export",
    "registered_entrypoints",
    "registered_snapshots",
    "relation_columns",
    "require_certified_strict",
    "resolve_dsn",
    "resolve_entrypoint",
    "run_certification",
    "server_status",
    "snapshot_position",
    "sql_column_hashes",
    "sql_dataset_hash",
    "sql_dir",
    "sql_errors",
    "sql_files",
    "typed_error",
]
