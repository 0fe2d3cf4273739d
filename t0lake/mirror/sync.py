"""Bring an entrypoint's Iceberg table up to the lake's head, one snapshot per commit.

The lake's manifests stay the only proof source; the table is a follower. Each retained
t0lake snapshot after the one the table's head mirrors becomes one Iceberg commit, holding
in one transaction:

- one snapshot whose data files are exactly the manifest's live files, registered where they
  are (files no longer live are deleted from the table, new ones added; nothing is
  rewritten), whose summary carries ``t0lake.snapshot-id``, ``t0lake.manifest-sha256``,
  ``t0lake.operation`` and ``t0lake.pins``;
- the tag ``t0lake-00000007`` of that snapshot;
- a tag per pin of the manifest (named as the pin), moved or removed as pins change;
- for every t0lake snapshot the manifest records as expired: its tag removed and its Iceberg
  snapshot expired (metadata only: pyiceberg's expiry deletes no files, and the table has
  ``gc.enabled=false``; t0lake's vacuum stays the only deleter).

Before anything is written the table's head is checked against the lake: it must be empty,
or name a t0lake snapshot of this lake's chain, by id and manifest checksum, no later than
the head, and hold exactly that snapshot's files; anything else is refused (IntegrityError),
never guessed at. Re-running after a missed or crashed step catches up from where the
table's head stands, and a run with nothing to catch up commits nothing.

A snapshot whose manifest serves only part of a file (a compacted file whose day was
re-exported since, ``FileEntry.complete`` False) is mirrored like any other, with one
Iceberg v2 position-delete file per such file naming its dead rows (``t0lake.mirror.deletes``:
pyiceberg 0.12 reads position deletes but does not write them). A delete file lives under
the table's own location, is named by its content, and leaves the Iceberg snapshot when its
data file does or becomes complete again. The head check reads the head's delete files back
and holds them against the manifest too. ``skipped`` stays for a snapshot that genuinely
cannot be mirrored: today only a partial one in a table whose format version is not 2 (a
v1 table cannot hold delete files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.io.pyarrow import parquet_file_to_data_file
from pyiceberg.manifest import DataFile, DataFileContent, ManifestContent
from pyiceberg.table import Table, Transaction
from pyiceberg.table.refs import MAIN_BRANCH, SnapshotRefType
from pyiceberg.table.snapshots import Operation, Snapshot
from pyiceberg.table.update.snapshot import ExpireSnapshots, ManageSnapshots

from t0lake.errors import (
    CommitConflictError,
    CommitStateUnknownError,
    IntegrityError,
    SnapshotNotFoundError,
)
from t0lake.lake import log
from t0lake.lake.manifest import Manifest
from t0lake.lake.storage import LakeStorage
from t0lake.mirror.deletes import (
    MirrorSnapshot,
    PlannedDelete,
    plan_deletes,
    read_deletes,
    write_delete_file,
)

__all__ = [
    "MANIFEST_SHA256",
    "OPERATION",
    "PINS",
    "SNAPSHOT_ID",
    "MirrorResult",
    "mirror_entrypoint",
    "tag_name",
]

SNAPSHOT_ID = "t0lake.snapshot-id"
MANIFEST_SHA256 = "t0lake.manifest-sha256"
OPERATION = "t0lake.operation"
PINS = "t0lake.pins"
_RESERVED_TAG = "t0lake-"


def tag_name(snapshot_id: int) -> str:
    """The tag of a mirrored t0lake snapshot: ``t0lake-00000007``."""
    return f"{_RESERVED_TAG}{snapshot_id:08d}"


@dataclass
class MirrorResult:
    """What one mirror run did for one entrypoint."""

    entrypoint: str
    table: str
    head: int  # the lake's head snapshot
    mirrored_before: int | None  # the t0lake snapshot the table's head mirrored
    mirrored: list[int] = field(default_factory=list)  # committed by this run
    # snapshot → why it was not mirrored: only a partial snapshot in a table that cannot hold
    # position deletes (format version not 2); partial snapshots are mirrored with deletes
    skipped: dict[int, str] = field(default_factory=dict)
    tags_removed: list[str] = field(default_factory=list)
    pin_tags: dict[str, int] = field(default_factory=dict)  # pin tag → t0lake snapshot
    iceberg_snapshot_id: int | None = None  # the table's head after the run

    @property
    def committed(self) -> bool:
        return bool(self.mirrored)

    def to_dict(self) -> dict[str, Any]:
        return {
            "entrypoint": self.entrypoint,
            "table": self.table,
            "head": self.head,
            "mirrored_before": self.mirrored_before,
            "mirrored": list(self.mirrored),
            "skipped": {str(k): v for k, v in sorted(self.skipped.items())},
            "tags_removed": list(self.tags_removed),
            "pin_tags": dict(sorted(self.pin_tags.items())),
            "iceberg_snapshot_id": self.iceberg_snapshot_id,
            "committed": self.committed,
        }


def mirror_entrypoint(storage: LakeStorage, table: Table, entrypoint: str) -> MirrorResult:
    """Commit to ``table`` every retained snapshot of ``entrypoint`` its head does not
    mirror yet, oldest first (see the module docstring for what each commit holds).

    Raises:
        IntegrityError: the table's head is not a snapshot of this lake's chain (a foreign
            commit, a rewritten or rolled-back lake, or other files): nothing written.
        CommitConflictError: another writer committed to the table meanwhile (re-run).
        CommitStateUnknownError: the catalog did not say whether a commit landed (re-run:
            the head check tells).
    """
    latest = log.require_head(storage, entrypoint, "there is nothing to mirror")
    done = _check_head(storage, table, latest)
    result = MirrorResult(
        entrypoint=entrypoint,
        table=".".join(table.name()),
        head=latest.snapshot_id,
        mirrored_before=done,
    )
    for sid in log.retained(storage, entrypoint, latest):
        if done is not None and sid <= done:
            continue
        manifest = latest if sid == latest.snapshot_id else log.load(storage, entrypoint, sid)
        partial = sorted(f.path for f in manifest.files if not f.complete)
        if partial and table.format_version != 2:
            result.skipped[sid] = (
                f"{len(partial)} file(s) serve only part of their rows ({partial[0]} …): "
                "that needs position deletes, which the mirror writes into format-version 2 "
                f"tables only, and this table is version {table.format_version}"
            )
            continue
        table = _commit_snapshot(storage, table, manifest, result)
        result.mirrored.append(sid)
    current = table.current_snapshot()
    result.iceberg_snapshot_id = current.snapshot_id if current else None
    result.pin_tags = {
        name: int(ref_sid)
        for name, ref_sid in _pin_targets(table).items()
        if name in table.metadata.refs
    }
    return result


# --------------------------------------------------------------------------- the head


def _check_head(storage: LakeStorage, table: Table, latest: Manifest) -> int | None:
    """The t0lake snapshot id the table's head mirrors (None for an empty table), after
    checking it is one of this lake's: IntegrityError otherwise."""
    head = table.current_snapshot()
    if head is None:
        return None
    summary = head.summary.additional_properties if head.summary else {}
    where = {"entrypoint": latest.entrypoint, "iceberg_snapshot_id": head.snapshot_id}
    raw_id, digest = summary.get(SNAPSHOT_ID), summary.get(MANIFEST_SHA256)
    if raw_id is None or digest is None or not (str(raw_id).isascii() and str(raw_id).isdigit()):
        raise IntegrityError(
            f"the head of the Iceberg table of {latest.entrypoint} (snapshot "
            f"{head.snapshot_id}) was not committed by t0lake's mirror: the mirror refuses to "
            "guess what it holds; drop the table (it is rebuilt from the lake) or use another "
            "catalog",
            **where,
        )
    sid = int(raw_id)
    if sid > latest.snapshot_id:
        raise IntegrityError(
            f"the Iceberg table of {latest.entrypoint} mirrors t0lake snapshot {sid}, after the "
            f"lake's head {latest.snapshot_id}: the lake was rolled back or this catalog "
            "mirrors another lake",
            t0lake_snapshot_id=sid,
            **where,
        )
    expected = _manifest_sha256(storage, latest, sid)
    if digest != expected:
        raise IntegrityError(
            f"the Iceberg table of {latest.entrypoint} mirrors a t0lake snapshot {sid} whose "
            "manifest is not the lake's (other checksum): the lake's history was rewritten "
            "or this catalog mirrors another lake",
            t0lake_snapshot_id=sid,
            expected=expected,
            actual=digest,
            **where,
        )
    if sid not in latest.expired:  # its manifest is at hand: the files must be its files
        manifest = (
            latest if sid == latest.snapshot_id else log.load(storage, latest.entrypoint, sid)
        )
        want = {storage.uri(f.path) for f in manifest.files}
        have = set(_data_files(table, head))
        if want != have:
            raise IntegrityError(
                f"the head of the Iceberg table of {latest.entrypoint} claims t0lake snapshot "
                f"{sid} but holds other files ({len(have - want)} not in its manifest, "
                f"{len(want - have)} missing): it was changed outside the mirror",
                t0lake_snapshot_id=sid,
                **where,
            )
        planned = plan_deletes(storage, table.location(), manifest)
        _check_deletes(table, head, planned, {**where, "t0lake_snapshot_id": sid})
    return sid


