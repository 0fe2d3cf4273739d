"""``t0lake db up`` / ``db down`` for real: a server that outlives the command, reached
through the exact line it prints, then stopped and its directory gone."""

from __future__ import annotations

import json
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from t0lake.cli.app import main


@pytest.fixture
def sandbox_dir() -> Iterator[Path]:
    """A new directory's path under a parent the server's user (postgres, when the tests run
    as root) can enter; pytest's tmp_path is private to its user."""
    parent = Path(tempfile.mkdtemp(prefix="t0lake-test-db-"))
    parent.chmod(0o755)
    yield parent / "db"
    if (parent / "db").exists():  # a failed test: stop whatever it left running
        main(["db", "down", "--dir", str(parent / "db")])
    shutil.rmtree(parent, ignore_errors=True)


def _exported_dsn(line: str) -> str:
    words = shlex.split(line)
    assert words[0] == "export" and words[1].startswith("T0LAKE_PG_DSN=")
    return words[1].removeprefix("T0LAKE_PG_DSN=")


def test_up_prints_an_export_line_that_reaches_the_server_and_down_removes_it(
    sandbox_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "up", "--dir", str(sandbox_dir)]) == 0
    captured = capsys.readouterr()
    [line] = captured.out.splitlines()  # only the eval-able line goes to stdout
    assert "started" in captured.err and "t0lake db down" in captured.err
    dsn = _exported_dsn(line)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("t0lake",)

    # again: the same server, said so, the same line
    assert main(["db", "up", "--dir", str(sandbox_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [line]
    assert "already runs" in captured.err
    assert main(["--json", "db", "up", "--dir", str(sandbox_dir)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["dsn"] == dsn and result["dir"] == str(sandbox_dir)
    assert result["started"] is False

    assert main(["db", "down", "--dir", str(sandbox_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "unset T0LAKE_PG_DSN"
    assert not sandbox_dir.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=2).close()

    # nothing there: said so, exit 0, nothing printed to eval
    assert main(["db", "down", "--dir", str(sandbox_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "nothing to stop" in captured.err


def test_up_refuses_a_directory_that_is_not_its_own(
    sandbox_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox_dir.mkdir()
    (sandbox_dir / "notes.txt").write_text("mine\n")
    assert main(["--json", "db", "up", "--dir", str(sandbox_dir)]) == 2
    error = json.loads(capsys.readouterr().out)
    assert error["error"] == "ConfigError" and error["directory"] == str(sandbox_dir)
    # and down never deletes a directory up did not make
    assert main(["db", "down", "--dir", str(sandbox_dir)]) == 0
    assert (sandbox_dir / "notes.txt").read_text() == "mine\n"
