"""Local disk: a failed write leaves no temporary file and says what happened where, and
every new name (link, rename, mkdir) is made durable by fsyncing its directory."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import t0lake
from t0lake.lake.storage import open_storage

MANIFEST = "ep.v/_manifests/00000001.json"
DATA = "ep.v/tier=hot/day=2026-01-01/ab.parquet"


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB filesystem (tmpfs), so that a write really meets ENOSPC."""
    where = tmp_path / "tiny"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tiny tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_is_a_storage_error_and_leaves_no_temporary_file(tiny_disk: Path) -> None:
    storage = open_storage(str(tiny_disk / "lake"))
    storage.write_bytes("ep.v/small.bin", b"x" * 1000)
    too_big = os.urandom(512 * 1024)
    for write, path in ((storage.write_bytes, DATA), (storage.put_if_absent, MANIFEST)):
        with pytest.raises(t0lake.StorageError, match="the disk is full") as info:
            write(path, too_big)
        assert info.value.context == {"path": path, "lake": str(tiny_disk / "lake")}
        assert info.value.exit_code == 1
        assert _files(tiny_disk) == ["lake/ep.v/small.bin"]  # no ….tmp-… left behind
    assert not storage.exists(MANIFEST)


def test_a_read_only_disk_is_a_storage_error(tiny_disk: Path) -> None:
    storage = open_storage(str(tiny_disk / "lake"))
    storage.write_bytes(DATA, b"x")
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    for write, path in ((storage.write_bytes, DATA), (storage.put_if_absent, MANIFEST)):
        with pytest.raises(t0lake.StorageError, match="read-only") as info:
            write(path, b"y")
        assert info.value.context["path"] == path
    with pytest.raises(t0lake.StorageError, match=r"deleting .* read-only"):
        storage.delete(DATA)
    assert storage.read_bytes(DATA) == b"x"


def test_any_failure_while_writing_removes_the_temporary_file(tmp_path: Path) -> None:
    """Not only the disk's errors: whatever interrupts the write (here a payload the file
    refuses) leaves no ….tmp-… file behind."""
    storage = open_storage(str(tmp_path))
    for write, path in ((storage.write_bytes, DATA), (storage.put_if_absent, MANIFEST)):
        with pytest.raises(TypeError):
            write(path, "text, not bytes")  # type: ignore[arg-type]
    assert _files(tmp_path) == []


class _DirectorySyncs:
    """os.fsync as the code calls it, recording each fsync of a directory with the names
    that directory holds at that moment (so a test sees what the fsync made durable), then
    doing the real fsync."""

    def __init__(self) -> None:
        self.real = os.fsync
        self.synced: list[tuple[int, set[str]]] = []

    def __call__(self, fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            self.synced.append((os.fstat(fd).st_ino, set(os.listdir(fd))))
        self.real(fd)

    def names_synced_in(self, directory: Path) -> set[str]:
        inode = directory.stat().st_ino
        return {n for ino, names in self.synced if ino == inode for n in names}


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> _DirectorySyncs:
    recorder = _DirectorySyncs()
    monkeypatch.setattr(os, "fsync", recorder)
    return recorder


def test_every_new_name_is_made_durable_by_fsyncing_its_directory(
    tmp_path: Path, syncs: _DirectorySyncs
) -> None:
    root = tmp_path / "lake"  # does not exist yet: created with everything below it
    storage = open_storage(str(root))
    storage.put_if_absent(MANIFEST, b"{}")
    manifests = root / "ep.v" / "_manifests"
    # the directory was fsynced after the link (the manifest's name is in it) and after
    # the temporary name was removed (it never is)
    assert syncs.names_synced_in(manifests) == {"00000001.json"}
    # each directory created on the way was made durable in its parent
    assert "lake" in syncs.names_synced_in(tmp_path)
    assert "ep.v" in syncs.names_synced_in(root)
    assert "_manifests" in syncs.names_synced_in(root / "ep.v")

    storage.write_bytes(DATA, b"data")  # rename(2) into place
    day = root / "ep.v" / "tier=hot" / "day=2026-01-01"
    assert "ab.parquet" in syncs.names_synced_in(day)
    assert "tier=hot" in syncs.names_synced_in(root / "ep.v")
    assert "day=2026-01-01" in syncs.names_synced_in(day.parent)

    before = len(syncs.synced)
    with pytest.raises(t0lake.CommitConflictError):
        storage.put_if_absent(MANIFEST, b"other")
    assert len(syncs.synced) == before  # a lost race changed no directory


_CHILD = """
import sys
from t0lake.lake.storage import open_storage
storage = open_storage(sys.argv[1])
storage.put_if_absent(sys.argv[2], b"{}")
storage.write_bytes(sys.argv[3], b"data")
"""
_OPEN = re.compile(r'openat\(AT_FDCWD, "([^"]+)", ([^)]*)\) = (\d+)')
_SYSCALLS = "trace=openat,link,linkat,rename,renameat,renameat2,fsync"
_NEW_NAME = re.compile(
    r'(?:link|rename|renameat2?)\((?:AT_FDCWD, )?"[^"]+", (?:AT_FDCWD, )?"([^"]+)"'
)
_FSYNC = re.compile(r"fsync\((\d+)\)\s+= 0")


def test_the_kernel_sees_each_directory_fsynced_after_its_new_name(tmp_path: Path) -> None:
    """The same, seen from outside: strace records the system calls a child process makes
    (no patching), and each link(2)/rename(2) is followed by an fsync(2) of a descriptor
    opened on that name's directory."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    root = tmp_path / "lake"
    child = [sys.executable, "-c", _CHILD, str(root), MANIFEST, DATA]
    traced = subprocess.run(
        [strace, "-f", "-qq", "-e", _SYSCALLS, *child],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if traced.returncode != 0 and "ptrace" in traced.stderr.lower():
        pytest.skip(f"strace cannot trace here: {traced.stderr.strip()[:200]}")
    assert traced.returncode == 0, traced.stderr
    directories: dict[str, str] = {}  # fd -> the directory it is open on, as of this line
    pending: set[str] = set()  # directories with a new name not yet fsynced
    new_names = []
    for line in traced.stderr.splitlines():
        if opened := _OPEN.search(line):
            path, flags, fd = opened.groups()
            directories.pop(fd, None)  # a descriptor number is reused once closed
            if "O_DIRECTORY" in flags:
                directories[fd] = path
        elif named := _NEW_NAME.search(line):
            new_names.append(named.group(1))
            pending.add(os.path.dirname(named.group(1)))
        elif (synced := _FSYNC.search(line)) and synced.group(1) in directories:
            pending.discard(directories[synced.group(1)])
    assert new_names == [str(root / MANIFEST), str(root / DATA)]
    assert pending == set()
