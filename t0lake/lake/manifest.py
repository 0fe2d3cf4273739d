"""The manifest: one immutable JSON document per commit that says what a snapshot is.

A reader learns everything from the manifest and nothing from directory listings: which
files are live, which days and rows each holds, and the content hash of every
(day, column) it may be asked to return. ``docs/lake-format.md`` is the specification; this
module builds, serialises and validates it, and knows the naming of manifest files.

A manifest carries its own checksum (sha256 of its canonical body), and the checksum of its
parent, so an edited manifest or a rewritten history is refused as IntegrityError.
"""

from __future__ import annotations

import base64
import bisect
import functools
import hashlib
import json
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import pyarrow as pa

from t0lake._util.canonical_json import canonical_json_bytes
from t0lake._version import __version__
from t0lake.errors import IntegrityError
from t0lake.hashing import canonical_type
from t0lake.lake.layout import Tier

__all__ = [
    "FORMAT",
    "DayEntry",
    "FileEntry",
    "Manifest",
    "Operation",
    "schema_fields",
    "schema_from_b64",
    "schema_hash",
    "schema_to_b64",
]

FORMAT = "t0lake-manifest-v1"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class Operation(StrEnum):
    """The kind of commit a manifest records; each has its producer in ``lake/operations``."""

    EXPORT = "export"
    COMPACT = "compact"
    DOWNSAMPLE = "downsample"
    EXPIRE = "expire"
    PIN = "pin"
    UNPIN = "unpin"


@dataclass(frozen=True)
class DayEntry:
    """The rows of one partition day inside a file: a contiguous, key-ordered slice."""

    day: date
    rows: int
    row_offset: int
    dataset_hash: str
    columns: Mapping[str, str]
    # where the Postgres snapshot these rows were read from stood (server, xmax, at): an
    # export that read older rows must not replace them (absent in manifests before it)
    read_at: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "rows": self.rows,
            "row_offset": self.row_offset,
            "dataset_hash": self.dataset_hash,
            "columns": dict(sorted(self.columns.items())),
            **({"read_at": dict(sorted(self.read_at.items()))} if self.read_at else {}),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> DayEntry:
        read_at = doc.get("read_at")
        return cls(
            day=date.fromisoformat(doc["day"]),
            rows=int(doc["rows"]),
            row_offset=int(doc["row_offset"]),
            dataset_hash=_hex(doc["dataset_hash"]),
            columns={str(k): _hex(v) for k, v in doc["columns"].items()},
            read_at=_read_at(read_at) if read_at is not None else None,
        )

    def read_later_than(self, other: DayEntry) -> bool:
        """Whether these rows were read from a later snapshot of the same server than
        ``other``'s (False when either does not say, or they come from different servers)."""
        mine, theirs = self.read_at, other.read_at
        if not mine or not theirs or mine["server"] != theirs["server"]:
            return False
        return (int(mine["xmax"]), str(mine["at"])) > (int(theirs["xmax"]), str(theirs["at"]))


@dataclass(frozen=True)
class FileEntry:
    """One live Parquet file: where it is, what it holds, and how to prove it."""

    path: str
    tier: Tier
    bytes: int
    sha256: str
    rows: int
    days: tuple[DayEntry, ...]
    version: int = 1
    drift: Mapping[str, Any] | None = None

    @property
    def complete(self) -> bool:
        """Whether every row of the file is live. A compacted file whose day was re-exported
        keeps its bytes but drops that day's slice from ``days`` until the next compaction."""
        return sum(d.rows for d in self.days) == self.rows

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "tier": self.tier,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "rows": self.rows,
            "version": self.version,
            "drift": dict(self.drift) if self.drift else None,
            "days": [d.to_json() for d in self.days],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> FileEntry:
        return cls(
            path=str(doc["path"]),
            tier=Tier(doc["tier"]),
            bytes=int(doc["bytes"]),
            sha256=_hex(doc["sha256"]),
            rows=int(doc["rows"]),
            version=int(doc["version"]),
            drift=doc.get("drift"),
            days=tuple(DayEntry.from_json(d) for d in doc["days"]),
        )


