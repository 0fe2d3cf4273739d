"""The concurrency storm: writers and a compactor on one lake at once, readers during it.

Four export processes (all days; days 1-2; days 3-5; days 2-4) and one compaction process
run their loops side by side on the same lake, while the source changes under them (a
thread UPDATEs a row of a random day every few hundred milliseconds, under the tolerant
drift policy, so exports really commit new versions) and two reader processes verify the
head (and scan it) in a loop. Every writer runs under the crash hook in counting mode, so
its log shows each manifest it tried to commit: one more than it committed is one lost
race it retried. The writers start each round together, so their commits fall close.

Afterwards: every run ended ``ok`` or with a typed error (exit 1/2 naming a t0lake error;
never InternalError, an abort or a signal); every commit a writer reported is in the final
chain, at the id it reported, with the operation and days it reported, and no two writers
report the same id; the head serves every day an export committed, with the content of the
last commit that wrote it (compaction keeps content) and never rows read from an older
Postgres snapshot than another landed commit's (``stale``); the chain checks; every read
verified or failed typed. Then a last export registers the head, the registry must agree
with the lake, and ``vacuum --grace 0`` must leave exactly what the manifests reference.
"""

from __future__ import annotations

import os
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql
from reliability_cases import (
    AS_OF,
    EP,
    Env,
    Run,
    Target,
    classify,
    expected_files,
    registry_drift,
    run_cli,
)

import t0lake
from t0lake import pg
from t0lake.lake import log
from t0lake.lake.manifest import DayEntry, Manifest
from t0lake.testing.crashpoints import read_log

__all__ = ["StormRow", "describe_storm_failures", "storm"]

WRITERS: tuple[tuple[str, list[str]], ...] = (
    ("export all", ["export", EP]),
    ("export 1-2", ["export", EP, "--start", "2026-03-01", "--end", "2026-03-02"]),
    ("export 3-5", ["export", EP, "--start", "2026-03-03", "--end", "2026-03-05"]),
    ("export 2-4", ["export", EP, "--start", "2026-03-02", "--end", "2026-03-04"]),
    ("compact", ["compact", EP, "--as-of", AS_OF]),
)
READERS = 2
ROWS = 200  # lk.features_v: 5 days of 40 rows, ids 1..200


@dataclass
class StormRow:
    storage: str
    writers: int
    readers: int
    runs: int = 0
    commits: int = 0
    noop: int = 0
    conflicts: int = 0
    retries: int = 0
    reads: int = 0
    typed: int = 0
    untyped: int = 0
    days_lost: int = 0
    stale: int = 0
    chain_ok: bool = False
    seconds: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Landed:
    """A commit a writer reported: its id, operation and (exports) the days it wrote."""

    who: str
    snapshot_id: int
    operation: str
    days: tuple[str, ...]


def _writer_loop(
    env: Env,
    target: Target,
    name: str,
    args: list[str],
    rounds: int,
    start: threading.Barrier,
    tmp: str,
    out: list[Any],
) -> None:
    extra = ["--dsn", env.dsn, "--workers", "1"] if args[0] == "export" else []
    for i in range(rounds):
        try:
            start.wait(timeout=600)  # every round starts together: commits fall close, and race
        except threading.BrokenBarrierError:
            return  # another writer's loop broke: its error is reported
        logfile = f"{tmp}/{name.replace(' ', '_')}-{i}.jsonl"
        try:
            run = run_cli([*args, *extra, *target.cli_options()], hook=["--log", logfile])
            steps = read_log(logfile)[0] if os.path.exists(logfile) else []
        except BaseException:
            start.abort()
            raise
        puts = sum(1 for s in steps if s.call == "put_if_absent" and "/_manifests/" in s.target)
        out.append((name, run, puts))


def _reader_loop(target: Target, stop: threading.Event, out: list[Run]) -> None:
    n = 0
    while not stop.is_set():
        if n % 2 == 0:
            args = ["verify", EP, *target.cli_options()]
        else:
            args = ["scan", EP, "--columns", "id,score", *target.cli_options()]
        out.append(run_cli(args))
        n += 1


# the drift the storm keeps making: identifiers composed, values as parameters
_UPDATE_SCORE = sql.SQL("UPDATE {} SET {} = %s WHERE {} = %s").format(
    sql.Identifier("lk", "src"), sql.Identifier("score"), sql.Identifier("id")
)