def _check_deletes(
    table: Table, head: Snapshot, planned: dict[str, PlannedDelete], where: dict[str, Any]
) -> None:
    """The head's delete files must delete exactly the rows its manifest no longer serves:
    one position-delete file per partial file, read back, its positions those the manifest
    leaves out; nothing for a complete file. IntegrityError otherwise."""
    by_data: dict[str, PlannedDelete] = {p.data_uri: p for p in planned.values()}
    found: dict[str, list[Any]] = {}
    for uri, delete_file in _delete_files(table, head).items():
        if delete_file.content != DataFileContent.POSITION_DELETES:
            raise IntegrityError(
                f"the head of the Iceberg table of {where['entrypoint']} holds an equality "
                f"delete file ({uri}): the mirror never writes one; it was changed outside it",
                **where,
            )
        try:
            deleted = read_deletes(table.io, uri)
        except Exception as exc:  # missing, unreadable, not a delete file: all the same here
            raise IntegrityError(
                f"a delete file of the head of the Iceberg table of {where['entrypoint']} "
                f"cannot be read ({type(exc).__name__}): {uri}",
                **where,
            ) from exc
        for data_uri, positions in deleted.items():
            found.setdefault(data_uri, []).append(positions)
    for data_uri in sorted(set(found) | set(by_data)):
        plan = by_data.get(data_uri)
        got = found.get(data_uri, [])
        if plan is None or len(got) != 1 or not np.array_equal(got[0], plan.positions()):
            raise IntegrityError(
                f"the head of the Iceberg table of {where['entrypoint']} deletes other rows of "
                f"{plan.file if plan else data_uri} than its t0lake snapshot leaves out "
                f"({sum(len(g) for g in got)} deleted, {plan.count if plan else 0} expected): "
                "it was changed outside the mirror",
                file=plan.file if plan else None,
                **where,
            )


