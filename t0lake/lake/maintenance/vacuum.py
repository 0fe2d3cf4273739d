"""Vacuum: delete the data files no retained manifest references, and nothing else.

The rule is decided from manifests, never from listings or modification times alone:

1. list the entrypoint's objects first (a file written after the listing is never a
   candidate);
2. load and chain-check every retained manifest (a broken chain deletes nothing: a lake
   that cannot prove its history cannot say what is garbage);
3. a data file (``tier=…/….parquet``) or a writer's temporary file (``….tmp-…``) that no
   retained manifest references is deleted, unless it is younger than the grace period:
   an export or compaction in flight writes its files before its manifest. A temporary
   file older than that is what a killed writer left (a failed write removes its own), and
   no re-run ever reuses its name; ``temporary`` counts those deleted.

Manifests recorded as expired whose deletion a crash interrupted are deleted too; the policy
file and anything t0lake did not write are left alone and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from t0lake._util.durations import parse_duration
from t0lake.errors import ConfigError
from t0lake.lake import log
from t0lake.lake.layout import MANIFEST_DIR, snapshot_id_of
from t0lake.lake.snapshot import Lake
from t0lake.lake.storage import LakeStorage, check_name, open_storage
from t0lake.lake.storage.local import TEMP_MARK
from t0lake.lake.tiers import policy_path

__all__ = ["DEFAULT_GRACE", "VacuumResult", "vacuum"]

DEFAULT_GRACE = timedelta(hours=1)
_TEMPORARY = "temporary file"


@dataclass(frozen=True)
class VacuumResult:
    """What one vacuum of one entrypoint deleted (or would delete, with ``dry_run``)."""

    entrypoint: str
    dry_run: bool
    deleted: list[dict[str, Any]] = field(default_factory=list)  # path, kind, bytes
    young: list[str] = field(default_factory=list)  # unreferenced but within the grace period
    unknown: list[str] = field(default_factory=list)  # not written by t0lake: left alone
    referenced: int = 0

    @property
    def bytes(self) -> int:
        return sum(int(d["bytes"]) for d in self.deleted)

    @property
    def temporary(self) -> int:
        """How many of the deleted files were temporary files killed writers left."""
        return sum(1 for d in self.deleted if d["kind"] == _TEMPORARY)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "bytes": self.bytes, "temporary": self.temporary}


def vacuum(
    lake_url: str,
    entrypoint: str | None = None,
    *,
    dry_run: bool = False,
    grace: timedelta | str | int = DEFAULT_GRACE,
    now: datetime | None = None,
    storage_options: dict[str, Any] | None = None,
) -> list[VacuumResult]:
    """Delete the files of one entrypoint (or of every one) that no retained manifest
    references and that are older than ``grace`` (a bare number is hours) at ``now`` (the
    wall clock by default; naive is UTC); ``dry_run`` only lists them.

    Raises:
        ConfigError: a bad argument or lake URL (nothing deleted).
        IntegrityError: a retained manifest is invalid or the chain is broken (nothing
            deleted).
    """
    period = parse_duration(grace, "grace", bare=timedelta(hours=1))
    if period < timedelta(0):
        raise ConfigError("grace must not be negative", parameter="grace", value=str(grace))
    storage = open_storage(lake_url, storage_options)
    names = [check_name(entrypoint)] if entrypoint is not None else Lake(storage).entrypoints()
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:  # a naive moment is UTC, as modification times are
        moment = moment.replace(tzinfo=UTC)
    return [_vacuum_one(storage, name, dry_run, period, moment.timestamp()) for name in names]


def _vacuum_one(
    storage: LakeStorage, entrypoint: str, dry_run: bool, grace: timedelta, now: float
) -> VacuumResult:
    listed = storage.walk(entrypoint)
    latest = log.require_head(storage, entrypoint, "vacuum deletes nothing there")
    manifests = log.check_chain(storage, latest)
    referenced = {f.path for m in manifests for f in m.files}
    result = VacuumResult(entrypoint, dry_run, referenced=len(referenced))
    manifest_dir = f"{entrypoint}/{MANIFEST_DIR}/"
    for path in listed:
        name = path.rsplit("/", 1)[-1]
        if path in referenced or path == policy_path(entrypoint):
            continue
        if path.startswith(manifest_dir) and TEMP_MARK not in name:
            sid = snapshot_id_of(name)
            if sid is not None and sid in latest.expired:
                _delete(storage, path, "expired manifest", dry_run, result)
            elif sid is None:
                result.unknown.append(path)
            continue
        if TEMP_MARK in name:
            kind = _TEMPORARY
        elif "/tier=" in path and name.endswith(".parquet"):
            kind = "data file"
        else:
            result.unknown.append(path)
            continue
        if now - storage.modified(path) < grace.total_seconds():
            result.young.append(path)
            continue
        _delete(storage, path, kind, dry_run, result)
    return result


def _delete(
    storage: LakeStorage, path: str, kind: str, dry_run: bool, result: VacuumResult
) -> None:
    size = storage.size(path)
    if not dry_run:
        storage.delete(path)
    result.deleted.append({"path": path, "kind": kind, "bytes": size})
