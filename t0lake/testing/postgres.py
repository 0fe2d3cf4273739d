"""A throwaway PostgreSQL cluster in a temporary directory, for tests and the demo.

Nothing is assumed to be running: ``initdb`` creates a cluster, ``pg_ctl`` starts it on a
free port of 127.0.0.1, and leaving the context stops it and deletes the directory. A
watchdog does the same if this process dies without leaving it (killed by a timeout, say):
``pg_ctl`` daemonises the server, which would otherwise outlive us.
Postgres refuses to run as root, so when this process is root the server runs as the
``postgres`` system user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from t0lake.errors import ConfigError
from t0lake.testing.ports import free_port

__all__ = ["TempPostgres", "find_pg_bindir"]

_DEBIAN_BINDIRS = ("/usr/lib/postgresql/{v}/bin",)
_VERSIONS = ("17", "16", "15")


def find_pg_bindir() -> Path:
    """Directory holding initdb/pg_ctl: $T0LAKE_PG_BINDIR, pg_config, or the Debian path."""
    candidates: list[Path] = []
    if env := os.environ.get("T0LAKE_PG_BINDIR"):
        candidates.append(Path(env))
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += [Path(p.format(v=v)) for v in _VERSIONS for p in _DEBIAN_BINDIRS]
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise ConfigError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql-15 or set "
        "T0LAKE_PG_BINDIR"
    )


class TempPostgres:
    """A private PostgreSQL server for the lifetime of a ``with`` block.

    ``dsn`` connects as the superuser ``postgres`` over TCP to database ``t0lake``.
    """

    def __init__(self, *, bindir: Path | None = None, dbname: str = "t0lake") -> None:
        self.bindir = bindir or find_pg_bindir()
        self.dbname = dbname
        self.port = 0
        self._dir: Path | None = None
        self._user: str | None = "postgres" if os.geteuid() == 0 else None
        self._watchdog: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={self.dbname}"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            user=self._user,
            capture_output=True,
            text=True,
            check=False,
            cwd="/",  # the postgres user may not be allowed into our working directory
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()}")

    def start(self) -> TempPostgres:
        self._dir = Path(tempfile.mkdtemp(prefix="t0lake-pg-"))
        if self._user is not None:
            pw = pwd.getpwnam(self._user)
            os.chown(self._dir, pw.pw_uid, pw.pw_gid)
        data = self._dir / "data"
        self._run(
            "initdb",
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        self.port = free_port()
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self._dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c timezone=UTC"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(data),
            "-l",
            str(self._dir / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self._watchdog = self._watch(data)
        self._run(
            "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.dbname
        )
        return self

    def _watch(self, data: Path) -> subprocess.Popen[bytes]:
        """A shell in a session of its own that waits for this process to end, then stops the
        server and removes its directory; :meth:`stop` ends it first."""
        assert self._dir is not None
        script = (
            'while [ -d "/proc/$0" ]; do sleep 1; done; '
            '"$1" -D "$2" -m immediate -w stop >/dev/null 2>&1; rm -rf "$3"'
        )
        return subprocess.Popen(
            [
                "/bin/sh",
                "-c",
                script,
                str(os.getpid()),
                str(self.bindir / "pg_ctl"),
                str(data),
                str(self._dir),
            ],
            user=self._user,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
            self._watchdog = None
        if self._dir is None:
            return
        try:
            self._run("pg_ctl", "-D", str(self._dir / "data"), "-m", "immediate", "-w", "stop")
        except RuntimeError:
            pass
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
