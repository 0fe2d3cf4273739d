"""Live files against the size and sha256 their manifest names."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from t0lake.lake.filecheck import damaged_files
from t0lake.lake.storage import open_storage
from tests.lake.synth import day_table, days, export_days


def test_only_the_damaged_files_are_named(tmp_path: Path) -> None:
    storage = open_storage(str(tmp_path / "lake"))
    head = export_days(storage, {d: day_table(d, 30) for d in days(date(2026, 5, 1), 4)})
    assert head is not None
    files = sorted(head.files, key=lambda f: f.path)
    assert damaged_files(storage, files) == {}

    gone, short, flipped, sound = files
    (tmp_path / "lake" / gone.path).unlink()
    (tmp_path / "lake" / short.path).write_bytes(b"PAR1")
    data = bytearray((tmp_path / "lake" / flipped.path).read_bytes())
    data[-20] ^= 1
    (tmp_path / "lake" / flipped.path).write_bytes(bytes(data))

    assert damaged_files(storage, files) == {
        gone.path: "missing",
        short.path: f"4 bytes, the manifest says {short.bytes:,}",
        flipped.path: "altered (sha256 differs from the manifest's)",
    }
    assert damaged_files(storage, [sound]) == {}
    assert damaged_files(storage, []) == {}


def test_a_day_whose_digests_do_not_make_its_hash_is_named(tmp_path: Path) -> None:
    from dataclasses import replace

    from t0lake.lake.filecheck import inconsistent_days

    storage = open_storage(str(tmp_path / "lake"))
    head = export_days(storage, {d: day_table(d, 10) for d in days(date(2026, 5, 1), 3)})
    assert head is not None and inconsistent_days(head) == {}
    victim = sorted(head.files, key=lambda f: f.path)[1]
    (day,) = victim.days
    lying = replace(victim, days=(replace(day, columns={**day.columns, "x": "f" * 64}),))
    forged = replace(head, files=tuple(lying if f is victim else f for f in head.files))
    assert inconsistent_days(forged) == {
        victim.path: f"day {day.day}: its column digests do not make its dataset hash"
    }
