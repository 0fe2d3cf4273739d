"""``export`` commits: replace the live file of each written day by its new version.

A day whose content the head already holds is dropped from the commit (someone committed
the same rows meanwhile), and so is a day the head holds as read from a later Postgres
snapshot than ours (a stale writer never supersedes a newer one); a day with other content
becomes version N+1 of its partition.
The hot file that held version N leaves the live set (history keeps it); a warm or cold
file that held it stays live with that day's slice dropped from its days, so the old rows
are never served again, until the next compaction rewrites the month or year without them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from t0lake._version import __version__
from t0lake.errors import ConfigError
from t0lake.lake.layout import Tier
from t0lake.lake.manifest import (
    DayEntry,
    FileEntry,
    Manifest,
    Operation,
    schema_hash,
    schema_to_b64,
)

__all__ = ["ReplaceDays", "check_compatible", "committed_hashes"]


def committed_hashes(head: Manifest | None) -> dict[date, str]:
    """The dataset hash of every live day of ``head``."""
    if head is None:
        return {}
    return {day: entry.dataset_hash for day, (_, entry) in head.days().items()}


def check_compatible(
    head: Manifest | None, entrypoint: str, schema: pa.Schema, key: Sequence[str]
) -> None:
    """ConfigError when the head holds another schema or key: a lake never mixes schemas."""
    if head is None:
        return
    if head.schema_hash != schema_hash(schema) or list(head.key) != list(key):
        raise ConfigError(
            f"{entrypoint}: the entrypoint's columns or key differ from the lake's "
            f"snapshot {head.snapshot_id}; publish the new definition under a new entrypoint "
            "name (a lake never mixes schemas)",
            entrypoint=entrypoint,
            snapshot_id=head.snapshot_id,
        )


@dataclass(frozen=True)
class ReplaceDays:
    """The commit of an export: new hot files for some days, on top of whatever head."""

    entrypoint: str
    schema: pa.Schema
    key: tuple[str, ...]
    day_expr: str
    event_time_col: str
    viewdef_hash: str
    certification: Mapping[str, Any]
    entries: tuple[FileEntry, ...]  # one hot file per day, version unset
    operation: Operation = Operation.EXPORT  # or DOWNSAMPLE, for a derived dataset
    # live files found damaged: a day they hold is replaced even by the same content
    repair: frozenset[str] = frozenset()

    def __call__(self, head: Manifest | None) -> Manifest | None:
        """The next manifest on top of ``head``, or None when nothing is left to commit."""
        check_compatible(head, self.entrypoint, self.schema, self.key)
        live = list(head.files) if head else []
        added: list[FileEntry] = []
        held = head.days() if head else {}
        for entry in self.entries:
            day, ours = entry.days[0].day, entry.days[0]
            if day in held:
                holder, theirs = held[day]
                damaged = holder.path in self.repair
                if (holder.path, holder.sha256) == (entry.path, entry.sha256) and (
                    not damaged or _facts(holder) == _facts(entry)
                ):
                    continue  # the same bytes and facts are live (a file rewritten in place)
                if theirs.dataset_hash == ours.dataset_hash and not damaged:
                    continue  # someone committed the same content meanwhile
                if theirs.read_later_than(ours):
                    continue  # a writer that read a later snapshot committed it meanwhile
            holding = [f for f in live if any(d.day == day for d in f.days)]
            live = [f for f in live if f not in holding] + [
                kept for f in holding if (kept := _without_day(f, day)) is not None
            ]
            version = max((f.version for f in holding), default=0) + 1
            added.append(replace(entry, version=version))
        if not added:
            return None
        return Manifest(
            entrypoint=self.entrypoint,
            snapshot_id=(head.snapshot_id if head else 0) + 1,
            parent_snapshot_id=head.snapshot_id if head else None,
            parent_sha256=head.sha256 if head else None,
            committed_at=datetime.now(UTC).isoformat(timespec="seconds"),
            operation=self.operation,
            key=self.key,
            day_expr=self.day_expr,
            event_time_col=self.event_time_col,
            viewdef_hash=self.viewdef_hash,
            certification=dict(self.certification),
            arrow_schema=schema_to_b64(self.schema),
            schema_hash=schema_hash(self.schema),
            files=tuple(live + added),
            summary={
                "added": [f.path for f in added],
                "days": [f.days[0].day.isoformat() for f in added],
                "rows_added": sum(f.rows for f in added),
            },
            t0lake_version=__version__,
            **(head.carried() if head else {}),
        )


def _facts(f: FileEntry) -> tuple[int, int, tuple[DayEntry, ...]]:
    """What a file's manifest entry says about its bytes and rows, whoever read them when:
    a damaged file rewritten in place needs no new snapshot only if the head already says
    all of it (a resealed head can lie about the size of an intact file)."""
    return f.bytes, f.rows, tuple(replace(d, read_at=None) for d in f.days)


def _without_day(f: FileEntry, day: date) -> FileEntry | None:
    """A compacted file with ``day``'s slice no longer live, or None when nothing of it is
    left live (a hot file holds one day, so it always goes)."""
    if f.tier == Tier.HOT:
        return None
    days = tuple(d for d in f.days if d.day != day)
    return replace(f, days=days) if days else None
