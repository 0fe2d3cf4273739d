"""Walk-forward splits whose training labels can never reach into their test window.

A backtest trains on the past and tests on the future, and repeats that as the calendar
moves on. Two things leak across that boundary unless the split prevents them:

* **labels** (the *purge*): a training row at ``t0`` whose label is an outcome over
  ``[t0, t0 + label_horizon)`` is only complete once that window has passed. If the window
  reaches into the test window, the model was trained on test-period outcomes. A row on
  day ``d`` has ``t0 < d + 1 day``, so its label is known before ``d + 1 day +
  label_horizon``; the split keeps only training days with
  ``train_end + 1 day + label_horizon <= test_start``, i.e. every training day plus the
  horizon is strictly before ``test_start``.
* **serial correlation** (the *embargo*): features built on trailing windows (7 days,
  30 days) overlap between neighbouring days, so the rows just before a test window
  resemble it more than the horizon accounts for. López de Prado (*Advances in Financial
  Machine Learning*, 7.4) embargoes the training rows that immediately *follow* a test
  window. In a walk-forward split no training row follows its test window (training is
  always earlier), so the embargo is a further gap of ``embargo`` between the purged end
  of training and ``test_start``. A later split may train on an earlier split's test days:
  they are in its past, which is the point of walking forward.

Everything is in whole calendar days of the partition column (``Snapshot.read(start,
end)`` takes the same inclusive bounds). ``label_horizon`` and ``embargo`` may be finer
than a day (``"12h"``) and are rounded *up* to whole days, so rounding can only widen the
gap. ``train``, ``test`` and ``step`` must be whole days.

Layout of split ``k`` (``gap = ceil_days(label_horizon) + ceil_days(embargo)``)::

    train_start .. train_end | gap days | test_start .. test_end
    test_start(k) = start + train + gap + k * step
    train_end(k)  = test_start(k) - gap - 1 day
    train_start(k) = train_end(k) - train + 1 day   (rolling; ``start`` when expanding)

Splits are yielded while ``test_end <= end``: a test window is never cut short and no day
after ``end`` is ever part of a split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl

from t0lake._util import durations
from t0lake._util.days import parse_range, require_day
from t0lake.errors import ConfigError

__all__ = ["Split", "parse_duration", "splits"]

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Split:
    """One walk-forward split. All four bounds are inclusive calendar days, as
    ``Snapshot.read(start, end)`` takes them."""

    index: int
    train_start: date
    train_end: date
    test_start: date
    test_end: date

    @property
    def train_days(self) -> int:
        return (self.train_end - self.train_start).days + 1

    @property
    def test_days(self) -> int:
        return (self.test_end - self.test_start).days + 1

    @property
    def gap_days(self) -> int:
        """Days between training and testing that neither uses (purge + embargo)."""
        return (self.test_start - self.train_end).days - 1

    def in_train(self, column: str) -> pl.Expr:
        """Rows whose ``column`` (a date, or a datetime taken as its calendar day in the
        column's own time zone) falls on a training day."""
        return _day_of(column).is_between(self.train_start, self.train_end, closed="both")

    def in_test(self, column: str) -> pl.Expr:
        """Rows whose ``column`` falls on a test day (see :meth:`in_train`)."""
        return _day_of(column).is_between(self.test_start, self.test_end, closed="both")

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "train_start": self.train_start.isoformat(),
            "train_end": self.train_end.isoformat(),
            "test_start": self.test_start.isoformat(),
            "test_end": self.test_end.isoformat(),
        }


def splits(
    start: date | str,
    end: date | str,
    *,
    train: timedelta | str | int,
    test: timedelta | str | int,
    step: timedelta | str | int | None = None,
    embargo: timedelta | str | int = 0,
    label_horizon: timedelta | str | int = 0,
    expanding: bool = False,
) -> Iterator[Split]:
    """Walk-forward splits over the inclusive days ``start``..``end``.

    ``train``/``test``/``step`` are whole days (``"30d"``, ``"2w"``, a timedelta or an int
    number of days); ``step`` defaults to ``test`` (test windows tile the range).
    ``label_horizon`` is how far past ``t0`` a row's label looks; ``embargo`` an extra
    safety gap (both rounded up to whole days; see the module docstring). With
    ``expanding=True`` every split trains from ``start`` (anchored walk-forward).

    The arguments are checked before anything is yielded: a ConfigError names the
    parameter that is wrong, including a range too short for a single split.
    """
    first, last = parse_range(require_day(start, "start"), require_day(end, "end"))
    assert first is not None and last is not None
    train_days = _whole_days(train, "train")
    test_days = _whole_days(test, "test")
    step_days = test_days if step is None else _whole_days(step, "step")
    horizon_days = _ceil_days(label_horizon, "label_horizon")
    embargo_days = _ceil_days(embargo, "embargo")
    if not isinstance(expanding, bool):
        raise ConfigError(
            f"expanding must be True or False, got {expanding!r}", parameter="expanding"
        )
    gap = horizon_days + embargo_days
    needed = train_days + gap + test_days
    available = (last - first).days + 1
    if needed > available:
        raise ConfigError(
            f"start..end ({first}..{last}, {available} days) is too short for one split: it "
            f"needs train {train_days} + label_horizon {horizon_days} + embargo {embargo_days} "
            f"+ test {test_days} = {needed} days",
            parameter="end",
            available_days=available,
            needed=needed,
        )
    return _walk(first, last, train_days, test_days, step_days, gap, expanding)


def _walk(
    first: date, last: date, train: int, test: int, step: int, gap: int, expanding: bool
) -> Iterator[Split]:
    k = 0
    while True:
        test_start = first + timedelta(days=train + gap + k * step)
        test_end = test_start + timedelta(days=test - 1)
        if test_end > last:
            return
        train_end = test_start - timedelta(days=gap + 1)
        train_start = first if expanding else train_end - timedelta(days=train - 1)
        yield Split(k, train_start, train_end, test_start, test_end)
        k += 1


def parse_duration(value: timedelta | str | int, parameter: str) -> timedelta:
    """A split length: a timedelta, a string such as ``"30d"``, ``"12h"``, ``"2w"``
    (:func:`t0lake._util.durations.parse_duration`), or an int number of days, the unit
    split lengths are counted in."""
    return durations.parse_duration(value, parameter, bare=_DAY)


def _whole_days(value: timedelta | str | int, parameter: str) -> int:
    duration = durations.parse_positive_duration(value, parameter, bare=_DAY)
    if duration % _DAY:
        raise ConfigError(
            f"{parameter} must be whole days (splits are calendar days), got {value!r}",
            parameter=parameter,
            value=str(value),
        )
    return duration // _DAY


def _ceil_days(value: timedelta | str | int, parameter: str) -> int:
    duration = parse_duration(value, parameter)
    if duration < timedelta(0):
        raise ConfigError(
            f"{parameter} must not be negative, got {value!r}",
            parameter=parameter,
            value=str(value),
        )
    return -(-duration // _DAY)  # integer ceiling: rounding only ever widens the gap


def _day_of(column: str) -> pl.Expr:
    return pl.col(column).dt.date()
