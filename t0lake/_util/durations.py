"""Durations as people type them: ``"90s"``, ``"15m"``, ``"24h"``, ``"7d"``, ``"2w"``,
``"1.5d"``, ``"1h30m"``, ``"250ms"``.

One grammar for every option that takes a duration (``max_age``, ``label_horizon``,
``embargo``, training windows, ``every``, ...), so ``7d`` means the same wherever it is
typed, and a typo is an error naming the parameter: a mistyped age must never silently mean
zero or forever.

A bare number has no unit, so it is refused, except where a parameter documents its unit
(split lengths count days, a FeatureVector bucket counts milliseconds): the caller passes
that unit as ``bare``, and the number means that many of it. That is the only difference
between parameters; the text grammar is the same everywhere.
"""

from __future__ import annotations

import re
from datetime import timedelta

from t0lake.errors import ConfigError

__all__ = ["parse_duration", "parse_positive_duration"]

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_WHOLE = re.compile(rf"\s*(?:{_PART.pattern}\s*)+", re.IGNORECASE)
_UNIT = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_UNIT_NAME = {v: k for k, v in _UNIT.items()}


def parse_duration(
    value: timedelta | str | int, parameter: str, *, bare: timedelta | None = None
) -> timedelta:
    """A timedelta from a timedelta or a duration string (units ms, s, m, h, d, w; parts
    may be combined, as in ``1h30m``), or from an int when the parameter's unit ``bare`` is
    given. ConfigError naming ``parameter`` otherwise."""
    if isinstance(value, timedelta):
        return value
    if bare is not None and isinstance(value, int) and not isinstance(value, bool):
        return value * bare
    if isinstance(value, str) and _WHOLE.fullmatch(value):
        return sum(
            (float(n) * _UNIT[unit.lower()] for n, unit in _PART.findall(value)), timedelta(0)
        )
    number = f" or a number of {_UNIT_NAME.get(bare, str(bare))}" if bare is not None else ""
    raise ConfigError(
        f"{parameter} must be a duration like 90s, 15m, 24h, 7d or 2w (or a timedelta"
        f"{number}), got {value!r}",
        parameter=parameter,
        value=str(value),
    )


def parse_positive_duration(
    value: timedelta | str | int, parameter: str, *, bare: timedelta | None = None
) -> timedelta:
    """:func:`parse_duration`, refusing zero and negative durations (an age limit of zero
    would silently match nothing)."""
    duration = parse_duration(value, parameter, bare=bare)
    if duration <= timedelta(0):
        raise ConfigError(
            f"{parameter} must be positive, got {value!r}", parameter=parameter, value=str(value)
        )
    return duration
