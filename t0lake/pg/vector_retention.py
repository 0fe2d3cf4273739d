"""The Postgres side of FeatureVector retention (``sql/core/52_feature_vector_retention.sql``).

Retention deletes old vectors from ``fv.feature_vectors`` only for days the lake holds with
the same content hash. The proof runs in SQL (``fv.retain_day`` re-hashes the entrypoint's day
in the caller's REPEATABLE READ snapshot); this module holds the session advisory locks that
close a day to late writers before that snapshot is taken, runs every day of one retention in
one transaction, and reads back which days were retained (the boundary of every read that
spans Postgres and the lake).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg

from t0lake.pg.errors import sql_errors

__all__ = [
    "DayProof",
    "DayVerdict",
    "DownsampledVersion",
    "RetainedDay",
    "consistent_reads",
    "day_locks",
    "downsampled_version",
    "record_downsampled_version",
    "retain_days",
    "retained_days",
    "vector_days_before",
]

_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class DayProof:
    """What the lake's head says of one day: the other side of the proof."""

    day: date
    dataset_hash: str
    rows: int


@dataclass(frozen=True)
class DayVerdict:
    """What ``fv.retain_day`` did with one day: ``retained``, or kept as ``differs`` (the
    SQL hash or row count is not the lake's) or ``incomplete`` (the entrypoint does not hold
    every row of the table's day)."""

    day: date
    status: str
    sql_hash: str
    rows: int


@dataclass(frozen=True)
class RetainedDay:
    """A row of ``fv.vector_retention``: a day the lake holds instead of Postgres."""

    day: date
    dataset_hash: str
    rows: int
    lake_url: str
    snapshot_id: int
    manifest_sha256: str


@dataclass(frozen=True)
class DownsampledVersion:
    """A row of ``fv.downsampled_versions``: a lake-only schema version of aggregates."""

    version: int
    source_version: int
    every_ms: int
    aggregates: dict[str, str]
    entrypoint: str


def vector_days_before(conn: psycopg.Connection, cutoff: date) -> list[date]:
    """The UTC days (of ``window_end_ms``) that hold vectors, before ``cutoff``."""
    cutoff_ms = (cutoff - _EPOCH).days * 86_400_000
    rows = conn.execute(
        "SELECT DISTINCT fv.vector_day(window_end_ms) FROM fv.feature_vectors"
        " WHERE window_end_ms < %s ORDER BY 1",
        (cutoff_ms,),
    ).fetchall()
    return [r[0] for r in rows]


@contextmanager
def day_locks(conn: psycopg.Connection, days: Sequence[date]) -> Iterator[None]:
    """Hold the retention lock of each day (session level, exclusive) on ``conn``, an
    autocommit connection: writers into those days wait, and writes under way finish first,
    so the snapshot taken after this sees every vector those days will ever get."""
    if not conn.autocommit:
        raise ValueError("day locks are session locks: pass an autocommit connection")
    numbers = sorted({(d - _EPOCH).days for d in days})
    taken: list[int] = []
    try:
        for n in numbers:  # one order for every locker: no deadlock between retentions
            conn.execute("SELECT pg_advisory_lock(fv.retention_lock_key(), %s)", (n,))
            taken.append(n)
        yield
    finally:
        if not conn.closed:
            for n in taken:
                conn.execute("SELECT pg_advisory_unlock(fv.retention_lock_key(), %s)", (n,))


def retain_days(
    conn: psycopg.Connection,
    entrypoint: str,
    proofs: Sequence[DayProof],
    lake_url: str,
    snapshot_id: int,
    manifest_sha256: str,
) -> list[DayVerdict]:
    """Every day of ``proofs`` through ``fv.retain_day`` in one REPEATABLE READ transaction
    (its own, on the autocommit ``conn``): the proven days are recorded and deleted together
    at the commit, or none is."""
    verdicts = []
    with _repeatable_read(conn, read_only=False), sql_errors():
        for proof in sorted(proofs, key=lambda p: p.day):
            row = conn.execute(
                "SELECT status, sql_hash, rows FROM fv.retain_day(%s, %s, %s, %s, %s, %s, %s)",
                (entrypoint, proof.day, proof.dataset_hash, proof.rows, lake_url, snapshot_id,
                 manifest_sha256),
            ).fetchone()  # fmt: skip
            assert row is not None, "fv.retain_day returns one row"
            verdicts.append(DayVerdict(proof.day, str(row[0]), str(row[1]), int(row[2])))
    return verdicts


def retained_days(conn: psycopg.Connection, entrypoint: str) -> dict[date, RetainedDay]:
    """Every day of ``entrypoint`` retained to the lake, by day."""
    rows = conn.execute(
        "SELECT day, dataset_hash, rows, lake_url, snapshot_id, manifest_sha256"
        " FROM fv.vector_retention WHERE entrypoint = %s ORDER BY day",
        (entrypoint,),
    ).fetchall()
    return {
        r[0]: RetainedDay(r[0], str(r[1]), int(r[2]), str(r[3]), int(r[4]), str(r[5])) for r in rows
    }


@contextmanager
def consistent_reads(conn: psycopg.Connection) -> Iterator[None]:
    """One REPEATABLE READ, READ ONLY transaction on the autocommit ``conn``: the retained
    days and the rows still in Postgres are read from the same state, so a retention that
    commits meanwhile makes neither a gap nor a duplicate."""
    with _repeatable_read(conn, read_only=True):
        yield


@contextmanager
def _repeatable_read(conn: psycopg.Connection, *, read_only: bool) -> Iterator[None]:
    if not conn.autocommit:
        raise ValueError("pass an autocommit connection: the transaction is this call's own")
    saved = conn.isolation_level, conn.read_only
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = read_only
    try:
        with conn.transaction():
            yield
    finally:
        if not conn.closed:
            conn.isolation_level, conn.read_only = saved


def downsampled_version(conn: psycopg.Connection, version: int) -> DownsampledVersion | None:
    """The downsampling that defines ``version``, or None for a version stored in Postgres."""
    row = conn.execute(
        "SELECT feature_schema_version, source_version, every_ms, aggregates, entrypoint"
        " FROM fv.downsampled_versions WHERE feature_schema_version = %s",
        (version,),
    ).fetchone()
    if row is None:
        return None
    return DownsampledVersion(
        int(row[0]), int(row[1]), int(row[2]), {str(k): str(v) for k, v in row[3].items()},
        str(row[4]),
    )  # fmt: skip


def record_downsampled_version(conn: psycopg.Connection, spec: DownsampledVersion) -> bool:
    """Record ``spec``; True if new, False if the same was recorded. Another definition under
    the version is returned by :func:`downsampled_version` for the caller to refuse."""
    doc: dict[str, Any] = dict(sorted(spec.aggregates.items()))
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO fv.downsampled_versions"
            " (feature_schema_version, source_version, every_ms, aggregates, entrypoint)"
            " VALUES (%s, %s, %s, %s::jsonb, %s) ON CONFLICT DO NOTHING RETURNING 1",
            (spec.version, spec.source_version, spec.every_ms, json.dumps(doc), spec.entrypoint),
        ).fetchone()
    return row is not None
