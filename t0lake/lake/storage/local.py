"""Local disk: put-if-absent by link(2) of a complete, fsynced temporary file.

link() fails when the name exists, and the name appears only once the bytes are complete
and durable, so a racing reader never sees a half-written manifest. A new name is durable
only once its directory is: after every link(2), rename(2) and mkdir(2) the directory that
changed is fsynced too, or a power loss could take back a manifest that the Postgres
registry already names.

A write that fails (disk full, read-only, no permission) removes its temporary file and
raises StorageError saying what happened where; only a killed process leaves a
``….tmp-…`` file behind, which ``vacuum`` deletes once it is older than the grace period.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Iterator

from t0lake.errors import CommitConflictError, ConfigError, StorageError
from t0lake.lake.storage.base import LakeStorage

__all__ = ["TEMP_MARK", "LocalStorage", "fsync_dir"]

TEMP_MARK = ".tmp-"  # in the name of every temporary file: what vacuum recognises

_WRITES = frozenset({"writing", "committing", "deleting"})
# errors of the disk, not of t0lake: what the message says, with the path
_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EROFS: "the filesystem is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "an I/O error of the disk",
}


class LocalStorage(LakeStorage):
    """A lake root on local disk."""

    is_local = True

    def uri(self, relative: str) -> str:
        return self.full(relative)

    def check_commits(self) -> None:
        """Local disk commits by link(2); refused only when the lake root is a file (such
        as ``/dev/null``), which no write below it could succeed in."""
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise ConfigError(
                f"the lake {self.url} is a file, not a directory: pass a directory",
                lake=self.url,
            )

    @contextlib.contextmanager
    def _io(self, action: str, relative: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            if exc.errno not in _REASONS or action not in _WRITES:
                raise  # reads keep their own errors (a missing or unreadable file)
            where = exc.filename or self.full(relative)
            left = "nothing was deleted" if action == "deleting" else "no partial file is left"
            raise StorageError(
                f"{action} {relative} failed: {_REASONS[exc.errno]} ({where}); {left}: fix "
                "the disk and re-run",
                path=relative,
                lake=self.url,
            ) from exc

    def write_bytes(self, relative: str, data: bytes) -> None:
        path = self.full(relative)
        with self._io("writing", relative):
            tmp = _durable_temp(path, data)
            try:
                os.replace(tmp, path)
            except BaseException:
                _remove(tmp)
                raise
            fsync_dir(os.path.dirname(path))

    def put_if_absent(self, relative: str, data: bytes) -> None:
        path = self.full(relative)
        with self._io("committing", relative):
            tmp = _durable_temp(path, data)
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise CommitConflictError(
                    f"{relative} was committed by someone else", path=relative
                ) from None
            finally:
                _remove(tmp)
            fsync_dir(os.path.dirname(path))  # the new name, and the temporary one gone


def fsync_dir(directory: str) -> None:
    """Make the names in ``directory`` durable (after link, rename, mkdir or unlink in it)."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _makedirs(directory: str) -> None:
    """``os.makedirs`` whose new directories survive a power loss: each parent is fsynced
    after a directory appears in it (also when a racing writer created it first)."""
    missing = []
    current = directory
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for new in reversed(missing):
        try:
            os.mkdir(new)
        except FileExistsError:
            if not os.path.isdir(new):
                raise
        fsync_dir(os.path.dirname(new))


def _durable_temp(path: str, data: bytes) -> str:
    """``data`` written and fsynced under a unique temporary name beside ``path``; if that
    fails, the temporary file is gone again before the error propagates."""
    _makedirs(os.path.dirname(path))
    tmp = f"{path}{TEMP_MARK}{os.getpid()}-{threading.get_ident()}-{os.urandom(4).hex()}"
    fh = open(tmp, "xb")  # noqa: SIM115 - closed below, the file removed if anything fails
    try:
        with fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def _remove(path: str) -> None:
    """Remove a temporary file; a failure to do so must not hide the error being raised (a
    leftover is vacuum's to delete)."""
    with contextlib.suppress(OSError):
        os.unlink(path)
