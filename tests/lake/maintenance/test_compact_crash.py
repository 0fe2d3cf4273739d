"""A compaction killed (SIGKILL) at each of its I/O steps loses nothing.

The child process counts the storage calls a compaction makes (each data file's write, the
fsync of its bytes before they get their name, the manifest's put-if-absent) and kills
itself at the N-th, for every N until a run completes. After each kill the previous (or the
new) snapshot reads and verifies, a re-run completes, and vacuum removes exactly the
orphans.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import t0lake
from t0lake.lake import log
from t0lake.lake.storage import open_storage
from tests.lake.synth import EP, day_table, days, export_days, model_table

AS_OF = "2026-12-01"

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from t0lake.lake.storage import local

    target, calls = int(sys.argv[2]), [0]

    def step(name, original):
        def wrapped(*args, **kwargs):
            calls[0] += 1
            if calls[0] == target:
                sys.stdout.write(f"killed at {name}\\n")
                sys.stdout.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            return original(*args, **kwargs)
        return wrapped

    local.LocalStorage.write_bytes = step("write", local.LocalStorage.write_bytes)
    local.LocalStorage.put_if_absent = step("commit", local.LocalStorage.put_if_absent)
    local.os.fsync = step("fsync", os.fsync)

    import t0lake
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=1) as pool:
        t0lake.compact(sys.argv[1], as_of=sys.argv[3], executor=pool, progress=False)
    print("completed")
    """
)


def test_a_compaction_killed_at_every_step_loses_nothing(tmp_path: Path) -> None:
    model = {d: day_table(d, 5) for d in days(date(2025, 12, 1), 45)}  # Dec (cold), Jan
    seen: list[str] = []
    for n in range(1, 20):
        root = str(tmp_path / f"lake-{n}")
        storage = open_storage(root)
        export_days(storage, model)
        child = subprocess.run(
            [sys.executable, "-c", CHILD, root, str(n), AS_OF],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if "completed" in child.stdout:
            break
        assert child.returncode == -9, child.stderr
        seen.append(child.stdout.strip().removeprefix("killed at "))
        # the lake opens and serves every row, proven
        snap = t0lake.open(root).snapshot(EP)
        assert snap.snapshot_id in (1, 2)
        snap.verify()
        assert snap.to_arrow().equals(model_table(model))
        # re-running completes the job
        (result,) = t0lake.compact(root, as_of=AS_OF, progress=False)
        assert result.committed == (snap.snapshot_id == 1)
        final = t0lake.open(root).snapshot(EP)
        assert final.snapshot_id == 2 and len(final.manifest.files) == 2
        assert final.to_arrow().equals(model_table(model))
        # vacuum then removes exactly the orphans (with snapshot 1 expired: its hot files too)
        t0lake.expire(root, EP, keep_last=1)
        head = log.head(storage, EP)
        assert head is not None
        referenced = {f.path for m in log.check_chain(storage, head) for f in m.files}
        on_disk = {p for p in storage.walk(EP) if "/_manifests/" not in p or ".tmp-" in p}
        later = datetime.now(UTC) + timedelta(hours=2)
        (swept,) = t0lake.vacuum(root, EP, grace=0, now=later)
        assert {d["path"] for d in swept.deleted} == on_disk - referenced
        assert {p for p in storage.walk(EP) if "/_manifests/" not in p} == referenced
        t0lake.open(root).snapshot(EP).verify()
    else:
        raise AssertionError("the compaction never completed")
    # two outputs (each: write, then fsync its two new directories' parents, its bytes, and
    # its directory after the rename) and the commit (fsync the bytes, link, fsync the
    # directory): thirteen kill points
    output = ["write", "fsync", "fsync", "fsync", "fsync"]
    assert seen == [*output, *output, "commit", "fsync", "fsync"]
