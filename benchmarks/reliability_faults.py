"""Faults the reliability harness plants: S3 gone mid-export and mid-commit, a commit whose
answer is lost, a full disk, an unreadable file, and manifests truncated, forged, rewritten
or deleted.

Every case starts from a copy of one baseline lake (two exports of the tolerant store), makes
the fault happen for real (the S3 fault proxy in front of moto refuses connections or loses
answers; a 1 MiB tmpfs fills up; files are replaced or resealed on disk), runs one ``t0lake``
command in a process of its own, and checks two things: the command ended as the case
expects (a typed error and its exit code, or success), and the lake is still what its last
real commit made it (the head verifies; after the fault is lifted, re-running finishes the
job). A case that cannot be staged on this machine (no tmpfs) is reported as skipped, never
as passed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from reliability_cases import EP, Env, Run, Target, classify, live_days, run_cli, run_sql

import t0lake
from t0lake.lake import log
from t0lake.lake.layout import manifest_path
from t0lake.lake.manifest import Manifest
from t0lake.testing.s3proxy import DROP_RESPONSE, REFUSE, s3_fault_proxy

__all__ = ["FaultRow", "run_faults"]

# days 1 and 3 change in Postgres before every faulted export: two day files to write
_CHANGE = "UPDATE lk.src SET score = coalesce(score, 0) + 1 WHERE id IN (1, 81)"


@dataclass
class FaultRow:
    """One planted fault: what the command should end as, what it did, and whether the
    lake survived."""

    case: str
    storage: str
    expected: str
    observed: str = ""
    lake_ok: bool = False
    skipped: str = ""

    @property
    def passed(self) -> bool:
        return not self.skipped and self.lake_ok and self.observed == self.expected


def _baseline(env: Env) -> Path:
    """A local lake of two exports, copied into every case."""
    tree = env.work / "faults-baseline" / "lake"
    if not tree.exists():
        t0lake.export(env.dsn, EP, str(tree), end="2026-03-02")
        t0lake.export(env.dsn, EP, str(tree))
    return tree


def _fresh(env: Env, storage: str, label: str) -> Target:
    target = Target.new(env, storage, f"fault-{label}")
    target.restore(env, _baseline(env))
    return target


def _outcome(run: Run) -> str:
    """``ok``, or the typed error's name with its exit code, or ``untyped (...)``."""
    kind = classify(run)
    if kind == "ok":
        return "ok"
    if kind == "typed":
        return f"{run.error} ({run.returncode})"
    return f"untyped (exit {run.returncode}, {run.error or run.stderr.strip()[-80:]})"


def _head_verifies(target: Target) -> bool:
    try:
        t0lake.open(target.url, target.options or None).snapshot(EP).verify()
    except t0lake.T0LakeError:
        return False
    return True


def _export(env: Env, target: Target, endpoint: str | None = None) -> Run:
    return run_cli(["export", EP, *target.cli_options(endpoint), "--dsn", env.dsn])


# --------------------------------------------------------------------------- S3


def _s3_cases(env: Env) -> list[FaultRow]:
    rows = []
    with s3_fault_proxy(env.endpoint) as proxy:
        # the server goes away after the first day file (the export stops, typed), or at
        # the manifest's PUT (the outcome is unknown until a read-back settles it)
        for case, path, expected in (
            ("S3 down mid-export", r"day(=|%3D)2026-03-03", "StorageError (1)"),
            ("S3 down at the commit", r"/_manifests/", "CommitStateUnknownError (1)"),
        ):
            target = _fresh(env, "s3", case.lower().replace(" ", "-"))
            before = target.head()
            run_sql(env.dsn, _CHANGE)
            proxy.add_rule(REFUSE, method="PUT", path=path)
            run = _export(env, target, proxy.url)
            proxy.restore()
            proxy.clear_rules()
            row = FaultRow(case, "s3", expected, _outcome(run))
            row.lake_ok = _unchanged_then_finished(env, target, before)
            rows.append(row)

        # the manifest lands but its answer is lost: the re-sent PUT meets it, and it is ours
        target = _fresh(env, "s3", "answer-lost")
        before = target.head()
        run_sql(env.dsn, _CHANGE)
        proxy.add_rule(DROP_RESPONSE, method="PUT", path=r"/_manifests/")
        run = _export(env, target, proxy.url)
        proxy.clear_rules()
        row = FaultRow("S3 commit answer lost", "s3", "ok", _outcome(run))
        after = target.head()
        row.lake_ok = (
            after is not None
            and before is not None
            and after.snapshot_id == before.snapshot_id + 1
            and bool(run.doc and run.doc.get("committed"))
            and _head_verifies(target)
        )
        rows.append(row)
    return rows


def _unchanged_then_finished(env: Env, target: Target, before: Manifest | None) -> bool:
    """The fault left the head as it was (or committed whole), it verifies, and a re-run
    with the fault lifted finishes the export with nothing left to do after it."""
    head = target.head()
    if head is None or not _head_verifies(target):
        return False
    changed = before is not None and head.sha256 != before.sha256
    if changed and before is not None and head.snapshot_id != before.snapshot_id + 1:
        return False  # something other than our one commit changed the head
    rerun = _export(env, target)
    again = _export(env, target)
    return (
        classify(rerun) == "ok"
        and classify(again) == "ok"
        and bool(again.doc)
        and not again.doc.get("committed", True)
        and _head_verifies(target)
    )


