"""Retention of the online table (``t0lake retain vectors --keep 30d``): old FeatureVectors
leave Postgres only for days the lake holds with the same content, proven at that moment.

For every UTC day (of ``window_end_ms``) before ``as_of - keep`` that still has vectors:

1. the day's retention lock is taken (``fv.retention_lock_key()``, session level), so no
   write into it is under way and none starts before this retention ends;
2. the lake's head of the entrypoint is read; a day it does not hold is kept (``not
   exported``), and so is a day whose lake files fail their proof (``lake copy damaged``:
   each day is read back and every (day, column) digest recomputed from the bytes);
3. in one REPEATABLE READ transaction, ``fv.retain_day`` re-hashes each remaining day of the
   entrypoint in SQL and compares it with the head manifest's dataset hash (and rows): equal,
   it records the day in ``fv.vector_retention`` (hash, rows, lake, snapshot id, manifest
   sha256, when) and deletes its rows; different, the day is kept (``differs``); a day whose
   table rows are not all in the entrypoint is kept (``incomplete``);
4. the transaction commits: every proven day is gone from Postgres and recorded, or (a crash,
   a kill, a lost connection) none is.

A head whose snapshot is registered in ``audit.t0_export_registry`` with another manifest is
refused (IntegrityError) before anything is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from t0lake import pg
from t0lake._util.durations import parse_positive_duration
from t0lake.errors import ConfigError, IntegrityError
from t0lake.lake import log
from t0lake.lake.snapshot import Snapshot
from t0lake.lake.storage import check_name, open_storage
from t0lake.pg import vector_retention as fv_retention
from t0lake.vectors.tiers import DEFAULT_ENTRYPOINT

__all__ = ["RetainResult", "retain_vectors"]

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class RetainResult:
    """What one retention did: the days deleted from Postgres (with the lake snapshot that
    proved them) and every older day it kept, with why."""

    entrypoint: str
    lake_url: str
    cutoff: str  # days before this one were candidates
    snapshot_id: int | None
    manifest_sha256: str | None
    retained: list[str] = field(default_factory=list)
    rows_deleted: int = 0
    kept: dict[str, str] = field(default_factory=dict)  # day -> reason

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def retain_vectors(
    dsn: str | None,
    lake_url: str,
    keep: str | timedelta | int = "30d",
    *,
    entrypoint: str = DEFAULT_ENTRYPOINT,
    storage_options: dict[str, Any] | None = None,
    as_of: date | None = None,
) -> RetainResult:
    """Delete the vectors of days older than ``keep`` (whole days; an int counts days) before
    ``as_of`` (default: today, UTC) from ``fv.feature_vectors``, for the days the lake's head
    of ``entrypoint`` holds with the same content hash (module docstring).

    Raises:
        ConfigError: bad ``keep``, ``as_of``, entrypoint or lake (nothing deleted).
        IntegrityError: the lake's head disagrees with the export registry (nothing deleted).
    """
    window = parse_positive_duration(keep, "keep", bare=_DAY)
    if window % _DAY:
        raise ConfigError(f"keep={keep!r} must be whole days", parameter="keep")
    if as_of is None:
        as_of = datetime.now(UTC).date()
    if not isinstance(as_of, date) or isinstance(as_of, datetime):
        raise ConfigError("as_of must be a date", parameter="as_of")
    check_name(entrypoint)
    cutoff = as_of - window
    storage = open_storage(lake_url, storage_options)
    url = storage.canonical_url
    dsn = pg.resolve_dsn(dsn)
    with pg.connect(dsn, autocommit=True) as conn:
        days = fv_retention.vector_days_before(conn, cutoff)
        with fv_retention.day_locks(conn, days):
            head = log.head(storage, entrypoint)  # read once the days are closed to writers
            if head is None:
                return RetainResult(entrypoint, lake_url, cutoff.isoformat(), None, None,
                                    kept={d.isoformat(): "not exported" for d in days})  # fmt: skip
            registered = pg.registered_snapshots(conn, url, entrypoint).get(head.snapshot_id)
            if registered is not None and registered != head.sha256:
                raise IntegrityError(
                    f"the lake's head of {entrypoint} (snapshot {head.snapshot_id}) is not the "
                    "manifest the export registry recorded: nothing is retained",
                    entrypoint=entrypoint,
                    snapshot_id=head.snapshot_id,
                    expected=registered,
                    actual=head.sha256,
                )
            live = head.days()
            kept: dict[str, str] = {}
            proofs = []
            snapshot = Snapshot(storage, head)
            for day in days:
                if day not in live:
                    kept[day.isoformat()] = "not exported"
                    continue
                try:  # the bytes are there and are what the manifest says
                    snapshot.to_arrow(start=day, end=day)
                except IntegrityError:
                    kept[day.isoformat()] = "lake copy damaged"
                    continue
                entry = live[day][1]
                proofs.append(fv_retention.DayProof(day, entry.dataset_hash, entry.rows))
            verdicts = fv_retention.retain_days(
                conn, entrypoint, proofs, url, head.snapshot_id, head.sha256
            )
    retained = [v for v in verdicts if v.status == "retained"]
    for v in verdicts:
        if v.status != "retained":
            kept[v.day.isoformat()] = v.status
    return RetainResult(
        entrypoint=entrypoint,
        lake_url=lake_url,
        cutoff=cutoff.isoformat(),
        snapshot_id=head.snapshot_id,
        manifest_sha256=head.sha256,
        retained=[v.day.isoformat() for v in retained],
        rows_deleted=sum(v.rows for v in retained),
        kept=dict(sorted(kept.items())),
    )
