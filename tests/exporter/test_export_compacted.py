"""Re-exporting days that compaction moved to the warm tier: the drift policies apply as
for hot days, the new version is served and the old one never again."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

import t0lake
from t0lake.lake.layout import Tier
from tests.lakecases import EP, make_store, run_sql, tree_digest

AS_OF = "2026-06-01"  # March 2026 has left hot: the five days go to one warm month file


def test_tolerant_reexport_of_a_warm_day_is_served_and_compacted_back(
    fresh_dsn: str, lake_dir: str
) -> None:
    make_store(fresh_dsn, policy="tolerant")
    t0lake.export(fresh_dsn, EP, lake_dir)
    (compacted,) = t0lake.compact(lake_dir, as_of=AS_OF, progress=False)
    assert compacted.committed
    lake = t0lake.open(lake_dir)
    assert set(lake.snapshot(EP).tiers().values()) == {Tier.WARM}
    certified = lake.snapshot(EP).read()

    run_sql(fresh_dsn, "UPDATE lk.src SET score = -1 WHERE id = 3")
    result = t0lake.export(fresh_dsn, EP, lake_dir)
    assert result.days_written == [date(2026, 3, 1)] and result.days_drifted == [date(2026, 3, 1)]
    snap = t0lake.open(lake_dir).snapshot(EP)
    hot, _ = snap.manifest.days()[date(2026, 3, 1)]
    assert hot.tier == Tier.HOT and hot.version == 2 and hot.drift is not None
    assert snap.read(filters=pl.col("id") == 3)["score"].to_list() == [-1.0]
    assert snap.read().height == certified.height  # the month's old slice is not served
    snap.verify()

    (again,) = t0lake.compact(lake_dir, as_of=AS_OF, progress=False)
    assert again.committed
    final = t0lake.open(lake_dir).snapshot(EP)
    assert set(final.tiers().values()) == {Tier.WARM}
    (month,) = final.manifest.files
    assert month.complete and month.drift is not None and "2026-03-01" in month.drift
    assert final.read().equals(snap.read())
    final.verify()
    # time travel: the compacted snapshot before the re-export still serves the certified value
    old = t0lake.open(lake_dir).snapshot(EP, 2).read(filters=pl.col("id") == 3)
    assert old["score"].to_list() == [1.5]


def test_strict_drift_of_a_warm_day_is_refused_with_nothing_written(
    store_dsn: str, lake_dir: str
) -> None:
    t0lake.export(store_dsn, EP, lake_dir)
    t0lake.compact(lake_dir, as_of=AS_OF, progress=False)
    run_sql(store_dsn, "UPDATE lk.src SET score = -1 WHERE id = 3")
    before = tree_digest(lake_dir)
    with pytest.raises(t0lake.DriftError) as info:
        t0lake.export(store_dsn, EP, lake_dir)
    assert info.value.context["days"] == ["2026-03-01"]
    assert tree_digest(lake_dir) == before
