"""A throwaway PostgreSQL cluster in a temporary directory, for tests and the demo.

Nothing is assumed to be running: ``initdb`` creates a cluster, ``pg_ctl`` starts it on a
free port of 127.0.0.1, and leaving the context stops it and deletes the directory. A
watchdog does the same if this process dies without leaving it (killed by a timeout, say):
``pg_ctl`` daemonises the server, which would otherwise outlive us.
Postgres refuses to run as root, so when this process is root the server runs as the
``postgres`` system user.

:class:`SandboxPostgres` is the same cluster made to outlive the process that starts it, in a
directory the user names: ``t0lake db up`` / ``db down``, a server for trying the CLI.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from t0lake.errors import ConfigError
from t0lake.testing.ports import free_port

__all__ = ["SandboxPostgres", "SandboxState", "TempPostgres", "find_pg_bindir"]

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


def _server_user() -> str | None:
    return "postgres" if os.geteuid() == 0 else None


def _run(bindir: Path, user: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    result = _call(bindir, user, *args)
    if result.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _call(bindir: Path, user: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bindir / args[0]), *args[1:]],
        user=user,
        capture_output=True,
        text=True,
        check=False,
        cwd="/",  # the postgres user may not be allowed into our working directory
    )


def _give_to(directory: Path, user: str | None) -> None:
    if user is not None:
        pw = pwd.getpwnam(user)
        os.chown(directory, pw.pw_uid, pw.pw_gid)


def _initdb(bindir: Path, user: str | None, data: Path) -> None:
    _run(
        bindir,
        user,
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


def _pg_start(bindir: Path, user: str | None, directory: Path, port: int) -> None:
    """Start the cluster of ``directory/data`` on ``port`` of 127.0.0.1 (socket and log in
    ``directory``), waiting until it accepts connections."""
    options = (
        f"-c port={port} -c listen_addresses=127.0.0.1 "
        f"-c unix_socket_directories={directory} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c timezone=UTC"
    )
    _run(
        bindir,
        user,
        "pg_ctl",
        "-D",
        str(directory / "data"),
        "-l",
        str(directory / "server.log"),
        "-o",
        options,
        "-w",
        "-t",
        "60",
        "start",
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
        self._user: str | None = _server_user()
        self._watchdog: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={self.dbname}"

    def _run(self, *args: str) -> None:
        _run(self.bindir, self._user, *args)

    def start(self) -> TempPostgres:
        self._dir = Path(tempfile.mkdtemp(prefix="t0lake-pg-"))
        _give_to(self._dir, self._user)
        data = self._dir / "data"
        _initdb(self.bindir, self._user, data)
        self.port = free_port()
        _pg_start(self.bindir, self._user, self._dir, self.port)
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


# --------------------------------------------------------------------------- sandbox

_STATE_FILE = "t0lake-db.json"


@dataclass(frozen=True)
class SandboxState:
    """What ``t0lake db up`` reports: where the cluster lives, how to reach it, and whether
    this call started it (False: it was already running)."""

    directory: Path
    port: int
    dbname: str
    started: bool

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={self.dbname}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "dir": str(self.directory),
            "port": self.port,
            "dbname": self.dbname,
            "dsn": self.dsn,
            "started": self.started,
        }


class SandboxPostgres:
    """A PostgreSQL cluster in ``directory`` that outlives the process that starts it.

    Unlike :class:`TempPostgres` there is no watchdog: the point is a server a person keeps
    for a session of trying the CLI. A state file in the directory (port, database) marks it
    as t0lake's, so :meth:`down` only ever deletes a directory :meth:`up` made.
    """

    def __init__(self, directory: Path, *, bindir: Path | None = None) -> None:
        self.directory = Path(directory).expanduser().absolute()
        self._bindir = bindir
        self._user = _server_user()

    @staticmethod
    def default_directory() -> Path:
        """``$XDG_CACHE_HOME/t0lake/db`` (``~/.cache/t0lake/db``); as root, where the server
        runs as ``postgres``, which may not enter root's home, ``$TMPDIR/t0lake-db``."""
        if os.geteuid() == 0:
            return Path(tempfile.gettempdir()) / "t0lake-db"
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(cache) / "t0lake" / "db"

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_pg_bindir()
        return self._bindir

    def _state_path(self) -> Path:
        return self.directory / _STATE_FILE

    def _read_state(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self._state_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def running(self) -> bool:
        """Whether the cluster of this directory is up (``pg_ctl status``)."""
        if not (self.directory / "data").is_dir():
            return False
        return (
            _call(
                self.bindir, self._user, "pg_ctl", "-D", str(self.directory / "data"), "status"
            ).returncode
            == 0
        )

    def state(self) -> SandboxState | None:
        """The running cluster of this directory, or None."""
        state = self._read_state()
        if state is None or not self.running():
            return None
        return SandboxState(self.directory, int(state["port"]), str(state["dbname"]), False)

    def up(self, port: int | None = None, dbname: str = "t0lake") -> SandboxState:
        """Start the cluster (creating it first if the directory holds none); when it is
        already running, report it as it is (``started`` False, ``port`` ignored)."""
        state = self._read_state()
        if state is not None and self.running():
            return SandboxState(self.directory, int(state["port"]), str(state["dbname"]), False)
        if state is None and self.directory.exists() and any(self.directory.iterdir()):
            raise ConfigError(
                f"{self.directory} is not empty and holds no t0lake database: give --dir "
                "an empty or new directory",
                directory=str(self.directory),
            )
        if port is None:
            port = int(state["port"]) if state is not None else free_port()
        if state is None:
            dbname_now = dbname
            self._create()
        else:
            dbname_now = str(state["dbname"])
        try:
            _pg_start(self.bindir, self._user, self.directory, port)
        except RuntimeError as exc:
            raise ConfigError(
                f"could not start PostgreSQL in {self.directory} on port {port} (is the port "
                f"taken? try --port); see {self.directory / 'server.log'}: {exc}",
                directory=str(self.directory),
                port=port,
            ) from None
        if state is None:
            _run(
                self.bindir,
                self._user,
                "createdb",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                dbname_now,
            )
        self._state_path().write_text(
            json.dumps({"port": port, "dbname": dbname_now}) + "\n", encoding="utf-8"
        )
        return SandboxState(self.directory, port, dbname_now, True)

    def _create(self) -> None:
        """An empty directory, handed to the server's user, and a cluster in it."""
        created = not self.directory.exists()
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            _give_to(self.directory, self._user)
            if self._user is not None:
                reach = subprocess.run(
                    ["/bin/sh", "-c", 'test -w "$0" && test -x "$0"', str(self.directory)],
                    user=self._user,
                    cwd="/",
                    check=False,
                )
                if reach.returncode != 0:
                    raise ConfigError(
                        f"the server runs as the {self._user} system user (t0lake runs as "
                        f"root), which cannot reach {self.directory}: give --dir a "
                        "directory it can enter (and every directory above it), e.g. under /tmp",
                        directory=str(self.directory),
                    )
            _initdb(self.bindir, self._user, self.directory / "data")
        except BaseException:
            if created:
                shutil.rmtree(self.directory, ignore_errors=True)
            raise

    def down(self) -> str:
        """Stop the cluster and delete the directory: ``"stopped"`` (it was running),
        ``"deleted"`` (it was not: only the directory went) or ``"absent"`` (no t0lake
        database in the directory; nothing is touched)."""
        if self._read_state() is None:
            return "absent"
        was_running = self.running()
        if was_running:
            _call(
                self.bindir,
                self._user,
                "pg_ctl",
                "-D",
                str(self.directory / "data"),
                "-m",
                "fast",
                "-w",
                "stop",
            )
        shutil.rmtree(self.directory)
        return "stopped" if was_running else "deleted"
