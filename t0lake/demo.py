"""The walk-forward backtest of ``t0lake demo`` and ``examples/backtest.ipynb``.

Why this lives in the package: ``t0lake demo`` is an installed command, so the code it runs
must ship in the wheel, and the notebook imports the same functions so the terminal and
Jupyter show the same numbers. Nothing in the library imports this module; it only *uses*
the public API (``pit_join``, ``backtest.splits``, ``frame_fingerprint``) the way a
researcher would, plus the two things t0lake does not provide: a label and a model.

The task, on the trainer-derived store (seed 000), which has no label column:

* **events**: a check of each phone generation every ``every`` hours ("how busy will this
  generation be tomorrow?");
* **features**: the generation's activity as the store last computed it *before* the check
  (``pit_join`` on ``generation``, ``ts = t0``, strictly before, at most ``max_age`` old):
  posts per day over the trailing 7 and 30 days, and all generations' 30-day rate;
* **label**: the number of posts of the generation in ``[check_at, check_at +
  label_horizon)``, counted from the raw input table ``ml.listing_posts``. It is entirely
  in the future of the check, so it can never be a feature; it is NULL (unknown, never 0)
  when its window reaches past the last post in the data, i.e. has not closed yet;
* **model**: ridge regression in numpy on standardised features (plus whether the check
  falls on a weekend), scored by mean absolute error against the naive forecast (the
  training mean).

The example SQL's posts arrive uniformly at random, so there would be nothing to learn: the
demo replaces them with :func:`planted_posts` (:func:`plant_signal`), whose rates persist
and trend per generation, rise at weekends and have a level of their own each day. The
honest backtest learns the first three and shows a positive skill; :func:`leaky_join` is
the naive join t0lake refuses (a daily table joined on the check's date), kept here to show
how much skill the leak of the fourth would have faked (docs/feature_spec.md, "The demo's
planted signal").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import polars as pl

from t0lake import pg
from t0lake.backtest import Split, parse_duration, splits
from t0lake.errors import ConfigError, IntegrityError, T0ViolationError
from t0lake.lake import open_lake
from t0lake.lineage import frame_fingerprint
from t0lake.pit import pit_join

__all__ = [
    "DAY_LEVEL_SD",
    "ENTRYPOINT",
    "FEATURES",
    "GENERATION_BASE",
    "POSTS_DAYS",
    "POSTS_FROM",
    "SIGNAL_SEED",
    "TREND_PER_DAY",
    "WEEKEND_FACTOR",
    "Ridge",
    "SplitResult",
    "Task",
    "activity_labels",
    "backtest",
    "check_events",
    "compare_daily",
    "daily_activity",
    "design",
    "join_features",
    "known_at_join",
    "leaky_join",
    "mean_skill",
    "plant_signal",
    "planted_posts",
    "prepare",
    "run_split",
    "task_splits",
    "walk_forward",
]

ENTRYPOINT = "ml.trainer_derived_feature_store_t0_v1_v"
FEATURES = ("gen_7d_rate", "gen_30d_rate", "allgen_30d_rate", "is_weekend")

Matrix = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class Task:
    """The settings of the demo backtest. The events stop a day before the store's last
    day (2026-01-20) so that every label window closes inside the synthetic data."""

    start: date = date(2026, 1, 1)
    end: date = date(2026, 1, 19)
    every: str = "2h"
    label_horizon: str = "1d"
    max_age: str = "12h"
    train: str = "5d"
    test: str = "2d"
    step: str = "2d"
    embargo: str = "1d"
    # Strong shrinkage, fixed before looking at any test window: labels of checks 2 hours
    # apart share 22 of their 24 hours, so ~300 training rows hold few independent outcomes.
    alpha: float = 300.0


def check_events(generations: list[int], task: Task) -> pl.DataFrame:
    """One check per generation every ``task.every`` from ``start`` 00:00 to the last slot
    of ``end``; columns ``generation``, ``check_at`` (naive, like the store's ``t0``)."""
    every = parse_duration(task.every, "every")
    if every <= timedelta(0):
        raise ConfigError(f"every must be positive, got {task.every!r}", parameter="every")
    first = datetime.combine(task.start, time.min)
    last = datetime.combine(task.end + timedelta(days=1), time.min) - timedelta(microseconds=1)
    times = pl.datetime_range(first, last, every, time_unit="us", eager=True).alias("check_at")
    return (
        pl.DataFrame({"generation": sorted(generations)}, schema={"generation": pl.Int32})
        .join(times.to_frame(), how="cross")
        .sort("check_at", "generation")
    )


def activity_labels(dsn: str | None, events: pl.DataFrame, task: Task) -> pl.DataFrame:
    """``events`` with ``y``: the generation's posts in ``[check_at, check_at + horizon)``,
    read from Postgres' raw input table. NULL when the window ends after the last post in
    the data (the outcome is not known yet), never a made-up 0."""
    horizon = parse_duration(task.label_horizon, "label_horizon")
    lo, hi = events["check_at"].min(), events["check_at"].max()
    if not isinstance(lo, datetime) or not isinstance(hi, datetime):
        raise ConfigError("no events to label", parameter="events")
    with pg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT generation, posted_at FROM ml.listing_posts"
            " WHERE posted_at >= %s AND posted_at < %s",
            (lo, hi + horizon),
        ).fetchall()
        (data_end,) = conn.execute("SELECT max(posted_at) FROM ml.listing_posts").fetchone() or (
            None,
        )
    posts = pl.DataFrame(
        rows,
        schema={"generation": pl.Int32, "posted_at": pl.Datetime("us")},
        orient="row",
    )
    counts = (
        events.select("generation", "check_at")
        .unique()
        .join(posts, on="generation", how="inner")
        .filter(
            (pl.col("posted_at") >= pl.col("check_at"))
            & (pl.col("posted_at") < pl.col("check_at") + horizon)
        )
        .group_by("generation", "check_at")
        .agg(pl.len().cast(pl.Float64).alias("y"))
    )
    closed = pl.col("check_at") + horizon <= data_end if data_end is not None else pl.lit(False)
    return events.join(
        counts, on=["generation", "check_at"], how="left", maintain_order="left"
    ).with_columns(
        y=pl.when(closed).then(pl.col("y").fill_null(0.0)).otherwise(None),
    )


