"""A brute-force Python reference of the trainer-derived store (seed 000).

Written from docs/feature_spec.md ("Trainer-derived store"), not from the SQL: every feature
of every event row is computed by scanning all input rows, with the T0 rule spelled out once
per feature (`time < t0`, windows `[t0 - N days, t0)`). NULL is `None`, and the rule features
use SQL's three-valued AND, so "unknown" stays unknown exactly where the SQL keeps it.
tests/test_trainer_store.py asserts that the SQL views equal this, row for row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

# (generation, listing_id, t0) / (generation, listing_id, posted_at)
Event = tuple[int, int, datetime]
Post = tuple[int, int, datetime]
# (generation, listing_id, observed_at, battery_pct)
Reading = tuple[int, int, datetime, int]
Row = tuple[object, ...]

KEY = ("generation", "listing_id", "t0")
COLUMNS = (
    "generation",
    "listing_id",
    "t0",
    "dow",
    "is_weekend",
    "gen_30d_post_count",
    "allgen_30d_post_count",
    "gen_7d_post_count",
    "listing_age_hours",
    "batt_img_min",
    "batt_text_min",
    "batt_fused",
    "batt_cross_known",
    "batt_cross_consistent",
    "batt_text_overstates",
    "batt_clean",
    "fast_pattern_v2",
    "rocket_clean",
)

DAYS_30 = timedelta(days=30)
DAYS_7 = timedelta(days=7)
FRESH = timedelta(hours=72)
CONSISTENT_POINTS = 5  # |screenshot - text| <= 5 points is consistent
CLEAN_PCT = 90  # fused battery >= 90% is clean


def kleene_and(a: bool | None, b: bool | None) -> bool | None:
    """SQL's AND: false wins over unknown, unknown wins over true."""
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _min_before(readings: Iterable[Reading], generation: int, listing: int, t0: datetime):
    values = [r[3] for r in readings if r[0] == generation and r[1] == listing and r[2] < t0]
    return min(values) if values else None


def feature_row(
    event: Event,
    posts: Iterable[Post],
    screenshots: Iterable[Reading],
    texts: Iterable[Reading],
) -> Row:
    generation, listing, t0 = event
    posts = list(posts)
    dow = t0.isoweekday() % 7  # Sunday = 0, as Postgres' extract(dow)
    gen_30d = sum(1 for g, _, at in posts if g == generation and t0 - DAYS_30 <= at < t0)
    allgen_30d = sum(1 for _, _, at in posts if t0 - DAYS_30 <= at < t0)
    gen_7d = sum(1 for g, _, at in posts if g == generation and t0 - DAYS_7 <= at < t0)
    own = [at for g, lid, at in posts if g == generation and lid == listing and at < t0]
    first_posted = min(own) if own else None
    age_hours = (t0 - first_posted) // timedelta(hours=1) if first_posted else None

    img = _min_before(screenshots, generation, listing, t0)
    text = _min_before(texts, generation, listing, t0)
    fused = img if img is not None else text
    cross_known = img is not None and text is not None
    consistent = abs(img - text) <= CONSISTENT_POINTS if cross_known else None  # type: ignore[operator]
    overstates = text - img > CONSISTENT_POINTS if cross_known else None  # type: ignore[operator]
    clean = None if fused is None else (fused >= CLEAN_PCT and consistent is not False)

    fresh = first_posted is not None and t0 - first_posted < FRESH
    heating = 30 * gen_7d > 7 * gen_30d
    fast = fresh and heating
    rocket = kleene_and(fast, clean)
    return (
        generation,
        listing,
        t0,
        dow,
        dow in (0, 6),
        gen_30d,
        allgen_30d,
        gen_7d,
        age_hours,
        img,
        text,
        fused,
        cross_known,
        consistent,
        overstates,
        clean,
        fast,
        rocket,
    )


def store(
    events: Iterable[Event],
    posts: Iterable[Post],
    screenshots: Iterable[Reading],
    texts: Iterable[Reading],
) -> list[Row]:
    """Every row of the store, one per distinct event, in key order."""
    posts, screenshots, texts = list(posts), list(screenshots), list(texts)
    return [feature_row(e, posts, screenshots, texts) for e in sorted(set(events))]
