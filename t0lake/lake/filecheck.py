"""Whether the live files of a snapshot still hold the bytes their manifest names.

A read proves every (day, column) it serves; an export that finds nothing to commit reads
nothing, so without this check a deleted, truncated or altered file would stay live, and the
broken head would be registered again as if it were sound. The check is the cheap half of a
proof: the file's size and sha256 against the manifest's, with no Parquet decoding.

A manifest can lie too: one resealed with a forged column digest keeps a valid checksum, and
its file's bytes still match. ``inconsistent_days`` catches that without reading any data,
because a day's dataset hash is a function of its row count, key and column digests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from t0lake.hashing import ColumnHash, canonical_type, combine
from t0lake.lake.manifest import FileEntry, Manifest
from t0lake.lake.storage import Storage

__all__ = ["damaged_files", "inconsistent_days"]

_READERS = 4


def damaged_files(storage: Storage, files: Iterable[FileEntry]) -> dict[str, str]:
    """Each file (by path) whose bytes are not the manifest's, with what is wrong with it;
    empty when all are sound. Files are read in a few threads (object stores are latency
    bound)."""
    unique = {f.path: f for f in files}
    if not unique:
        return {}
    with ThreadPoolExecutor(max_workers=min(_READERS, len(unique))) as pool:
        verdicts = dict(
            zip(unique, pool.map(lambda f: _damage(storage, f), unique.values()), strict=True)
        )
    return {path: problem for path, problem in sorted(verdicts.items()) if problem}


def _damage(storage: Storage, entry: FileEntry) -> str:
    """What is wrong with one file ("" when nothing is)."""
    try:
        data = storage.read_bytes(entry.path)
    except FileNotFoundError:
        return "missing"
    except (IsADirectoryError, PermissionError) as exc:
        return f"unreadable ({type(exc).__name__})"
    if len(data) != entry.bytes:
        return f"{len(data):,} bytes, the manifest says {entry.bytes:,}"
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        return "altered (sha256 differs from the manifest's)"
    return ""


def inconsistent_days(manifest: Manifest) -> dict[str, str]:
    """Each file (by path) holding a day whose column digests do not combine to its dataset
    hash, with the first such day: the manifest says two different things about the rows."""
    types = {f.name: canonical_type(f) for f in manifest.schema}
    out: dict[str, str] = {}
    for f in manifest.files:
        for d in f.days:
            digests = [ColumnHash(n, types.get(n, "?"), h) for n, h in d.columns.items()]
            if combine(d.rows, manifest.key, digests) != d.dataset_hash:
                out[f.path] = f"day {d.day}: its column digests do not make its dataset hash"
                break
    return out
