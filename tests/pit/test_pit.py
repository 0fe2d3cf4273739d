"""pit_join: exactly the brute-force reference, and each feature-store complaint refused."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import t0lake
from t0lake.errors import ConfigError
from tests.lakecases import EP, day_file, tamper_one_value
from tests.pit_reference import pit_reference

BASE = datetime(2026, 3, 1, 12, 0)

# --------------------------------------------------------------------------- property test

# time dtypes the property test runs over: (polars dtype, step between generated values)
TIME_TYPES: list[tuple[pl.DataType, timedelta]] = [
    (pl.Datetime("us"), timedelta(minutes=1)),
    (pl.Datetime("ms"), timedelta(seconds=1)),
    (pl.Datetime("ns", "UTC"), timedelta(microseconds=1)),
    (pl.Datetime("us", "Europe/Berlin"), timedelta(hours=1)),
    (pl.Date(), timedelta(days=1)),
]


def _times(draw: Any, n: int, hi: int, nulls: bool) -> list[int | None]:
    value = st.integers(0, hi)
    drawn: list[int | None] = draw(
        st.lists(st.none() | value if nulls else value, min_size=n, max_size=n)
    )
    return drawn


@st.composite
def cases(draw: Any) -> dict[str, Any]:
    dtype, step = draw(st.sampled_from(TIME_TYPES))
    n_feat = draw(st.integers(0, 25))
    n_ev = draw(st.integers(0, 15))
    two_keys = draw(st.booleans())
    scale = draw(st.sampled_from([1, 2**40]))  # 2**40 forces the general key path
    n_keys = draw(st.sampled_from([1, 4]))  # few keys and few times: many ties
    key = st.none() | st.integers(0, n_keys) if draw(st.booleans()) else st.integers(0, n_keys)
    ts_hi = draw(st.sampled_from([3, 12]))

    def keys(n: int) -> list[int | None]:
        return [
            None if k is None else k * scale for k in draw(st.lists(key, min_size=n, max_size=n))
        ]

    use_created = draw(st.booleans())
    use_known = draw(st.booleans())
    features: dict[str, Any] = {
        "entity": keys(n_feat),
        "ts": _times(draw, n_feat, ts_hi, nulls=draw(st.booleans())),
        "row": list(range(n_feat)),
    }
    if two_keys:
        features["shard"] = draw(
            st.lists(st.sampled_from(["a", "b"]), min_size=n_feat, max_size=n_feat)
        )
    if use_created:
        features["created"] = _times(draw, n_feat, 3, nulls=True)
    if use_known:
        features["known_at"] = _times(draw, n_feat, 16, nulls=True)
    distinct = draw(
        st.lists(st.tuples(st.integers(0, 5), st.integers(0, 14)), min_size=1, max_size=8)
    )
    picked = draw(st.lists(st.sampled_from(distinct), min_size=n_ev, max_size=n_ev))  # duplicates
    events: dict[str, Any] = {
        "entity": [None if k == 5 else k * scale for k, _ in picked],  # 5 -> a NULL key
        "t0": [t for _, t in picked],
        "label": list(range(n_ev)),
    }
    if two_keys:
        events["shard"] = draw(
            st.lists(st.sampled_from(["a", "b", "c"]), min_size=n_ev, max_size=n_ev)
        )
    max_age = draw(st.none() | st.integers(1, 8))
    return {
        "dtype": dtype,
        "step": step,
        "features": features,
        "events": events,
        "by": ["entity", "shard"] if two_keys else "entity",
        "created": "created" if use_created else None,
        "known_at": "known_at" if use_known else None,
        "max_age": None if max_age is None else max_age * step,
        "strict": draw(st.booleans()),
        "form": draw(st.sampled_from(["frame", "lazy", "arrow"])),
        # features already in time order take the no-sort path of the join
        "presort": draw(st.booleans()),
    }


def _as_time(values: list[int | None], dtype: pl.DataType, step: timedelta) -> pl.Series:
    if dtype == pl.Date():
        return pl.Series(
            [None if v is None else BASE.date() + v * step for v in values], dtype=pl.Date
        )
    assert isinstance(dtype, pl.Datetime)
    naive = pl.Series(
        [None if v is None else BASE + v * step for v in values], dtype=pl.Datetime(dtype.time_unit)
    )
    return naive if dtype.time_zone is None else naive.dt.replace_time_zone(dtype.time_zone)


def _frames(case: dict[str, Any]) -> tuple[pl.DataFrame, pl.DataFrame]:
    dtype, step = case["dtype"], case["step"]
    times = {"ts", "known_at", "t0"}
    types = {"shard": pl.String, "entity": pl.Int64, "created": pl.Int64}

    def frame(columns: dict[str, list[Any]]) -> pl.DataFrame:
        return pl.DataFrame(
            [
                _as_time(v, dtype, step).alias(k)
                if k in times
                else pl.Series(k, v, dtype=types.get(k, pl.Int64))
                for k, v in columns.items()
            ]
        )

    return frame(case["events"]), frame(case["features"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_pit_join_equals_brute_force_reference(case: dict[str, Any]) -> None:
    ev, ft = _frames(case)
    if case["presort"]:
        ft = ft.sort("ts", *([case["created"]] if case["created"] else []), maintain_order=True)
    args = {k: case[k] for k in ("created", "known_at", "max_age", "strict")}
    by = case["by"]
    expected = pit_reference(ev, ft, [by] if isinstance(by, str) else by, "t0", "ts", **args)
    features: Any = {"frame": ft, "lazy": ft.lazy(), "arrow": ft.to_arrow()}[case["form"]]
    actual = t0lake.pit_join(ev, features, by, t0="t0", ts="ts", **args)
    assert_frame_equal(actual, expected)
    assert actual.height == ev.height
    assert actual.get_column("label").to_list() == ev.get_column("label").to_list()


# --------------------------------------------------------------------------- complaints


def _at(minutes: int) -> datetime:
    return BASE + timedelta(minutes=minutes)


def test_duplicate_events_keep_their_count_and_order() -> None:
    ev = pl.DataFrame({"id": [2, 1, 2, 2, 9], "t0": [_at(10), _at(10), _at(10), _at(5), _at(10)]})
    ft = pl.DataFrame({"id": [1, 2, 2], "ts": [_at(1), _at(2), _at(7)], "x": [1.0, 2.0, 7.0]})
    out = t0lake.pit_join(ev, ft, by="id", t0="t0", ts="ts")
    assert out.get_column("id").to_list() == [2, 1, 2, 2, 9]
    assert out.get_column("x").to_list() == [7.0, 1.0, 7.0, 2.0, None]  # no match -> NULL, not 0


def test_strictly_before_and_at_or_before() -> None:
    ev = pl.DataFrame({"id": [1], "t0": [_at(5)]})
    ft = pl.DataFrame({"id": [1, 1], "ts": [_at(3), _at(5)], "x": [3, 5]})
    assert t0lake.pit_join(ev, ft, "id", "t0", "ts").get_column("x").to_list() == [3]
    assert t0lake.pit_join(ev, ft, "id", "t0", "ts", strict=False).get_column("x").to_list() == [5]


def test_max_age_boundary_is_inclusive_and_accepts_strings() -> None:
    ev = pl.DataFrame({"id": [1, 2], "t0": [_at(60 * 24), _at(60 * 24)]})
    ft = pl.DataFrame({"id": [1, 2], "ts": [_at(0), _at(-1)], "x": [1, 2]})
    out = t0lake.pit_join(ev, ft, "id", "t0", "ts", max_age="24h")
    assert out.get_column("x").to_list() == [1, None]  # exactly 24h old: kept; older: NULL
    with pytest.raises(ConfigError, match="max_age"):
        t0lake.pit_join(ev, ft, "id", "t0", "ts", max_age="a day")


def test_ties_on_ts_go_to_the_latest_created() -> None:
    ev = pl.DataFrame({"id": [1], "t0": [_at(9)]})
    ft = pl.DataFrame(
        {"id": [1, 1, 1], "ts": [_at(4)] * 3, "created": [_at(6), _at(8), _at(7)], "x": [6, 8, 7]}
    )
    out = t0lake.pit_join(ev, ft, "id", "t0", "ts", created="created")
    assert out.get_column("x").to_list() == [8]


def test_null_created_loses_a_tie_and_full_ties_go_to_the_last_row() -> None:
    ev = pl.DataFrame({"id": [1, 2], "t0": [_at(9), _at(9)]})
    ft = pl.DataFrame(
        {
            "id": [1, 1, 1, 2, 2, 2],
            "ts": [_at(5), _at(4), _at(4), _at(4), _at(4), _at(1)],
            "created": [None, 1, None, 3, 3, 9],
            "x": [0, 1, 2, 3, 4, 5],
        }
    )
    out = t0lake.pit_join(ev, ft, "id", "t0", "ts", created="created")
    assert out.get_column("x").to_list() == [0, 4]
    ft = ft.with_columns(ts=pl.lit(_at(4)))  # id 1: created 1 beats two NULLs; id 2: 9
    out = t0lake.pit_join(ev, ft, "id", "t0", "ts", created="created")
    assert out.get_column("x").to_list() == [1, 5]
    # features in time order (no sort inside): a full tie still goes to the last row
    ft = pl.DataFrame({"id": [1, 1, 1], "ts": [_at(1), _at(4), _at(4)], "x": [0, 1, 2]})
    assert t0lake.pit_join(ev, ft, "id", "t0", "ts").get_column("x").to_list() == [2, None]
    assert t0lake.pit_join(ev, ft.reverse(), "id", "t0", "ts").get_column("x").to_list() == [
        1,
        None,
    ]


def test_a_backfilled_row_known_after_t0_is_not_joined() -> None:
    """The row for 09:00 was only backfilled at 11:00: an event at 10:00 must not see it."""
    ev = pl.DataFrame({"id": [1, 1], "t0": [_at(60), _at(180)]})
    ft = pl.DataFrame(
        {
            "id": [1, 1],
            "ts": [_at(-60), _at(0)],
            "known_at": [_at(-59), _at(120)],  # the second row was backfilled at +120
            "x": [1, 2],
        }
    )
    out = t0lake.pit_join(ev, ft, "id", "t0", "ts", known_at="known_at")
    assert out.get_column("x").to_list() == [1, 2]
    # without the guard the backfill leaks into the first event
    leak = t0lake.pit_join(ev, ft, "id", "t0", "ts")
    assert leak.get_column("x").to_list() == [2, 2]


def test_timezone_mix_is_refused_with_a_clear_message() -> None:
    ev = pl.DataFrame({"id": [1], "t0": [datetime(2026, 3, 1, 12, tzinfo=UTC)]})
    ft = pl.DataFrame({"id": [1], "ts": [datetime(2026, 3, 1, 11)], "x": [1]})
    with pytest.raises(ConfigError) as info:
        t0lake.pit_join(ev, ft, "id", "t0", "ts")
    assert "'ts' is naive" in info.value.message and "tz-aware (UTC)" in info.value.message
    assert info.value.context["column"] == "ts"
    # the reverse, and a naive Date against an aware t0, are refused too
    with pytest.raises(ConfigError, match="naive"):
        t0lake.pit_join(
            ev.with_columns(pl.col("t0").dt.replace_time_zone(None)),
            ft.with_columns(pl.col("ts").dt.replace_time_zone("UTC")),
            "id",
            "t0",
            "ts",
        )
    with pytest.raises(ConfigError, match="naive"):
        t0lake.pit_join(ev, ft.with_columns(pl.col("ts").cast(pl.Date)), "id", "t0", "ts")
    # made explicit on one side, it joins
    fixed = ft.with_columns(pl.col("ts").dt.replace_time_zone("UTC"))
    assert t0lake.pit_join(ev, fixed, "id", "t0", "ts").get_column("x").to_list() == [1]


def test_known_at_zone_must_match_t0() -> None:
    ev = pl.DataFrame({"id": [1], "t0": [_at(5)]})
    ft = pl.DataFrame(
        {"id": [1], "ts": [_at(1)], "k": [datetime(2026, 3, 1, tzinfo=UTC)], "x": [1]}
    )
    with pytest.raises(ConfigError) as info:
        t0lake.pit_join(ev, ft, "id", "t0", "ts", known_at="k")
    assert info.value.context["column"] == "k"


@pytest.mark.parametrize(
    ("events", "features", "kwargs", "column"),
    [
        ({"id": [1], "when": [BASE]}, {"id": [1], "ts": [BASE]}, {}, "t0"),
        ({"id": [1], "t0": [BASE]}, {"id": [1], "at": [BASE]}, {}, "ts"),
        ({"key": [1], "t0": [BASE]}, {"id": [1], "ts": [BASE]}, {}, "id"),
        ({"id": [1], "t0": [BASE]}, {"id": [1], "ts": [BASE]}, {"created": "c"}, "c"),
        ({"id": [1], "t0": [BASE]}, {"id": [1], "ts": [BASE]}, {"known_at": "k"}, "k"),
        ({"id": ["1"], "t0": [BASE]}, {"id": [1], "ts": [BASE]}, {}, "id"),
        ({"id": [1], "t0": [BASE]}, {"id": [1.0], "ts": [BASE]}, {}, "id"),
        ({"id": [1], "t0": [None, BASE][1:]}, {"id": [1], "ts": [1]}, {}, "ts"),
        ({"id": [1], "t0": ["2026-03-01"]}, {"id": [1], "ts": [BASE]}, {}, "t0"),
        ({"id": [1], "t0": [BASE]}, {"id": [1], "ts": [BASE], "t0": [BASE]}, {}, "t0"),
    ],
)
def test_bad_input_names_the_column(
    events: dict[str, Any], features: dict[str, Any], kwargs: dict[str, Any], column: str
) -> None:
    with pytest.raises(ConfigError) as info:
        t0lake.pit_join(pl.DataFrame(events), pl.DataFrame(features), "id", "t0", "ts", **kwargs)
    assert info.value.context["column"] == column
    assert repr(column) in info.value.message


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"by": None}, "by"),
        ({"by": 5}, "by"),
        ({"by": [None]}, "by"),
        ({"by": ""}, "by"),
        ({"t0": None}, "t0"),
        ({"t0": ["t0"]}, "t0"),
        ({"ts": None}, "ts"),
        ({"ts": ""}, "ts"),
        ({"created": 1}, "created"),
        ({"known_at": ["k"]}, "known_at"),
        ({"strict": "no"}, "strict"),  # a truthy string: it meant strict=True
        ({"strict": 0}, "strict"),
        ({"strict": None}, "strict"),
    ],
)
def test_bad_arguments_are_config_errors_naming_the_parameter(
    kwargs: dict[str, Any], parameter: str
) -> None:
    ev = pl.DataFrame({"id": [1], "t0": [_at(5)]})
    ft = pl.DataFrame({"id": [1], "ts": [_at(1)], "x": [1]})
    args: dict[str, Any] = {"by": "id", "t0": "t0", "ts": "ts", **kwargs}
    with pytest.raises(ConfigError) as info:
        t0lake.pit_join(ev, ft, **args)
    assert info.value.context["parameter"] == parameter
    assert info.value.message.startswith(f"{parameter} must be")


def test_by_may_be_any_iterable_of_names() -> None:
    ev = pl.DataFrame({"id": [1], "t0": [_at(5)]})
    ft = pl.DataFrame({"id": [1], "ts": [_at(1)], "x": [7]})
    joined = t0lake.pit_join(ev, ft, (k for k in ["id"]), "t0", "ts")
    assert joined["x"].to_list() == [7]


def test_an_integer_t0_is_refused_for_frames_and_snapshots(lake: str) -> None:
    ev = pl.DataFrame({"grp": ["alpha"], "id": [4], "n": [3]})
    snap = t0lake.open(lake).snapshot(EP)
    for features in (snap, snap.read()):
        with pytest.raises(ConfigError, match="must be Date or Datetime") as info:
            t0lake.pit_join(ev, features, ["grp", "id"], "n", "ts")
        assert info.value.context["column"] == "n"


def test_null_t0_is_refused_with_its_row() -> None:
    ev = pl.DataFrame({"id": [1, 1, 1], "t0": [BASE, None, None]})
    ft = pl.DataFrame({"id": [1], "ts": [BASE]})
    with pytest.raises(ConfigError) as info:
        t0lake.pit_join(ev, ft, "id", "t0", "ts")
    assert info.value.context == {"column": "t0", "row": 1, "nulls": 2}


def test_integer_keys_of_different_widths_and_string_keys_join_by_value() -> None:
    ev = pl.DataFrame(
        {"id": pl.Series([1, 2], dtype=pl.Int32), "s": ["a", "b"], "t0": [_at(5)] * 2}
    )
    ft = pl.DataFrame(
        {
            "id": pl.Series([1, 2], dtype=pl.UInt16),
            "s": pl.Series(["a", "b"], dtype=pl.Categorical),
            "ts": [_at(1), _at(2)],
            "x": [1, 2],
        }
    )
    out = t0lake.pit_join(ev, ft, ["id", "s"], "t0", "ts")
    assert out.get_column("x").to_list() == [1, 2]
    assert out.columns == ["id", "s", "t0", "ts", "x"]


def test_empty_sides_and_arrow_events() -> None:
    ft = pl.DataFrame({"id": [1], "ts": [_at(1)], "x": [1]})
    empty = pl.DataFrame({"id": [], "t0": []}, schema={"id": pl.Int64, "t0": pl.Datetime("us")})
    assert t0lake.pit_join(empty, ft, "id", "t0", "ts").columns == ["id", "t0", "ts", "x"]
    ev = pl.DataFrame({"id": [1], "t0": [_at(5)]})
    out = t0lake.pit_join(ev.to_arrow(), ft.clear(), "id", "t0", "ts")
    assert out.get_column("x").to_list() == [None] and out.schema["x"] == pl.Int64


def test_date_features_against_datetime_events() -> None:
    ev = pl.DataFrame({"id": [1, 1], "t0": [datetime(2026, 3, 2), datetime(2026, 3, 2, 0, 0, 1)]})
    ft = pl.DataFrame({"id": [1, 1], "day": [date(2026, 3, 1), date(2026, 3, 2)], "x": [1, 2]})
    out = t0lake.pit_join(ev, ft, "id", "t0", "day")
    assert out.get_column("x").to_list() == [1, 2]  # a Date is midnight of its day


# --------------------------------------------------------------------------- snapshots

WINDOW_EVENTS = pl.DataFrame(
    {
        "grp": ["alpha", "Beta", "Zeta", "gamma", "nobody", "alpha"],
        "t0": [
            datetime(2026, 3, 4, 10),
            datetime(2026, 3, 5),
            datetime(2026, 3, 4),
            datetime(2026, 3, 5, 23, 59),
            datetime(2026, 3, 4, 12),
            datetime(2026, 3, 4, 10),
        ],
        "label": [0, 1, 2, 3, 4, 5],
    }
)


def test_snapshot_join_equals_the_reference_over_every_type(lake: str) -> None:
    snap = t0lake.open(lake).snapshot(EP)
    out = t0lake.pit_join(WINDOW_EVENTS, snap, "grp", "t0", "ts", max_age="1d")
    everything = pl.from_arrow(snap.to_arrow(verify=False))
    assert isinstance(everything, pl.DataFrame)
    expected = pit_reference(
        WINDOW_EVENTS, everything, ["grp"], "t0", "ts", max_age=timedelta(days=1)
    )
    assert_frame_equal(out, expected)
    assert out.get_column("id").null_count() == 1  # only "nobody" has no row
    assert out.columns == ["grp", "t0", "label", *[c for c in everything.columns if c != "grp"]]


def test_snapshot_reads_only_the_days_that_can_match(lake: str) -> None:
    """Events from 03-04 00:00 to 03-05 23:59 with max_age 1d can only see 03-03..03-05: a
    tampered 03-01 is never opened, a tampered 03-04 is refused."""
    tamper_one_value(day_file(lake, date(2026, 3, 1)), "score")
    tamper_one_value(day_file(lake, date(2026, 3, 2)), "score")
    snap = t0lake.open(lake).snapshot(EP)
    with pytest.raises(t0lake.IntegrityError):
        snap.read()  # the lake really is tampered
    out = t0lake.pit_join(WINDOW_EVENTS, snap, "grp", "t0", "ts", max_age="1d")
    assert out.height == WINDOW_EVENTS.height
    # without max_age every day up to max(t0) can match, so the tampered days are read
    with pytest.raises(t0lake.IntegrityError) as info:
        t0lake.pit_join(WINDOW_EVENTS, snap, "grp", "t0", "ts")
    assert info.value.context["day"] in ("2026-03-01", "2026-03-02")
    tamper_one_value(day_file(lake, date(2026, 3, 4)), "score")
    with pytest.raises(t0lake.IntegrityError) as info:
        t0lake.pit_join(WINDOW_EVENTS, snap, "grp", "t0", "ts", max_age="1d")
    assert info.value.context["day"] == "2026-03-04"


def test_snapshot_days_after_the_last_t0_are_not_read(lake: str) -> None:
    """A day after max(t0) is never opened either."""
    tamper_one_value(day_file(lake, date(2026, 3, 5)), "score")
    snap = t0lake.open(lake).snapshot(EP)
    early = WINDOW_EVENTS.with_columns(pl.col("t0").dt.offset_by("-2d"))  # 03-02 .. 03-03
    out = t0lake.pit_join(early, snap, "grp", "t0", "ts", max_age="1d")
    assert out.get_column("id").null_count() < out.height


def test_snapshot_without_prunable_time_reads_every_day(lake: str) -> None:
    """``tz`` is not the partition's time column: no day can be skipped, so a tampered day
    outside the window is still read, and refused."""
    tamper_one_value(day_file(lake, date(2026, 3, 1)), "score")
    snap = t0lake.open(lake).snapshot(EP)
    events = WINDOW_EVENTS.with_columns(pl.col("t0").dt.replace_time_zone("UTC"))
    with pytest.raises(t0lake.IntegrityError):
        t0lake.pit_join(events, snap, "grp", "t0", "tz", max_age="1d")


def test_snapshot_missing_column_is_refused_before_reading(lake: str) -> None:
    snap = t0lake.open(lake).snapshot(EP)
    with pytest.raises(ConfigError) as info:
        t0lake.pit_join(WINDOW_EVENTS, snap, "grp", "t0", "ts", known_at="certified_at")
    assert info.value.context["column"] == "certified_at"


def test_a_text_t0_against_a_snapshot_is_a_config_error_even_under_python_O(lake: str) -> None:
    events = WINDOW_EVENTS.with_columns(pl.col("t0").cast(pl.String))
    snap = t0lake.open(lake).snapshot(EP)
    with pytest.raises(ConfigError, match="must be Date or Datetime") as info:
        t0lake.pit_join(events, snap, "grp", "t0", "ts", max_age="1d")
    assert info.value.context == {"column": "t0", "dtype": "String"}
    # and no assert statement guards it: the same refusal with assertions stripped
    script = (
        "import polars as pl, t0lake\n"
        f"snap = t0lake.open({lake!r}).snapshot({EP!r})\n"
        "events = pl.DataFrame({'grp': ['alpha'], 't0': ['2026-03-04'], 'label': [1]})\n"
        "try:\n"
        "    t0lake.pit_join(events, snap, 'grp', 't0', 'ts')\n"
        "except t0lake.ConfigError as exc:\n"
        "    print('refused:', exc.context['column'])\n"
    )
    done = subprocess.run([sys.executable, "-O", "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "refused: t0", done.stderr


def test_no_assert_statement_guards_user_input_in_pit() -> None:
    from t0lake.pit import inputs, spec

    for module in (inputs, spec):
        tree = ast.parse(inspect.getsource(module))
        assert not [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert)], module