def _mutator(env: Env, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    value = 1000
    while not stop.wait(0.3):
        value += 1
        row = rng.randint(1, ROWS)
        with pg.connect(env.dsn, autocommit=True) as conn:  # values as parameters
            conn.execute(_UPDATE_SCORE, (value, row))


def _landed(name: str, run: Run) -> Landed | None:
    doc = run.doc or {}
    if name == "compact":
        results = doc.get("results") or []
        if results and results[0].get("committed"):
            return Landed(name, int(results[0]["snapshot_id"]), "compact", ())
        return None
    if doc.get("committed"):
        superseded = set(doc.get("days_superseded") or [])
        days = tuple(d for d in doc.get("days_written") or [] if d not in superseded)
        return Landed(name, int(doc["snapshot_id"]), "export", days)
    return None


def storm(
    env: Env, storage: str, *, quick: bool, progress: Callable[[str], None] = print
) -> StormRow:
    """One storm on a new lake of ``storage`` (restored from the ``main`` baseline)."""
    started = time.perf_counter()
    target = Target.new(env, storage, "storm")
    target.restore(env, env.baselines["main"])
    rounds = 2 if quick else 5
    row = StormRow(storage, writers=len(WRITERS), readers=READERS)
    results: list[tuple[str, Run, int]] = []
    reads: list[Run] = []
    stop = threading.Event()
    with tempfile.TemporaryDirectory() as tmp:
        start = threading.Barrier(len(WRITERS))
        writers = [
            threading.Thread(
                target=_writer_loop, args=(env, target, name, args, rounds, start, tmp, results)
            )
            for name, args in WRITERS
        ]
        readers = [
            threading.Thread(target=_reader_loop, args=(target, stop, reads))
            for _ in range(READERS)
        ]
        mutator = threading.Thread(target=_mutator, args=(env, stop, 20))
        for t in (*readers, mutator, *writers):
            t.start()
        for t in writers:
            t.join()
        stop.set()
        for t in (*readers, mutator):
            t.join()
    landed: list[Landed] = []
    for name, run, puts in results:
        row.runs += 1
        kind = classify(run)
        commit = _landed(name, run) if kind == "ok" else None
        if commit is not None:
            landed.append(commit)
            row.commits += 1
        elif kind == "ok":
            row.noop += 1
        row.retries += max(0, puts - (1 if commit else 0))
        _count(row, name, run, kind)
    for run in reads:
        row.reads += 1
        _count(row, "reader", run, classify(run))
    row.conflicts = row.errors.get("CommitConflictError", 0)
    _check_final(env, target, landed, row)
    row.seconds = time.perf_counter() - started
    progress(
        f"storm {storage:5}: {row.runs} writer runs, {row.commits} commits, {row.retries} "
        f"retries, {row.reads} reads, {row.typed} typed / {row.untyped} untyped errors, "
        f"{len(row.failures)} failures ({row.seconds:.0f}s)"
    )
    if not row.failures:
        target.drop(env)
    return row


def _count(row: StormRow, who: str, run: Run, kind: str) -> None:
    if kind == "ok":
        return
    name = run.error or f"exit {run.returncode}"
    row.errors[name] += 1
    if kind == "typed":
        row.typed += 1
        return
    row.untyped += 1
    tail = (run.stderr.strip().splitlines() or [""])[-1][:300]
    row.failures.append(
        f"{row.storage} storm: {who} ended untyped (exit {run.returncode}, {name}): {tail}; "
        f"command: t0lake {' '.join(a for a in run.argv[3:] if not a.startswith('host='))[:200]}"
    )


def _check_final(env: Env, target: Target, landed: list[Landed], row: StormRow) -> None:
    storage = target.storage_()
    fail = row.failures.append
    try:
        head = log.require_head(storage, EP)
        chain = {m.snapshot_id: m for m in log.check_chain(storage, head)}
        row.chain_ok = True
    except Exception as exc:
        fail(f"{row.storage} storm: the final chain does not check: {type(exc).__name__}: {exc}")
        return
    ids = Counter(c.snapshot_id for c in landed)
    for sid, n in ids.items():
        if n > 1:
            fail(f"{row.storage} storm: {n} writers report committing snapshot {sid}")
    for c in landed:
        manifest = chain.get(c.snapshot_id) or _load(storage, c.snapshot_id)
        if manifest is None:
            fail(f"{row.storage} storm: {c.who}'s snapshot {c.snapshot_id} is not in the chain")
            continue
        if str(manifest.operation) != c.operation:
            fail(
                f"{row.storage} storm: snapshot {c.snapshot_id} is a {manifest.operation}, "
                f"{c.who} reported committing it as {c.operation}"
            )
        missing = [d for d in c.days if d not in {x.isoformat() for x in manifest.days()}]
        if missing:
            fail(f"{row.storage} storm: {c.who}'s snapshot {c.snapshot_id} lacks days {missing}")
    served = {d.isoformat(): e for d, (_, e) in head.days().items()}
    last: dict[str, DayEntry] = {}
    written: dict[str, list[DayEntry]] = {}
    for c in sorted(landed, key=lambda c: c.snapshot_id):
        manifest = chain.get(c.snapshot_id) or _load(storage, c.snapshot_id)
        if manifest is None:
            continue
        entries = {d.isoformat(): e for d, (_, e) in manifest.days().items()}
        for day in c.days:
            if day in entries:
                last[day] = entries[day]
                written.setdefault(day, []).append(entries[day])
    for day, entry in last.items():
        now = served.get(day)
        if now is None or now.dataset_hash != entry.dataset_hash:
            row.days_lost += 1
            fail(
                f"{row.storage} storm: day {day} "
                + ("is not served" if now is None else "serves other content than its last commit")
            )
            continue
        if any(e.read_later_than(now) for e in written[day]):
            row.stale += 1
            fail(f"{row.storage} storm: day {day} serves rows older than a landed commit read")
    try:
        t0lake.open(target.url, storage_options=target.options or None).snapshot(EP).verify()
        t0lake.export(env.dsn, EP, target.url, storage_options=target.options or None)
        if drift := registry_drift(env, target):
            fail(f"{row.storage} storm: registry after a last export: {drift}")
        t0lake.vacuum(target.url, EP, grace=0, storage_options=target.options or None)
        head = log.require_head(storage, EP)
        found, expected = set(storage.walk(EP)), expected_files(storage, head)
        if found != expected:
            fail(
                f"{row.storage} storm: after vacuum --grace 0 the lake holds "
                f"{sorted(found - expected)[:3]} unreferenced, lacks {sorted(expected - found)[:3]}"
            )
        t0lake.open(target.url, storage_options=target.options or None).snapshot(EP).verify()
    except Exception as exc:
        fail(f"{row.storage} storm: the checks after the storm failed: {type(exc).__name__}: {exc}")


def _load(storage: Any, snapshot_id: int) -> Manifest | None:
    try:
        return log.load(storage, EP, snapshot_id)
    except Exception:
        return None


def describe_storm_failures(rows: list[StormRow]) -> list[str]:
    return [f for r in rows for f in r.failures]
