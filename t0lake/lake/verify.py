"""Full verification of a snapshot: every file's bytes, rows and (day, column) hashes.

A read proves what it returns; ``verify`` proves everything the manifest lists, and reports
every problem at once rather than stopping at the first, so one run tells an operator the
whole extent of a corruption. A file that cannot be read at all (a directory in its place,
no permission, a symlink loop) fails its proof like a missing one, exactly as a read
refuses it: verify never ends in a bare ``OSError``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from t0lake.errors import IntegrityError
from t0lake.lake.reader import Reader, integrity

__all__ = ["verify_snapshot"]


def verify_snapshot(reader: Reader) -> dict[str, Any]:
    """Recompute everything: each file's sha256 and row count and every (day, column)
    hash. Raises IntegrityError listing every problem; returns a summary otherwise."""
    problems: list[dict[str, Any]] = []
    checked = {"files": 0, "days": 0, "columns": 0, "bytes": 0, "rows": 0}
    for f in reader.manifest.files:
        try:
            try:
                data = reader.read_file_bytes(f)
            except OSError as exc:  # FileNotFoundError is already an IntegrityError
                why = exc.strerror or str(exc) or type(exc).__name__
                raise integrity(
                    reader, f, None, None, f"file cannot be read ({type(exc).__name__}: {why})"
                ) from exc
            if hashlib.sha256(data).hexdigest() != f.sha256 or len(data) != f.bytes:
                raise integrity(
                    reader, f, None, None, "file bytes differ from the manifest (sha256)"
                )
            reader.prove_bytes(f, data)
        except IntegrityError as exc:
            problems.append(exc.to_dict())
            continue
        checked["files"] += 1
        checked["days"] += len(f.days)
        checked["columns"] += len(f.days) * len(reader.schema)
        checked["bytes"] += f.bytes
        checked["rows"] += f.rows
    if problems:
        first = problems[0]
        raise IntegrityError(
            f"{reader.entrypoint} snapshot {reader.snapshot_id}: {len(problems)} of "
            f"{len(reader.manifest.files)} files failed verification; first: {first['message']}",
            entrypoint=reader.entrypoint,
            snapshot_id=reader.snapshot_id,
            problems=problems,
        )
    return {"entrypoint": reader.entrypoint, "snapshot_id": reader.snapshot_id, **checked}
