"""A storage with no put-if-absent t0lake trusts is refused before anything is written."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import fsspec
import pytest

import t0lake
from t0lake.lake.storage import LakeStorage, open_storage
from tests.lake.synth import EP, day_table, days, export_days

_lakes = itertools.count()


@pytest.fixture
def memory_lake(tmp_path: Path) -> Iterator[tuple[str, LakeStorage]]:
    """A lake with a snapshot and days old enough to compact, copied file by file into
    fsspec's memory filesystem (t0lake cannot commit there, so it was built on disk)."""
    local = open_storage(str(tmp_path / "lake"))
    export_days(local, {d: day_table(d, 4) for d in days(date(2025, 11, 1), 40)})
    url = f"memory://t0lake-unsupported-{next(_lakes)}"
    memory = open_storage(url)
    for path in local.walk(""):
        memory.write_bytes(path, local.read_bytes(path))
    try:
        yield url, memory
    finally:
        memory.fs.rm(memory.root, recursive=True)


def _everything(storage: LakeStorage) -> dict[str, bytes]:
    return {p: storage.read_bytes(p) for p in storage.walk("")}


WRITERS: dict[str, Callable[[str], Any]] = {
    "compact": lambda url: t0lake.compact(url, as_of="2026-12-01", progress=False),
    "pin": lambda url: t0lake.pin(url, EP, 1, "keep"),
    "unpin": lambda url: t0lake.unpin(url, EP, "keep"),
    "expire": lambda url: t0lake.expire(url, EP, keep_last=1),
    "set_policy": lambda url: t0lake.set_policy(url, EP, t0lake.TierPolicy()),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_writer_refuses_a_memory_lake_before_writing(
    memory_lake: tuple[str, LakeStorage], writer: str
) -> None:
    url, storage = memory_lake
    before = _everything(storage)
    assert len(before) == 41  # 40 day files and a manifest
    with pytest.raises(t0lake.ConfigError, match="no put-if-absent") as info:
        WRITERS[writer](url)
    assert info.value.context["lake"] == url
    assert _everything(storage) == before  # compact used to write its month files first


def test_only_local_and_s3_can_commit(
    tmp_path: Path, s3_bucket: str, s3_options: dict[str, Any]
) -> None:
    open_storage(str(tmp_path)).check_commits()
    open_storage(f"s3://{s3_bucket}/lake", dict(s3_options)).check_commits()
    storage = open_storage("memory://somewhere")
    with pytest.raises(t0lake.ConfigError, match="local path or s3://"):
        storage.check_commits()
    with pytest.raises(t0lake.ConfigError):
        storage.put_if_absent("ep.v/_manifests/00000001.json", b"{}")
    assert fsspec.filesystem("memory").exists("/somewhere") is False
    with pytest.raises(t0lake.ConfigError):  # a chained URL is refused when it is opened
        open_storage(f"simplecache::file://{tmp_path}/lake")
