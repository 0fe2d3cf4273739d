"""The demo backtest's own parts: the event grid, the label (against a count in SQL, NULL
while its window is open), the model, the design matrix and the purge check per split."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import t0lake
from t0lake import demo, pg
from t0lake.backtest import Split
from t0lake.errors import T0ViolationError


def test_check_events_is_a_grid_of_generations_and_times() -> None:
    task = replace(demo.Task(), start=date(2026, 1, 1), end=date(2026, 1, 2), every="6h")
    events = demo.check_events([13, 11], task)
    assert events.schema == {"generation": pl.Int32, "check_at": pl.Datetime("us")}
    assert events.height == 2 * 2 * 4
    assert events["check_at"].min() == datetime(2026, 1, 1)
    assert events["check_at"].max() == datetime(2026, 1, 2, 18)
    assert events.rows()[:2] == [(11, datetime(2026, 1, 1)), (13, datetime(2026, 1, 1))]


def test_labels_count_future_posts_and_stay_null_until_their_window_closes(
    fresh_dsn: str,
) -> None:
    with pg.connect(fresh_dsn) as conn:
        pg.apply_sql(conn, examples=True)
    # the store's data ends 2026-01-20 23:47: checks of the 20th have open windows
    task = replace(demo.Task(), start=date(2026, 1, 18), end=date(2026, 1, 20), every="5h")
    labelled = demo.activity_labels(fresh_dsn, demo.check_events([11, 12, 13, 14, 15], task), task)
    with pg.connect(fresh_dsn) as conn:
        (data_end,) = conn.execute("SELECT max(posted_at) FROM ml.listing_posts").fetchone()  # type: ignore[misc]
        for generation, check_at, y in labelled.iter_rows():
            if check_at + timedelta(days=1) > data_end:
                assert y is None, (generation, check_at)
                continue
            (count,) = conn.execute(
                "SELECT count(*) FROM ml.listing_posts WHERE generation = %s"
                " AND posted_at >= %s AND posted_at < %s + interval '1 day'",
                (generation, check_at, check_at),
            ).fetchone()  # type: ignore[misc]
            assert y == count, (generation, check_at)
    assert 0 < labelled["y"].null_count() < labelled.height
    assert (labelled["y"].drop_nulls() > 0).any()


def test_ridge_recovers_a_linear_rule_and_shrinks_towards_the_mean() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 3)) * [1.0, 5.0, 0.1] + [0.0, 10.0, -2.0]
    y = 3.0 + x @ np.array([2.0, -0.5, 10.0])
    exact = demo.Ridge(alpha=1e-9).fit(x, y)
    assert np.allclose(exact.predict(x), y, atol=1e-6)
    shrunk = demo.Ridge(alpha=1e9).fit(x, y)
    assert np.allclose(shrunk.predict(x), y.mean(), atol=1e-3)
    constant = demo.Ridge().fit(np.ones((5, 1)), np.arange(5.0))  # no NaN from std 0
    assert np.allclose(constant.predict(np.ones((2, 1))), 2.0)


def test_design_leaves_out_rows_without_features_or_label_and_counts_the_unmatched() -> None:
    joined = pl.DataFrame(
        {
            "generation": [11, 11, 12, 12],
            "check_at": [datetime(2026, 1, 3, h) for h in (0, 2, 4, 6)],  # a Saturday
            "y": [5.0, None, 7.0, 9.0],
            "t0": [datetime(2026, 1, 2, 23), datetime(2026, 1, 3, 1), None, datetime(2026, 1, 3)],
            "gen_7d_post_count": [70, 77, None, 84],
            "gen_30d_post_count": [300, 330, None, 360],
            "allgen_30d_post_count": [1500, 1650, None, 1800],
        }
    )
    x, y, unmatched = demo.design(joined)
    assert unmatched == 1
    assert y.tolist() == [5.0, 9.0]
    assert x.tolist() == [[10.0, 10.0, 10.0, 1.0], [12.0, 12.0, 12.0, 1.0]]


def test_a_split_whose_gap_is_shorter_than_the_label_horizon_is_refused() -> None:
    task = demo.Task()  # label horizon 1 day
    leaky = Split(0, date(2026, 1, 1), date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7))
    events = demo.check_events([11], replace(task, end=date(2026, 1, 7)))
    labelled = events.with_columns(y=pl.lit(1.0))
    with pytest.raises(T0ViolationError, match="training label window"):
        demo.run_split(pl.DataFrame(), labelled, leaky, task)


# --------------------------------------------------------------------------- the planted signal

HONEST_MARGIN = 0.15  # the random posts of the example SQL score about -0.1
LEAK_MARGIN = 0.07


def test_planted_posts_are_the_same_for_the_same_seed_and_not_for_another() -> None:
    first, again = demo.planted_posts(), demo.planted_posts()
    assert first.equals(again) and first.height > 3000
    assert not first.equals(demo.planted_posts(seed=1))
    assert first["posted_at"].min() >= demo.POSTS_FROM
    assert first["posted_at"].max() < demo.POSTS_FROM + timedelta(days=demo.POSTS_DAYS)
    assert first["listing_id"].is_unique().all()
    # the persistent part: the generations' rates are ordered as their bases
    per_generation = first.group_by("generation").len().sort("generation")["len"].to_list()
    assert per_generation == sorted(per_generation)


def test_the_leaky_join_reads_the_checks_own_day_and_known_at_refuses_it() -> None:
    daily = pl.DataFrame(
        {
            "generation": [11, 11, 11],
            "day": [datetime(2026, 1, d) for d in (1, 2, 3)],
            "day_posts": [10.0, 20.0, 30.0],
        },
        schema_overrides={"generation": pl.Int32},
    ).with_columns(known_at=pl.col("day") + pl.duration(days=1))
    events = pl.DataFrame(
        {"generation": [11, 11], "check_at": [datetime(2026, 1, 3, 0), datetime(2026, 1, 3, 18)]},
        schema_overrides={"generation": pl.Int32},
    )
    # leaky: the row of 2026-01-03, whose count includes the hours after each check
    assert demo.leaky_join(events, daily)["day_posts"].to_list() == [30.0, 30.0]
    # t0lake: at 00:00 the 2nd is complete only at that instant (not strictly before)
    assert demo.known_at_join(events, daily)["day_posts"].to_list() == [10.0, 20.0]


@pytest.fixture
def planted_lake(examples_dsn: str, tmp_path: Path) -> tuple[str, str]:
    demo.plant_signal(examples_dsn)
    t0lake.certify(examples_dsn, demo.ENTRYPOINT, check_days=3)
    lake = str(tmp_path / "lake")
    t0lake.export(examples_dsn, demo.ENTRYPOINT, lake, progress=False)
    return examples_dsn, lake


def test_the_planted_signal_gives_a_skill_and_the_leak_an_inflated_one(
    planted_lake: tuple[str, str],
) -> None:
    dsn, lake = planted_lake
    result = demo.backtest(dsn, lake)
    means = result["mean_skill"]
    assert means["skill"] > HONEST_MARGIN, means
    assert means["leaky_skill"] > means["skill"] + LEAK_MARGIN, means
    for split in result["splits"]:
        assert split["skill"] > 0, split  # every split, not only on average
        assert split["leaky_skill"] > split["skill"], split
    # the leak is the join, not the daily table: joined with known_at it adds nothing
    assert abs(means["known_at_skill"] - means["skill"]) < LEAK_MARGIN / 2, means
    # reproducible: the same numbers, to the last digit, on a second run
    assert demo.backtest(dsn, lake) == result


def test_the_random_example_posts_would_fail_the_margin(examples_dsn: str) -> None:
    """The same backtest on the example SQL's own posts (uniformly random): no skill, so
    the margin of the test above is one the planted signal alone passes."""
    task = demo.Task()
    with pg.connect(examples_dsn) as conn:
        cursor = conn.execute(f"SELECT * FROM {demo.ENTRYPOINT}")
        names = [c.name for c in cursor.description or []]
        features = pl.DataFrame(
            cursor.fetchall(), schema=names, orient="row", infer_schema_length=None
        )
    features = features.with_columns(pl.col("generation").cast(pl.Int32))
    generations = features["generation"].unique().sort().to_list()
    labelled = demo.activity_labels(examples_dsn, demo.check_events(generations, task), task)
    results = [demo.run_split(features, labelled, s, task) for s in demo.task_splits(task)]
    assert demo.mean_skill(results)["skill"] < HONEST_MARGIN  # type: ignore[operator]


# --------------------------------------------------------------------------- t0lake demo


def test_the_demo_reads_well_in_an_80_column_pipe() -> None:
    """`make demo` in a CI log: stdout a pipe, COLUMNS=80. Nothing cut, nothing wider than
    80, every column of the table explained, and the planted skill beside the leak's."""
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("T0LAKE_PG_DSN", None)
    done = subprocess.run(
        [sys.executable, "-m", "t0lake", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if len(line) > 80] == []
    assert "…" not in done.stdout
    header = next(i for i, line in enumerate(lines) if line.startswith("split"))
    assert lines[header].split() == [
        "split",
        "train",
        "test",
        "train",
        "test",
        "no",
        "naive",
        "leaky",
    ]
    assert lines[header + 1].split() == [
        "days",
        "days",
        "rows",
        "rows",
        "row",
        "MAE",
        "MAE",
        "skill",
        "skill",
    ]
    rows = lines[header + 2 : header + 2 + len(demo.task_splits(demo.Task()))]
    assert [int(r.split()[0]) for r in rows] == list(range(len(rows)))
    text = " ".join(done.stdout.split())
    for explained in ("no row:", "rows:", "skill = 1 - MAE / naive MAE", "leaky skill:"):
        assert explained in text
    match = re.search(r"mean skill: t0lake ([+-][0-9.]+), leaky join ([+-][0-9.]+)", text)
    assert match is not None, text
    honest, leaky = float(match[1]), float(match[2])
    assert honest > HONEST_MARGIN and leaky > honest + LEAK_MARGIN
