"""Regenerate tests/golden/manifest_v1.json, the lake's file-format contract made reviewable.

    .venv/bin/python tests/golden/make_manifest.py

The manifest is what every reader trusts, so its exact bytes are a contract: field names,
sorting, checksums, per-(day, column) hashes and the data file's sha256 (which pins the
deterministic writer for the locked pyarrow). tests/lake/test_manifest_golden.py rebuilds
it with today's code and compares byte for byte; regenerate only for a deliberate format
change, and say so in docs/lake-format.md.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from t0lake.hashing import TYPE_METADATA_KEY
from t0lake.lake.manifest import Manifest, Operation, schema_hash, schema_to_b64
from t0lake.lake.storage import open_storage
from t0lake.lake.writer import write_day

GOLDEN = Path(__file__).with_name("manifest_v1.json")
ENTRYPOINT = "golden.features_v"
SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("d", pa.date32()),
        pa.field("score", pa.float64()),
        pa.field("name", pa.string()),
        pa.field("amount", pa.decimal128(12, 2)),
        pa.field("doc", pa.string(), metadata={TYPE_METADATA_KEY: b"jsonb"}),
        pa.field("tags", pa.list_(pa.string())),
    ]
)
DAYS = (date(2026, 1, 1), date(2026, 1, 2))


def day_table(day: date) -> pa.Table:
    """Three rows per day, with a NULL, a NaN, non-ASCII text and an empty list."""
    n = day.toordinal() % 100
    return pa.table(
        {
            "id": [1, 2, 3],
            "d": [day] * 3,
            "score": [0.5 + n, float("nan"), None],
            "name": ["a", "ünïcode", None],
            "amount": [Decimal("1.25"), None, Decimal(f"-{n}.00")],
            "doc": ['{"a": 1}', None, '{"b": [1, 2]}'],
            "tags": [["x", "y"], [], None],
        },
        schema=SCHEMA,
    )


def build() -> bytes:
    """The golden manifest's bytes, from today's writer, hashes and manifest code."""
    with tempfile.TemporaryDirectory() as root:
        storage = open_storage(root)
        files = tuple(write_day(storage, ENTRYPOINT, day, day_table(day), ["id"]) for day in DAYS)
    manifest = Manifest(
        entrypoint=ENTRYPOINT,
        snapshot_id=1,
        parent_snapshot_id=None,
        parent_sha256=None,
        committed_at="2026-01-03T00:00:00+00:00",
        operation=Operation.EXPORT,
        key=("id",),
        day_expr="d",
        event_time_col="d",
        viewdef_hash="0" * 64,
        certification={"cert_id": 1, "drift_policy": "strict"},
        arrow_schema=schema_to_b64(SCHEMA),
        schema_hash=schema_hash(SCHEMA),
        files=files,
        summary={"days": [d.isoformat() for d in DAYS]},
        t0lake_version="golden",
    ).sealed()
    return manifest.to_bytes()


if __name__ == "__main__":
    GOLDEN.write_bytes(build())
    print(f"wrote {GOLDEN}")