# --------------------------------------------------------------------------- local disk


def _disk_full(env: Env) -> FaultRow:
    row = FaultRow("disk full (1 MiB tmpfs)", "local", "StorageError (1)")
    mount = env.work / "tmpfs"
    mount.mkdir(exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        row.skipped = f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})"
        return row
    try:
        lake = mount / "lake"
        shutil.copytree(_baseline(env), lake)
        ballast = mount / "ballast"
        free = shutil.disk_usage(mount).free
        ballast.write_bytes(b"\0" * max(free - 4096, 0))  # leave less than one day file
        before = log.head(Target("local", str(lake), {}).storage_(), EP)
        run_sql(env.dsn, _CHANGE)
        run = run_cli(["export", EP, "--lake", str(lake), "--dsn", env.dsn])
        row.observed = _outcome(run)
        target = Target("local", str(lake), {})
        leftovers = [p for p in lake.rglob("*") if ".tmp-" in p.name]
        head = target.head()
        intact = head is not None and before is not None and head.sha256 == before.sha256
        ballast.unlink()
        row.lake_ok = intact and not leftovers and _unchanged_then_finished(env, target, before)
    finally:
        subprocess.run(["umount", str(mount)], check=False, capture_output=True)
    return row


def _planted(
    env: Env,
    storage: str,
    label: str,
    command: str,
    expected: str,
    plant: Callable[[Target], None],
) -> FaultRow:
    """Plant damage in a fresh lake, then run ``command`` (verify or export) on it."""
    target = _fresh(env, storage, label)
    plant(target)
    args = ["verify", EP, *target.cli_options(), "--dsn", env.dsn]
    if command == "export":
        args = ["export", EP, *target.cli_options(), "--dsn", env.dsn]
    run = run_cli(args)
    row = FaultRow(label, storage, expected, _outcome(run))
    # the damage is refused, and nothing was committed on top of it
    storage_ = target.storage_()
    ids = log.snapshot_ids(storage_, EP)
    row.lake_ok = max(ids, default=0) <= 3
    return row


def _manifest_bytes(target: Target, snapshot_id: int) -> bytes:
    return target.storage_().read_bytes(manifest_path(EP, snapshot_id))


def _put_manifest(target: Target, snapshot_id: int, data: bytes) -> None:
    storage = target.storage_()
    storage.delete(manifest_path(EP, snapshot_id))
    storage.write_bytes(manifest_path(EP, snapshot_id), data)


def _truncate_head(target: Target) -> None:
    _put_manifest(target, 2, _manifest_bytes(target, 2)[:-200])


def _forge_higher(target: Target) -> None:
    head = log.load(target.storage_(), EP, 2)
    forged = replace(head, snapshot_id=3, parent_snapshot_id=1, sha256="").sealed()
    target.storage_().write_bytes(manifest_path(EP, 3), forged.to_bytes())


def _rewrite_parent(target: Target) -> None:
    first = log.load(target.storage_(), EP, 1)
    _put_manifest(
        target,
        1,
        replace(first, committed_at="2020-01-01T00:00:00+00:00", sha256="").sealed().to_bytes(),
    )


def _delete_middle(target: Target) -> None:
    target.storage_().delete(manifest_path(EP, 1))


def _delete_newest(target: Target) -> None:
    storage = target.storage_()
    storage.delete(manifest_path(EP, log.snapshot_ids(storage, EP)[-1]))


def _unreadable(target: Target) -> None:
    head = log.load(target.storage_(), EP, 2)
    path = Path(target.url) / sorted(f.path for f in head.files)[0]
    path.unlink()
    path.mkdir()


def _register(env: Env, target: Target) -> None:
    """Register the copied lake's snapshots in Postgres, as its exports would have."""
    t0lake.export(env.dsn, EP, target.url, storage_options=target.options or None)


def run_faults(env: Env, *, quick: bool = False) -> list[FaultRow]:
    """Every planted fault, in a fixed order."""
    rows = _s3_cases(env)
    rows.append(_disk_full(env))
    planted = [
        ("unreadable file (a directory)", "verify", "IntegrityError (1)", _unreadable),
        ("truncated head manifest", "verify", "IntegrityError (1)", _truncate_head),
        ("forged higher snapshot", "verify", "IntegrityError (1)", _forge_higher),
        ("rewritten parent manifest", "verify", "IntegrityError (1)", _rewrite_parent),
        ("manifest deleted mid-chain", "verify", "IntegrityError (1)", _delete_middle),
        ("truncated head manifest", "export", "IntegrityError (1)", _truncate_head),
        ("forged higher snapshot", "export", "IntegrityError (1)", _forge_higher),
    ]
    storages = ["local"] if quick else ["local", "s3"]
    for storage in storages:
        for label, command, expected, plant in planted:
            if plant is _unreadable and storage != "local":
                continue
            rows.append(_planted(env, storage, f"{label} → {command}", command, expected, plant))
        # the newest manifest deleted: only the registry in Postgres can tell
        target = _fresh(env, storage, "deleted-newest")
        _register(env, target)
        _delete_newest(target)
        run = run_cli(["verify", EP, *target.cli_options(), "--dsn", env.dsn])
        row = FaultRow("newest manifest deleted → verify --dsn", storage, "IntegrityError (1)")
        row.observed = _outcome(run)
        row.lake_ok = live_days(target.head()) != {}
        rows.append(row)
    os.sync()
    return rows
