"""Where the lake's bytes live: fsspec filesystems, safe paths, and the one atomic primitive.

Everything a commit needs from storage is "create this object only if it does not exist"
(put-if-absent). Local disk gives it with link(2) of a complete temporary file; S3 with a
conditional ``PutObject`` (``If-None-Match: *``). A filesystem that cannot promise it is refused,
because without it two exporters could silently overwrite each other's manifests.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from t0lake.errors import CommitConflictError, CommitStateUnknownError, ConfigError

__all__ = ["LakeStorage", "check_name", "open_storage"]

# A relation name as an entrypoint is written: schema.name, plain identifiers only. Quoted or
# odd names are refused rather than escaped, so a lake path can never leave its directory.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}\.[A-Za-z_][A-Za-z0-9_$]{0,62}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_=.-]*$")


def check_name(entrypoint: str) -> str:
    """The entrypoint name if it is safe as a lake directory (``schema.view``), else
    ConfigError: names arrive from users and end up in paths."""
    if not isinstance(entrypoint, str) or not _NAME.match(entrypoint):
        raise ConfigError(
            f"entrypoint {entrypoint!r} must be schema.view with plain identifiers "
            "(letters, digits, underscore)",
            entrypoint=str(entrypoint),
        )
    return entrypoint


def _check_relative(path: str) -> str:
    parts = path.split("/")
    if not path or any(not _SEGMENT.match(p) or p in (".", "..") for p in parts):
        raise ConfigError(f"unsafe lake path {path!r}", path=path)
    return path


@dataclass
class LakeStorage:
    """A lake root on one fsspec filesystem; all paths given to it are relative and checked."""

    url: str
    fs: Any
    root: str
    storage_options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    @property
    def is_s3(self) -> bool:
        protocol = self.fs.protocol
        protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
        return "s3" in protocols or "s3a" in protocols

    def full(self, relative: str) -> str:
        """The filesystem path of a relative lake path ("" is the root itself)."""
        if relative == "":
            return self.root
        return f"{self.root.rstrip('/')}/{_check_relative(relative)}"

    def uri(self, relative: str) -> str:
        """The path as other engines (DuckDB, Polars) address it."""
        full = self.full(relative)
        return full if self.is_local else f"{_first_protocol(self.fs)}://{full}"

    def read_bytes(self, relative: str) -> bytes:
        data: bytes = self.fs.cat_file(self.full(relative))
        return data

    def exists(self, relative: str) -> bool:
        return bool(self.fs.exists(self.full(relative)))

    def size(self, relative: str) -> int:
        return int(self.fs.size(self.full(relative)))

    def list_names(self, relative_dir: str) -> list[str]:
        """Base names in a directory (empty when it does not exist)."""
        try:
            entries = self.fs.ls(self.full(relative_dir), detail=False, refresh=True)
        except FileNotFoundError:
            return []
        return sorted(str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries)

    def write_bytes(self, relative: str, data: bytes) -> None:
        """Write a content-addressed data file. Overwriting one with the same name rewrites the
        same bytes, so no exclusivity is needed here."""
        path = self.full(relative)
        if self.is_local:
            os.replace(_durable_temp(path, data), path)
        else:
            self.fs.pipe_file(path, data)

    def put_if_absent(self, relative: str, data: bytes) -> None:
        """Create the object only if nothing exists at that path.

        CommitConflictError when it exists; CommitStateUnknownError when the storage did not
        say whether the write happened (the caller must re-read, never blindly retry).
        """
        path = self.full(relative)
        if self.is_local:
            # Written in full under a temporary name, then linked into place: link() fails if
            # the name exists, and a reader never sees a manifest half-written.
            tmp = _durable_temp(path, data)
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise CommitConflictError(
                    f"{relative} was committed by someone else", path=relative
                ) from None
            finally:
                os.unlink(tmp)
            return
        if not self.is_s3:
            raise ConfigError(
                f"{_first_protocol(self.fs)}:// has no put-if-absent that t0lake trusts; "
                "use a local path or s3://",
                url=self.url,
            )
        try:
            self.fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            raise CommitConflictError(
                f"{relative} was committed by someone else", path=relative
            ) from None
        except OSError as exc:
            if _is_precondition_failed(exc):
                raise CommitConflictError(
                    f"{relative} was committed by someone else", path=relative
                ) from None
            raise CommitStateUnknownError(
                f"writing {relative} failed without saying whether it happened: {exc}",
                path=relative,
            ) from exc


def _durable_temp(path: str, data: bytes) -> str:
    """``data`` written and fsynced under a unique temporary name beside ``path``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}-{os.urandom(4).hex()}"
    with open(tmp, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp


def _is_precondition_failed(exc: BaseException) -> bool:
    text = f"{exc} {exc.__cause__ or ''}"
    return "PreconditionFailed" in text or "412" in text


def _first_protocol(fs: Any) -> str:
    protocol = fs.protocol
    return str(protocol if isinstance(protocol, str) else protocol[0])


def open_storage(url: str, storage_options: dict[str, Any] | None = None) -> LakeStorage:
    """The storage of a lake URL (a local path or ``s3://bucket/prefix``)."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("the lake URL is empty: pass --lake or set T0LAKE_LAKE")
    options = dict(storage_options or {})
    try:
        fs, root = fsspec.core.url_to_fs(url, **options)
    except (ValueError, ImportError, TypeError) as exc:
        raise ConfigError(f"cannot open lake {url!r}: {exc}", url=url) from exc
    if isinstance(fs, LocalFileSystem):
        root = os.path.abspath(root)
    return LakeStorage(url=url, fs=fs, root=str(root), storage_options=options)
