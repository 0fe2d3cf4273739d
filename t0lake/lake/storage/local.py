"""Local disk: put-if-absent by link(2) of a complete, fsynced temporary file.

link() fails when the name exists, and the name appears only once the bytes are complete
and durable, so a racing reader never sees a half-written manifest.
"""

from __future__ import annotations

import os
import threading

from t0lake.errors import CommitConflictError
from t0lake.lake.storage.base import LakeStorage

__all__ = ["LocalStorage"]


class LocalStorage(LakeStorage):
    """A lake root on local disk."""

    is_local = True

    def uri(self, relative: str) -> str:
        return self.full(relative)

    def write_bytes(self, relative: str, data: bytes) -> None:
        path = self.full(relative)
        os.replace(_durable_temp(path, data), path)

    def put_if_absent(self, relative: str, data: bytes) -> None:
        path = self.full(relative)
        tmp = _durable_temp(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise CommitConflictError(
                f"{relative} was committed by someone else", path=relative
            ) from None
        finally:
            os.unlink(tmp)


def _durable_temp(path: str, data: bytes) -> str:
    """``data`` written and fsynced under a unique temporary name beside ``path``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}-{os.urandom(4).hex()}"
    with open(tmp, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp
