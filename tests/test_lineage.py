"""Fingerprints: the same inputs give the same hash, any change gives another, and a
fingerprint never moves to a frame t0lake did not return."""

from __future__ import annotations

import gc
import hashlib
import json
from datetime import date, datetime, timedelta

import polars as pl
import pytest

import t0lake
from t0lake import lineage
from t0lake.errors import ConfigError
from tests.lakecases import EP

BASE = datetime(2026, 3, 1)


def _events() -> pl.DataFrame:
    return pl.DataFrame(
        {"id": [1, 2, 1], "t0": [BASE + timedelta(hours=h) for h in (5, 6, 7)], "y": [0, 1, 0]}
    )


def _features() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [1, 1, 2],
            "ts": [BASE + timedelta(hours=h) for h in (1, 6, 2)],
            "x": [0.5, 1.5, 2.5],
        }
    )


def test_hash_is_sha256_of_canonical_json() -> None:
    record = {"b": [1, 2, {"z": None, "a": "é"}], "a": True}
    fp = lineage.Fingerprint.of(record)
    text = '{"a":true,"b":[1,2,{"a":"\\u00e9","z":null}]}'
    assert fp.hash == hashlib.sha256(text.encode()).hexdigest()
    assert lineage.Fingerprint.of(dict(reversed(record.items()))).hash == fp.hash
    assert json.loads(fp.to_json()) == {"fingerprint": fp.hash, "record": record}


def test_pit_join_fingerprint_is_reproducible_and_sensitive() -> None:
    ev, ft = _events(), _features()
    first = t0lake.pit_join(ev, ft, "id", "t0", "ts")
    again = t0lake.pit_join(_events(), _features(), "id", "t0", "ts")
    fp = lineage.frame_fingerprint(first)
    assert lineage.frame_fingerprint(again) == fp and first.equals(again)
    record = fp.record
    assert record["kind"] == "pit_join" and record["t0lake_version"] == t0lake.__version__
    assert record["params"] == {
        "by": ["id"],
        "t0": "t0",
        "ts": "ts",
        "created": None,
        "max_age_us": None,
        "strict": True,
        "known_at": None,
    }
    assert record["events"]["rows"] == 3 and record["features"]["rows"] == 3
    assert record["events"]["columns"][0][:2] == ["id", "int8"]
    others = [
        t0lake.pit_join(ev, ft, "id", "t0", "ts", strict=False),
        t0lake.pit_join(ev, ft, "id", "t0", "ts", max_age="1h"),
        t0lake.pit_join(ev, ft.with_columns(x=pl.col("x") + 1), "id", "t0", "ts"),
        t0lake.pit_join(ev.reverse(), ft, "id", "t0", "ts"),  # event order is identity
        t0lake.pit_join(ev, ft.reverse(), "id", "t0", "ts"),
    ]
    hashes = {lineage.frame_fingerprint(o).hash for o in others}
    assert len(hashes) == len(others) and fp.hash not in hashes


def test_inputs_changed_in_place_after_the_join_do_not_change_its_fingerprint() -> None:
    ev, ft = _events(), _features()
    out = t0lake.pit_join(ev, ft, "id", "t0", "ts")
    ft[0, "x"] = 99.0  # the caller edits its own frame afterwards
    assert lineage.frame_fingerprint(out) == lineage.frame_fingerprint(
        t0lake.pit_join(_events(), _features(), "id", "t0", "ts")
    )


def test_frames_t0lake_did_not_return_have_no_fingerprint() -> None:
    ev = _events()
    out = t0lake.pit_join(ev, _features(), "id", "t0", "ts")
    for frame in (ev, _features(), out.filter(pl.col("y") == 0), out.clone(), out.head(2)):
        with pytest.raises(ConfigError, match="not produced by t0lake"):
            lineage.frame_fingerprint(frame)
    out.insert_column(0, pl.Series("extra", [1, 2, 3]))
    with pytest.raises(ConfigError, match="changed in place"):
        lineage.frame_fingerprint(out)


