"""Downsampling: aggregates per key and UTC-aligned window, against a brute-force reference,
written as a dataset of its own whose manifest says where it came from."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import t0lake
from t0lake import hashing
from t0lake.lake.commit import commit
from t0lake.lake.layout import Tier
from t0lake.lake.maintenance.downsample import FUNCTIONS, Downsample, downsample_table
from t0lake.lake.manifest import Operation
from t0lake.lake.operations import ReplaceDays
from t0lake.lake.storage import open_storage
from t0lake.lake.tiers import DEFAULT_POLICY
from t0lake.lake.writer import write_day

EP = "mkt.ticks_v"
TARGET = "mkt.ticks_v__5m"
KEY = ("market", "ts")
SCHEMA = pa.schema(
    [
        pa.field("market", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("price", pa.float64()),
        pa.field("volume", pa.int64()),
        pa.field("side", pa.string()),
    ]
)
STEP = Downsample.of(
    "5m",
    {
        "price": ["first", "last", "min", "max", "mean", "count"],
        "volume": ["sum"],
        "side": ["last"],
    },
    TARGET,
    tier="warm",
)


def _aggregate(name: str, values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    if name == "first":
        return values[0]
    if name == "last":
        return values[-1]
    if name == "count":
        return len(present)
    if not present:
        return None
    if name == "min":
        return min(present)
    if name == "max":
        return max(present)
    if name == "sum":
        return sum(present)
    assert name == "mean"
    return sum(present) / len(present)


def reference(rows: list[dict[str, Any]], step: Downsample) -> list[dict[str, Any]]:
    """The aggregates, by loops over plain Python values."""
    every = step.every // timedelta(microseconds=1)
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r["market"], r["ts"])):
        micros = (row["ts"] - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        groups[(row["market"], micros - micros % every)].append(row)
    out = []
    for (market, start), members in sorted(groups.items()):
        record: dict[str, Any] = {
            "market": market,
            "ts": datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=start),
        }
        for column, names in sorted(step.functions.items()):
            values = [m[column] for m in members]
            for name in names:
                record[f"{column}_{name}"] = _aggregate(name, values)
        record["rows"] = len(members)
        out.append(record)
    return out


def ticks(day: date, markets: int = 2, every_s: int = 30, version: int = 0) -> pa.Table:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    rows = []
    for m in range(markets):
        for i in range(0, 86_400 // every_s, 37):  # a sparse day: every 37th tick
            rows.append(
                {
                    "market": f"m{m}",
                    "ts": start + timedelta(seconds=i * every_s),
                    "price": None if i % 11 == 0 else 100 + m + (i % 17) * 0.25 + version,
                    "volume": None if i % 13 == 0 else i % 50,
                    "side": ["buy", "sell", None][i % 3],
                }
            )
    return hashing.sort_by_key(pa.Table.from_pylist(rows, schema=SCHEMA), KEY)


def _close(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], float) and isinstance(y[k], float):
                assert x[k] == pytest.approx(y[k], rel=1e-12)
            else:
                assert x[k] == y[k], k


row_strategy = st.fixed_dictionaries(
    {
        "market": st.sampled_from(["a", "b", "Z"]),
        "ts": st.datetimes(
            datetime(2026, 3, 1), datetime(2026, 3, 1, 23, 59, 59), timezones=st.just(UTC)
        ),
        "price": st.none() | st.floats(-1e6, 1e6, allow_nan=False),
        "volume": st.none() | st.integers(-1000, 1000),
        "side": st.none() | st.sampled_from(["buy", "sell"]),
    }
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        row_strategy, min_size=1, max_size=60, unique_by=lambda r: (r["market"], r["ts"])
    ),
    every=st.sampled_from(["30s", "1m", "5m", "1h", "1d"]),
    price=st.lists(st.sampled_from(FUNCTIONS), min_size=1, max_size=4, unique=True),
    side=st.lists(
        st.sampled_from(["first", "last", "min", "max", "count"]), min_size=1, unique=True
    ),
)
def test_aggregates_match_a_brute_force_reference(
    rows: list[dict[str, Any]], every: str, price: list[str], side: list[str]
) -> None:
    step = Downsample.of(every, {"price": price, "side": side}, TARGET)
    table = hashing.sort_by_key(pa.Table.from_pylist(rows, schema=SCHEMA), KEY)
    result = downsample_table(table, KEY, "ts", step)
    _close(result.to_pylist(), reference(rows, step))
    # deterministic: the same rows in another order give the same table
    assert downsample_table(
        table.take(list(reversed(range(table.num_rows)))), KEY, "ts", step
    ).equals(result)


def test_the_derived_schema_is_its_own() -> None:
    result = downsample_table(ticks(date(2026, 3, 1)), KEY, "ts", STEP)
    assert result.schema.names == [
        "market", "ts", "price_first", "price_last", "price_min", "price_max", "price_mean",
        "price_count", "side_last", "volume_sum", "rows",
    ]  # fmt: skip
    assert result.schema.field("price_count").type == pa.int64()
    assert result.schema.field("ts").type == SCHEMA.field("ts").type
    assert all(t.minute % 5 == 0 and t.second == 0 for t in result.column("ts").to_pylist())


@pytest.mark.parametrize(
    ("every", "functions", "match"),
    [
        ("7m", {"price": ["last"]}, "divide a day"),
        ("5m", {"price": ["median"]}, "some of"),
        ("5m", {}, "at least one"),
    ],
)
def test_bad_steps_are_refused(every: str, functions: dict[str, list[str]], match: str) -> None:
    with pytest.raises(t0lake.ConfigError, match=match):
        Downsample.of(every, functions, TARGET)


@pytest.mark.parametrize(
    ("functions", "match"), [({"side": ["mean"]}, "integer or float"), ({"ts": ["max"]}, "non-key")]
)
def test_steps_that_do_not_fit_the_columns_are_refused(
    functions: dict[str, list[str]], match: str
) -> None:
    step = Downsample.of("5m", functions, TARGET)
    with pytest.raises(t0lake.ConfigError, match=match):
        downsample_table(ticks(date(2026, 3, 1)), KEY, "ts", step)


def _export(storage: Any, tables: dict[date, pa.Table]) -> None:
    entries = tuple(write_day(storage, EP, d, t, KEY) for d, t in sorted(tables.items()))
    commit(
        storage, EP, ReplaceDays(EP, SCHEMA, KEY, "ts::date", "ts", "v", {"cert_id": 7}, entries)
    )


def test_compaction_writes_the_downsampled_dataset_with_its_provenance(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    storage = open_storage(root)
    source = {date(2026, 3, d): ticks(date(2026, 3, d)) for d in range(1, 5)}
    source[date(2026, 5, 30)] = ticks(date(2026, 5, 30))  # stays hot on as_of: not downsampled
    _export(storage, source)
    t0lake.set_policy(root, EP, replace(DEFAULT_POLICY, downsample=STEP))
    (result,) = t0lake.compact(root, as_of="2026-06-01", entrypoint=EP, progress=False)
    assert result.committed and result.downsample is not None and result.downsample.committed
    assert result.downsample.days == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    lake = t0lake.open(root)
    derived = lake.snapshot(TARGET)
    assert derived.manifest.operation == Operation.DOWNSAMPLE
    provenance = derived.manifest.certification
    assert provenance["derived_from"]["snapshot_id"] == 2  # the compacted source snapshot
    assert provenance["derived_from"]["manifest_sha256"] == lake.snapshot(EP).manifest.sha256
    assert provenance["downsample"] == STEP.to_json()
    assert derived.manifest.schema != lake.snapshot(EP).manifest.schema
    derived.verify()
    expected = pa.concat_tables(
        [downsample_table(source[d], KEY, "ts", STEP) for d in sorted(source)[:4]]
    )
    assert derived.to_arrow().equals(expected)
    # the full-cadence rows stay
    assert lake.snapshot(EP).to_arrow().num_rows == sum(t.num_rows for t in source.values())
    assert set(lake.snapshot(EP).tiers().values()) == {Tier.WARM, Tier.HOT}
    # nothing changed: nothing to commit
    (again,) = t0lake.compact(root, as_of="2026-06-01", entrypoint=EP, progress=False)
    assert again.downsample is not None and not again.downsample.committed
    # a re-exported source day is downsampled again, as a new version
    changed = date(2026, 3, 2)
    source[changed] = ticks(changed, version=3)
    _export(storage, {changed: source[changed]})
    (third,) = t0lake.compact(root, as_of="2026-06-01", entrypoint=EP, progress=False)
    assert third.downsample is not None and third.downsample.days == ["2026-03-02"]
    day_file, _ = t0lake.open(root).snapshot(TARGET).manifest.days()[changed]
    assert day_file.version == 2
    got = t0lake.open(root).snapshot(TARGET).to_arrow(changed, changed)
    assert got.equals(downsample_table(source[changed], KEY, "ts", STEP))


def test_a_step_that_does_not_fit_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    storage = open_storage(root)
    _export(storage, {date(2026, 3, 1): ticks(date(2026, 3, 1))})
    misfit = Downsample.of("5m", {"side": ["mean"]}, TARGET)  # a string has no mean
    with pytest.raises(t0lake.ConfigError, match="integer or float"):
        t0lake.set_policy(root, EP, replace(DEFAULT_POLICY, downsample=misfit))
    assert t0lake.get_policy(root, EP) == DEFAULT_POLICY
    before = sorted(storage.walk(""))
    with pytest.raises(t0lake.ConfigError, match="integer or float"):
        t0lake.compact(root, as_of="2026-06-01", policy=replace(DEFAULT_POLICY, downsample=misfit))
    assert sorted(storage.walk("")) == before  # the compaction did not commit either
    with pytest.raises(t0lake.ConfigError, match="another entrypoint"):
        t0lake.compact(
            root,
            as_of="2026-06-01",
            policy=replace(DEFAULT_POLICY, downsample=replace(STEP, target=EP)),
        )
