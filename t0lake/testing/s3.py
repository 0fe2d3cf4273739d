"""A throwaway S3-protocol server (moto's server mode) on 127.0.0.1, for tests and
benchmarks: real HTTP, real conditional writes, nothing leaves the machine.

moto is a development dependency; it is run as ``python -m moto.server``, never imported.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from t0lake.testing.ports import free_port

__all__ = ["moto_server"]


@contextmanager
def moto_server(timeout: float = 30.0) -> Iterator[str]:
    """A moto S3 server in its own process on a free port; yields its endpoint URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto S3 server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
