"""The tier policy: whole months leave hot, whole years go cold, decided by ``as_of`` only."""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from t0lake.errors import ConfigError, IntegrityError
from t0lake.lake.layout import Tier
from t0lake.lake.storage import open_storage
from t0lake.lake.tiers import (
    DEFAULT_POLICY,
    TierPolicy,
    load_policy,
    partition_of,
    policy_path,
    save_policy,
    unit_of,
)
from t0lake.lake.writer import WriterOptions

ORDER = {Tier.HOT: 0, Tier.WARM: 1, Tier.COLD: 2}
dates = st.dates(date(2020, 1, 1), date(2030, 12, 31))


def reference_tier(policy: TierPolicy, day: date, as_of: date) -> Tier:
    """The rule as docs/lake-format.md states it, spelled out differently."""
    last = date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
    if last + timedelta(days=policy.hot_days) > as_of:
        return Tier.HOT
    december = date(day.year, 12, 1)
    if (december.year, december.month) > (as_of.year, as_of.month):
        return Tier.WARM  # the year is not over: never cold, whatever warm_months says
    months = 0
    cursor = december
    while (cursor.year, cursor.month) < (as_of.year, as_of.month):
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
        months += 1
    return Tier.COLD if months >= policy.warm_months else Tier.WARM


def test_the_defaults_on_a_known_date() -> None:
    as_of = date(2026, 12, 1)
    assert DEFAULT_POLICY.tier_of(date(2026, 11, 30), as_of) == Tier.HOT
    assert DEFAULT_POLICY.tier_of(date(2026, 11, 1), as_of) == Tier.HOT  # its month not over
    assert DEFAULT_POLICY.tier_of(date(2026, 10, 31), as_of) == Tier.WARM  # 31 days ago
    assert DEFAULT_POLICY.tier_of(date(2026, 1, 1), as_of) == Tier.WARM
    assert DEFAULT_POLICY.tier_of(date(2025, 12, 31), as_of) == Tier.COLD  # Dec 2025: 12 back
    assert DEFAULT_POLICY.tier_of(date(2027, 1, 1), as_of) == Tier.HOT  # the future is hot


@example(day=date(2020, 1, 1), as_of=date(2020, 1, 31), hot=0, warm=0)  # December ahead
@given(day=dates, as_of=dates, hot=st.integers(0, 120), warm=st.integers(0, 36))
def test_tier_of_matches_the_stated_rule(day: date, as_of: date, hot: int, warm: int) -> None:
    policy = TierPolicy(hot_days=hot, warm_months=warm)
    assert policy.tier_of(day, as_of) == reference_tier(policy, day, as_of)


@given(day=dates, as_of=dates, current=st.sampled_from(list(Tier)))
def test_compaction_never_moves_a_day_hotter(day: date, as_of: date, current: Tier) -> None:
    target = DEFAULT_POLICY.target(day, current, as_of)
    assert ORDER[target] >= ORDER[current]
    assert ORDER[target] >= ORDER[DEFAULT_POLICY.tier_of(day, as_of)]


@given(day=dates, as_of=dates)
def test_a_unit_moves_whole(day: date, as_of: date) -> None:
    """Every day of a month has the month's tier: a month file is written complete."""
    tier = DEFAULT_POLICY.tier_of(day, as_of)
    first = unit_of(day, Tier.WARM)
    assert DEFAULT_POLICY.tier_of(first, as_of) == tier


def test_units_and_partitions() -> None:
    day = date(2025, 7, 19)
    assert unit_of(day, Tier.HOT) == day and partition_of(day, Tier.HOT) == "day=2025-07-19"
    assert partition_of(unit_of(day, Tier.WARM), Tier.WARM) == "month=2025-07"
    assert partition_of(unit_of(day, Tier.COLD), Tier.COLD) == "year=2025"


def test_each_tier_has_its_own_frozen_writer_options() -> None:
    options = {t: DEFAULT_POLICY.options(t) for t in Tier}
    assert len({o.to_json()["compression_level"] for o in options.values()}) == 3
    assert options[Tier.COLD].compression_level > options[Tier.WARM].compression_level
    with pytest.raises(AttributeError):
        options[Tier.HOT].compression_level = 5  # type: ignore[misc]


def test_the_policy_round_trips_through_its_record() -> None:
    policy = replace(
        DEFAULT_POLICY, hot_days=7, warm_months=3, cold=WriterOptions(compression_level=15)
    )
    assert TierPolicy.from_json(policy.to_json()) == policy
    with pytest.raises(ValueError, match="unknown"):
        TierPolicy.from_json({**policy.to_json(), "hot_dayz": 1})


@pytest.mark.parametrize("bad", [-1, 1.5, True, "30"])
def test_bad_policy_values_are_refused(bad: object) -> None:
    with pytest.raises(ConfigError, match="hot_days"):
        TierPolicy(hot_days=bad)  # type: ignore[arg-type]


def test_the_policy_lives_in_the_lake(tmp_path: object) -> None:
    storage = open_storage(f"{tmp_path}/lake")
    assert load_policy(storage, "a.b") == DEFAULT_POLICY
    policy = TierPolicy(hot_days=10, warm_months=2)
    save_policy(storage, "a.b", policy)
    assert load_policy(storage, "a.b") == policy
    assert load_policy(storage, "a.c") == DEFAULT_POLICY
    storage.write_bytes(policy_path("a.b"), b"{not json")
    with pytest.raises(IntegrityError, match="not a valid policy"):
        load_policy(storage, "a.b")
