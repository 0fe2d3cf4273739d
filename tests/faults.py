"""A Storage that injects faults into a real one, for the commit protocol's tests.

It implements the lake's Storage protocol by delegation (no subclass of a concrete
storage), so a test can make any backend report a lost response or fail a write while the
bytes go to real disk or a real S3 server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from t0lake.errors import CommitStateUnknownError
from t0lake.lake.storage import Storage


@dataclass
class FaultyStorage:
    """``inner`` with its next ``unknown_outcomes`` manifest writes reported as unknown,
    after writing (``really_write``, a response lost) or instead of writing (a request lost).
    """

    inner: Storage
    unknown_outcomes: int = 0
    really_write: bool = True
    calls: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.inner.url

    def put_if_absent(self, relative: str, data: bytes) -> None:
        self.calls.append(f"put_if_absent {relative}")
        if self.unknown_outcomes:
            self.unknown_outcomes -= 1
            if self.really_write:
                self.inner.put_if_absent(relative, data)
            raise CommitStateUnknownError("connection dropped", path=relative)
        self.inner.put_if_absent(relative, data)

    def read_bytes(self, relative: str) -> bytes:
        return self.inner.read_bytes(relative)

    def write_bytes(self, relative: str, data: bytes) -> None:
        self.inner.write_bytes(relative, data)

    def exists(self, relative: str) -> bool:
        return self.inner.exists(relative)

    def list_names(self, relative_dir: str) -> list[str]:
        return self.inner.list_names(relative_dir)

    def walk(self, relative_dir: str) -> list[str]:
        return self.inner.walk(relative_dir)

    def delete(self, relative: str) -> None:
        self.inner.delete(relative)

    def modified(self, relative: str) -> float:
        return self.inner.modified(relative)
