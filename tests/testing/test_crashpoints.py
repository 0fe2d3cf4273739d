"""The crash hook: it numbers a command's storage I/O steps, and SIGKILLs the command at
the one it is told to, leaving whatever the commit protocol leaves at that point.

Each run is a child process (the hook patches the process it runs in, never this one).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import t0lake
from t0lake.testing.crashpoints import read_log
from tests.lakecases import EP, make_store, run_sql


def _hooked(*hook: str, command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "t0lake.testing.crashpoints", *hook, "--", "--json", *command],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def changed_lake(fresh_dsn: str, lake_dir: str) -> tuple[str, str]:
    """A lake holding one export of the tolerant store, whose day 1 then changed in
    Postgres: the next export writes one day file and commits snapshot 2."""
    make_store(fresh_dsn, policy="tolerant")
    t0lake.export(fresh_dsn, EP, lake_dir, progress=False)
    run_sql(fresh_dsn, "UPDATE lk.src SET score = -1 WHERE id = 3")
    return fresh_dsn, lake_dir


def _export(dsn: str, lake: str) -> list[str]:
    return ["export", EP, "--dsn", dsn, "--lake", lake, "--workers", "1"]


def test_counting_mode_lists_the_steps_and_changes_nothing_else(
    changed_lake: tuple[str, str], tmp_path: Path
) -> None:
    dsn, lake = changed_lake
    logfile = tmp_path / "steps.jsonl"
    done = _hooked("--log", str(logfile), command=_export(dsn, lake))
    assert done.returncode == 0, done.stderr
    steps, killed = read_log(str(logfile))
    assert killed is None
    assert [s.number for s in steps] == list(range(1, len(steps) + 1))
    calls = [s.call for s in steps]
    # the day file first (a durable temporary file renamed into place), the manifest last
    assert calls[0] == "write_bytes" and "day=2026-03-01/" in steps[0].target
    assert {"os.fsync", "os.replace", "os.link"} <= set(calls)
    manifest = calls.index("put_if_absent")
    assert steps[manifest].target == f"{EP}/_manifests/00000002.json"
    assert calls.index("os.replace") < manifest < calls.index("os.link")
    assert t0lake.open(lake).snapshot(EP).snapshot_id == 2


@pytest.mark.parametrize(("when", "head"), [("before", 1), ("after", 2)])
def test_kill_at_the_commit_really_kills_and_leaves_the_lake_readable(
    changed_lake: tuple[str, str], tmp_path: Path, when: str, head: int
) -> None:
    dsn, lake = changed_lake
    counted, twin = tmp_path / "count.jsonl", str(tmp_path / "twin")
    shutil.copytree(lake, twin)  # the same lake elsewhere: the same steps
    assert _hooked("--log", str(counted), command=_export(dsn, twin)).returncode == 0
    steps, _ = read_log(str(counted))
    link = next(s.number for s in steps if s.call == "os.link")

    logfile = tmp_path / "kill.jsonl"
    done = _hooked(
        "--kill-at", str(link), "--when", when, "--log", str(logfile), command=_export(dsn, lake)
    )
    assert done.returncode == -signal.SIGKILL
    assert done.stdout == ""  # it died before it could say anything
    logged, killed = read_log(str(logfile))
    assert killed is not None and killed.number == link and killed.call == "os.link"
    assert len(logged) == link  # nothing ran after the kill
    snap = t0lake.open(lake).snapshot(EP)
    assert snap.snapshot_id == head  # the link is the commit: before it, no snapshot 2
    snap.verify()
    assert snap.read().height == 200


def test_a_kill_point_past_the_last_step_lets_the_command_finish(
    changed_lake: tuple[str, str], tmp_path: Path
) -> None:
    dsn, lake = changed_lake
    done = _hooked("--kill-at", "10000", command=_export(dsn, lake))
    assert done.returncode == 0, done.stderr
    assert '"committed": true' in done.stdout


def test_the_cli_exit_code_passes_through(tmp_path: Path) -> None:
    done = _hooked(command=["verify", "--lake", str(tmp_path / "missing")])
    assert done.returncode == 2
    assert '"error": "ConfigError"' in done.stdout


@pytest.mark.parametrize("hook", [[], ["--kill-at", "0"], ["--when", "later"]])
def test_bad_hook_arguments_are_refused(hook: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "t0lake.testing.crashpoints", *hook, "--", "--version"]
        if hook
        else [sys.executable, "-m", "t0lake.testing.crashpoints"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "usage:" in done.stderr
