"""Provenance of the frames t0lake hands out, and the fingerprint that identifies them.

A training set is reproducible only if one can say exactly what it was built from: which
snapshot, which certified days (by content hash), which view definitions, which join
parameters, which t0lake. Each frame t0lake returns gets such a *record* (a JSON-ready
dict), and its fingerprint is the sha256 of the record's canonical JSON (sorted keys, no
whitespace, ASCII). Building the same frame from the same snapshot gives the same record,
so the same fingerprint; any change of input rows, days, views, parameters or version
changes it.

Records live in a side table keyed by the frame's ``id`` and cleared by
``weakref.finalize`` when the frame is collected (so an id reused by a later frame never
inherits a record), guarded by a weak reference that must still point at the same object.
Nothing is stored on the user's frame. A frame derived from a t0lake frame (``filter``,
``with_columns``...) is a new object and has no fingerprint: t0lake cannot vouch for it.

Records of plain in-memory inputs need content hashes, which cost a pass over the data;
they are computed on the first :func:`frame_fingerprint` call, from zero-copy clones of the
inputs taken at join time, not on every join.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

from t0lake._util.canonical_json import canonical_json
from t0lake._version import __version__
from t0lake.errors import ConfigError, UnsupportedTypeError

__all__ = [
    "Fingerprint",
    "attach",
    "frame_fingerprint",
    "frame_record",
    "pit_record",
    "version",
]

Record = dict[str, Any]


@dataclass(frozen=True)
class Fingerprint:
    """One hash plus the record it is the hash of; equal records, equal hashes."""

    hash: str
    record: Record = field(compare=False)

    def to_json(self) -> str:
        """The fingerprint and its record as canonical JSON, to store beside a model."""
        return canonical_json({"fingerprint": self.hash, "record": self.record})

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Fingerprint:
        plain = json.loads(canonical_json(record))  # a detached, JSON-exact copy
        return cls(hashlib.sha256(canonical_json(plain).encode()).hexdigest(), plain)


# --------------------------------------------------------------------------- side table


@dataclass
class _Entry:
    ref: weakref.ref[pl.DataFrame]
    shape: tuple[int, tuple[tuple[str, str], ...]]
    make: Callable[[], Record]
    fingerprint: Fingerprint | None = None


_TABLE: dict[int, _Entry] = {}
_LOCK = threading.Lock()


def _shape(df: pl.DataFrame) -> tuple[int, tuple[tuple[str, str], ...]]:
    return df.height, tuple((name, str(dtype)) for name, dtype in df.schema.items())


def _forget(key: int, entry: _Entry) -> None:
    with _LOCK:
        if _TABLE.get(key) is entry:
            del _TABLE[key]


def attach(df: pl.DataFrame, record: Record | Callable[[], Record]) -> pl.DataFrame:
    """Record the provenance of ``df`` (a frame t0lake is about to return) and return it.

    ``record`` is the record itself or a function building it on first use (for records
    that need content hashes). Attaching again replaces the record.
    """
    make: Callable[[], Record] = record if callable(record) else (lambda: record)
    entry = _Entry(weakref.ref(df), _shape(df), make)
    key = id(df)
    with _LOCK:
        _TABLE[key] = entry
    weakref.finalize(df, _forget, key, entry)
    return df


def _entry(df: pl.DataFrame) -> _Entry | None:
    """The live record of a frame t0lake returned and nobody changed since, or None."""
    with _LOCK:
        entry = _TABLE.get(id(df))
    if entry is None or entry.ref() is not df or entry.shape != _shape(df):
        return None
    return entry


def frame_fingerprint(df: pl.DataFrame) -> Fingerprint:
    """The fingerprint of a frame t0lake returned (``pit_join``, snapshot reads).

    ConfigError for any other frame, including one derived from a t0lake frame or changed
    in place since (new or dropped columns, other dtypes or length), because its
    provenance is no longer what the record says.
    """
    with _LOCK:
        entry = _TABLE.get(id(df))
    if entry is None or entry.ref() is not df:
        raise ConfigError(
            "this frame was not produced by t0lake (or is derived from one), so it has no "
            "fingerprint; take the fingerprint of the frame pit_join or a snapshot read returned"
        )
    if entry.shape != _shape(df):
        raise ConfigError(
            "this frame was changed in place after t0lake returned it, so its fingerprint "
            "no longer describes it"
        )
    return _fingerprint(entry)


def _fingerprint(entry: _Entry) -> Fingerprint:
    """Built outside the lock: a record may need the records of its inputs first."""
    if entry.fingerprint is None:
        fingerprint = Fingerprint.of(entry.make())
        with _LOCK:
            if entry.fingerprint is None:
                entry.fingerprint = fingerprint
    return entry.fingerprint


# --------------------------------------------------------------------------- records


def version() -> str:
    """The t0lake version every record names (a new version may encode differently)."""
    return __version__


def frame_record(df: pl.DataFrame) -> Record:
    """The record of an in-memory frame: its rows and columns by content hash, in row order
    (event order matters to a join's output, so it is part of the identity)."""
    table = df.to_arrow()
    columns = [_column_hash(table, f) for f in table.schema]
    digest = hashlib.sha256(canonical_json(columns).encode()).hexdigest()
    return {"kind": "frame", "rows": table.num_rows, "columns": columns, "content_hash": digest}


def _column_hash(table: pa.Table, f: pa.Field) -> list[str]:
    """[name, type, digest] with t0lake's canonical column encoding; a type it has no
    encoding for (nested, dictionary...) is hashed from its Arrow IPC stream instead."""
    from t0lake import hashing  # here: a join that nobody fingerprints never imports it

    column = table.column(f.name)
    try:
        h = hashing.column_hash(f.name, column, f)
        return [f.name, h.type, h.digest]
    except UnsupportedTypeError:
        sink = pa.BufferOutputStream()
        one = pa.table({f.name: column.combine_chunks()})
        with pa.ipc.new_stream(sink, one.schema) as writer:
            writer.write_table(one)
        return [f.name, f"arrow-ipc:{f.type}", hashlib.sha256(sink.getvalue()).hexdigest()]


def pit_record(
    events: pl.DataFrame,
    features: Record | pl.DataFrame,
    params: Mapping[str, Any],
) -> Callable[[], Record]:
    """The (lazily built) record of a point-in-time join: its inputs and parameters.

    An input that is itself a t0lake frame (a snapshot read, an earlier join whose result
    now gets more features) is recorded by its own record, so chains of joins keep the
    whole lineage down to snapshot days; any other frame by its content hash."""
    event_source = _source(events)
    feature_source: Callable[[], Record]
    if isinstance(features, dict):
        record = features
        feature_source = lambda: record  # noqa: E731
    else:
        feature_source = _source(features)

    def make() -> Record:
        return {
            "kind": "pit_join",
            "events": event_source(),
            "features": feature_source(),
            "params": dict(params),
            "t0lake_version": version(),
        }

    return make


def _source(df: pl.DataFrame) -> Callable[[], Record]:
    """How to record an input later: by its t0lake record if it has one, otherwise by the
    content of a zero-copy clone taken now (immune to the caller's later in-place edits)."""
    entry = _entry(df)
    if entry is not None:
        return lambda: _fingerprint(entry).record
    clone = df.clone()
    return lambda: frame_record(clone)
