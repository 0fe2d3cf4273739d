"""Lake URLs: a typo is refused before anything is written; one spelling per lake."""

from __future__ import annotations

from pathlib import Path

import pytest

import t0lake
from t0lake.lake.storage import open_storage


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("s3:/bucket/lake", "two slashes"),
        ("file:/tmp/lake", "two slashes"),
        ("nosuch://bucket/lake", "cannot open lake"),
        ("", "empty"),
    ],
)
def test_malformed_urls_are_refused_and_nothing_is_created(
    url: str, match: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(t0lake.ConfigError, match=match):
        open_storage(url)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("spelling", ["{root}", "{root}/", "/{root}", "{root}//", "{root}/./"])
def test_every_spelling_of_a_local_lake_is_one_canonical_url(tmp_path: Path, spelling: str) -> None:
    root = str(tmp_path / "lake")
    assert open_storage(spelling.format(root=root)).canonical_url == root


def test_relative_paths_are_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert open_storage("dir/lake/").canonical_url == str(tmp_path / "dir" / "lake")


def test_s3_urls_are_canonical_without_trailing_slashes(s3_options: dict[str, object]) -> None:
    assert open_storage("s3://bucket/prefix/", s3_options).canonical_url == "s3://bucket/prefix"