@dataclass(frozen=True)
class Manifest:
    """A snapshot of one entrypoint's lake: the full list of live files after a commit."""

    entrypoint: str
    snapshot_id: int
    parent_snapshot_id: int | None
    parent_sha256: str | None
    committed_at: str
    operation: Operation
    key: tuple[str, ...]
    day_expr: str
    event_time_col: str
    viewdef_hash: str
    certification: Mapping[str, Any]
    arrow_schema: str
    schema_hash: str
    files: tuple[FileEntry, ...]
    summary: Mapping[str, Any] = field(default_factory=dict)
    t0lake_version: str = ""
    # carried forward by every commit: named pins, and the checksum of every expired snapshot
    # (so a chain with expired links is told apart from one with deleted links)
    pins: Mapping[str, int] = field(default_factory=dict)
    expired: Mapping[int, str] = field(default_factory=dict)
    sha256: str = ""

    # ------------------------------------------------------------------ reading helpers

    @property
    def schema(self) -> pa.Schema:
        return schema_from_b64(self.arrow_schema)

    def successor(
        self, operation: Operation, summary: Mapping[str, Any], **changes: Any
    ) -> Manifest:
        """The next snapshot on top of this one, committed now under ``operation``: the same
        entrypoint, schema, files, pins and expiry record unless ``changes`` say otherwise."""
        return replace(
            self,
            snapshot_id=self.snapshot_id + 1,
            parent_snapshot_id=self.snapshot_id,
            parent_sha256=self.sha256,
            committed_at=datetime.now(UTC).isoformat(timespec="seconds"),
            operation=operation,
            summary=dict(summary),
            t0lake_version=__version__,
            sha256="",
            **changes,
        )

    def live_rows(self) -> int:
        """The rows the snapshot serves (a compacted file's dropped slices not counted)."""
        return sum(entry.rows for _, entry in self.days().values())

    def files_per_tier(self) -> dict[str, int]:
        """How many live files each tier holds, tiers without files left out."""
        return {t.value: n for t in Tier if (n := sum(1 for f in self.files if f.tier == t))}

    def carried(self) -> dict[str, Any]:
        """What every next commit inherits from this one (its pins and expiry record)."""
        return {"pins": dict(self.pins), "expired": dict(self.expired)}

    def day_slices(
        self, first: date | None = None, last: date | None = None
    ) -> list[tuple[date, FileEntry, DayEntry]]:
        """Every (day, file, slice) from ``first`` to ``last`` (inclusive; None = unbounded)
        in day order: the days of a read, found by bisection in an index built once per
        manifest (a month's read of a year's lake went over all its days twice, 0.4 ms)."""
        index, day = self._day_index, operator.itemgetter(0)
        lo = 0 if first is None else bisect.bisect_left(index, first, key=day)
        hi = len(index) if last is None else bisect.bisect_right(index, last, key=day)
        return list(index[lo:hi])

    @functools.cached_property
    def _day_index(self) -> tuple[tuple[date, FileEntry, DayEntry], ...]:
        # a loaded manifest holds each day once (_check_one_holder); the path orders the
        # slices of one day in a manifest built in memory, as the reader always did
        slices = ((d.day, f, d) for f in self.files for d in f.days)
        return tuple(sorted(slices, key=lambda s: (s[0], s[1].path)))

    def days(self) -> dict[date, tuple[FileEntry, DayEntry]]:
        """Every live day, with the file and slice that hold it."""
        out: dict[date, tuple[FileEntry, DayEntry]] = {}
        for f in self.files:
            for d in f.days:
                out[d.day] = (f, d)
        return out

    # ------------------------------------------------------------------ serialisation

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "entrypoint": self.entrypoint,
            "snapshot_id": self.snapshot_id,
            "parent_snapshot_id": self.parent_snapshot_id,
            "parent_sha256": self.parent_sha256,
            "committed_at": self.committed_at,
            "operation": self.operation,
            "key": list(self.key),
            "day_expr": self.day_expr,
            "event_time_col": self.event_time_col,
            "viewdef_hash": self.viewdef_hash,
            "certification": dict(self.certification),
            "schema": {
                "fields": schema_fields(self.schema),
                "arrow_schema": self.arrow_schema,
                "schema_hash": self.schema_hash,
            },
            "files": [f.to_json() for f in sorted(self.files, key=lambda f: f.path)],
            "summary": dict(self.summary),
            "t0lake_version": self.t0lake_version,
            # absent when empty: manifests written before pins and expiry stay byte-identical
            **({"pins": dict(sorted(self.pins.items()))} if self.pins else {}),
            **(
                {"expired": {str(k): v for k, v in sorted(self.expired.items())}}
                if self.expired
                else {}
            ),
        }

    def sealed(self) -> Manifest:
        """The same manifest with its checksum filled in."""
        return replace(self, sha256=_body_sha256(self.body()))

    def to_bytes(self) -> bytes:
        doc = self.body()
        doc["manifest_sha256"] = self.sha256 or _body_sha256(doc)
        return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes, *, where: str) -> Manifest:
        """Parse and validate; IntegrityError naming ``where`` if anything is off."""
        try:
            doc = json.loads(data)
            claimed = doc.pop("manifest_sha256")
            if doc.get("format") != FORMAT:
                raise ValueError(f"format is {doc.get('format')!r}, expected {FORMAT}")
            actual = _body_sha256(doc)
            if claimed != actual:
                raise IntegrityError(
                    f"manifest {where} was modified after it was committed (checksum mismatch)",
                    manifest=where,
                    expected=claimed,
                    actual=actual,
                )
            schema = doc["schema"]
            manifest = cls(
                entrypoint=str(doc["entrypoint"]),
                snapshot_id=int(doc["snapshot_id"]),
                parent_snapshot_id=doc["parent_snapshot_id"],
                parent_sha256=doc["parent_sha256"],
                committed_at=str(doc["committed_at"]),
                operation=Operation(doc["operation"]),
                key=tuple(doc["key"]),
                day_expr=str(doc["day_expr"]),
                event_time_col=str(doc["event_time_col"]),
                viewdef_hash=str(doc["viewdef_hash"]),
                certification=dict(doc["certification"]),
                arrow_schema=str(schema["arrow_schema"]),
                schema_hash=_hex(schema["schema_hash"]),
                files=tuple(FileEntry.from_json(f) for f in doc["files"]),
                summary=dict(doc.get("summary") or {}),
                t0lake_version=str(doc.get("t0lake_version", "")),
                pins={str(k): int(v) for k, v in (doc.get("pins") or {}).items()},
                expired={int(k): _hex(v) for k, v in (doc.get("expired") or {}).items()},
                sha256=actual,
            )
            if schema_hash(manifest.schema) != manifest.schema_hash:
                raise ValueError("schema_hash does not match the Arrow schema")
            _check_one_holder(manifest.files)
        except IntegrityError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IntegrityError(
                f"manifest {where} is not a valid {FORMAT} document: {exc}", manifest=where
            ) from exc
        return manifest


