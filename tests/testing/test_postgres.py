"""The throwaway cluster: stopped and removed when its ``with`` block ends, and also when the
process that started it is killed without ending it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from t0lake import pg
from t0lake.testing import TempPostgres

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
