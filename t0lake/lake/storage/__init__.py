"""Where the lake's bytes live: fsspec filesystems, safe paths, and the one atomic primitive.

base    the Storage protocol and the fsspec base class (reads, data files)
local   local disk: put-if-absent by link(2)
s3      S3: put-if-absent by a conditional PutObject
paths   names and relative paths, validated
"""

from __future__ import annotations

import os
import re
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from t0lake.errors import ConfigError
from t0lake.lake.storage.base import LakeStorage, Storage
from t0lake.lake.storage.local import LocalStorage
from t0lake.lake.storage.paths import check_name, check_relative
from t0lake.lake.storage.s3 import S3Storage

__all__ = [
    "LakeStorage",
    "LocalStorage",
    "S3Storage",
    "Storage",
    "check_name",
    "check_relative",
    "open_storage",
]


_ALMOST_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/*(?!/)")


def open_storage(
    url: str, storage_options: dict[str, Any] | None = None, *, check: bool = True
) -> LakeStorage:
    """The storage of a lake URL (a local path or ``s3://bucket/prefix``).

    A URL with a scheme must be ``scheme://…``: ``s3:/bucket`` (one slash) would otherwise
    be a local directory named ``s3:``, and a typo would write to the wrong place. With
    ``check`` an S3 bucket is listed once, so that missing credentials, a bucket that does
    not exist, an unknown option or an endpoint that cannot be reached is a ConfigError
    here (workers of a job already checked pass ``check=False``).
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("the lake URL is empty: pass --lake or set T0LAKE_LAKE")
    if url != url.strip():
        raise ConfigError(
            f"the lake URL {url!r} starts or ends with white space: remove it", lake=url
        )
    if "\x00" in url:
        raise ConfigError("the lake URL contains a NUL character", lake=url.replace("\x00", "\\0"))
    scheme = _ALMOST_URL.match(url)
    if scheme and not url.startswith(f"{scheme.group(1)}://"):
        raise ConfigError(
            f"malformed lake URL {url!r}: write {scheme.group(1)}://… (two slashes), or a "
            "local path without a colon",
            lake=url,
        )
    options = dict(storage_options or {})
    try:
        fs, root = fsspec.core.url_to_fs(url, **options)
    except Exception as exc:  # fsspec and its backends raise anything for a bad URL
        raise ConfigError(f"cannot open lake {url!r}: {exc}", lake=url) from exc
    if isinstance(fs, LocalFileSystem):
        return LocalStorage(url=url, fs=fs, root=os.path.abspath(root), storage_options=options)
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    if {"s3", "s3a"} & set(protocols):
        # "s3://" and "s3:///lake" (the bucket left empty) alike: the bucket is root's first part
        if not str(root).split("/")[0]:
            raise ConfigError(f"the lake URL {url!r} names no bucket: s3://bucket/prefix", lake=url)
        storage = S3Storage(url=url, fs=fs, root=str(root), storage_options=options)
        if check:
            storage.check()
        return storage
    return LakeStorage(url=url, fs=fs, root=str(root), storage_options=options)
