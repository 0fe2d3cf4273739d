"""``t0lake files``: the live file list of a snapshot for other engines, time travel, the
partial files of a compaction, bad input (tests/enginecases.py builds the history)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from t0lake.cli import main
from t0lake.testing import TempPostgres
from tests.enginecases import History, history_in
from tests.lakecases import DAYS, EP, ROWS_PER_DAY


@pytest.fixture(scope="module")
def history(pg_server: TempPostgres) -> Iterator[History]:
    yield from history_in(pg_server)


def _files(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["files", EP, *args, "--json"]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_json_lists_the_snapshots_files_as_the_python_twin_does(
    history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _files(capsys, "--lake", history.lake)
    snap = history.snapshot()
    assert result["snapshot_id"] == 4 and result["manifest_sha256"] == snap.manifest.sha256
    assert result["files"] == [f.to_dict() for f in snap.live_files()]
    assert result["rows"] == DAYS * ROWS_PER_DAY and result["days"] == DAYS
    assert result["partial_files"] == 1  # the month file whose day 2 was re-exported
    assert result["event_time_col"] == "ts" and result["day_expr"] == "ts::date"
    assert all(Path(f["uri"]).is_absolute() and Path(f["uri"]).exists() for f in result["files"])


def test_time_travel_and_a_day_range(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    old = _files(capsys, "--lake", history.lake, "--snapshot", "2")
    assert old["snapshot_id"] == 2 and old["partial_files"] == 0
    assert [f["tier"] for f in old["files"]] == ["hot"] * DAYS
    assert old["files"] == [f.to_dict() for f in history.snapshot(2).live_files()]
    part = _files(
        capsys, "--lake", history.lake, "--snapshot", "3", "--start", "2026-03-02", "--end",
        "2026-03-03",
    )  # fmt: skip
    (month,) = part["files"]
    assert part["start"] == "2026-03-02" and part["end"] == "2026-03-03"
    assert month["tier"] == "warm" and month["whole"] is False
    assert month["row_ranges"] == [[ROWS_PER_DAY, ROWS_PER_DAY], [2 * ROWS_PER_DAY, ROWS_PER_DAY]]


def test_text_output_is_a_uri_a_line_and_marks_partial_files(
    history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["files", EP, "--lake", history.lake]) == 0
    lines = capsys.readouterr().out.splitlines()
    uris = [f.uri for f in history.snapshot().live_files()]
    assert [line.split("  #")[0] for line in lines[:-1]] == uris
    assert "only rows 0-39, 80-199 of 200" in lines[0]  # the month without its day 2
    assert lines[1] == uris[1]  # the hot file of day 2: read it whole
    assert lines[-1].startswith(f"# {EP} snapshot 4: 2 file(s), {DAYS} day(s)")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--snapshot", "1.5"], "ConfigError"),
        (["--snapshot", "-1"], "ConfigError"),
        (["--snapshot", "0"], "SnapshotNotFoundError"),
        (["--snapshot", "99"], "SnapshotNotFoundError"),
        (["--start", "2026-03-05", "--end", "2026-03-01"], "ConfigError"),
        (["--start", "March"], "ConfigError"),
    ],
)
def test_bad_input_is_a_config_error_exit_2(
    history: History, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    assert main(["files", EP, "--lake", history.lake, *args, "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"] == error


def test_unknown_entrypoint_and_no_lake(
    history: History, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["files", "lk.nothing_v", "--lake", history.lake, "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"] == "SnapshotNotFoundError"
    monkeypatch.delenv("T0LAKE_LAKE", raising=False)
    assert main(["files", EP, "--json"]) == 2
    assert "--lake" in json.loads(capsys.readouterr().out)["message"]
