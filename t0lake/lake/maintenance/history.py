"""Pins and expiry: which snapshots stay part of an entrypoint's history.

``expire`` first commits the expiry record (the checksum of each expired manifest goes into
the new head, so the parent-hash chain still checks across the gap), then deletes the
expired manifest files. A crash between the two leaves manifests that are recorded as
expired and are never served; the next ``expire`` (or ``vacuum``) deletes them. The head
and pinned snapshots are never expired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from t0lake._util.durations import parse_duration
from t0lake.errors import ConfigError
from t0lake.lake import log
from t0lake.lake.commit import commit
from t0lake.lake.layout import manifest_path
from t0lake.lake.manifest import Manifest
from t0lake.lake.operations.history import Expire, Pin, Unpin, check_pin_name
from t0lake.lake.snapshot import Lake, check_snapshot_id
from t0lake.lake.storage import LakeStorage, check_name, open_storage

__all__ = ["ExpireResult", "expire", "pin", "unpin"]


def _head(storage: LakeStorage, entrypoint: str) -> Manifest:
    return log.require_head(storage, check_name(entrypoint))


def pin(
    lake_url: str,
    entrypoint: str,
    snapshot_id: int,
    name: str,
    storage_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Pin ``snapshot_id`` under ``name``: ``expire`` never drops a pinned snapshot, so time
    travel to it (and vacuum's keeping of its files) lasts until it is unpinned."""
    check_pin_name(name)
    snapshot_id = check_snapshot_id(snapshot_id, entrypoint)
    storage = open_storage(lake_url, storage_options)
    storage.check_commits()
    latest = _head(storage, entrypoint)
    retained = frozenset(log.retained(storage, entrypoint, latest))
    new = commit(storage, entrypoint, Pin(name, snapshot_id, retained))
    final = new or log.head(storage, entrypoint)
    assert final is not None
    return {
        "entrypoint": entrypoint,
        "pin": name,
        "snapshot_id": snapshot_id,
        "committed": new is not None,
        "head": final.snapshot_id,
        "pins": dict(final.pins),
    }


def unpin(
    lake_url: str, entrypoint: str, name: str, storage_options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Remove the pin ``name``; the snapshot it named may then be expired."""
    check_pin_name(name)
    storage = open_storage(lake_url, storage_options)
    storage.check_commits()
    _head(storage, entrypoint)
    new = commit(storage, entrypoint, Unpin(name))
    assert new is not None
    return {
        "entrypoint": entrypoint,
        "unpinned": name,
        "committed": True,
        "head": new.snapshot_id,
        "pins": dict(new.pins),
    }


@dataclass(frozen=True)
class ExpireResult:
    """What one expiry of one entrypoint did."""

    entrypoint: str
    head: int
    expired: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    pinned: dict[str, int] = field(default_factory=dict)
    deleted_manifests: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def expire(
    lake_url: str,
    entrypoint: str | None = None,
    *,
    keep_last: int | None = None,
    older_than: timedelta | str | int | None = None,
    now: datetime | None = None,
    storage_options: dict[str, Any] | None = None,
) -> list[ExpireResult]:
    """Drop old snapshots from the history of one entrypoint (or of every one).

    Exactly one of ``keep_last`` (keep the N newest snapshots) and ``older_than`` (expire
    snapshots committed longer ago than this, before ``now``; a bare number is days; a
    naive ``now`` is UTC) says which go. The head and
    pinned snapshots are never expired. Their data files stay until ``vacuum`` finds that no
    retained manifest references them.
    """
    if (keep_last is None) == (older_than is None):
        raise ConfigError("give exactly one of keep_last and older_than", parameter="keep_last")
    if keep_last is not None and (
        not isinstance(keep_last, int) or isinstance(keep_last, bool) or keep_last < 1
    ):
        raise ConfigError(
            f"keep_last must be a whole number ≥ 1 (the head is always kept), got {keep_last!r}",
            parameter="keep_last",
            value=str(keep_last),
        )
    cutoff = None
    if older_than is not None:
        age = parse_duration(older_than, "older_than", bare=timedelta(days=1))
        cutoff = _aware(now or datetime.now(UTC)) - age
    storage = open_storage(lake_url, storage_options)
    storage.check_commits()
    names = [check_name(entrypoint)] if entrypoint is not None else Lake(storage).entrypoints()
    return [_expire_one(storage, name, keep_last, cutoff) for name in names]


def _aware(moment: datetime) -> datetime:
    """Manifests record UTC: a naive moment is read as UTC too."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _expire_one(
    storage: LakeStorage, entrypoint: str, keep_last: int | None, cutoff: datetime | None
) -> ExpireResult:
    latest = _head(storage, entrypoint)
    manifests = log.check_chain(storage, latest)
    pinned = set(latest.pins.values())
    if keep_last is not None:
        candidates = manifests[:-keep_last] if len(manifests) > keep_last else []
    else:
        assert cutoff is not None
        candidates = [m for m in manifests if datetime.fromisoformat(m.committed_at) < cutoff]
    victims = {
        m.snapshot_id: m.sha256
        for m in candidates
        if m.snapshot_id not in pinned and m.snapshot_id != latest.snapshot_id
    }
    new = commit(storage, entrypoint, Expire(victims)) if victims else None
    final = new or latest
    deleted = []
    for sid in sorted(final.expired):
        path = manifest_path(entrypoint, sid)
        if storage.exists(path):
            storage.delete(path)
            deleted.append(path)
    return ExpireResult(
        entrypoint=entrypoint,
        head=final.snapshot_id,
        expired=sorted(set(final.expired) - set(latest.expired)),
        kept=log.retained(storage, entrypoint, final),
        pinned=dict(final.pins),
        deleted_manifests=deleted,
    )