# --------------------------------------------------------------------------- planted signal

GENERATION_BASE = {11: 5.0, 12: 8.0, 13: 12.0, 14: 16.0, 15: 21.0}  # posts per day
TREND_PER_DAY = 0.012  # per generation step away from 13, per day
WEEKEND_FACTOR = 1.6
DAY_LEVEL_SD = 0.5  # sd of the log of a (generation, day)'s own level
POSTS_FROM = datetime(2025, 12, 1)
POSTS_DAYS = 51  # 2025-12-01 .. 2026-01-20, the days of the example SQL's own posts
SIGNAL_SEED = 20260101


def planted_posts(seed: int = SIGNAL_SEED) -> pl.DataFrame:
    """The demo's posts, with a signal a model can learn from the past and a part it cannot
    (docs/feature_spec.md, "The demo's planted signal"): a generation's expected posts on a
    day are ``base * trend * weekend * level``; base, trend and weekend persist (the trailing
    counts and the calendar carry them), the day's level is drawn fresh each day (only a
    row computed after the day has begun can know it). Same seed, same posts."""
    rng = np.random.default_rng(seed)
    generations: list[int] = []
    at: list[datetime] = []
    for day in range(POSTS_DAYS):
        start = POSTS_FROM + timedelta(days=day)
        weekend = WEEKEND_FACTOR if start.weekday() >= 5 else 1.0
        for generation, base in GENERATION_BASE.items():
            trend = max(0.2, 1.0 + (generation - 13) * TREND_PER_DAY * (day - POSTS_DAYS / 2))
            level = float(np.exp(rng.normal(0.0, DAY_LEVEL_SD) - DAY_LEVEL_SD**2 / 2))
            count = int(rng.poisson(base * trend * weekend * level))
            minutes = np.sort(rng.integers(0, 24 * 60, size=count))
            generations += [generation] * count
            at += [start + timedelta(minutes=int(m)) for m in minutes]
    return pl.DataFrame(
        {"generation": generations, "listing_id": range(1, len(at) + 1), "posted_at": at},
        schema={"generation": pl.Int32, "listing_id": pl.Int64, "posted_at": pl.Datetime("us")},
    )