def _manifest_sha256(storage: LakeStorage, latest: Manifest, sid: int) -> str | None:
    """The checksum the lake holds for snapshot ``sid``: its manifest's, or the expiry
    record's; None when the lake never had it."""
    if sid in latest.expired:
        return latest.expired[sid]
    if sid == latest.snapshot_id:
        return latest.sha256
    try:
        return log.load(storage, latest.entrypoint, sid).sha256
    except SnapshotNotFoundError:
        return None


def _data_files(table: Table, snapshot: Snapshot | None) -> dict[str, DataFile]:
    """The live data files of a table snapshot, by path."""
    return _live_files(table, snapshot, ManifestContent.DATA)


def _delete_files(table: Table, snapshot: Snapshot | None) -> dict[str, DataFile]:
    """The live delete files of a table snapshot, by path."""
    return _live_files(table, snapshot, ManifestContent.DELETES)


def _live_files(
    table: Table, snapshot: Snapshot | None, content: ManifestContent
) -> dict[str, DataFile]:
    if snapshot is None:
        return {}
    out: dict[str, DataFile] = {}
    for manifest_file in snapshot.manifests(table.io):
        if manifest_file.content != content:
            continue
        for entry in manifest_file.fetch_manifest_entry(table.io, discard_deleted=True):
            out[entry.data_file.file_path] = entry.data_file
    return out


# --------------------------------------------------------------------------- one commit


def _commit_snapshot(
    storage: LakeStorage, table: Table, manifest: Manifest, result: MirrorResult
) -> Table:
    """One Iceberg commit mirroring ``manifest`` (files, delete files, tag, pins, expiry)."""
    before = table.current_snapshot()
    have = _data_files(table, before)
    want = {storage.uri(f.path) for f in manifest.files}
    have_deletes = _delete_files(table, before)
    planned = plan_deletes(storage, table.location(), manifest)
    properties = {
        SNAPSHOT_ID: str(manifest.snapshot_id),
        MANIFEST_SHA256: manifest.sha256,
        OPERATION: str(manifest.operation),
        PINS: json.dumps(dict(sorted(manifest.pins.items())), separators=(",", ":")),
    }
    gone = [have[p] for p in sorted(set(have) - want)]
    gone_deletes = [have_deletes[p] for p in sorted(set(have_deletes) - set(planned))]
    # written before the commit, named by content: a re-run after a crash here finds them
    new_deletes = [
        write_delete_file(table.io, planned[p]) for p in sorted(set(planned) - set(have_deletes))
    ]
    tx = table.transaction()
    changed = gone or gone_deletes or new_deletes
    producer = MirrorSnapshot(
        tx, table.io, Operation.OVERWRITE if changed else Operation.APPEND, properties
    )
    with producer:
        for data_file in gone:
            producer.delete_data_file(data_file)
        for path in sorted(want - set(have)):  # the footer gives the column statistics
            producer.append_data_file(parquet_file_to_data_file(table.io, tx.table_metadata, path))
        for delete_file in gone_deletes:
            producer.remove_delete_file(delete_file)
        for delete_file in new_deletes:
            producer.add_delete_file(delete_file)
    new_id = producer.snapshot_id
    _refs(tx, table, manifest, new_id, result)
    try:
        tx.commit_transaction()
    except CommitFailedException as exc:
        landed = _landed(table, manifest)
        if landed is None:
            raise CommitConflictError(
                f"another writer committed to the Iceberg table of {manifest.entrypoint} while "
                f"snapshot {manifest.snapshot_id} was mirrored: re-run 't0lake mirror'",
                entrypoint=manifest.entrypoint,
                snapshot_id=manifest.snapshot_id,
            ) from exc
        return landed
    except Exception as exc:  # the catalog's answer was lost: re-read, never blindly retry
        landed = _landed(table, manifest)
        if landed is None:
            raise CommitStateUnknownError(
                f"the Iceberg catalog did not say whether snapshot {manifest.snapshot_id} of "
                f"{manifest.entrypoint} was mirrored ({type(exc).__name__}): re-run "
                "'t0lake mirror', which checks the table's head first",
                entrypoint=manifest.entrypoint,
                snapshot_id=manifest.snapshot_id,
            ) from exc
        return landed
    table.refresh()
    return table


