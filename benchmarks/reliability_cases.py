"""What the reliability harness works on: the servers, the store, the lakes, and the checks
every part applies to a lake after it was killed or raced.

One throwaway PostgreSQL (``TempPostgres``) holds the small certified store of the lake
tests (``tests/lakecases.py``: ``lk.features_v``, 5 days of 40 rows of every supported
type) under the *tolerant* drift policy, so that UPDATEs make real new versions of days
to export; one moto S3 server (``moto_server``) serves every S3 lake. Both listen on
127.0.0.1 only. Each trial gets a lake of its own (a directory, or a bucket), so no trial
sees another's files and the export registry in Postgres keeps one history per lake.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # tests.lakecases: the store the lake tests use
    sys.path.insert(0, str(REPO))

import s3fs  # noqa: E402

import t0lake  # noqa: E402
from t0lake import pg  # noqa: E402
from t0lake.lake import log  # noqa: E402
from t0lake.lake.layout import manifest_path  # noqa: E402
from t0lake.lake.manifest import Manifest  # noqa: E402
from t0lake.lake.storage import LakeStorage, open_storage  # noqa: E402
from t0lake.lake.tiers import policy_path  # noqa: E402
from t0lake.testing import TempPostgres, moto_server  # noqa: E402
from tests.lakecases import EP, make_store, run_sql  # noqa: E402

__all__ = [
    "AS_OF",
    "EP",
    "PYTHON",
    "Env",
    "Run",
    "Target",
    "classify",
    "environment",
    "expected_files",
    "live_days",
    "registry_drift",
    "run_cli",
    "run_sql",
]

PYTHON = sys.executable
AS_OF = "2026-06-01"  # March 2026 has left hot: compaction makes one warm month file
S3_KEY = {"key": "testing", "secret": "testing"}
_names = count(1)


@dataclass
class Env:
    """The servers and the scratch directory of one harness run."""

    dsn: str
    endpoint: str
    work: Path
    baselines: dict[str, Path] = field(default_factory=dict)

    @property
    def s3_options(self) -> dict[str, Any]:
        return {"endpoint_url": self.endpoint, **S3_KEY}

    def fs(self) -> s3fs.S3FileSystem:
        return s3fs.S3FileSystem(**self.s3_options)


@contextmanager
def environment(work: Path) -> Iterator[Env]:
    """PostgreSQL with the t0lake SQL and the tolerant store, and a moto server."""
    with TempPostgres() as server, moto_server() as endpoint:
        with pg.connect(server.dsn) as conn:
            pg.apply_sql(conn)
        make_store(server.dsn, policy="tolerant")
        yield Env(dsn=server.dsn, endpoint=endpoint, work=work)


@dataclass(frozen=True)
class Target:
    """One lake: local (a directory) or S3 (``s3://bucket/lake``)."""

    storage: str
    url: str
    options: dict[str, Any]

    @staticmethod
    def new(env: Env, storage: str, label: str) -> Target:
        """A lake no one has written to, named after ``label`` (unique per run)."""
        n = next(_names)
        if storage == "local":
            path = env.work / "lakes" / f"{n:04d}-{label}" / "lake"
            path.parent.mkdir(parents=True)
            return Target("local", str(path), {})
        bucket = re.sub(r"[^a-z0-9-]+", "-", f"rel-{n:04d}-{label}".lower())[:63].rstrip("-")
        env.fs().mkdir(bucket)
        return Target("s3", f"s3://{bucket}/lake", env.s3_options)

    def cli_options(self, endpoint: str | None = None) -> list[str]:
        """``--lake`` and, for S3, the ``--storage-option``s (``endpoint`` overrides the
        endpoint: a fault proxy in front of moto)."""
        args = ["--lake", self.url]
        for key, value in self.options.items():
            if key == "endpoint_url" and endpoint:
                value = endpoint
            args += ["--storage-option", f"{key}={value}"]
        return args

    def storage_(self) -> LakeStorage:
        return open_storage(self.url, self.options or None, check=False)

    def restore(self, env: Env, tree: Path) -> None:
        """Make this lake a copy of the local lake ``tree`` (files only: manifests name
        their files by lake-relative paths, so a copy is the same lake)."""
        if self.storage == "local":
            shutil.copytree(tree, self.url)
            return
        fs = env.fs()
        root = self.url.removeprefix("s3://")
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                fs.pipe_file(f"{root}/{path.relative_to(tree).as_posix()}", path.read_bytes())

    def drop(self, env: Env) -> None:
        """Delete the lake (passed trials keep nothing)."""
        if self.storage == "local":
            shutil.rmtree(Path(self.url).parent, ignore_errors=True)
        else:
            bucket = self.url.removeprefix("s3://").split("/", 1)[0]
            with suppress(OSError):
                env.fs().rm(bucket, recursive=True)

    def head(self) -> Manifest | None:
        return log.head(self.storage_(), EP)


def live_days(manifest: Manifest | None) -> dict[str, tuple[str, str]]:
    """Every live day of a snapshot: its tier and its content hash."""
    if manifest is None:
        return {}
    return {d.isoformat(): (str(f.tier), e.dataset_hash) for d, (f, e) in manifest.days().items()}


def expected_files(storage: LakeStorage, head: Manifest) -> set[str]:
    """What a vacuumed entrypoint holds: the retained manifests, every file they reference,
    and the policy file if there is one."""
    chain = log.check_chain(storage, head)
    files = {f.path for m in chain for f in m.files}
    files |= {manifest_path(EP, m.snapshot_id) for m in chain}
    if storage.exists(policy_path(EP)):
        files.add(policy_path(EP))
    return files


def registry_drift(env: Env, target: Target) -> str | None:
    """How audit.t0_export_registry disagrees with the lake (None: it holds every retained
    snapshot with the lake's manifest checksum)."""
    storage = target.storage_()
    head = log.require_head(storage, EP)
    with pg.connect(env.dsn) as conn:
        registered = pg.registered_snapshots(conn, storage.canonical_url, EP)
    for manifest in log.check_chain(storage, head):
        got = registered.get(manifest.snapshot_id)
        if got != manifest.sha256:
            return (
                f"snapshot {manifest.snapshot_id} registered as {(got or 'nothing')[:12]}, "
                f"the lake holds {manifest.sha256[:12]}"
            )
    return None


@dataclass(frozen=True)
class Run:
    """One CLI process: its exit status, the JSON it printed, its wall time."""

    argv: list[str]
    returncode: int
    doc: dict[str, Any] | None
    stderr: str
    seconds: float

    @property
    def error(self) -> str | None:
        """The error name the CLI printed (``--json``), None on success."""
        if self.doc is None:
            return None
        value = self.doc.get("error")
        return str(value) if value is not None else None


def run_cli(args: list[str], *, hook: list[str] | None = None, timeout: float = 300.0) -> Run:
    """``t0lake --json ARGS`` in a process of its own (under the crash hook with ``hook``'s
    options: ``[]`` counts steps, ``["--kill-at", "7"]`` kills)."""
    argv = (
        [PYTHON, "-m", "t0lake.testing.crashpoints", *hook, "--", "--json", *args]
        if hook is not None
        else [PYTHON, "-m", "t0lake", "--json", *args]
    )
    started = time.perf_counter()
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "T0LAKE_DEBUG": "0"},
        check=False,
    )
    return Run(
        argv, proc.returncode, _json(proc.stdout), proc.stderr, time.perf_counter() - started
    )


def _json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            return doc
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


_TYPED = {
    name
    for name, value in vars(t0lake).items()
    if isinstance(value, type) and issubclass(value, t0lake.T0LakeError)
} | {"UsageError"}


def classify(run: Run) -> str:
    """``ok``, ``typed`` (exit 1 or 2 naming a t0lake error) or ``untyped`` (anything else:
    InternalError, an abort, a signal, no JSON)."""
    if run.returncode == 0 and run.error is None:
        return "ok"
    if run.returncode in (1, 2) and run.error in _TYPED and run.error != "InternalError":
        return "typed"
    return "untyped"
