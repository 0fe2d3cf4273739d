"""The console script leaves with main()'s exit code and every byte it printed, without
running native destructors (which can abort a process after its result is printed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from t0lake.lake.storage import open_storage
from tests.lake.synth import EP, day_table, days, export_days


@pytest.fixture
def synthetic_lake(tmp_path: Path) -> str:
    lake = str(tmp_path / "lake")
    export_days(open_storage(lake), {d: day_table(d, 3000) for d in days(date(2026, 4, 1), 5)})
    return lake


def _t0lake(*args: str) -> subprocess.CompletedProcess[str]:
    script = shutil.which("t0lake", path=str(Path(sys.executable).parent))
    assert script is not None, "the t0lake console script is not installed beside python"
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=120)


def test_the_console_script_keeps_the_exit_code_and_flushes_everything(
    synthetic_lake: str,
) -> None:
    ok = _t0lake("--json", "verify", EP, "--lake", synthetic_lake)
    assert ok.returncode == 0, ok.stderr
    (verified,) = json.loads(ok.stdout)["verified"]  # the whole JSON arrived: it parses
    assert verified["rows"] == 5 * 3000 and verified["files"] == 5

    bad = _t0lake("--json", "verify", "No..Such", "--lake", synthetic_lake)
    assert bad.returncode == 2
    assert json.loads(bad.stdout)["error"] == "ConfigError"


def test_python_dash_m_runs_the_same_script(synthetic_lake: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "t0lake", "verify", EP, "--lake", synthetic_lake],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "15,000" in done.stdout