def _landed(table: Table, manifest: Manifest) -> Table | None:
    """The refreshed table if its head now mirrors ``manifest`` (our commit landed, or
    another mirror made the same one), else None."""
    try:
        table.refresh()
    except Exception:
        return None
    head = table.current_snapshot()
    summary = head.summary.additional_properties if head and head.summary else {}
    if (
        summary.get(SNAPSHOT_ID) == str(manifest.snapshot_id)
        and summary.get(MANIFEST_SHA256) == manifest.sha256
    ):
        return table
    return None


def _refs(
    tx: Transaction, table: Table, manifest: Manifest, new_id: int, result: MirrorResult
) -> None:
    """Stage the tag of the new snapshot, the pins' tags and the expiry of expired ones."""
    refs = tx.table_metadata.refs
    by_t0lake = _t0lake_snapshots(table)
    by_t0lake[manifest.snapshot_id] = new_id
    old_pins = set(_pin_targets(table))
    manage = ManageSnapshots(tx)
    with manage:
        manage.create_tag(new_id, tag_name(manifest.snapshot_id))
        for name in sorted(old_pins - set(manifest.pins)):
            if name in refs and refs[name].snapshot_ref_type == SnapshotRefType.TAG:
                manage.remove_tag(name)
                result.tags_removed.append(name)
        for name, sid in sorted(manifest.pins.items()):
            target = by_t0lake.get(sid)
            if target is None or name == MAIN_BRANCH or name.startswith(_RESERVED_TAG):
                continue  # a skipped snapshot, or a name the mirror's own refs hold
            current = refs.get(name)
            if current is None or current.snapshot_id != target:
                manage.create_tag(target, name)  # sets the tag, or moves it
        expired = [
            sid for sid in sorted(manifest.expired) if tag_name(sid) in tx.table_metadata.refs
        ]
        for sid in expired:
            manage.remove_tag(tag_name(sid))
            result.tags_removed.append(tag_name(sid))
    victims = [by_t0lake[sid] for sid in expired if sid in by_t0lake]
    protected = {ref.snapshot_id for ref in tx.table_metadata.refs.values()}
    victims = [v for v in victims if v not in protected and v != new_id]
    if victims:
        with ExpireSnapshots(tx) as expire:
            expire.by_ids(victims)


def _t0lake_snapshots(table: Table) -> dict[int, int]:
    """t0lake snapshot id → the Iceberg snapshot that mirrors it, from the tags."""
    out: dict[int, int] = {}
    for name, ref in table.metadata.refs.items():
        if ref.snapshot_ref_type == SnapshotRefType.TAG and name.startswith(_RESERVED_TAG):
            digits = name[len(_RESERVED_TAG) :]
            if digits.isdigit():
                out[int(digits)] = ref.snapshot_id
    return out


def _pin_targets(table: Table) -> dict[str, int]:
    """The pins the table's head mirrored (its summary's ``t0lake.pins``): pin → t0lake
    snapshot. Only these tags are the mirror's to move or remove; others are left alone."""
    head = table.current_snapshot()
    summary = head.summary.additional_properties if head and head.summary else {}
    try:
        pins = json.loads(summary.get(PINS, "{}"))
    except ValueError:
        return {}
    return {str(k): int(v) for k, v in pins.items()} if isinstance(pins, dict) else {}
