"""Downsampling (seed 003 section 8.2): aggregates of old rows as a dataset of their own.

Per key (the entrypoint's key without its time column) and half-open, UTC-aligned window
``[start, start + every)`` of the time column, each chosen column is reduced by the named
functions into columns ``{column}_{function}``, plus ``rows``, the number of source rows in
the window:

    first, last   the value of the earliest / latest row of the window (NULL if that row's
                  value is NULL); ties are impossible, the time column is part of the key
    min, max      the smallest / largest non-NULL value
    mean, sum     of the non-NULL values, NULL when there are none (integer and float
                  columns only; mean is float64)
    count         how many values are not NULL

The result is written as another entrypoint (``target``, e.g. ``mkt.features_v__5m``) with
its own manifest chain and schema: a reader that asked for the full-cadence data never
silently receives aggregates. Each derived day is computed from the verified rows of the
source snapshot, and its manifest records the source snapshot, the day hashes it was
computed from, the window and the functions. The full-cadence rows stay until an explicit
retention step drops them. The same source rows give the same derived rows and bytes.

A step of another ``kind`` than ``"columns"`` derives its rows with a :class:`Deriver`
registered under that kind by a package above the lake (``t0lake.vectors`` registers
``"feature_vectors"``: aggregates of FeatureVectors as vectors of a schema version of their
own, in the source's own columns). The lake knows only the hook: the step, its options and
the commit are the same as for column aggregates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl
import pyarrow as pa

from t0lake import hashing
from t0lake._util.canonical_json import canonical_json_bytes
from t0lake._util.durations import parse_duration
from t0lake.errors import ConfigError
from t0lake.lake import log
from t0lake.lake.commit import commit
from t0lake.lake.layout import Tier
from t0lake.lake.manifest import Manifest, Operation
from t0lake.lake.operations import ReplaceDays, committed_hashes
from t0lake.lake.reader import Reader
from t0lake.lake.storage import LakeStorage, check_name
from t0lake.lake.tiers import TierPolicy
from t0lake.lake.writer import write_day

__all__ = [
    "FUNCTIONS",
    "Deriver",
    "Downsample",
    "DownsampleResult",
    "check_step",
    "downsample_entrypoint",
    "downsample_table",
    "register_deriver",
]

FUNCTIONS = ("first", "last", "min", "max", "mean", "sum", "count")
_NUMERIC_ONLY = {"mean", "sum"}
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Downsample:
    """The downsampling step of a tier policy: which days, which window, which functions.

    ``tier``: days whose policy tier on ``as_of`` is this tier or colder are downsampled.
    """

    every: timedelta
    functions: Mapping[str, tuple[str, ...]]
    target: str
    tier: Tier = Tier.COLD
    time_column: str | None = None  # None: the entrypoint's event time column
    kind: str = "columns"  # or the kind of a registered Deriver
    options: Mapping[str, Any] = field(default_factory=dict)  # JSON, for the Deriver

    def __post_init__(self) -> None:
        if self.every <= timedelta(0) or _DAY % self.every != timedelta(0):
            raise ConfigError(
                f"downsample every={self.every} must divide a day (windows are UTC-aligned "
                "and never cross midnight)",
                parameter="every",
                value=str(self.every),
            )
        check_name(self.target)
        if not self.functions:
            raise ConfigError("downsample needs at least one column", parameter="functions")
        for column, names in self.functions.items():
            unknown = [f for f in names if f not in FUNCTIONS]
            if unknown or not names:
                raise ConfigError(
                    f"downsample functions of {column!r} must be some of {', '.join(FUNCTIONS)}"
                    f", got {list(names)}",
                    parameter="functions",
                    column=column,
                )

    @classmethod
    def of(
        cls,
        every: timedelta | str,
        functions: Mapping[str, Sequence[str]],
        target: str,
        tier: Tier | str = Tier.COLD,
        time_column: str | None = None,
    ) -> Downsample:
        """The step from user-facing values (``"5m"``, lists of function names)."""
        return cls(
            every=parse_duration(every, "every"),
            functions={c: tuple(fs) for c, fs in functions.items()},
            target=target,
            tier=Tier(tier),
            time_column=time_column,
        )

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "every_us": self.every // timedelta(microseconds=1),
            "functions": {c: list(fs) for c, fs in sorted(self.functions.items())},
            "target": self.target,
            "tier": self.tier.value,
            "time_column": self.time_column,
        }
        if self.kind != "columns":  # column steps keep the record they always had
            doc["kind"] = self.kind
            doc["options"] = dict(self.options)
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Downsample:
        return cls(
            every=timedelta(microseconds=int(doc["every_us"])),
            functions={str(c): tuple(fs) for c, fs in doc["functions"].items()},
            target=str(doc["target"]),
            tier=Tier(doc.get("tier", "cold")),
            time_column=doc.get("time_column"),
            kind=str(doc.get("kind", "columns")),
            options=dict(doc.get("options", {})),
        )


@dataclass(frozen=True)
class Deriver:
    """How a step of another kind derives a day: ``check`` raises ConfigError before anything
    is written when the step cannot apply to the head; ``derive`` turns one source day's
    verified rows (every column) into the target day's rows, in the source's schema and key."""

    check: Callable[[Downsample, Manifest], None]
    derive: Callable[[pa.Table, Manifest, Downsample], pa.Table]


_DERIVERS: dict[str, Deriver] = {}


def register_deriver(kind: str, deriver: Deriver) -> None:
    """Make steps of ``kind`` derivable (called once by the package that provides it)."""
    if kind == "columns":
        raise ValueError("'columns' is the lake's own kind")
    _DERIVERS[kind] = deriver


def _deriver(kind: str) -> Deriver:
    found = _DERIVERS.get(kind)
    if found is None:
        raise ConfigError(
            f"downsample kind {kind!r} is not known here (import the package that provides it"
            ", e.g. t0lake.vectors for 'feature_vectors')",
            parameter="kind",
            value=kind,
        )
    return found


def check_step(step: Downsample, head: Manifest) -> None:
    """ConfigError unless ``step`` can apply to the entrypoint of ``head`` (a timestamp
    time column in the key, aggregable non-key columns): checked before anything is
    written, so a bad policy never leaves half its work committed."""
    if step.kind != "columns":
        if step.target == head.entrypoint:
            raise ConfigError(
                f"downsample target must be another entrypoint than {head.entrypoint}",
                parameter="target",
                entrypoint=head.entrypoint,
            )
        _deriver(step.kind).check(step, head)
        return
    time_column = step.time_column or head.event_time_col
    if time_column not in head.key:
        raise ConfigError(
            f"downsample needs the time column {time_column!r} in the key {list(head.key)} "
            f"of {head.entrypoint}",
            parameter="time_column",
            entrypoint=head.entrypoint,
            column=time_column,
        )
    kind = head.schema.field(time_column).type
    if not pa.types.is_timestamp(kind):
        raise ConfigError(
            f"downsample windows need a timestamp time column; {time_column!r} of "
            f"{head.entrypoint} is {kind}",
            parameter="time_column",
            entrypoint=head.entrypoint,
            column=time_column,
        )
    if step.target == head.entrypoint:
        raise ConfigError(
            f"downsample target must be another entrypoint than {head.entrypoint}",
            parameter="target",
            entrypoint=head.entrypoint,
        )
    _derived_schema(head.schema, [c for c in head.key if c != time_column], time_column, step)


def _derived_schema(
    source: pa.Schema, by: Sequence[str], time_column: str, step: Downsample
) -> pa.Schema:
    fields = [source.field(c) for c in by] + [source.field(time_column)]
    for column, names in sorted(step.functions.items()):
        if column not in source.names or column in by or column == time_column:
            raise ConfigError(
                f"downsample cannot aggregate {column!r}: it must be a non-key column of the "
                f"source ({', '.join(source.names)})",
                parameter="functions",
                column=column,
            )
        original = source.field(column)
        numeric = pa.types.is_integer(original.type) or pa.types.is_floating(original.type)
        for name in names:
            if name in _NUMERIC_ONLY and not numeric:
                raise ConfigError(
                    f"downsample {name} of {column!r} needs an integer or float column, "
                    f"not {original.type}",
                    parameter="functions",
                    column=column,
                )
            if name == "mean":
                kind = pa.float64()
            elif name == "count":
                kind = pa.int64()
            elif name == "sum":
                kind = pa.int64() if pa.types.is_integer(original.type) else pa.float64()
            else:
                kind = original.type
            metadata = original.metadata if kind == original.type else None
            fields.append(pa.field(f"{column}_{name}", kind, True, metadata))
    fields.append(pa.field("rows", pa.int64(), False))
    return pa.schema(fields)


def downsample_table(
    table: pa.Table, key: Sequence[str], time_column: str, step: Downsample
) -> pa.Table:
    """The aggregates of ``table`` per key and window, in canonical key order (see the
    module docstring for each function)."""
    if time_column not in key:
        raise ConfigError(
            f"downsample needs the time column {time_column!r} in the key {list(key)}",
            parameter="time_column",
            column=time_column,
        )
    kind = table.schema.field(time_column).type
    if not pa.types.is_timestamp(kind):
        raise ConfigError(
            f"downsample windows need a timestamp time column; {time_column!r} is {kind}",
            parameter="time_column",
            column=time_column,
        )
    by = [c for c in key if c != time_column]
    schema = _derived_schema(table.schema, by, time_column, step)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    every_us = step.every // timedelta(microseconds=1)
    epoch = pl.col(time_column).dt.epoch("us")
    window = ((epoch // every_us) * every_us).alias("__window")
    aggregates: list[pl.Expr] = []
    for column, names in sorted(step.functions.items()):
        c = pl.col(column)
        exprs = {
            "first": c.first(),
            "last": c.last(),
            "min": c.min(),
            "max": c.max(),
            "mean": c.cast(pl.Float64).mean(),
            "sum": pl.when(c.count() > 0).then(c.sum()),  # as in SQL: NULL over no values
            "count": c.count(),
        }
        aggregates += [exprs[name].alias(f"{column}_{name}") for name in names]
    aggregates.append(pl.len().alias("rows"))
    grouped = (
        frame.with_columns(window)
        .sort([*by, time_column])
        .group_by([*by, "__window"], maintain_order=True)
        .agg(aggregates)
    )
    arrays = []
    for f in schema:
        if f.name == time_column:
            values = grouped.get_column("__window").to_arrow().cast(pa.int64())
            arrays.append(values.cast(pa.timestamp("us", tz=kind.tz)).cast(kind))
        else:
            arrays.append(grouped.get_column(f.name).to_arrow().cast(f.type))
    result = pa.Table.from_arrays(arrays, schema=schema)
    return hashing.sort_by_key(result, [*by, time_column])


@dataclass(frozen=True)
class DownsampleResult:
    """What one downsampling of one entrypoint committed to its target."""

    entrypoint: str
    target: str
    snapshot_id: int | None
    committed: bool
    days: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def downsample_entrypoint(
    storage: LakeStorage, entrypoint: str, policy: TierPolicy, as_of: date
) -> DownsampleResult | None:
    """Apply ``policy.downsample`` to the entrypoint's head on ``as_of``: every day whose
    tier is the step's tier or colder gets its aggregates in the target entrypoint (days
    whose aggregates the target already holds with the same hash write nothing)."""
    if not policy.downsample:
        return None
    step = Downsample.from_json(policy.downsample)
    head = log.require_head(storage, entrypoint)
    live = head.days()
    chosen = [d for d in sorted(live) if policy.tier_of(d, as_of).rank >= step.tier.rank]
    derive: Callable[[pa.Table], pa.Table]
    if step.kind == "columns":
        time_column = step.time_column or head.event_time_col
        by = [c for c in head.key if c != time_column]
        key = (*by, time_column)
        schema = _derived_schema(head.schema, by, time_column, step)

        def derive(table: pa.Table) -> pa.Table:
            return downsample_table(table, head.key, time_column, step)
    else:
        deriver = _deriver(step.kind)
        deriver.check(step, head)
        time_column, key, schema = head.event_time_col, head.key, head.schema

        def derive(table: pa.Table) -> pa.Table:
            return deriver.derive(table, head, step)

    target_head = log.head(storage, step.target)
    done = committed_hashes(target_head)
    # days computed from the same source content under the same step need no recomputing
    previous: Mapping[str, str] = {}
    if target_head and target_head.certification.get("downsample") == step.to_json():
        previous = target_head.certification["derived_from"]["days"]
    reader = Reader(storage, head)
    names = [f.name for f in head.schema]
    entries = []
    sources = {}
    for day in chosen:
        sources[day.isoformat()] = live[day][1].dataset_hash
        if day in done and previous.get(day.isoformat()) == sources[day.isoformat()]:
            continue
        tables = list(reader.tables(reader.parts(day, day), names, verify=True))
        table = pa.concat_tables(tables) if tables else head.schema.empty_table()
        derived = derive(table)
        hashes = hashing.column_hashes(derived, key)
        digest = hashing.combine(derived.num_rows, key, hashes.values())
        if done.get(day) == digest:
            continue
        entries.append(write_day(storage, step.target, day, derived, key, hashes=hashes))
    if not entries:
        latest = target_head.snapshot_id if target_head else None
        return DownsampleResult(entrypoint, step.target, latest, False)
    spec = step.to_json()
    operation = ReplaceDays(
        entrypoint=step.target,
        schema=schema,
        key=key,
        day_expr=head.day_expr,
        event_time_col=time_column,
        viewdef_hash=hashlib.sha256(
            canonical_json_bytes({"source": head.viewdef_hash, "downsample": spec})
        ).hexdigest(),
        certification={
            "derived_from": {
                "entrypoint": entrypoint,
                "snapshot_id": head.snapshot_id,
                "manifest_sha256": head.sha256,
                "days": sources,
            },
            "downsample": spec,
            "source_certification": dict(head.certification),
        },
        entries=tuple(entries),
        operation=Operation.DOWNSAMPLE,
    )
    new = commit(storage, step.target, operation)
    final = new or log.head(storage, step.target)
    return DownsampleResult(
        entrypoint,
        step.target,
        final.snapshot_id if final else None,
        new is not None,
        [e.days[0].day.isoformat() for e in entries],
    )