def test_collected_frames_leave_the_table_and_reused_ids_inherit_nothing() -> None:
    frames = [lineage.attach(pl.DataFrame({"a": [i]}), {"n": i}) for i in range(50)]
    assert [lineage.frame_fingerprint(f).record for f in frames] == [{"n": i} for i in range(50)]
    entries = [lineage._TABLE[id(f)] for f in frames]
    del frames
    gc.collect()
    assert not any(e in lineage._TABLE.values() for e in entries)  # finalizers cleaned up
    # a frame born on the id of a collected one inherits nothing
    reused = 0
    for i in range(2000):
        old = lineage.attach(pl.DataFrame({"a": [i]}), {"n": i})
        old_id = id(old)
        del old
        assert old_id not in lineage._TABLE
        new = pl.DataFrame({"a": [i]})
        if id(new) == old_id:
            reused += 1
            with pytest.raises(ConfigError):
                lineage.frame_fingerprint(new)
    assert reused, "CPython reused no id; the test proved nothing"


def test_records_are_built_once_and_lazily() -> None:
    calls: list[int] = []

    def make() -> dict[str, int]:
        calls.append(1)
        return {"n": len(calls)}

    frame = lineage.attach(pl.DataFrame({"a": [1]}), make)
    assert calls == []
    assert lineage.frame_fingerprint(frame) == lineage.frame_fingerprint(frame)
    assert calls == [1]


def test_unsupported_column_types_still_hash() -> None:
    ev = _events().with_columns(tags=pl.Series([{"a": 1}, {"a": None}, None]))  # a struct
    out = t0lake.pit_join(ev, _features(), "id", "t0", "ts")
    (tags,) = [
        c for c in lineage.frame_fingerprint(out).record["events"]["columns"] if c[0] == "tags"
    ]
    assert tags[1].startswith("arrow-ipc:")


# --------------------------------------------------------------------------- snapshots


def test_snapshot_join_is_reproduced_from_the_same_snapshot(lake: str) -> None:
    events = pl.DataFrame(
        {
            "grp": ["alpha", "Beta", "Zeta", "nobody"],
            "t0": [
                datetime(2026, 3, 4, 10),
                datetime(2026, 3, 5),
                datetime(2026, 3, 4),
                datetime(2026, 3, 4, 12),
            ],
        }
    )
    snap = t0lake.open(lake).snapshot(EP)
    out = t0lake.pit_join(events, snap, "grp", "t0", "ts", max_age="1d")
    fp = lineage.frame_fingerprint(out)
    feats = fp.record["features"]
    manifest = snap.manifest
    assert feats["kind"] == "snapshot_read" and feats["entrypoint"] == EP
    assert feats["snapshot_id"] == manifest.snapshot_id == 1
    assert feats["viewdef_hash"] == manifest.viewdef_hash
    assert feats["schema_hash"] == manifest.schema_hash
    assert (feats["start"], feats["end"]) == ("2026-03-03", "2026-03-05")
    days = manifest.days()
    assert feats["days"] == [
        [d.isoformat(), days[d][1].dataset_hash] for d in sorted(days) if d >= date(2026, 3, 3)
    ]
    # a new session, the same snapshot by id: the same rows and the same fingerprint
    again_snap = t0lake.open(lake).snapshot(EP, snapshot_id=1)
    again = t0lake.pit_join(events, again_snap, "grp", "t0", "ts", max_age="1d")
    assert again.equals(out)
    assert lineage.frame_fingerprint(again) == fp
    # a narrower window reads fewer days: another record, another fingerprint
    narrow = t0lake.pit_join(events, snap, "grp", "t0", "ts", max_age="12h")
    assert lineage.frame_fingerprint(narrow).record["features"]["start"] == "2026-03-03"
    assert lineage.frame_fingerprint(narrow) != fp  # max_age is a parameter too


def test_a_join_of_t0lake_frames_keeps_their_records() -> None:
    """Adding features from a second source to a joined frame nests the first join's
    record, so the lineage goes all the way down."""
    first = t0lake.pit_join(_events(), _features(), "id", "t0", "ts")
    more = _features().rename({"ts": "ts2", "x": "x2"})
    second = t0lake.pit_join(first, more, "id", "t0", "ts2")
    record = lineage.frame_fingerprint(second).record
    assert record["events"] == lineage.frame_fingerprint(first).record
    assert record["features"]["kind"] == "frame"
    # a frame derived from the first join is recorded by content instead
    third = t0lake.pit_join(first.with_columns(pl.col("x")), more, "id", "t0", "ts2")
    assert lineage.frame_fingerprint(third).record["events"]["kind"] == "frame"
    assert third.equals(second)
