"""Calendar days as t0lake's inclusive bounds take them: a ``date`` or ``"2026-11-20"``.

A datetime is refused rather than truncated: a bound of ``2026-11-20 18:00`` has no
meaning for day partitions, and silently dropping the time would move a backtest's edge.
A string is ``YYYY-MM-DD`` in ASCII digits (spaces around it allowed), nothing else:
``date.fromisoformat`` also reads ``20261120`` and week dates like ``2026-W47-5``, and
``str.strip`` would drop control characters a terminal never showed.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from t0lake.errors import ConfigError

__all__ = ["parse_day", "parse_range", "require_day"]

_DAY = re.compile(r" *([0-9]{4}-[0-9]{2}-[0-9]{2}) *", re.ASCII)


def parse_day(value: date | str | None, parameter: str) -> date | None:
    """An inclusive bound as a date (None stays None: unbounded); ConfigError naming
    ``parameter`` for anything that is not a calendar day."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str) and (text := _DAY.fullmatch(value)):
        try:
            return date.fromisoformat(text.group(1))
        except ValueError:  # 2026-02-30
            pass
    raise ConfigError(
        f"{parameter} must be a date like 2026-11-20, got {value!r}",
        parameter=parameter,
        value=str(value),  # the text given, not its Python repr (JSON output shows it as is)
    )


def require_day(value: date | str, parameter: str) -> date:
    """:func:`parse_day` for a bound that must be given."""
    day = parse_day(value, parameter)
    if day is None:
        raise ConfigError(f"{parameter} is required", parameter=parameter)
    return day


def parse_range(
    start: date | str | None, end: date | str | None
) -> tuple[date | None, date | None]:
    """Inclusive ``start``..``end`` (None is unbounded); ConfigError when start is after end."""
    first, last = parse_day(start, "start"), parse_day(end, "end")
    if first and last and first > last:
        raise ConfigError(
            f"start {first} is after end {last}",
            parameter="end",
            start=first.isoformat(),
            end=last.isoformat(),
        )
    return first, last
