"""Names and paths that arrive from users: refused, never escaped, one spelling per name."""

from __future__ import annotations

from pathlib import Path

import pytest

import t0lake
from t0lake.lake.storage import check_name, check_relative
from tests.lakecases import EP


@pytest.mark.parametrize(
    ("name", "lower"),
    [("Syn.Events_V", "syn.events_v"), ("LK.FEATURES_V", "lk.features_v"), ("a.B$", "a.b$")],
)
def test_upper_case_names_are_refused_with_their_lower_case_spelling(name: str, lower: str) -> None:
    with pytest.raises(t0lake.ConfigError, match="upper-case") as info:
        check_name(name)
    assert repr(lower) in info.value.message and "lower case" in info.value.message
    assert info.value.context == {"entrypoint": name}
    assert check_name(lower) == lower


@pytest.mark.parametrize(
    "name", ["a.b\n", "a\n.b", "../x.y", "x.y/z", "x", "\u0131.b", "\u212a.b", ""]
)
def test_odd_names_are_refused(name: str) -> None:
    with pytest.raises(t0lake.ConfigError, match=r"must be schema\.view"):
        check_name(name)


@pytest.mark.parametrize("path", ["a\n", "a/b\n", "a/../b", "", "/a", "a//b"])
def test_odd_relative_paths_are_refused(path: str) -> None:
    with pytest.raises(t0lake.ConfigError, match="unsafe lake path"):
        check_relative(path)


def test_an_upper_case_export_writes_nothing_and_reads_refuse_it(
    store_dsn: str, lake_dir: str
) -> None:
    t0lake.export(store_dsn, EP, lake_dir)
    before = sorted(p.name for p in Path(lake_dir).iterdir())
    with pytest.raises(t0lake.ConfigError, match=r"'lk\.features_v'"):
        t0lake.export(store_dsn, EP.upper(), lake_dir)
    assert sorted(p.name for p in Path(lake_dir).iterdir()) == before == [EP]
    with pytest.raises(t0lake.ConfigError, match="upper-case"):
        t0lake.open(lake_dir).snapshot("Lk.Features_v")
