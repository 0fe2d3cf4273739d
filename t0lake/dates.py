"""Calendar days as t0lake's inclusive bounds take them: a ``date`` or ``"2026-11-20"``.

A datetime is refused rather than truncated: a bound of ``2026-11-20 18:00`` has no
meaning for day partitions, and silently dropping the time would move a backtest's edge.
"""

from __future__ import annotations

from datetime import date, datetime

from t0lake.errors import ConfigError

__all__ = ["parse_day"]


def parse_day(value: date | str | None, parameter: str) -> date | None:
    """An inclusive bound as a date (None stays None: unbounded); ConfigError naming
    ``parameter`` for anything that is not a calendar day."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(
        f"{parameter} must be a date like 2026-11-20, got {value!r}",
        parameter=parameter,
        value=repr(value),
    )
