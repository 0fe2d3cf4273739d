"""Walk-forward splits: a brute-force reference over sets of days, the leak properties at
datetime precision (not in rounded days), concrete examples and the refusals."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from t0lake.backtest import Split, parse_duration, splits
from t0lake.errors import ConfigError

DAY = timedelta(days=1)


def reference(
    start: date,
    end: date,
    train: int,
    test: int,
    step: int,
    horizon: timedelta,
    embargo: timedelta,
    expanding: bool,
) -> list[tuple[list[date], list[date]]]:
    """Split by looking at every calendar day: a test window is `test` consecutive days
    starting every `step` days; training is every day whose latest possible row (23:59:59.999999)
    plus the horizon is strictly before the test window, and whose day ends at least the
    embargo before it; of those the last `train` (or all when expanding)."""
    days = [start + i * DAY for i in range((end - start).days + 1)]
    out = []
    test_first = None
    # the first test window: the earliest day that leaves `train` eligible training days
    for i, d in enumerate(days):
        eligible = [x for x in days[:i] if _clean(x, d, horizon, embargo)]
        if len(eligible) >= train:
            test_first = i
            break
    if test_first is None:
        return []
    i = test_first
    while i + test <= len(days):
        test_days = days[i : i + test]
        eligible = [x for x in days[:i] if _clean(x, days[i], horizon, embargo)]
        train_days = eligible if expanding else eligible[-train:]
        out.append((train_days, test_days))
        i += step
    return out


def _clean(day: date, test_start: date, horizon: timedelta, embargo: timedelta) -> bool:
    """No row of `day` has a label reaching the test window, nor ends within the embargo."""
    last_row = datetime.combine(day, time.max)
    boundary = datetime.combine(test_start, time.min)
    gap_start = datetime.combine(day + DAY, time.min)  # the first instant after the day
    return last_row + horizon < boundary and gap_start + _ceil(horizon) + embargo <= boundary


def _ceil(td: timedelta) -> timedelta:
    return -(-td // DAY) * DAY


def _days(a: date, b: date) -> list[date]:
    return [a + i * DAY for i in range((b - a).days + 1)]


durations = st.integers(min_value=0, max_value=96).map(lambda h: timedelta(hours=h))


@settings(max_examples=400, deadline=None)
@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    span=st.integers(min_value=0, max_value=120),
    train=st.integers(min_value=1, max_value=40),
    test=st.integers(min_value=1, max_value=20),
    step=st.integers(min_value=1, max_value=20),
    horizon=durations,
    embargo=durations,
    expanding=st.booleans(),
)
def test_splits_match_the_day_by_day_reference_and_never_leak(
    start: date,
    span: int,
    train: int,
    test: int,
    step: int,
    horizon: timedelta,
    embargo: timedelta,
    expanding: bool,
) -> None:
    end = start + span * DAY
    expected = reference(start, end, train, test, step, horizon, embargo, expanding)
    kwargs = dict(
        train=f"{train}d",
        test=timedelta(days=test),
        step=step,
        label_horizon=horizon,
        embargo=embargo,
        expanding=expanding,
    )
    if not expected:
        with pytest.raises(ConfigError) as err:
            splits(start, end, **kwargs)  # type: ignore[arg-type]
        assert err.value.context["parameter"] == "end"
        return
    got = list(splits(start, end, **kwargs))  # type: ignore[arg-type]
    assert [(_days(s.train_start, s.train_end), _days(s.test_start, s.test_end)) for s in got] == (
        expected
    )
    for k, s in enumerate(got):
        assert s.index == k
        train_days, test_days = _days(s.train_start, s.train_end), _days(s.test_start, s.test_end)
        assert len(test_days) == test and s.test_days == test
        if expanding:
            assert s.train_start == start and len(train_days) >= train
        else:
            assert len(train_days) == s.train_days == train
        assert not set(train_days) & set(test_days)
        boundary = datetime.combine(s.test_start, time.min)
        for d in train_days:  # the purge, at microsecond precision
            assert datetime.combine(d, time.max) + horizon < boundary
        assert s.gap_days * DAY == _ceil(horizon) + _ceil(embargo) >= horizon + embargo
        assert start <= s.train_start and s.test_end <= end  # nothing outside the range
        if k:
            assert s.test_start - got[k - 1].test_start == step * DAY  # marches by step
    assert got[0].train_start == start  # as early as possible
    assert got[-1].test_end + step * DAY > end  # and as many as fit


def test_concrete_rolling_splits_with_purge_and_embargo() -> None:
    got = list(
        splits("2026-01-01", "2026-01-19", train="5d", test="2d", label_horizon="1d", embargo="1d")
    )
    assert [s.to_dict() for s in got[:2]] == [
        {
            "index": 0,
            "train_start": "2026-01-01",
            "train_end": "2026-01-05",
            "test_start": "2026-01-08",
            "test_end": "2026-01-09",
        },
        {
            "index": 1,
            "train_start": "2026-01-03",
            "train_end": "2026-01-07",
            "test_start": "2026-01-10",
            "test_end": "2026-01-11",
        },
    ]
    assert len(got) == 6 and got[-1].test_end == date(2026, 1, 19)
    assert {s.gap_days for s in got} == {2}


def test_a_sub_day_horizon_is_rounded_up_to_a_whole_day() -> None:
    # A row at 23:00 with a 2-hour label is complete only the next day: one day of purge.
    (first, *_) = splits(date(2026, 1, 1), date(2026, 1, 10), train=3, test=2, label_horizon="2h")
    assert (first.train_end, first.test_start) == (date(2026, 1, 3), date(2026, 1, 5))
    (nogap, *_) = splits(date(2026, 1, 1), date(2026, 1, 10), train=3, test=2)
    assert (nogap.train_end, nogap.test_start) == (date(2026, 1, 3), date(2026, 1, 4))


def test_expanding_splits_train_from_the_start_and_overlapping_tests_are_allowed() -> None:
    got = list(splits("2026-01-01", "2026-01-10", train="3d", test="3d", step="1d", expanding=True))
    assert [s.train_start for s in got] == [date(2026, 1, 1)] * 5
    assert [s.train_days for s in got] == [3, 4, 5, 6, 7]
    assert got[-1].test_end == date(2026, 1, 10)


def test_exactly_one_split_fits_and_the_last_day_is_tested() -> None:
    (only,) = splits(
        "2026-01-01", "2026-01-10", train="7d", test="1d", label_horizon="1d", embargo=1
    )
    assert (only.train_end, only.test_start, only.test_end) == (
        date(2026, 1, 7),
        date(2026, 1, 10),
        date(2026, 1, 10),
    )


def test_split_filters_select_training_and_test_rows_by_calendar_day() -> None:
    split = Split(0, date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 4), date(2026, 1, 4))
    frame = pl.DataFrame(
        {
            "t0": [
                datetime(2026, 1, 1, 0, 0),
                datetime(2026, 1, 2, 23, 59, 59),
                datetime(2026, 1, 3, 12),
                datetime(2026, 1, 4, 0, 0),
                datetime(2026, 1, 5, 0, 0),
            ]
        }
    ).with_columns(day=pl.col("t0").dt.date())
    assert frame.filter(split.in_train("t0")).height == 2
    assert frame.filter(split.in_test("t0"))["t0"].to_list() == [datetime(2026, 1, 4)]
    assert frame.filter(split.in_train("day")).height == 2


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"train": "0d"}, "train"),
        ({"train": "-3d"}, "train"),
        ({"train": "12h"}, "train"),
        ({"train": "thirty days"}, "train"),
        ({"test": 0}, "test"),
        ({"step": "0d"}, "step"),
        ({"step": timedelta(days=-1)}, "step"),
        ({"embargo": timedelta(hours=-1)}, "embargo"),
        ({"label_horizon": "soon"}, "label_horizon"),
        ({"train": True}, "train"),
        ({"start": "2026-13-01"}, "start"),
        ({"start": datetime(2026, 1, 1)}, "start"),
        ({"end": "2025-12-31"}, "end"),
        ({"end": "2026-01-10"}, "end"),  # 10 days; one split needs 7 + 1 + 1 + 2 = 11
        ({"train": "28d"}, "end"),
        ({"expanding": "yes"}, "expanding"),
    ],
)
def test_bad_input_is_a_config_error_naming_the_parameter(
    kwargs: dict[str, object], parameter: str
) -> None:
    args: dict[str, object] = {
        "start": "2026-01-01",
        "end": "2026-01-31",
        "train": "7d",
        "test": "2d",
        "step": None,
        "label_horizon": "1d",
        "embargo": "1d",
        **kwargs,
    }
    with pytest.raises(ConfigError) as err:
        splits(**args)  # type: ignore[arg-type]
    assert err.value.context["parameter"] == parameter
    assert parameter in err.value.message


def test_errors_are_raised_before_iteration() -> None:
    # the checks are not deferred to the first next(): a bad call fails where it is written
    with pytest.raises(ConfigError):
        splits("2026-01-01", "2026-01-03", train="7d", test="1d")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        ("12h", timedelta(hours=12)),
        (" 1.5d ", timedelta(hours=36)),
        (7, timedelta(days=7)),
        (timedelta(minutes=5), timedelta(minutes=5)),
    ],
)
def test_parse_duration(text: object, expected: timedelta) -> None:
    assert parse_duration(text, "x") == expected  # type: ignore[arg-type]
