"""The Storage protocol the lake is written against, and its fsspec implementation.

Everything a commit needs from storage is "create this object only if it does not exist"
(put-if-absent); everything else is plain reads and writes of content-addressed files. The
protocol names exactly that, so the commit protocol can be tested against a storage that
injects faults, and a backend that cannot promise put-if-absent is refused rather than
trusted.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Protocol, runtime_checkable

from t0lake.errors import ConfigError, StorageError, T0LakeError
from t0lake.lake.storage.paths import check_relative

__all__ = ["LakeStorage", "Storage"]


@runtime_checkable
class Storage(Protocol):
    """What the lake needs of a place to keep bytes. Paths are relative to the lake root."""

    url: str

    def read_bytes(self, relative: str) -> bytes:
        """The whole object; FileNotFoundError when there is none."""

    def write_bytes(self, relative: str, data: bytes) -> None:
        """Write (or rewrite with the same bytes) a content-addressed data file."""

    def put_if_absent(self, relative: str, data: bytes) -> None:
        """Create the object only if nothing is there: CommitConflictError if something is,
        CommitStateUnknownError if the backend did not say whether it wrote."""

    def exists(self, relative: str) -> bool:
        """Whether an object is at that path now."""

    def list_names(self, relative_dir: str) -> list[str]:
        """Base names in a directory, sorted (empty when it does not exist)."""

    def walk(self, relative_dir: str) -> list[str]:
        """Every object below a directory, as sorted relative paths."""

    def delete(self, relative: str) -> None:
        """Remove one object (nothing when it is already gone)."""

    def modified(self, relative: str) -> float:
        """When the object was last written, in seconds since the epoch (UTC)."""


@dataclass
class LakeStorage:
    """A lake root on one fsspec filesystem; all paths given to it are relative and checked.

    This base serves any fsspec filesystem for reads and data files, but it has no
    put-if-absent it can trust: the local and S3 subclasses provide one, and writers ask
    ``check_commits()`` before their first byte, so an unsupported lake is refused with
    nothing written.
    """

    url: str
    fs: Any
    root: str
    storage_options: dict[str, Any] = field(default_factory=dict)

    is_local = False

    def full(self, relative: str) -> str:
        """The filesystem path of a relative lake path ("" is the root itself)."""
        if relative == "":
            return self.root
        return f"{self.root.rstrip('/')}/{check_relative(relative)}"

    def uri(self, relative: str) -> str:
        """The path as other engines (DuckDB, Polars) address it."""
        return f"{self.protocol}://{self.full(relative)}"

    @property
    def canonical_url(self) -> str:
        """One spelling per lake, for registries: an absolute local path (no ``dir/`` or
        ``//dir`` variants), or ``protocol://bucket/prefix``."""
        if self.is_local:
            return "/" + os.path.normpath(self.root).lstrip("/")
        return f"{self.protocol}://{self.root.strip('/')}"

    @property
    def protocol(self) -> str:
        protocol = self.fs.protocol
        return str(protocol if isinstance(protocol, str) else protocol[0])

    @contextlib.contextmanager
    def _io(self, action: str, relative: str) -> Iterator[None]:
        """Where a backend turns its own failures into typed errors (StorageError) for
        ``action`` ("reading", "writing", …) of ``relative``. This base serves filesystems
        t0lake only reads (http, …): what they raise beyond the OSErrors a read knows
        (aiohttp's connection errors, …) is a StorageError naming the action and path."""
        try:
            yield
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
            raise  # what a read knows how to report (a missing or unreadable file)
        except T0LakeError:
            raise
        except Exception as exc:  # aiohttp's connection errors are OSErrors, too
            text = str(exc).strip()
            raise StorageError(
                f"{action} {relative or 'the lake root'} on {self.protocol}:// failed: "
                f"{type(exc).__name__}" + (f": {text.splitlines()[0]}" if text else ""),
                path=relative,
                lake=self.url,
            ) from exc

    def read_bytes(self, relative: str) -> bytes:
        with self._io("reading", relative):
            data: bytes = self.fs.cat_file(self.full(relative))
        return data

    def native_options(self) -> dict[str, str] | None:
        """Storage options with which Polars' own reader (its Rust object-store client)
        reaches this lake's files by :meth:`uri`, or None when it cannot (then reads go
        through this storage's fsspec filesystem). This base knows of no such client."""
        return None

    def read_ranges(
        self, relatives: Sequence[str], starts: Sequence[int], ends: Sequence[int | None]
    ) -> list[bytes | FileNotFoundError]:
        """Bytes ``starts[i]..ends[i]`` (end exclusive; None: to the end; a negative start
        with no end: that many last bytes) of many objects in one call: fsspec's
        ``cat_ranges``, which an async filesystem (s3fs) serves with concurrent requests
        instead of one object after another. A missing object comes back as its
        FileNotFoundError, for the caller to name the file; any other failure raises, typed
        by this storage's ``_io`` as every read is."""
        if not relatives:
            return []
        paths = [self.full(r) for r in relatives]
        with self._io("reading", relatives[0]):
            results = self.fs.cat_ranges(paths, list(starts), list(ends), on_error="return")
        out: list[bytes | FileNotFoundError] = []
        for relative, result in zip(relatives, results, strict=True):
            if isinstance(result, FileNotFoundError):
                out.append(result)
            elif isinstance(result, BaseException):
                with self._io("reading", relative):
                    raise result
            else:
                out.append(bytes(result))
        return out

    def exists(self, relative: str) -> bool:
        with self._io("looking for", relative):
            return bool(self.fs.exists(self.full(relative)))

    def size(self, relative: str) -> int:
        with self._io("looking at", relative):
            return int(self.fs.size(self.full(relative)))

    def list_names(self, relative_dir: str) -> list[str]:
        """Base names in a directory (empty when it does not exist)."""
        try:
            with self._io("listing", relative_dir):
                entries = self.fs.ls(self.full(relative_dir), detail=False, refresh=True)
        except FileNotFoundError:
            return []
        return sorted(str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries)

    def walk(self, relative_dir: str) -> list[str]:
        """Every file below a directory, relative to the lake root."""
        base = self.full(relative_dir).rstrip("/")
        root = self.root.rstrip("/")
        try:
            with self._io("listing", relative_dir):
                found = self.fs.find(base, withdirs=False)
        except FileNotFoundError:
            return []
        return sorted(str(p).removeprefix(root).lstrip("/") for p in found)

    def delete(self, relative: str) -> None:
        with contextlib.suppress(FileNotFoundError), self._io("deleting", relative):
            self.fs.rm_file(self.full(relative))

    def modified(self, relative: str) -> float:
        with self._io("looking at", relative):
            stamp = self.fs.modified(self.full(relative))
        if stamp.tzinfo is None:  # fsspec's local filesystem answers in naive UTC
            stamp = stamp.replace(tzinfo=UTC)
        return float(stamp.timestamp())

    def write_bytes(self, relative: str, data: bytes) -> None:
        """Write a content-addressed data file. Overwriting one with the same name rewrites the
        same bytes, so no exclusivity is needed here."""
        with self._io("writing", relative):
            self.fs.pipe_file(self.full(relative), data)

    def check_commits(self) -> None:
        """Refuse (ConfigError) a storage that cannot commit, before anything is written:
        every writer calls this first, so a lake on ``memory://`` or ``simplecache::…``
        is refused before its data files are written, not at the manifest after them."""
        raise ConfigError(
            f"{self.protocol}:// has no put-if-absent that t0lake trusts, so nothing can be "
            "committed there; use a local path or s3://",
            lake=self.url,
        )

    def put_if_absent(self, relative: str, data: bytes) -> None:
        self.check_commits()
        raise NotImplementedError  # check_commits refused; a subclass that commits overrides
