"""One duration grammar for every option: units, combinations, and refusals that name the
parameter."""

from __future__ import annotations

from datetime import timedelta

import pytest

from t0lake._util.durations import parse_duration, parse_positive_duration
from t0lake.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250ms", timedelta(milliseconds=250)),
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        (" 2W ", timedelta(weeks=2)),
        ("1.5d", timedelta(hours=36)),
        ("1h30m", timedelta(minutes=90)),
        ("1d 12h", timedelta(hours=36)),
        ("0s", timedelta(0)),
        (timedelta(minutes=5), timedelta(minutes=5)),
    ],
)
def test_durations(text: str | timedelta, expected: timedelta) -> None:
    assert parse_duration(text, "x") == expected


@pytest.mark.parametrize("bad", ["", "24", "1y", "-1h", "h", "1h-", "1h 2", "5 mins", 5, None])
def test_refusals_name_the_parameter(bad: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration(bad, "label_horizon")  # type: ignore[arg-type]
    assert info.value.context["parameter"] == "label_horizon"
    assert "label_horizon" in info.value.message


@pytest.mark.parametrize("bad", ["0s", timedelta(0), timedelta(seconds=-1)])
def test_positive_durations_refuse_zero_and_less(bad: str | timedelta) -> None:
    with pytest.raises(ConfigError, match="max_age must be positive"):
        parse_positive_duration(bad, "max_age")
    assert parse_positive_duration("1ms", "max_age") == timedelta(milliseconds=1)
