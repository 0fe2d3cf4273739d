"""The Python face of the certification that lives in ``sql/`` (docs/certification.md).

Postgres decides; this module only resolves names safely, calls ``audit.run_t0_cert`` /
``audit.require_certified_strict`` / ``audit.t0_cert_status`` and turns their outcomes into
typed errors, so a caller cannot mistake "not certified" for "no data". Nothing here knows
about a particular store: everything store-specific is read from ``audit.t0_entrypoint``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from t0lake import pg
from t0lake._util.durations import parse_positive_duration
from t0lake.errors import (
    ConfigError,
    DriftError,
    NotCertifiedError,
    T0LakeError,
    T0ViolationError,
)
from t0lake.lake.storage.paths import check_name

__all__ = [
    "MAX_CHECK_DAYS",
    "CertResult",
    "DriftPolicy",
    "Entrypoint",
    "certify",
    "check_certified",
    "declaration",
    "entrypoints",
    "parse_max_age",
    "require_certified",
    "status",
]

DriftPolicy = Literal["strict", "tolerant"]

# 100 years of days: more is a typo, and past 2**31 - 1 PostgreSQL has no integer for it
MAX_CHECK_DAYS = 36525

_ERROR_BY_GATE: dict[str, type[T0LakeError]] = {
    "A": NotCertifiedError,
    "B": T0ViolationError,
    "C": DriftError,
}


@dataclass(frozen=True)
class Entrypoint:
    """One row of ``audit.t0_entrypoint``: how a store is keyed, partitioned and judged."""

    entrypoint: str
    key_cols: list[str]
    event_time_col: str
    day_expr: str
    drift_policy: DriftPolicy
    forbid_timestamp_outputs: bool
    strict_t0: bool
    max_age: timedelta
    guarded_view: str | None


@dataclass(frozen=True)
class CertResult:
    """One row of ``audit.t0_cert_registry``: the outcome of a certification run."""

    cert_id: int
    entrypoint: str
    status: str
    certified_at: datetime
    check_days: int
    drift_policy: str
    gates: dict[str, str]
    failed_gate: str | None
    failed_object: str | None
    message: str | None
    notes: str | None
    checked_days: list[date] = field(default_factory=list)
    drifted_days: list[date] = field(default_factory=list)
    closure_hash: str = ""  # hash of every definition in the closure: the viewdef hash

    @property
    def certified(self) -> bool:
        return self.status == "CERTIFIED"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO strings."""
        result = asdict(self)
        result["certified_at"] = self.certified_at.isoformat()
        result["checked_days"] = [d.isoformat() for d in self.checked_days]
        result["drifted_days"] = [d.isoformat() for d in self.drifted_days]
        return result


def parse_max_age(max_age: timedelta | str) -> timedelta:
    """A positive max age from a timedelta or "1s", "15m", "24h", "7d", "2w"
    (:func:`t0lake.durations.parse_duration`); ConfigError otherwise."""
    return parse_positive_duration(max_age, "max age")


def _result(row: dict[str, Any]) -> CertResult:
    return CertResult(
        cert_id=row["cert_id"],
        entrypoint=row["entrypoint"],
        status=row["status"],
        certified_at=row["certified_at"],
        check_days=row["check_days"],
        drift_policy=row["drift_policy"],
        gates={"A": row["gate_a"], "B": row["gate_b"], "C": row["gate_c"]},
        failed_gate=row["failed_gate"],
        failed_object=row["failed_object"],
        message=row["message"],
        notes=row["notes"],
        checked_days=list(row["checked_days"] or []),
        drifted_days=list(row["drifted_days"] or []),
        closure_hash=row.get("closure_hash") or "",
    )


# what to run after a failed gate, once the failure is understood
_NEXT_STEP = {
    "A": "if the view change is reviewed and wanted: t0lake certify {ep} --accept-changes",
    "B": "fix the view so that no feature can see data at or after its event time",
    "C": (
        "if the changed rows are reviewed and wanted: t0lake certify {ep} --accept-changes "
        "(or --allow-drift --update-drifted to record them as drift)"
    ),
}


def _raise_failed(result: CertResult) -> None:
    if result.certified:
        return
    kind = _ERROR_BY_GATE.get(result.failed_gate or "", NotCertifiedError)
    step = _NEXT_STEP.get(result.failed_gate or "", "").format(ep=result.entrypoint)
    raise kind(
        f"{result.entrypoint} failed certification #{result.cert_id}: {result.message}"
        + (f"; {step}" if step else ""),
        entrypoint=result.entrypoint,
        cert_id=result.cert_id,
        gate=result.failed_gate,
        object=result.failed_object,
        drifted_days=[d.isoformat() for d in result.drifted_days] or None,
    )


