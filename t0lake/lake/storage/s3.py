"""S3 (s3fs): put-if-absent by a conditional PutObject (``If-None-Match: *``).

S3 answers 412 Precondition Failed when the key exists: a lost race. Any other failure of
the conditional write may or may not have stored the object, so it is reported as an
unknown outcome, for the commit protocol to settle by reading back.
"""

from __future__ import annotations

from t0lake.errors import CommitConflictError, CommitStateUnknownError, ConfigError
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

    def check(self) -> None:
        """List the bucket once, so that a misconfiguration is a ConfigError saying what to
        set now, not an InternalError in the middle of an export or a commit."""
        bucket = self.root.split("/", 1)[0]
        try:
            self.fs.ls(bucket, refresh=True)
        except FileNotFoundError:
            raise ConfigError(
                f"S3 bucket {bucket!r} does not exist (or these credentials cannot see it): "
                "create it, or fix the lake URL",
                lake=self.url,
                bucket=bucket,
            ) from None
        except PermissionError as exc:
            raise ConfigError(
                f"S3 refuses to list bucket {bucket!r} ({_first_line(exc)}): check the "
                "credentials (AWS_* variables or --storage-option key=… secret=…)",
                lake=self.url,
                bucket=bucket,
            ) from None
        except TypeError as exc:  # s3fs passes unknown options on to the client session
            raise ConfigError(
                f"an S3 storage option is not one s3fs knows ({_first_line(exc)}); it takes "
                "key, secret, token, endpoint_url, anon, client_kwargs, …",
                lake=self.url,
            ) from None
        except Exception as exc:  # botocore's own errors are not OSErrors
            kind = type(exc).__name__
            if kind in ("NoCredentialsError", "PartialCredentialsError"):
                raise ConfigError(
                    "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
                    "--storage-option key=… secret=…), or anon=true for a public bucket",
                    lake=self.url,
                    bucket=bucket,
                ) from None
            if kind in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionError"):
                endpoint = self.storage_options.get("endpoint_url", "the default AWS endpoint")
                raise ConfigError(
                    f"cannot reach S3 at {endpoint}: check endpoint_url (or AWS_ENDPOINT_URL) "
                    "and the network",
                    lake=self.url,
                    bucket=bucket,
                ) from None
            raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _is_precondition_failed(exc: BaseException) -> bool:
    text = f"{exc} {exc.__cause__ or ''}"
    return "PreconditionFailed" in text or "412" in text
