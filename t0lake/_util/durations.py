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

Numbers are ASCII digits and the only blank is a space: the classes ``\\d`` and ``\\s`` of
regular expressions would take Arabic-Indic digits, tabs and newlines, which no one types
on purpose and a terminal may not even show. Every duration is at most
:data:`MAX_DURATION` (100 years): a longer one is a typo (``1000000000d``), and past it
``timedelta`` arithmetic overflows.
"""

from __future__ import annotations

import re
from datetime import timedelta

from t0lake.errors import ConfigError

__all__ = ["MAX_DURATION", "parse_duration", "parse_positive_duration"]

MAX_DURATION = timedelta(days=36525)  # 100 years
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?) *(ms|s|m|h|d|w)", re.IGNORECASE | re.ASCII)
_WHOLE = re.compile(rf" *(?:{_PART.pattern} *)+", re.IGNORECASE | re.ASCII)
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
        duration: float = value / timedelta(seconds=1)
    elif bare is not None and isinstance(value, int) and not isinstance(value, bool):
        # compared before any float: an int of 400 digits has none
        duration = value if abs(value) <= MAX_DURATION // bare else float("inf")
        duration *= bare / timedelta(seconds=1)
    elif isinstance(value, str) and _WHOLE.fullmatch(value):
        parts = [(float(n), _UNIT[unit.lower()]) for n, unit in _PART.findall(value)]
        duration = sum(n * (unit / timedelta(seconds=1)) for n, unit in parts)  # inf if huge
    else:
        number = f" or a number of {_UNIT_NAME.get(bare, str(bare))}" if bare is not None else ""
        raise ConfigError(
            f"{parameter} must be a duration like 90s, 15m, 24h, 7d or 2w (digits 0-9, a unit, "
            f"spaces allowed; or a timedelta{number}), got {value!r}",
            parameter=parameter,
            value=str(value),
        )
    if abs(duration) > MAX_DURATION / timedelta(seconds=1):
        raise ConfigError(
            f"{parameter} must be at most 100 years ({MAX_DURATION.days}d), got {value!r}",
            parameter=parameter,
            value=str(value),
        )
    if duration < 0:  # an age or a grace period is never negative
        raise ConfigError(
            f"{parameter} must not be negative, got {value!r}",
            parameter=parameter,
            value=str(value),
        )
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and bare is not None:
        return value * bare
    return sum((n * unit for n, unit in parts), timedelta(0))


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
