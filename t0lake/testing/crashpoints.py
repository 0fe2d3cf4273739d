"""Crash points: a t0lake command that SIGKILLs itself at its N-th storage I/O step.

A crash test that guesses sleep times kills a process somewhere; this one kills it at a
named step, and can kill it at every step in turn. The steps are the calls through which
the lake's bytes change: the storage methods ``write_bytes``, ``put_if_absent`` and
``delete`` (of :class:`~t0lake.lake.storage.LakeStorage` and its local and S3 subclasses),
and, inside them, the system calls local disk makes durable with (``fsync``, ``replace``,
``rename``, ``link``, ``unlink``). Each is numbered in the order it starts (one counter for
all threads) and logged, one JSON line per step, before it runs; with ``--kill-at N`` the
process kills itself (SIGKILL: no ``finally``, no atexit, no flush, exactly as a power cut
or the OOM killer leaves it) just before the N-th step starts, or with ``--when after``
just after it returns or raises::

    python -m t0lake.testing.crashpoints --log steps.jsonl -- export lk.x --lake L --dsn D
    python -m t0lake.testing.crashpoints --kill-at 7 --when after -- export lk.x ...

Without ``--kill-at`` (counting mode) the command runs to its end and the log lists its
steps. Everything after ``--`` is the ``t0lake`` command line.

This is fault injection for the child processes of the reliability harness
(``benchmarks/reliability.py``) and of its own tests; the patching happens only in the
process this module runs as a program, never in a test's own process. It sits above every
layer it instruments (it wraps the lake's storage and runs the CLI), so it imports them
inside the functions that run in that process only (importing this module patches nothing
and imports neither); pyproject.toml's layer contract names these two imports as allowed.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["OS_STEPS", "STORAGE_STEPS", "WHEN", "CrashHook", "Step", "install", "main", "read_log"]

# the storage methods that change the lake, and the classes that may define them
STORAGE_STEPS = ("write_bytes", "put_if_absent", "delete")
_STORAGE_CLASSES = (
    ("t0lake.lake.storage.base", "LakeStorage"),
    ("t0lake.lake.storage.local", "LocalStorage"),
    ("t0lake.lake.storage.s3", "S3Storage"),
)
# the system calls a storage method makes its bytes durable and visible with (local disk)
OS_STEPS = ("fsync", "replace", "rename", "link", "unlink", "mkdir")
WHEN = ("before", "after")

_inside = threading.local()  # how deep this thread is in an instrumented storage method


@dataclass(frozen=True)
class Step:
    """One logged I/O step: its number, the call (``write_bytes``, ``os.fsync`` …), what it
    was applied to (a lake-relative path for storage methods, a file path for system
    calls) and the storage class or ``os``."""

    number: int
    call: str
    target: str
    owner: str

    def to_json(self) -> dict[str, Any]:
        return {"step": self.number, "call": self.call, "target": self.target, "owner": self.owner}


class CrashHook:
    """The step counter of one process, its log, and the step to die at."""

    def __init__(
        self, kill_at: int | None = None, when: str = "before", log: str | None = None
    ) -> None:
        if when not in WHEN:
            raise ValueError(f"when must be one of {WHEN}, not {when!r}")
        if kill_at is not None and kill_at < 1:
            raise ValueError(f"kill_at counts from 1, not {kill_at}")
        self.kill_at = kill_at
        self.when = when
        self.count = 0
        self._lock = threading.Lock()
        self._fd = (
            os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
            if log
            else None
        )

    def _write(self, doc: dict[str, Any]) -> None:
        """One line per write(2) on an O_APPEND descriptor: whatever was logged before the
        kill is in the file (the page cache outlives the process)."""
        if self._fd is not None:
            os.write(self._fd, (json.dumps(doc, sort_keys=True) + "\n").encode())

    def _die(self, number: int, step: Step) -> None:
        self._write({"kill": number, "when": self.when, **step.to_json()})
        os.kill(os.getpid(), signal.SIGKILL)

    def step(
        self, call: str, target: str, owner: str, fn: Callable[..., Any], *args: Any, **kw: Any
    ) -> Any:
        """Number and log the step, kill before or after it when it is the one, run it."""
        with self._lock:
            self.count += 1
            current = Step(self.count, call, target, owner)
            self._write(current.to_json())
            if current.number == self.kill_at and self.when == "before":
                self._die(current.number, current)
        try:
            return fn(*args, **kw)
        finally:
            if current.number == self.kill_at and self.when == "after":
                with self._lock:
                    self._die(current.number, current)


def install(hook: CrashHook) -> None:
    """Route this process's storage writes and their system calls through ``hook``.

    A system call is a step only inside an instrumented storage method (the rest of the
    process, Python's own imports included, goes untouched); a storage method called from
    inside another (a subclass calling its base) is part of the outer step.
    """
    from t0lake.lake.storage import base, local, s3  # in the instrumented process only

    modules = {m.__name__: m for m in (base, local, s3)}
    for module_name, class_name in _STORAGE_CLASSES:
        cls = getattr(modules[module_name], class_name)
        for name in STORAGE_STEPS:
            if name in vars(cls):
                setattr(cls, name, _storage_wrapper(hook, class_name, name, vars(cls)[name]))
    for name in OS_STEPS:
        setattr(os, name, _os_wrapper(hook, name, getattr(os, name)))


def _storage_wrapper(
    hook: CrashHook, owner: str, name: str, method: Callable[..., Any]
) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, relative: str, *args: Any, **kw: Any) -> Any:
        depth = getattr(_inside, "depth", 0)
        if depth:
            return method(self, relative, *args, **kw)
        _inside.depth = 1
        try:
            return hook.step(name, str(relative), owner, method, self, relative, *args, **kw)
        finally:
            _inside.depth = 0

    return wrapper


def _os_wrapper(hook: CrashHook, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def wrapper(*args: Any, **kw: Any) -> Any:
        if not getattr(_inside, "depth", 0):
            return call(*args, **kw)
        return hook.step(f"os.{name}", _describe(name, args), "os", call, *args, **kw)

    return wrapper


def _describe(name: str, args: Sequence[Any]) -> str:
    """What a system call applies to: the destination of a rename or link, the file behind
    an fsynced descriptor."""
    if not args:
        return ""
    if name == "fsync":
        try:
            return os.readlink(f"/proc/self/fd/{int(args[0])}")
        except (OSError, ValueError, TypeError):
            return f"fd {args[0]}"
    return str(os.fspath(args[1] if name in ("replace", "rename", "link") else args[0]))


def read_log(path: str) -> tuple[list[Step], Step | None]:
    """The steps a run logged, in order, and the one it was killed at (None: it was not)."""
    steps: list[Step] = []
    killed: Step | None = None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            doc = json.loads(line)
            step = Step(int(doc["step"]), str(doc["call"]), str(doc["target"]), str(doc["owner"]))
            if "kill" in doc:
                killed = step
            else:
                steps.append(step)
    return steps, killed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m t0lake.testing.crashpoints",
        description="Run a t0lake command, numbering (and logging) its storage I/O steps; "
        "with --kill-at N, SIGKILL it at the N-th.",
    )
    parser.add_argument("--kill-at", type=int, default=None, metavar="N")
    parser.add_argument("--when", choices=WHEN, default="before")
    parser.add_argument("--log", default=None, metavar="FILE", help="JSON lines, one per step")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the t0lake arguments")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the hook's options, install it, run the CLI; the CLI's exit code (or none at
    all: the process was killed)."""
    parser = _parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        parser.error("give the t0lake command after --")
    if args.kill_at is not None and args.kill_at < 1:
        parser.error("--kill-at counts steps from 1")
    install(CrashHook(args.kill_at, args.when, args.log))
    from t0lake.cli import main as cli_main  # after install: the CLI sees patched storage

    code = int(cli_main(command))
    return code


def _run() -> None:
    """As the ``t0lake`` console script ends: flush, then leave without the native
    libraries' destructors (t0lake.cli.app.run says why)."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to say
            stream.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    _run()