def plant_signal(dsn: str | None, seed: int = SIGNAL_SEED) -> int:
    """Replace the example store's ``ml.listing_posts`` with :func:`planted_posts` and
    refresh the store's materialized view; returns the number of posts. Only for a database
    of its own (the demo's throwaway server, a test's clone): it rewrites example inputs,
    so it runs before certification."""
    posts = planted_posts(seed)
    with pg.connect(dsn) as conn:
        conn.execute("DELETE FROM ml.listing_posts")
        with conn.cursor().copy(
            "COPY ml.listing_posts (generation, listing_id, posted_at) FROM STDIN"
        ) as copy:
            for row in posts.iter_rows():
                copy.write_row(row)
        conn.execute("REFRESH MATERIALIZED VIEW ml.trainer_derived_features_v1_mv")
        conn.commit()
    return posts.height


def daily_activity(dsn: str | None) -> pl.DataFrame:
    """A daily table as pipelines keep them: per generation and calendar ``day`` (00:00),
    its posts that day (``day_posts``), and ``known_at``, the end of the day, when the
    count is complete."""
    with pg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT generation, date_trunc('day', posted_at), count(*)::float8"
            " FROM ml.listing_posts GROUP BY 1, 2"
        ).fetchall()
    daily = pl.DataFrame(
        rows,
        schema={"generation": pl.Int32, "day": pl.Datetime("us"), "day_posts": pl.Float64},
        orient="row",
    )
    return daily.with_columns(known_at=pl.col("day") + pl.duration(days=1)).sort(
        "generation", "day"
    )


def leaky_join(events: pl.DataFrame, daily: pl.DataFrame) -> pl.DataFrame:
    """What t0lake refuses to produce, kept here only to show what it would report: each
    check joined to the daily row *of its own date*, as a join on the date gives it when
    the row's time is the day it describes rather than when it was known (a backfilled
    ``known_at``). That row counts posts after the check, which the label counts too."""
    return (
        events.with_columns(_day=pl.col("check_at").dt.truncate("1d"))
        .join(
            daily.select("generation", pl.col("day").alias("_day"), "day_posts"),
            on=["generation", "_day"],
            how="left",
            maintain_order="left",
        )
        .drop("_day")
    )


def known_at_join(events: pl.DataFrame, daily: pl.DataFrame) -> pl.DataFrame:
    """The same daily table joined the way t0lake does: ``pit_join`` with ``known_at``, so
    a check sees only days whose count was complete strictly before it."""
    return pit_join(
        events,
        daily.select("generation", "day", "known_at", "day_posts"),
        by=["generation"],
        t0="check_at",
        ts="day",
        known_at="known_at",
    ).drop("day", "known_at")


def join_features(events: pl.DataFrame, features: Any, task: Task) -> pl.DataFrame:
    """The point-in-time join of the demo: per check, the generation's latest store row
    strictly before ``check_at`` and at most ``max_age`` old (NULL features otherwise)."""
    return pit_join(
        events, features, by=["generation"], t0="check_at", ts="t0", max_age=task.max_age
    )


def design(joined: pl.DataFrame, extra: tuple[str, ...] = ()) -> tuple[Matrix, Matrix, int]:
    """Model inputs (``FEATURES``, then the ``extra`` columns as they are) and labels of the
    rows that have all of them; and how many rows had no feature row to join (they are left
    out, never filled with zeros)."""
    frame = joined.with_columns(
        gen_7d_rate=pl.col("gen_7d_post_count") / 7.0,
        gen_30d_rate=pl.col("gen_30d_post_count") / 30.0,
        allgen_30d_rate=pl.col("allgen_30d_post_count") / 150.0,
        # the calendar of the check itself: known at check time
        is_weekend=pl.col("check_at").dt.weekday().is_in([6, 7]).cast(pl.Float64),
    )
    matched = frame.filter(pl.col("t0").is_not_null(), *[pl.col(c).is_not_null() for c in extra])
    usable = matched.filter(pl.col("y").is_not_null())
    x = usable.select(*FEATURES, *extra).cast(pl.Float64).to_numpy()
    y = usable["y"].cast(pl.Float64).to_numpy()
    return x, y, frame.height - matched.height


