"""The demo backtest's own parts: the event grid, the label (against a count in SQL, NULL
while its window is open), the model, the design matrix and the purge check per split."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

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