def _check_one_holder(files: tuple[FileEntry, ...]) -> None:
    """Each file listed once and each day held by one slice: a manifest that lists a file
    twice (or two slices of one day) would serve that day's rows twice, so even a resealed
    one (its checksum consistent) is refused. ValueError naming the first repeat."""
    paths: set[str] = set()
    holders: dict[date, str] = {}
    for f in files:
        if f.path in paths:
            raise ValueError(f"file {f.path} is listed twice")
        paths.add(f.path)
        for d in f.days:
            if d.day in holders:
                raise ValueError(f"day {d.day} is held twice ({holders[d.day]} and {f.path})")
            holders[d.day] = f.path


def _body_sha256(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json_bytes(body)).hexdigest()


def _read_at(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, Mapping) or set(doc) != {"server", "xmax", "at"}:
        raise ValueError(f"read_at must hold server, xmax and at, not {doc!r}")
    return {"server": str(doc["server"]), "xmax": int(doc["xmax"]), "at": str(doc["at"])}


def _hex(value: Any) -> str:
    if not isinstance(value, str) or not _HEX64.match(value):
        raise ValueError(f"{value!r} is not a sha256 hex digest")
    return value


# --------------------------------------------------------------------------- schema


def schema_fields(schema: pa.Schema) -> list[dict[str, Any]]:
    """The readable form of the schema: name, Arrow type and canonical hash type per field."""
    return [
        {
            "name": f.name,
            "arrow_type": str(f.type),
            "hash_type": canonical_type(f),
            "nullable": f.nullable,
        }
        for f in schema
    ]


def schema_hash(schema: pa.Schema) -> str:
    """sha256 of the readable schema: equal schemas, equal hash, on any machine."""
    return hashlib.sha256(canonical_json_bytes(schema_fields(schema))).hexdigest()


def schema_to_b64(schema: pa.Schema) -> str:
    """The exact Arrow schema (field metadata included), so readers rebuild the same types."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def schema_from_b64(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))
