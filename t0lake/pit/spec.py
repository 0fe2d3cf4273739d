"""What a point-in-time join is asked, and every check of its input before a row is joined.

The join fails closed: a bad ``by``, a missing column, key dtypes that differ, a NULL
``t0``, a time column that is not a time or a time zone on one side only is a
``ConfigError`` naming the column, never a silent coercion. The parameters and these
checks live here, apart from loading and the numeric core, so each rule of
``docs/pit-join.md`` ("Types and time zones") has one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from t0lake import lineage
from t0lake._util.durations import parse_positive_duration
from t0lake.errors import ConfigError

__all__ = ["JoinSpec", "check_frames", "check_t0", "check_time_type", "key_kind", "require_columns"]


@dataclass(frozen=True)
class JoinSpec:
    """What the join was asked, parsed once, for the checks, the join and the fingerprint."""

    by: list[str]
    t0: str
    ts: str
    created: str | None
    max_age: timedelta | None
    strict: bool
    known_at: str | None

    @classmethod
    def parse(
        cls,
        by: str | Iterable[str],
        t0: str,
        ts: str,
        created: str | None,
        max_age: timedelta | str | None,
        strict: bool,
        known_at: str | None,
    ) -> JoinSpec:
        """The spec of ``pit_join``'s arguments: ``by`` as a list of distinct names,
        ``t0`` and ``ts`` as names, ``created`` and ``known_at`` as names or None, ``max_age``
        as a positive timedelta and ``strict`` as a bool (ConfigError otherwise)."""
        if not isinstance(strict, bool):  # "no" is truthy: it would silently mean True
            raise ConfigError(
                f"strict must be True or False, got {strict!r}",
                parameter="strict",
                value=repr(strict),
            )
        return cls(
            by=_by_list(by),
            t0=_name(t0, "t0", "the events' time column"),
            ts=_name(ts, "ts", "the features' time column"),
            created=None if created is None else _name(created, "created", "a tie-breaker"),
            max_age=parse_positive_duration(max_age, "max_age") if max_age is not None else None,
            strict=strict,
            known_at=None if known_at is None else _name(known_at, "known_at", "a time column"),
        )

    def record(self) -> lineage.Record:
        """The parameters as a fingerprint records them (max_age in whole microseconds)."""
        return {
            "by": list(self.by),
            "t0": self.t0,
            "ts": self.ts,
            "created": self.created,
            "max_age_us": (
                None if self.max_age is None else self.max_age // timedelta(microseconds=1)
            ),
            "strict": self.strict,
            "known_at": self.known_at,
        }


def _name(value: object, parameter: str, what: str) -> str:
    """A column name given for ``parameter``; ConfigError for anything else (None, a list)."""
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"{parameter} must be the name of a column ({what}), got {value!r}",
            parameter=parameter,
            value=repr(value),
        )
    return value


def _by_list(by: str | Iterable[str]) -> list[str]:
    """``by`` as a list: one name, or any iterable of names (a generator is read once)."""
    try:
        keys = [by] if isinstance(by, str) else list(by)
    except TypeError:  # None, a number
        keys = []
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise ConfigError(
            "by must be a column name or a non-empty list of column names",
            parameter="by",
            value=repr(by),
        )
    if len(set(keys)) != len(keys):
        raise ConfigError(f"by {keys} names a column twice", parameter="by", value=repr(keys))
    return keys


def require_columns(frame_columns: Sequence[str], names: Sequence[str | None], side: str) -> None:
    """ConfigError naming ``side`` and the first of ``names`` (None = not asked for) that is
    not among ``frame_columns``."""
    for name in names:
        if name is not None and name not in frame_columns:
            raise ConfigError(
                f"{side} have no column {name!r} (they have {', '.join(frame_columns)})",
                side=side,
                column=name,
            )


def check_t0(ev: pl.DataFrame, t0: str) -> None:
    """ConfigError with the count and the first row when the events' ``t0`` has a NULL: an
    event without a time cannot be placed."""
    nulls = ev.get_column(t0).null_count()
    if nulls:
        first = int(ev.get_column(t0).is_null().arg_max() or 0)
        raise ConfigError(
            f"events column {t0!r} has {nulls} NULL value(s) (first at row {first}): every "
            "event needs a t0",
            column=t0,
            row=first,
            nulls=nulls,
        )


def check_frames(ev: pl.DataFrame, ft: pl.DataFrame, spec: JoinSpec) -> list[str]:
    """Validate names and types; returns the feature columns of the output."""
    by, t0, ts, created, known_at = spec.by, spec.t0, spec.ts, spec.created, spec.known_at
    require_columns(ev.columns, [*by, t0], "events")
    require_columns(ft.columns, [*by, ts, created, known_at], "features")
    for k in by:
        _same_key_type(k, ev.schema[k], ft.schema[k])
    check_time_type(t0, ev.schema[t0], "events")
    check_time_type(ts, ft.schema[ts], "features")
    _same_zone(t0, ev.schema[t0], ts, ft.schema[ts], "ts")
    if known_at is not None:
        check_time_type(known_at, ft.schema[known_at], "features")
        _same_zone(t0, ev.schema[t0], known_at, ft.schema[known_at], "known_at")
    if created is not None:
        dtype = ft.schema[created]
        if not (dtype.is_integer() or dtype.is_temporal()) or dtype == pl.UInt64:
            raise ConfigError(
                f"features column {created!r} is {dtype}; the tie-breaker must be a time or an "
                "integer (a version number, an insertion time...)",
                column=created,
                dtype=str(dtype),
            )
    out = [c for c in ft.columns if c not in by]
    clash = [c for c in out if c in ev.columns]
    if clash:
        raise ConfigError(
            f"feature column {clash[0]!r} is also an event column; rename one side (the join "
            "never renames or overwrites columns)",
            column=clash[0],
            columns=clash,
        )
    return out


def key_kind(dtype: pl.DataType) -> str:
    """How a ``by`` key compares: ``"integer"`` (by value, any width), ``"string"`` (by
    text: String, Categorical, Enum), otherwise the dtype itself."""
    if dtype.is_integer():
        return "integer"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Categorical | pl.Enum):
        return "string"
    return repr(dtype)


def _same_key_type(name: str, left: pl.DataType, right: pl.DataType) -> None:
    """Integers of any width compare by value, strings by text; anything else must be the
    same dtype. A string key against an integer key is a mistake, not a cast."""
    if left == right or key_kind(left) == key_kind(right) in ("integer", "string"):
        return
    raise ConfigError(
        f"by column {name!r} is {left} in events but {right} in features; cast one side explicitly",
        column=name,
        events_dtype=str(left),
        features_dtype=str(right),
    )


def check_time_type(name: str, dtype: pl.DataType, side: str) -> None:
    """ConfigError unless ``name`` is a Date or Datetime column (on ``side``)."""
    if not isinstance(dtype, pl.Datetime) and dtype != pl.Date:
        raise ConfigError(
            f"{side} column {name!r} is {dtype}; point-in-time columns must be Date or Datetime",
            column=name,
            dtype=str(dtype),
        )


def _zone(dtype: pl.DataType) -> str | None:
    return dtype.time_zone if isinstance(dtype, pl.Datetime) else None


def _same_zone(
    t0: str, t0_type: pl.DataType, other: str, other_type: pl.DataType, role: str
) -> None:
    """Aware against aware compares instants (any zones); naive against naive compares wall
    clocks; one of each has no meaning without a zone the caller must choose."""
    a, b = _zone(t0_type), _zone(other_type)
    if (a is None) == (b is None):
        return
    aware, naive = (t0, other) if a is not None else (other, t0)
    zone = a or b
    raise ConfigError(
        f"{role} column {other!r} is {'naive' if b is None else f'tz-aware ({b})'} but t0 "
        f"column {t0!r} is {'naive' if a is None else f'tz-aware ({a})'}: make both explicit, "
        f"e.g. pl.col({naive!r}).dt.replace_time_zone({zone!r}) or "
        f"pl.col({aware!r}).dt.replace_time_zone(None)",
        column=other,
        t0=t0,
        t0_time_zone=a,
        time_zone=b,
    )
