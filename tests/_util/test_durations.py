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
    with pytest.raises(ConfigError, match=r"max_age must (be positive|not be negative)"):
        parse_positive_duration(bad, "max_age")
    assert parse_positive_duration("1ms", "max_age") == timedelta(milliseconds=1)


@pytest.mark.parametrize("bad", [timedelta(seconds=-1), -1])
def test_no_duration_is_negative(bad: timedelta | int) -> None:
    """An age or a grace period below zero would mean "in the future": expire's
    ``older_than=-1`` used to be accepted."""
    with pytest.raises(ConfigError, match="older_than must not be negative"):
        parse_duration(bad, "older_than", bare=timedelta(days=1))
    assert parse_duration(0, "older_than", bare=timedelta(days=1)) == timedelta(0)


@pytest.mark.parametrize(
    "bad",
    [
        "\u0663d",  # ARABIC-INDIC DIGIT THREE: \d takes it, int() reads it as 3
        "\uff13d",  # FULLWIDTH DIGIT THREE
        "3d\n",
        "\t3d",
        "1h\x0030m",
        "1h\x1f30m",
        "3\u00a0d",  # no-break space
        "3\u017f",  # LATIN SMALL LETTER LONG S: 's' under a Unicode IGNORECASE
    ],
)
def test_only_ascii_digits_units_and_spaces(bad: str) -> None:
    with pytest.raises(ConfigError, match="embargo must be a duration") as info:
        parse_duration(bad, "embargo")
    assert info.value.context == {"parameter": "embargo", "value": bad}


@pytest.mark.parametrize(
    ("bad", "bare"),
    [
        ("1000000000d", None),  # timedelta's OverflowError before
        ("36526d", None),
        ("5219w", None),
        ("1" * 400 + "s", None),  # a float of it is inf
        ("876601h", None),
        (timedelta(days=36526), None),
        (-timedelta(days=36526), None),
        (10**12, timedelta(days=1)),  # OverflowError before
        pytest.param(10**400, timedelta(milliseconds=1), id="400-digit-int"),  # no float holds it
        (36526, timedelta(days=1)),
    ],
)
def test_durations_longer_than_100_years_are_refused(bad: object, bare: timedelta | None) -> None:
    with pytest.raises(ConfigError, match=r"max_age must be at most 100 years \(36525d\)") as info:
        parse_duration(bad, "max_age", bare=bare)  # type: ignore[arg-type]
    assert info.value.context["parameter"] == "max_age"


def test_100_years_is_the_longest_duration() -> None:
    assert parse_duration("36525d", "x") == timedelta(days=36525)
    assert parse_duration("100000h", "x") == timedelta(hours=100000)
    assert parse_duration(36525, "x", bare=timedelta(days=1)) == timedelta(days=36525)
    assert parse_positive_duration(timedelta(days=36525), "x") == timedelta(days=36525)
