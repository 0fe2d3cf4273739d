"""The table format: hive-partitioned Parquet, JSON manifests, a put-if-absent commit log.

Never imports ``t0lake.pg`` (a lake is readable without Postgres), the CLI or rich::

    storage/     where bytes live: the Storage protocol, local disk, S3, safe paths
    layout       tiers and partition paths
    manifest     DayEntry, FileEntry, Manifest, Operation: the file-format contract
    log          snapshot ids, one manifest, the head
    commit       put-if-absent commit, rebase on a lost race, settle unknown outcomes
    operations/  one producer per kind of commit (replace_days for export)
    writer       WriterOptions and the deterministic Parquet writer
    reader       planning a read, native reads, prefetch, the proof
    verify       full verification of a snapshot
    snapshot     Lake and Snapshot, what users open

docs/lake-format.md is the specification.
"""

from t0lake.lake.snapshot import Lake, Snapshot, SnapshotInfo, open_lake

__all__ = ["Lake", "Snapshot", "SnapshotInfo", "open_lake"]
