"""Inclusive day bounds: dates and ISO strings pass, anything else is refused by name."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from t0lake._util.days import parse_day
from t0lake.errors import ConfigError


def test_days() -> None:
    assert parse_day(date(2026, 11, 20), "start") == date(2026, 11, 20)
    assert parse_day(" 2026-11-20 ", "start") == date(2026, 11, 20)
    assert parse_day(None, "start") is None


@pytest.mark.parametrize("bad", ["2026-13-01", "20.11.2026", "", datetime(2026, 11, 20, 18), 20])
def test_refusals_name_the_bound(bad: object) -> None:
    with pytest.raises(ConfigError, match="end must be a date") as info:
        parse_day(bad, "end")  # type: ignore[arg-type]
    assert info.value.context["parameter"] == "end"
