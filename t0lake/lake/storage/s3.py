"""S3 (s3fs): put-if-absent by a conditional PutObject (``If-None-Match: *``).

S3 answers 412 Precondition Failed when the key exists: a lost race, or our own PUT met
again (botocore re-sends a PUT whose response was lost, and the second attempt finds the
object the first one stored; the commit protocol tells the two apart by reading back). A
412 is recognised by the error code and HTTP status S3 answered, never by searching the
message. Any other failure of the conditional write (a 500, a dropped connection, an
unreachable endpoint) may or may not have stored the object, so it is reported as an
unknown outcome, for the commit protocol to settle by reading back.

Transport failures of other operations (botocore's connection and HTTP errors, which are
not OSErrors, and 5xx answers) are StorageError naming the operation and the path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from botocore.exceptions import (
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from t0lake.errors import CommitConflictError, CommitStateUnknownError, ConfigError, StorageError
from t0lake.lake.storage.base import LakeStorage

__all__ = ["TRANSPORT_ERRORS", "S3Storage"]

# botocore's "the request or its answer was lost": EndpointConnectionError,
# ConnectTimeoutError, ProxyConnectionError (ConnectionError); ReadTimeoutError,
# ConnectionClosedError, ResponseStreamingError (HTTPClientError); IncompleteReadError
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    BotoConnectionError,
    HTTPClientError,
    IncompleteReadError,
)


# s3fs option -> object_store option of the same credential (names, not values)
_OBJECT_STORE_NAMES = dict(
    zip(
        ("key", "secret", "token"),
        ("aws_access_key_id", "aws_secret_access_key", "aws_session_token"),
        strict=True,
    )
)


class S3Storage(LakeStorage):
    """A lake root under ``s3://bucket/prefix``."""

    def check_commits(self) -> None:
        """S3 commits by a conditional PutObject: nothing to refuse."""

    @contextlib.contextmanager
    def _io(self, action: str, relative: str) -> Iterator[None]:
        try:
            yield
        except (FileNotFoundError, FileExistsError):
            raise
        except PermissionError as exc:  # 403: these credentials may not do this here
            raise StorageError(
                f"{action} {relative}: S3 refuses it ({_first_line(exc)}); check the "
                "credentials (key, secret, anon) and the bucket's policy",
                path=relative,
                lake=self.url,
            ) from exc
        except Exception as exc:
            if not _is_transport_failure(exc):
                raise
            raise StorageError(
                f"{action} {relative} on S3 failed: {_first_line(exc)}; check "
                f"{self._endpoint()} and the network, then re-run",
                path=relative,
                lake=self.url,
            ) from exc

    def native_options(self) -> dict[str, str] | None:
        """The s3fs options of this lake as object_store options (Polars' S3 client): key,
        secret, token, endpoint_url, anon and a region in client_kwargs. None if any other
        option is set (the client could not honour it: reads then go through s3fs)."""
        options = dict(self.storage_options)
        client = options.pop("client_kwargs", None) or {}
        if not isinstance(client, dict) or set(client) - {"region_name", "endpoint_url"}:
            return None
        out: dict[str, str] = {}
        names = _OBJECT_STORE_NAMES
        for name, value in options.items():
            if name in names and isinstance(value, str):
                out[names[name]] = value
            elif name == "endpoint_url" and isinstance(value, str):
                out["aws_endpoint_url"] = value
            elif name == "anon" and isinstance(value, bool):
                if value:
                    out["aws_skip_signature"] = "true"
            else:
                return None
        if isinstance(client.get("endpoint_url"), str):
            out.setdefault("aws_endpoint_url", client["endpoint_url"])
        if isinstance(client.get("region_name"), str):
            out["aws_region"] = client["region_name"]
        if out.get("aws_endpoint_url", "").startswith("http://"):
            out["aws_allow_http"] = "true"
        return out

    def put_if_absent(self, relative: str, data: bytes) -> None:
        full = self.full(relative)
        try:
            self.fs.pipe_file(full, data, mode="create")
        except FileExistsError:
            raise CommitConflictError(
                f"{relative} was committed by someone else", path=relative
            ) from None
        except Exception as exc:
            if _lost_race(exc):
                raise CommitConflictError(
                    f"{relative} was committed by someone else", path=relative
                ) from None
            if isinstance(exc, PermissionError):
                raise StorageError(
                    f"S3 refuses to write {relative} ({_first_line(exc)}): these credentials "
                    "may read the lake but not write it",
                    path=relative,
                    lake=self.url,
                ) from exc
            if isinstance(exc, OSError) or _is_transport_failure(exc):
                raise CommitStateUnknownError(
                    f"writing {relative} failed without saying whether it happened: "
                    f"{_first_line(exc)}",
                    path=relative,
                ) from exc
            raise
        finally:
            # whatever happened, the object may be there now: a listing s3fs cached before
            # the write must not answer the read-back that settles it ("not found")
            self.fs.invalidate_cache(full)

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
        except (NoCredentialsError, PartialCredentialsError):
            raise ConfigError(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
                "--storage-option key=… secret=…), or anon=true for a public bucket",
                lake=self.url,
                bucket=bucket,
            ) from None
        except TRANSPORT_ERRORS:
            raise ConfigError(
                f"cannot reach S3 at {self._endpoint()}: check endpoint_url (or "
                "AWS_ENDPOINT_URL) and the network",
                lake=self.url,
                bucket=bucket,
            ) from None
        except (ParamValidationError, ValueError, AttributeError) as exc:
            # an invalid bucket name, an endpoint_url that is no URL, client_kwargs not a
            # mapping: botocore refuses before any request (its message names no secret)
            raise ConfigError(
                f"S3 cannot use this lake URL or these storage options: {_first_line(exc)}",
                lake=self.url,
                bucket=bucket,
            ) from None

    def _endpoint(self) -> str:
        """The endpoint for a message, without any user:password@ written into it."""
        endpoint = self.storage_options.get("endpoint_url")
        if not endpoint:
            return "the default AWS endpoint"
        parts = urlsplit(str(endpoint))
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes (s3fs wraps botocore's ClientError in an OSError)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _answer(exc: BaseException) -> tuple[str, int] | None:
    """The error code and HTTP status S3 answered with, if it answered at all."""
    for link in _chain(exc):
        if isinstance(link, ClientError):
            response: dict[str, Any] = link.response or {}
            code = str(response.get("Error", {}).get("Code", ""))
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return code, int(status) if isinstance(status, int) else 0
    return None


def _lost_race(exc: BaseException) -> bool:
    """412 Precondition Failed: the key exists. 409 ConditionalRequestConflict: another
    conditional write of the key is in flight. Either way, someone else may hold it."""
    answer = _answer(exc)
    if answer is None:
        return False
    code, status = answer
    return code in ("PreconditionFailed", "ConditionalRequestConflict") or status == 412


def _is_transport_failure(exc: BaseException) -> bool:
    """The request or its answer was lost (no answer), or S3 answered 5xx."""
    if any(isinstance(link, TRANSPORT_ERRORS) for link in _chain(exc)):
        return True
    answer = _answer(exc)
    return answer is not None and answer[1] >= 500
