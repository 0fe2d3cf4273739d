"""Compaction: lossless by proof, byte-for-byte reproducible, never resurrecting a day."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import t0lake
from t0lake.lake import log
from t0lake.lake.commit import commit
from t0lake.lake.layout import Tier
from t0lake.lake.maintenance.compact import compact_unit, plan_units
from t0lake.lake.manifest import Operation
from t0lake.lake.operations import Compact
from t0lake.lake.storage import open_storage
from t0lake.lake.tiers import DEFAULT_POLICY, TierPolicy
from tests.lake.synth import EP, day_table, days, export_days, model_table

AS_OF = date(2026, 12, 1)
FIRST = date(2025, 10, 1)


def _lake(root: str, count: int = 100, rows: int = 6, **options: Any) -> dict[date, pa.Table]:
    storage = open_storage(root, options or None)
    model = {d: day_table(d, rows) for d in days(FIRST, count)}
    export_days(storage, model)
    return model


def _read(root: str, **options: Any) -> pa.Table:
    return t0lake.open(root, options or None).snapshot(EP).to_arrow()


def test_months_go_warm_and_years_go_cold_and_reads_are_unchanged(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    model = _lake(root)
    before = _read(root)
    (result,) = t0lake.compact(root, as_of=AS_OF, progress=False)
    assert result.committed and result.snapshot_id == 2
    snap = t0lake.open(root).snapshot(EP)
    tiers = snap.tiers()
    assert {tiers[d] for d in model if d.year == 2025} == {Tier.COLD}
    assert {tiers[d] for d in model if d.year == 2026} == {Tier.WARM}
    assert sorted(f.path.split("/")[2] for f in snap.manifest.files) == [
        "month=2026-01",
        "year=2025",
    ]
    assert snap.to_arrow().equals(before) and before.equals(model_table(model))
    assert snap.verify()["days"] == len(model)
    # the manifest says what it did: the operation, the policy and which files replaced which
    manifest = snap.manifest
    assert manifest.operation == Operation.COMPACT
    assert manifest.summary["as_of"] == "2026-12-01"
    assert manifest.summary["policy"] == DEFAULT_POLICY.to_json()
    replaced = {r["output"]: r for r in manifest.summary["replaced"]}
    cold = next(r for r in replaced.values() if r["tier"] == "cold")
    assert cold["days"] == 92 and len(cold["inputs"]) == 92
    assert all(p.startswith(f"{EP}/tier=hot/") for p in cold["inputs"])
    # parquet row order: day, then key
    table = pq.read_table(Path(root) / cold["output"])
    assert table.column("d").to_pylist() == sorted(table.column("d").to_pylist())
    # and nothing is left to do on the same date
    (again,) = t0lake.compact(root, as_of=AS_OF, progress=False)
    assert not again.committed and again.snapshot_id == 2


def test_hot_days_stay_and_the_policy_can_be_set_per_entrypoint(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    model = _lake(root, count=40)  # 2025-10-01 .. 2025-11-09
    (nothing,) = t0lake.compact(root, as_of=date(2025, 11, 15), progress=False)
    assert not nothing.committed  # October ended 15 days ago: still hot under 30 days
    t0lake.set_policy(root, EP, TierPolicy(hot_days=10))
    (moved,) = t0lake.compact(root, as_of=date(2025, 11, 15), progress=False)
    assert moved.committed
    tiers = t0lake.open(root).snapshot(EP).tiers()
    assert {tiers[d] for d in model if d.month == 10} == {Tier.WARM}
    assert {tiers[d] for d in model if d.month == 11} == {Tier.HOT}
    assert t0lake.open(root).snapshot(EP).manifest.summary["policy"]["hot_days"] == 10


def test_a_tampered_input_is_never_compacted(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    _lake(root)
    snap = t0lake.open(root).snapshot(EP)
    victim, _ = snap.manifest.days()[date(2025, 11, 3)]
    table = pq.read_table(Path(root) / victim.path)
    pq.write_table(
        table.set_column(2, "x", pa.array([9.0] * table.num_rows)), Path(root) / victim.path
    )
    with pytest.raises(t0lake.IntegrityError, match="2025-11-03"):
        t0lake.compact(root, as_of=AS_OF, progress=False)
    assert log.head(open_storage(root), EP).snapshot_id == 1  # type: ignore[union-attr]


def _new_files(root: Path, before: set[str]) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*.parquet")
        if str(p.relative_to(root)) not in before
    }


def test_two_compactions_of_two_copies_write_identical_bytes(tmp_path: Path) -> None:
    """One in a single thread, one on a Dask cluster of worker processes."""
    from distributed import Client, LocalCluster

    one, two = tmp_path / "one", tmp_path / "two"
    _lake(str(one), count=150, rows=50)  # to 2026-02-27
    shutil.copytree(one, two)
    existing = {str(p.relative_to(one)) for p in one.rglob("*.parquet")}
    with ThreadPoolExecutor(max_workers=1) as pool:
        t0lake.compact(str(one), as_of=AS_OF, executor=pool, progress=False)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        t0lake.compact(str(two), as_of=AS_OF, executor=client.get_executor(), progress=False)
    written_one, written_two = _new_files(one, existing), _new_files(two, existing)
    assert len(written_one) == 3  # cold 2025, warm 2026-01, warm 2026-02 (hot: none left)
    assert written_one == written_two
    # the manifests differ only in their commit time
    m1 = t0lake.open(str(one)).snapshot(EP).manifest
    m2 = t0lake.open(str(two)).snapshot(EP).manifest
    assert m1.files == m2.files and m1.summary == m2.summary


def test_a_racing_export_keeps_its_newer_day(tmp_path: Path) -> None:
    """The compaction was planned and written before an export replaced one of its days: at
    commit, the output's copy of that day is dropped and the export's version is served."""
    root = str(tmp_path / "lake")
    model = _lake(root)
    storage = open_storage(root)
    head = log.head(storage, EP)
    assert head is not None
    units = plan_units(head, DEFAULT_POLICY, AS_OF)
    outputs = tuple(compact_unit(storage, head, u, DEFAULT_POLICY.options(u.tier)) for u in units)
    changed = date(2025, 12, 24)
    model[changed] = day_table(changed, 9, version=1)
    export_days(storage, {changed: model[changed]})  # snapshot 2
    committed = commit(storage, EP, Compact(EP, outputs, {"as_of": AS_OF.isoformat()}))
    assert committed is not None and committed.snapshot_id == 3
    snap = t0lake.open(root).snapshot(EP)
    assert snap.to_arrow().equals(model_table(model))
    assert snap.tiers()[changed] == Tier.HOT
    cold = next(r for r in committed.summary["replaced"] if r["tier"] == "cold")
    assert cold["dropped_days"] == ["2025-12-24"]
    snap.verify()
    # the next compaction folds the newer day into a rewritten year
    (again,) = t0lake.compact(root, as_of=AS_OF, progress=False)
    assert again.committed
    snap = t0lake.open(root).snapshot(EP)
    assert snap.tiers()[changed] == Tier.COLD and all(f.complete for f in snap.manifest.files)
    assert snap.to_arrow().equals(model_table(model))


def test_a_stale_compaction_of_a_compacted_unit_commits_nothing(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    _lake(root)
    storage = open_storage(root)
    head = log.head(storage, EP)
    assert head is not None
    units = plan_units(head, DEFAULT_POLICY, AS_OF)
    outputs = tuple(compact_unit(storage, head, u, DEFAULT_POLICY.options(u.tier)) for u in units)
    t0lake.compact(root, as_of=AS_OF, progress=False)  # someone else compacted the same
    assert commit(storage, EP, Compact(EP, outputs, {})) is None


def test_reexporting_a_compacted_day_serves_the_new_version(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    model = _lake(root)
    t0lake.compact(root, as_of=AS_OF, progress=False)
    storage = open_storage(root)
    changed = date(2026, 1, 5)
    model[changed] = day_table(changed, 4, version=2)
    new = export_days(storage, {changed: model[changed]})
    assert new is not None
    month = next(
        f for f in new.files if f.tier == Tier.WARM and f.path.split("/")[2] == "month=2026-01"
    )
    assert changed not in {d.day for d in month.days} and not month.complete
    hot, _ = new.days()[changed]
    assert hot.tier == Tier.HOT and hot.version == 2
    snap = t0lake.open(root).snapshot(EP)
    assert snap.read("2026-01-04", "2026-01-06").height == 6 + 4 + 6
    assert snap.to_arrow().equals(model_table(model))
    snap.verify()
    # time travel still serves the old version
    old = t0lake.open(root).snapshot(EP, 2).read(changed, changed)
    assert old.height == 6


def _random_model(data: st.DataObject) -> tuple[dict[date, pa.Table], list[date]]:
    picked = data.draw(
        st.sets(st.dates(date(2024, 6, 1), date(2026, 11, 30)), min_size=1, max_size=25)
    )
    model = {d: day_table(d, data.draw(st.integers(1, 5))) for d in picked}
    as_ofs = data.draw(
        st.lists(st.dates(date(2024, 7, 1), date(2027, 6, 1)), min_size=1, max_size=3)
    )
    return model, sorted(as_ofs)


def _property(root: str, data: st.DataObject, **options: Any) -> None:
    storage = open_storage(root, options or None)
    model, as_ofs = _random_model(data)
    export_days(storage, model)
    for as_of in as_ofs:
        before = t0lake.open(root, options or None).snapshot(EP)
        hashes = {d: e.dataset_hash for d, (_, e) in before.manifest.days().items()}
        t0lake.compact(root, as_of=as_of, storage_options=options or None, progress=False)
        after = t0lake.open(root, options or None).snapshot(EP)
        assert {d: e.dataset_hash for d, (_, e) in after.manifest.days().items()} == hashes
        assert after.to_arrow().equals(before.to_arrow())
        assert after.to_arrow().equals(model_table(model))
        after.verify()
        assert not plan_units(after.manifest, DEFAULT_POLICY, as_of)  # one file per unit now
        # re-export some days (new content, or the same) after each compaction
        redo = data.draw(st.sets(st.sampled_from(sorted(model)), max_size=3))
        changes = {
            d: day_table(d, data.draw(st.integers(1, 5)), version=data.draw(st.integers(0, 2)))
            for d in redo
        }
        model.update(changes)
        if changes:
            export_days(storage, changes)
        assert t0lake.open(root, options or None).snapshot(EP).to_arrow().equals(model_table(model))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_property_every_row_and_hash_survives_on_local_disk(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    _property(str(tmp_path_factory.mktemp("prop") / "lake"), data)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_property_every_row_and_hash_survives_on_s3(
    s3_options: dict[str, Any], data: st.DataObject
) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(**s3_options)
    name = f"t0lake-prop-{data.draw(st.uuids()).hex[:12]}"
    fs.mkdir(name)
    _property(f"s3://{name}/lake", data, **s3_options)


def test_an_unknown_entrypoint_is_refused(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    _lake(root, count=3)
    with pytest.raises(t0lake.SnapshotNotFoundError, match="nothing to compact"):
        t0lake.compact(root, as_of=AS_OF, entrypoint="syn.other_v", progress=False)
    with pytest.raises(t0lake.ConfigError, match="as_of"):
        t0lake.compact(root, as_of="yesterday", progress=False)


def _tamper_day(path: Path, table: pa.Table, day: date) -> None:
    """Rewrite a compacted file with one value of ``day``'s rows changed."""
    days = table.column("d").to_pylist()
    row = days.index(day)
    values = table.column("x").to_pylist()
    values[row] = -1.0 if values[row] != -1.0 else 1.0
    pq.write_table(table.set_column(2, "x", pa.array(values, pa.float64())), path)