class Ridge:
    """Ridge regression on standardised columns (closed form, numpy only)."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha
        self.mean: Matrix = np.zeros(0)
        self.scale: Matrix = np.zeros(0)
        self.coef: Matrix = np.zeros(0)
        self.intercept = 0.0

    def fit(self, x: Matrix, y: Matrix) -> Ridge:
        self.mean = x.mean(axis=0)
        self.scale = x.std(axis=0)
        self.scale[self.scale == 0] = 1.0  # a constant column carries nothing
        z = (x - self.mean) / self.scale
        self.intercept = float(y.mean())
        gram = z.T @ z + self.alpha * np.eye(z.shape[1])
        self.coef = np.asarray(np.linalg.solve(gram, z.T @ (y - self.intercept)), dtype=np.float64)
        return self

    def predict(self, x: Matrix) -> Matrix:
        result: Matrix = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return result


@dataclass(frozen=True)
class SplitResult:
    """What one split of the backtest trained on and scored."""

    split: Split
    train_rows: int
    test_rows: int
    unmatched: int  # events of the split with no feature row (left out, not zero-filled)
    mae: float
    mae_baseline: float
    fingerprint: str
    record: dict[str, Any] = field(repr=False)
    # the comparison of the demo (None unless run_split got the daily table): the skill of
    # the same model with the daily table's day_posts joined on the check's date (leaky)
    # and joined with known_at, as t0lake does
    leaky_skill: float | None = None
    known_at_skill: float | None = None

    @property
    def skill(self) -> float:
        """1 - MAE / MAE of the naive forecast: 0 = no better than the training mean."""
        return 1.0 - self.mae / self.mae_baseline if self.mae_baseline else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.split.to_dict(),
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "unmatched": self.unmatched,
            "mae": self.mae,
            "mae_baseline": self.mae_baseline,
            "skill": self.skill,
            "fingerprint": self.fingerprint,
            "leaky_skill": self.leaky_skill,
            "known_at_skill": self.known_at_skill,
        }


def task_splits(task: Task) -> list[Split]:
    return list(
        splits(
            task.start,
            task.end,
            train=task.train,
            test=task.test,
            step=task.step,
            embargo=task.embargo,
            label_horizon=task.label_horizon,
        )
    )


def _skill(
    train: pl.DataFrame,
    test: pl.DataFrame,
    task: Task,
    index: int,
    extra: tuple[str, ...] = (),
) -> tuple[float, float, int, int, int]:
    """MAE, naive MAE, training rows, test rows and unmatched rows of one fitted model."""
    x_train, y_train, unmatched_train = design(train, extra)
    x_test, y_test, unmatched_test = design(test, extra)
    if not len(y_train) or not len(y_test):
        raise ConfigError(
            f"split {index} has no labelled rows with features to train or test on",
            split=index,
        )
    model = Ridge(task.alpha).fit(x_train, y_train)
    mae = float(np.abs(model.predict(x_test) - y_test).mean())
    baseline = float(np.abs(y_train.mean() - y_test).mean())
    return mae, baseline, len(y_train), len(y_test), unmatched_train + unmatched_test


def compare_daily(
    train: pl.DataFrame, test: pl.DataFrame, daily: pl.DataFrame, task: Task, index: int = 0
) -> tuple[float, float]:
    """The skills of the model with one more input, the generation's ``day_posts`` from the
    daily table: joined on the check's date (:func:`leaky_join`) and with ``known_at``
    (:func:`known_at_join`). Same rows, model and metric as the honest backtest."""
    skills = []
    for join in (leaky_join, known_at_join):
        mae, baseline, *_ = _skill(
            join(train, daily), join(test, daily), task, index, ("day_posts",)
        )
        skills.append(1.0 - mae / baseline if baseline else 0.0)
    return skills[0], skills[1]


def run_split(
    features: Any,
    labelled: pl.DataFrame,
    split: Split,
    task: Task,
    daily: pl.DataFrame | None = None,
) -> SplitResult:
    """Join, fingerprint, train and score one split. ``features`` is what ``pit_join``
    takes (the demo passes the Snapshot, so only the days that can match are read). With
    ``daily`` (:func:`daily_activity`) also the leaky comparison (:func:`compare_daily`)."""
    horizon = parse_duration(task.label_horizon, "label_horizon")
    train_events = labelled.filter(split.in_train("check_at"))
    test_events = labelled.filter(split.in_test("check_at"))
    # The purge, checked on the rows themselves: no training label may see the test window.
    latest = train_events["check_at"].max()
    test_start = datetime.combine(split.test_start, time.min)
    if isinstance(latest, datetime) and latest + horizon > test_start:
        raise T0ViolationError(
            f"split {split.index}: a training label window ends at {latest + horizon}, after "
            f"the test window starts ({test_start})",
            split=split.index,
        )
    train = join_features(train_events, features, task)
    test = join_features(test_events, features, task)
    fingerprint = frame_fingerprint(train)
    mae, baseline, train_rows, test_rows, unmatched = _skill(train, test, task, split.index)
    leaky, known = (
        compare_daily(train, test, daily, task, split.index) if daily is not None else (None, None)
    )
    return SplitResult(
        split=split,
        train_rows=train_rows,
        test_rows=test_rows,
        unmatched=unmatched,
        mae=mae,
        mae_baseline=baseline,
        fingerprint=fingerprint.hash,
        record=fingerprint.record,
        leaky_skill=leaky,
        known_at_skill=known,
    )


def mean_skill(results: list[SplitResult]) -> dict[str, float | None]:
    """The per-split skills averaged: t0lake's, the leaky join's and the known_at join's."""

    def mean(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return float(np.mean(known)) if known else None

    return {
        "skill": mean([r.skill for r in results]),
        "leaky_skill": mean([r.leaky_skill for r in results]),
        "known_at_skill": mean([r.known_at_skill for r in results]),
    }


def prepare(dsn: str | None, snapshot: Any, task: Task) -> pl.DataFrame:
    """The labelled events of the task: one check per generation found in the snapshot."""
    generations = (
        snapshot.scan(columns=["generation"]).unique().collect()["generation"].sort().to_list()
    )
    return activity_labels(dsn, check_events(generations, task), task)


def walk_forward(dsn: str | None, snapshot: Any, task: Task | None = None) -> list[SplitResult]:
    """The whole backtest on a Snapshot of the trainer-derived store; labels from ``dsn``."""
    task = task or Task()
    labelled = prepare(dsn, snapshot, task)
    return [run_split(snapshot, labelled, split, task) for split in task_splits(task)]


def backtest(
    dsn: str | None,
    lake_url: str,
    task: Task | None = None,
    storage_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What ``t0lake demo`` runs after its export: the walk-forward backtest on the latest
    snapshot, then split 0's training frame rebuilt from the same snapshot id re-opened,
    which must give the same fingerprint and the same rows (IntegrityError otherwise).
    JSON-ready."""
    task = task or Task()
    snapshot = open_lake(lake_url, storage_options).snapshot(ENTRYPOINT)
    labelled = prepare(dsn, snapshot, task)
    daily = daily_activity(dsn)
    results = [run_split(snapshot, labelled, split, task, daily) for split in task_splits(task)]
    first = results[0].split
    train_events = labelled.filter(first.in_train("check_at"))
    again = open_lake(lake_url, storage_options).snapshot(ENTRYPOINT, snapshot.snapshot_id)
    frame_1 = join_features(train_events, snapshot, task)
    frame_2 = join_features(train_events, again, task)
    fingerprint = frame_fingerprint(frame_2).hash
    if fingerprint != results[0].fingerprint or not frame_1.equals(frame_2):
        raise IntegrityError(
            f"split {first.index}'s training frame rebuilt from snapshot "
            f"{snapshot.snapshot_id} differs from the backtest's",
            snapshot_id=snapshot.snapshot_id,
        )
    return {
        "entrypoint": ENTRYPOINT,
        "snapshot_id": snapshot.snapshot_id,
        "events": labelled.height,
        "task": {k: str(v) for k, v in asdict(task).items()},
        "splits": [r.to_dict() for r in results],
        "mean_skill": mean_skill(results),
        "reproduced": {
            "split": first.index,
            "fingerprint": fingerprint,
            "same_fingerprint": True,
            "same_rows": True,
        },
    }