def certify(
    dsn: str | None,
    entrypoint: str,
    check_days: int = 3,
    allow_drift: bool | None = None,
    *,
    update_drifted: bool = False,
    accept_changes: bool = False,
) -> CertResult:
    """Run gates A, B and C on an entrypoint and record the outcome in the registry.

    The outcome is committed even when a gate fails (a failure revokes the previous
    certification), then a failure raises: gate A NotCertifiedError, gate B
    T0ViolationError, gate C (strict drift) DriftError, each naming the gate and object.
    ``allow_drift`` None follows the declared policy; ``accept_changes`` recaptures the
    viewdef and checked-day baselines first, for use after a reviewed change.
    """
    check_name(entrypoint)  # the spelling the lake accepts: one name per entrypoint
    if (
        isinstance(check_days, bool)
        or not isinstance(check_days, int)
        or not 1 <= check_days <= MAX_CHECK_DAYS
    ):
        raise ConfigError(
            f"check_days must be a whole number of days from 1 to {MAX_CHECK_DAYS} (100 "
            f"years), got {check_days!r}",
            parameter="check_days",
            value=repr(check_days),
        )
    with pg.connect(dsn) as conn:
        row = pg.run_certification(
            conn, entrypoint, check_days, allow_drift, update_drifted, accept_changes
        )
        conn.commit()
    result = _result(row)
    _raise_failed(result)
    return result


def require_certified(
    dsn: str | None, entrypoint: str, max_age: timedelta | str = "24h"
) -> CertResult:
    """Raise unless the entrypoint may be served now: certified, younger than ``max_age``,
    with its whole closure unchanged. Returns the certification that allows it."""
    check_name(entrypoint)
    age = parse_max_age(max_age)
    with pg.connect(dsn) as conn:
        return check_certified(conn, entrypoint, age)


def check_certified(conn: pg.Connection, entrypoint: str, max_age: timedelta) -> CertResult:
    """:func:`require_certified` on an open connection, inside the caller's transaction, so
    an exporter can prove certification in the very snapshot it reads the rows from."""
    pg.require_certified_strict(conn, entrypoint, max_age)
    row = pg.latest_certification(conn, entrypoint)
    assert row is not None, "require_certified_strict passed, so a certification exists"
    return _result(row)


def declaration(conn: pg.Connection, entrypoint: str) -> Entrypoint:
    """The ``audit.t0_entrypoint`` row of an entrypoint (ConfigError if undeclared)."""
    return Entrypoint(**pg.entrypoint_row(conn, entrypoint))


def entrypoints(dsn: str | None) -> list[Entrypoint]:
    """Every declared entrypoint (``audit.t0_entrypoint``)."""
    with pg.connect(dsn) as conn:
        return [Entrypoint(**r) for r in pg.entrypoint_rows(conn)]


def status(dsn: str | None) -> list[dict[str, Any]]:
    """Every declared entrypoint with its latest certification, JSON-ready: what ``t0lake
    status`` prints. ``servable`` is what the guarded views would decide right now."""
    with pg.connect(dsn) as conn:
        rows = pg.cert_status_rows(conn)
    return [_status_dict(r) for r in rows]


def _status_dict(row: dict[str, Any]) -> dict[str, Any]:
    problem = row["problem"]
    age: timedelta | None = row["age"]
    return {
        "entrypoint": row["entrypoint"],
        "drift_policy": row["drift_policy"],
        "max_age_seconds": row["max_age"].total_seconds(),
        "guarded_view": row["guarded_view"],
        "cert_id": row["cert_id"],
        "status": row["status"] or "NEVER",
        "certified_at": row["certified_at"].isoformat() if row["certified_at"] else None,
        "age_seconds": round(age.total_seconds(), 3) if age is not None else None,
        "gates": (
            {"A": row["gate_a"], "B": row["gate_b"], "C": row["gate_c"]}
            if row["cert_id"] is not None
            else None
        ),
        "failed_gate": row["failed_gate"],
        "message": row["message"],
        "notes": row["notes"],
        "checked_days": [d.isoformat() for d in row["checked_days"] or []],
        "drifted_days": [d.isoformat() for d in row["drifted_days"] or []],
        "servable": problem is None,
        "problem": problem.get("message") if problem else None,
    }