@pytest.mark.parametrize("where", ["local", "s3"])
def test_reads_of_a_few_days_of_a_year_prove_what_they_return(
    tmp_path: Path, where: str, request: pytest.FixtureRequest
) -> None:
    options: dict[str, Any] = {}
    root = str(tmp_path / "lake")
    if where == "s3":
        options = request.getfixturevalue("s3_options")
        root = f"s3://{request.getfixturevalue('s3_bucket')}/lake"
    model = _lake(root, **options)
    t0lake.compact(root, as_of=AS_OF, storage_options=options or None, progress=False)
    snap = t0lake.open(root, options or None).snapshot(EP)
    expected = model_table(model, date(2025, 11, 10), date(2025, 11, 12))
    assert snap.read("2025-11-10", "2025-11-12").equals(pl.from_arrow(expected))  # Polars path
    assert snap.to_arrow("2025-11-10", "2025-11-12").equals(expected)  # pyarrow path
    cold = next(f for f in snap.manifest.files if f.tier == Tier.COLD)
    storage = open_storage(root, options or None)
    local = tmp_path / "cold.parquet"
    local.write_bytes(storage.read_bytes(cold.path))
    _tamper_day(local, pq.read_table(local), date(2025, 11, 11))
    storage.write_bytes(cold.path, local.read_bytes())
    for read in (snap.read, snap.to_arrow):
        with pytest.raises(t0lake.IntegrityError, match="2025-11-11") as info:
            read("2025-11-10", "2025-11-12")
        assert info.value.context["column"] == "x"
    # a read of other days of the same file returns only rows it proved
    others = model_table(model, date(2025, 12, 1), date(2025, 12, 3))
    assert snap.read("2025-12-01", "2025-12-03").equals(pl.from_arrow(others))
    assert snap.to_arrow("2025-12-01", "2025-12-03").equals(others)
    with pytest.raises(t0lake.IntegrityError):
        snap.verify()


def test_an_output_that_reads_back_otherwise_is_never_committed(tmp_path: Path) -> None:
    from t0lake.lake.storage import LocalStorage

    class Flipping(LocalStorage):
        """A disk whose compacted files read back with one byte changed."""

        def read_bytes(self, relative: str) -> bytes:
            data = super().read_bytes(relative)
            if "/tier=cold/" in relative:
                return data[:100] + bytes([data[100] ^ 1]) + data[101:]
            return data

    root = str(tmp_path / "lake")
    _lake(root)
    plain = open_storage(root)
    storage = Flipping(url=root, fs=plain.fs, root=plain.root)
    head = log.head(storage, EP)
    assert head is not None
    (cold,) = [u for u in plan_units(head, DEFAULT_POLICY, AS_OF) if u.tier == Tier.COLD]
    with pytest.raises(t0lake.IntegrityError, match="reads back with other bytes"):
        compact_unit(storage, head, cold, DEFAULT_POLICY.options(Tier.COLD))
