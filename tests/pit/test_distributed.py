"""pit_join_dask: the local pit_join, row for row, over hash buckets on a LocalCluster."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from distributed import Client, LocalCluster
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import t0lake
from t0lake.errors import ConfigError
from t0lake.pit.distributed import pit_join_dask
from tests.lakecases import EP, day_file, tamper_one_value
from tests.pit.test_pit import WINDOW_EVENTS, _frames, cases


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """One small in-process cluster for the module: 2 workers of 1 thread."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as dask_client,
    ):
        yield dask_client


def _dask(frame: pl.DataFrame, npartitions: int) -> Any:
    return dd.from_pandas(
        frame.to_pandas(use_pyarrow_extension_array=True), npartitions=npartitions
    )


def _polars(frame: pd.DataFrame) -> pl.DataFrame:
    out = pl.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    assert isinstance(out, pl.DataFrame)
    return out


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=cases(),
    ev_parts=st.integers(1, 3),
    ft_parts=st.integers(1, 4),
    buckets=st.sampled_from([None, 1, 3]),
)
def test_the_dask_join_equals_the_local_join_on_every_row(
    client: Client, case: dict[str, Any], ev_parts: int, ft_parts: int, buckets: int | None
) -> None:
    ev, ft = _frames(case)
    if case["presort"]:
        ft = ft.sort("ts", maintain_order=True)
    args = {k: case[k] for k in ("created", "known_at", "max_age", "strict")}
    expected = t0lake.pit_join(ev, ft, case["by"], t0="t0", ts="ts", **args)
    events, features = _dask(ev, ev_parts), _dask(ft, ft_parts)
    joined = pit_join_dask(events, features, case["by"], "t0", "ts", npartitions=buckets, **args)
    assert joined.npartitions == events.npartitions  # order="events": the events' partitions
    assert_frame_equal(_polars(joined.compute()), expected)
    # in buckets: the same rows, in no promised order
    loose = pit_join_dask(events, features, case["by"], "t0", "ts", order="buckets", **args)
    assert_frame_equal(_polars(loose.compute()).sort("label"), expected)


def test_ties_go_to_the_last_feature_row_across_partitions(client: Client) -> None:
    """Three rows of one entity with equal ts in three feature partitions: the local join
    takes the last in input order, so must every bucket."""
    at = datetime(2026, 1, 1)
    ft = pl.DataFrame({"id": [1, 1, 1, 2], "ts": [at] * 4, "v": [10, 20, 30, 40]})
    ev = pl.DataFrame({"id": [1, 2, 3], "t0": [datetime(2026, 1, 2)] * 3})
    out = _polars(pit_join_dask(_dask(ev, 2), _dask(ft, 4), "id", "t0", "ts").compute())
    assert out.get_column("v").to_list() == [30, 40, None]
    assert_frame_equal(out, t0lake.pit_join(ev, ft, "id", "t0", "ts"))


def test_a_snapshot_join_is_the_local_one_and_proves_the_days_it_reads(
    lake: str, client: Client
) -> None:
    snap = t0lake.open(lake).snapshot(EP)
    events = _dask(WINDOW_EVENTS, 2)
    expected = t0lake.pit_join(WINDOW_EVENTS, snap, "grp", "t0", "ts", max_age="1d")
    joined = pit_join_dask(events, snap, "grp", "t0", "ts", max_age="1d")
    assert_frame_equal(_polars(joined.compute()), expected)
    # a tampered day the events cannot see is never read; one they can see fails compute
    tamper_one_value(day_file(lake, date(2026, 3, 1)), "score")
    snap = t0lake.open(lake).snapshot(EP)
    assert len(pit_join_dask(events, snap, "grp", "t0", "ts", max_age="1d").compute()) == 6
    tamper_one_value(day_file(lake, date(2026, 3, 4)), "score")
    joined = pit_join_dask(events, snap, "grp", "t0", "ts", max_age="1d")  # lazy: no error yet
    with pytest.raises(t0lake.IntegrityError) as info:
        joined.compute()
    assert info.value.context["day"] == "2026-03-04" and info.value.context["column"] == "score"


def _bad(**change: Any) -> dict[str, Any]:
    ev = pl.DataFrame({"id": [1], "t0": [datetime(2026, 1, 2)]})
    ft = pl.DataFrame({"id": [1], "ts": [datetime(2026, 1, 1)], "v": [1.0]})
    args: dict[str, Any] = {"events": _dask(ev, 1), "features": _dask(ft, 1)}
    args |= {"by": "id", "t0": "t0", "ts": "ts"} | change
    return args


@pytest.mark.parametrize(
    ("change", "context"),
    [
        ({"by": "nope"}, {"side": "events", "column": "nope"}),
        ({"ts": "when"}, {"side": "features", "column": "when"}),
        ({"order": "random"}, {"parameter": "order"}),
        ({"npartitions": 0}, {"parameter": "npartitions"}),
        ({"strict": "no"}, {"parameter": "strict"}),
        ({"events": pl.DataFrame({"id": [1]})}, {"parameter": "events"}),
        ({"features": [1, 2]}, {"parameter": "features"}),
    ],
)
def test_bad_input_is_refused_before_any_join(
    change: dict[str, Any], context: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError) as info:
        pit_join_dask(**_bad(**change))
    assert context.items() <= info.value.context.items()


def test_the_local_joins_type_rules_and_null_t0_are_refused_up_front(client: Client) -> None:
    ft = pl.DataFrame({"id": ["1"], "ts": [datetime(2026, 1, 1)], "v": [1.0]})
    with pytest.raises(ConfigError) as info:
        pit_join_dask(**_bad(features=_dask(ft, 1)))  # a string key against an integer one
    assert info.value.context["column"] == "id"
    aware = pl.DataFrame({"id": [1], "t0": [datetime(2026, 1, 2)]}).with_columns(
        pl.col("t0").dt.replace_time_zone("UTC")
    )
    with pytest.raises(ConfigError, match="tz-aware"):
        pit_join_dask(**_bad(events=_dask(aware, 1)))
    nulls = pl.DataFrame({"id": [1, 2], "t0": [datetime(2026, 1, 2), None]})
    with pytest.raises(ConfigError) as info:
        pit_join_dask(**_bad(events=_dask(nulls, 1)))
    assert info.value.context == {"column": "t0", "nulls": 1}
    with dask.config.set({"dataframe.convert-string": False}):  # else Dask makes it text
        objects = dd.from_pandas(pd.DataFrame({"id": [1], "t0": [datetime(2026, 1, 2)], "o": [{}]}))
        with pytest.raises(ConfigError) as info:
            pit_join_dask(**_bad(events=objects))
    assert info.value.context["column"] == "o"
