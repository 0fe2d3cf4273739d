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


@pytest.mark.parametrize(
    "bad",
    [
        "20261120",  # date.fromisoformat reads these ISO forms too
        "2026-W47-5",
        "2026-324",
        "2026-11-20\n",  # str.strip() dropped the control characters
        "\x1c2026-11-20",
        "\t2026-11-20",
        "2026-11-20\u00a0",
        "\uff12026-11-20",  # a FULLWIDTH DIGIT ONE
        "2026-02-30",
    ],
)
def test_a_day_is_yyyy_mm_dd_in_ascii_digits(bad: str) -> None:
    with pytest.raises(ConfigError, match="start must be a date like 2026-11-20") as info:
        parse_day(bad, "start")
    assert info.value.context == {"parameter": "start", "value": bad}
