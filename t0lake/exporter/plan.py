"""What an export will do, decided inside the shared snapshot before anything is written.

The plan proves certification, reads the declaration, the catalog columns, the days in
range and their baselines; ``judge`` then splits the days the SQL hashes describe into
unchanged (the lake has them), changed and drifted (strict policy: DriftError before any
write; tolerant: a new version with the drift recorded).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pyarrow as pa

from t0lake import pg
from t0lake.certification import CertResult, Entrypoint, check_certified, declaration
from t0lake.errors import DriftError

__all__ = ["Judgement", "Plan", "judge", "make_plan"]


@dataclass(frozen=True)
class Plan:
    """What the snapshot said: the certification that allows the export, the declaration,
    the lake schema, each day's query and the certified baselines of those days."""

    decl: Entrypoint
    cert: CertResult
    schema: pa.Schema
    days: pg.DayQueries
    baselines: dict[date, str]


def make_plan(
    conn: pg.Connection,
    entrypoint: str,
    first: date | None,
    last: date | None,
    age: timedelta,
) -> Plan:
    """Inside the snapshot: certification, declaration, columns, days and baselines."""
    cert = check_certified(conn, entrypoint, age)
    decl = declaration(conn, entrypoint)
    columns = pg.relation_columns(conn, entrypoint)
    text = {c.name for c in columns if c.type_name in ("text", "varchar")}
    days = pg.day_queries(conn, entrypoint, decl.day_expr, decl.key_cols, text, first, last)
    baselines = pg.day_baselines(conn, decl.entrypoint, list(days.queries))
    return Plan(decl, cert, pg.arrow_schema(columns), days, baselines)


@dataclass(frozen=True)
class Judgement:
    """The verdict on each SQL-hashed day; ``changed`` includes the drifted days."""

    changed: list[date]
    unchanged: list[date]
    drifted: list[date]
    notes: dict[date, dict[str, Any]]  # per drifted day: baseline and exported hash


def judge(plan: Plan, sql_hashes: dict[date, str], committed: dict[date, str]) -> Judgement:
    """Split days into changed / unchanged / drifted; strict drift raises before any write.

    A day drifts when its rows differ from what vouched for them: its certified baseline, or,
    for a day with no baseline (older than the certification's checked days), the version the
    lake already holds. A day whose baseline equals its new rows was re-certified: it is a
    change, not drift.
    """
    entrypoint = plan.decl.entrypoint
    verdict = Judgement([], [], [], {})
    for day in sorted(sql_hashes):
        actual = sql_hashes[day]
        if committed.get(day) == actual:
            verdict.unchanged.append(day)
            continue
        baseline = plan.baselines.get(day)
        if baseline is not None and baseline != actual:
            verdict.drifted.append(day)
            verdict.notes[day] = {
                "baseline_hash": baseline,
                "exported_hash": actual,
                "against": "certification",
            }
        elif baseline is None and day in committed:
            verdict.drifted.append(day)
            verdict.notes[day] = {
                "baseline_hash": committed[day],
                "exported_hash": actual,
                "against": "lake",
            }
        verdict.changed.append(day)
    if verdict.drifted and plan.decl.drift_policy == "strict":
        first = verdict.drifted[0]
        reach = sum(1 for d in plan.days.queries if d >= first)
        raise DriftError(
            f"{entrypoint}: {len(verdict.drifted)} day(s) differ from their certified baseline "
            f"or from the version the lake holds "
            f"({', '.join(d.isoformat() for d in verdict.drifted[:5])}); strict policy, "
            f"nothing written. If the change is reviewed and wanted, re-certify so that the "
            f"baselines cover those days: t0lake certify {entrypoint} --accept-changes "
            f"--check-days {max(reach, 1)}, then export again",
            entrypoint=entrypoint,
            days=[d.isoformat() for d in verdict.drifted],
        )
    return verdict
