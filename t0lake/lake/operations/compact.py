"""``compact`` commits: replace the input files of each month or year by one output file.

Each output was built from the live slices of its inputs in some head; at commit time
(and again after every lost race) a day of an output stays live only if the head still
serves it from the very input slice it was copied from, with the same content hash. A day
that an export replaced in between keeps its new version and the output's copy of the old
one is dropped from the output's live days, so a compaction can never resurrect a day. An
input leaves the live set once none of its live days is left uncovered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from t0lake.lake.manifest import FileEntry, Manifest, Operation

__all__ = ["Compact", "CompactOutput"]


@dataclass(frozen=True)
class CompactOutput:
    """One written, proven output file and where each of its days came from."""

    file: FileEntry
    sources: Mapping[date, tuple[str, str]]  # day → (input file path, dataset hash)

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(sorted({path for path, _ in self.sources.values()}))


@dataclass(frozen=True)
class Compact:
    """The commit of a compaction of one entrypoint, on top of whatever head."""

    entrypoint: str
    outputs: tuple[CompactOutput, ...]
    summary: Mapping[str, Any]  # as_of and the policy, recorded as given
    operation: Operation = Operation.COMPACT

    def __call__(self, head: Manifest | None) -> Manifest | None:
        """The next manifest on top of ``head``, or None when no output is still current."""
        if head is None:
            return None
        holders = head.days()
        live = {f.path: f for f in head.files}
        replaced: list[dict[str, Any]] = []
        for out in self.outputs:
            keep = {
                d.day
                for d in out.file.days
                if (held := holders.get(d.day)) is not None
                and (held[0].path, held[1].dataset_hash) == out.sources[d.day]
                and held[0].path != out.file.path
            }
            if not keep:
                continue  # every day was replaced (or compacted) by someone else meanwhile
            for path in out.inputs:
                if path not in live:
                    continue
                left = tuple(d for d in live[path].days if d.day not in keep)
                if left:
                    live[path] = replace(live[path], days=left)
                else:
                    del live[path]
            days = tuple(d for d in out.file.days if d.day in keep)
            live[out.file.path] = replace(out.file, days=days)
            replaced.append(
                {
                    "output": out.file.path,
                    "tier": out.file.tier.value,
                    "inputs": list(out.inputs),
                    "days": len(days),
                    "rows": out.file.rows,
                    "dropped_days": sorted(
                        d.day.isoformat() for d in out.file.days if d.day not in keep
                    ),
                }
            )
        if not replaced:
            return None
        return head.successor(
            self.operation, {**self.summary, "replaced": replaced}, files=tuple(live.values())
        )
