"""S3 (s3fs): put-if-absent by a conditional PutObject (``If-None-Match: *``).

S3 answers 412 Precondition Failed when the key exists: a lost race. Any other failure of
the conditional write may or may not have stored the object, so it is reported as an
unknown outcome, for the commit protocol to settle by reading back.
"""

from __future__ import annotations

from t0lake.errors import CommitConflictError, CommitStateUnknownError
from t0lake.lake.storage.base import LakeStorage

__all__ = ["S3Storage"]


class S3Storage(LakeStorage):
    """A lake root under ``s3://bucket/prefix``."""

    def put_if_absent(self, relative: str, data: bytes) -> None:
        try:
            self.fs.pipe_file(self.full(relative), data, mode="create")
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


def _is_precondition_failed(exc: BaseException) -> bool:
    text = f"{exc} {exc.__cause__ or ''}"
    return "PreconditionFailed" in text or "412" in text
