"""The throwaway cluster: stopped and removed when its ``with`` block ends, and also when the
process that started it is killed without ending it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from t0lake import pg
from t0lake.testing import TempPostgres
from t0lake.testing.postgres import SandboxPostgres

_CHILD = """
import json, sys, time
from t0lake.testing import TempPostgres
server = TempPostgres().start()
print(json.dumps({"port": server.port, "dir": str(server._dir)}), flush=True)
time.sleep(600)
"""


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_leaving_the_block_stops_and_removes_the_cluster() -> None:
    with TempPostgres() as server:
        with pg.connect(server.dsn) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("t0lake",)
        port, where = server.port, server._dir
        assert where is not None and where.exists()
    assert not _accepts(port)
    assert not where.exists()


def test_a_killed_owner_does_not_leave_its_server_behind() -> None:
    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    started = json.loads(child.stdout.readline())
    assert _accepts(started["port"])
    os.kill(child.pid, signal.SIGKILL)  # no `with`, no atexit: only the watchdog can clean up
    child.wait()
    deadline = time.monotonic() + 30
    while (_accepts(started["port"]) or Path(started["dir"]).exists()) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert not _accepts(started["port"])
    assert not Path(started["dir"]).exists()


def test_a_sandbox_outlives_a_stop_of_its_server_and_restarts_on_its_port() -> None:
    parent = Path(tempfile.mkdtemp(prefix="t0lake-test-sandbox-"))
    parent.chmod(0o755)  # the server's user (postgres under root) must reach the directory
    sandbox = SandboxPostgres(parent / "db")
    try:
        first = sandbox.up()
        assert first.started and sandbox.running()
        with pg.connect(first.dsn) as conn:
            conn.execute("CREATE TABLE kept (x int)")
            conn.commit()
        # the server is stopped behind t0lake's back (a reboot, say): up starts it again
        subprocess.run(
            [str(sandbox.bindir / "pg_ctl"), "-D", str(parent / "db" / "data"), "-w", "stop"],
            user="postgres" if os.geteuid() == 0 else None,
            cwd="/",
            check=True,
            capture_output=True,
        )
        assert sandbox.state() is None
        again = sandbox.up()
        assert again.started and again.port == first.port and again.dsn == first.dsn
        with pg.connect(again.dsn) as conn:
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)
        assert sandbox.down() == "stopped"
        assert not (parent / "db").exists() and not _accepts(first.port)
        assert sandbox.down() == "absent"
    finally:
        sandbox.down()
        shutil.rmtree(parent, ignore_errors=True)
