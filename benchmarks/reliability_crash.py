"""Crash points: every operation killed at every storage I/O step, on local disk and S3.

For each operation and storage a clean run under the crash hook (counting mode,
``t0lake.testing.crashpoints``) lists its steps; then for every step N, killed just before
and just after it (and on S3, for every PUT, killed while the request is in flight: once
lost with the process, once landed in S3 with the answer lost), a copy of the baseline lake
is killed at that point, and the harness checks, in this order:

opens        the lake opens and its head chain-checks (``torn`` otherwise)
verifies     the head re-proves every file and (day, column) hash (``unverified``)
no loss      every day of the baseline head is served, with the baseline's content or
             the content a clean run commits (``lost``), and the rows read back count
finishes     re-running the operation ends without an error and leaves the clean run's
             live days (tier and content hash of each) and pins (``unfinished``)
registry     after an export: audit.t0_export_registry holds every retained snapshot
             with the lake's manifest checksum (``registry``)
vacuum       ``vacuum --grace 0`` leaves exactly the retained manifests, the files they
             reference and the policy file (``leftover``)
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from reliability_cases import (
    AS_OF,
    EP,
    PYTHON,
    REPO,
    Env,
    Run,
    Target,
    expected_files,
    live_days,
    registry_drift,
    run_cli,
    run_sql,
)

import t0lake
from t0lake.lake import log
from t0lake.testing.crashpoints import read_log
from t0lake.testing.s3proxy import (
    CLOSE,
    DROP_RESPONSE,
    FaultRule,
    S3FaultProxy,
    s3_fault_proxy,
)

__all__ = [
    "CHECKS",
    "CONTROLS",
    "OPERATIONS",
    "Control",
    "CrashRow",
    "Operation",
    "build_baselines",
    "controls",
    "crash_sweep",
    "describe_failures",
]

CHECKS = ("torn", "unverified", "lost", "unfinished", "registry", "leftover")


# --------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Operation:
    """An operation under test: its baseline lake, its command line and its re-run."""

    name: str
    baseline: str
    args: Callable[[Env], list[str]]
    rerun: Callable[[Env, Target], Any]


def _export_args(env: Env) -> list[str]:
    return ["export", EP, "--dsn", env.dsn, "--workers", "1"]


OPERATIONS = (
    Operation(
        "export",
        "main",
        _export_args,
        lambda env, t: t0lake.export(
            env.dsn, EP, t.url, storage_options=t.options or None, progress=False
        ),
    ),
    Operation(
        "compact",
        "main",
        lambda env: ["compact", EP, "--as-of", AS_OF],
        lambda env, t: t0lake.compact(
            t.url, AS_OF, EP, storage_options=t.options or None, progress=False
        ),
    ),
    Operation(
        "expire",
        "compacted",
        lambda env: ["expire", EP, "--keep-last", "1"],
        lambda env, t: t0lake.expire(t.url, EP, keep_last=1, storage_options=t.options or None),
    ),
    Operation(
        "vacuum",
        "expired",
        lambda env: ["vacuum", EP, "--grace", "0"],
        lambda env, t: t0lake.vacuum(t.url, EP, grace=0, storage_options=t.options or None),
    ),
    Operation(
        "pin",
        "main",
        lambda env: ["pin", EP, "1", "--name", "release"],
        lambda env, t: t0lake.pin(t.url, EP, 1, "release", storage_options=t.options or None),
    ),
)


def build_baselines(env: Env) -> None:
    """The local lakes every trial starts from, built once:

    main       two exports (all five days, then day 2 changed): two snapshots
    compacted  main compacted as of AS_OF (the month warm): three snapshots
    expired    compacted with ``expire --keep-last 1``: the hot files are garbage

    Afterwards days 1 and 3 change in Postgres, so every export under test commits them.
    """
    root = env.work / "baselines"
    main = root / "main" / "lake"
    t0lake.export(env.dsn, EP, str(main), progress=False)
    run_sql(env.dsn, "UPDATE lk.src SET score = -2 WHERE id = 45")
    t0lake.export(env.dsn, EP, str(main), progress=False)
    compacted = root / "compacted" / "lake"
    shutil.copytree(main, compacted)
    t0lake.compact(str(compacted), AS_OF, EP, progress=False)
    expired = root / "expired" / "lake"
    shutil.copytree(compacted, expired)
    t0lake.expire(str(expired), EP, keep_last=1)
    run_sql(env.dsn, "UPDATE lk.src SET score = -3 WHERE id IN (3, 90)")
    env.baselines.update(main=main, compacted=compacted, expired=expired)


# --------------------------------------------------------------------------- kill points


@dataclass(frozen=True)
class Point:
    """Where a trial dies: at hook step ``n`` (``before``/``after``), or in flight of the
    ``n``-th PUT (``put-lost``: never reaches S3; ``put-landed``: stored, answer lost)."""

    n: int
    when: str
    label: str

    @property
    def mid_put(self) -> bool:
        return self.when.startswith("put-")


class _KillingProxy(S3FaultProxy):
    """The fault proxy, killing the child while it waits for its ``n``-th PUT: the request
    body has arrived, the process dies, then the request is dropped (``lost``) or forwarded
    to moto with its answer dropped (``landed``)."""

    def __init__(self, upstream: str, n: int, landed: bool) -> None:
        self._target = n
        self._landed = landed
        self._puts = 0
        self._victim: subprocess.Popen[str] | None = None
        self._kill_lock = threading.Lock()
        self.killed_path: str | None = None
        super().__init__(upstream)

    def _decide(self, method: str, target: str) -> FaultRule | None:
        if method.upper() == "PUT" and self._victim is not None:
            with self._kill_lock:
                self._puts += 1
                hit = self._puts == self._target
            if hit:
                self._victim.send_signal(signal.SIGKILL)
                self._victim.wait()
                self.killed_path = target
                return FaultRule(DROP_RESPONSE if self._landed else CLOSE, times=None)
        return super()._decide(method, target)


# --------------------------------------------------------------------------- one trial


@dataclass
class Trial:
    operation: str
    storage: str
    point: Point
    killed: bool = False
    reached: str = ""
    failures: dict[str, str] = field(default_factory=dict)
    repro: str = ""

    @property
    def passed(self) -> bool:
        return self.killed and not self.failures


@dataclass
class Reference:
    """What a clean run of one operation on one storage does and leaves."""

    steps: list[str]
    puts: int
    baseline: dict[str, tuple[str, str]]
    final: dict[str, tuple[str, str]]
    pins: dict[str, int]
    seconds: float


def _reference(env: Env, op: Operation, storage: str) -> Reference:
    target = Target.new(env, storage, f"{op.name}-ref")
    target.restore(env, env.baselines[op.baseline])
    baseline = live_days(target.head())
    with tempfile.TemporaryDirectory() as tmp:
        logfile = f"{tmp}/steps.jsonl"
        if storage == "s3":
            with s3_fault_proxy(env.endpoint) as proxy:
                run = _child(env, op, target, ["--log", logfile], proxy.url)
                puts = sum(1 for m, _, _ in proxy.log if m == "PUT")
        else:
            run = _child(env, op, target, ["--log", logfile])
            puts = 0
        steps, _ = read_log(logfile)
    if run.returncode != 0:
        raise RuntimeError(f"the clean {op.name} on {storage} failed: {run.doc or run.stderr}")
    head = target.head()
    assert head is not None
    ref = Reference(
        steps=[f"{s.call} {_short(s.target)}" for s in steps],
        puts=puts,
        baseline=baseline,
        final=live_days(head),
        pins=dict(head.pins),
        seconds=run.seconds,
    )
    target.drop(env)
    return ref


def _short(path: str) -> str:
    """A step's target without the scratch directory, a content hash cut short."""
    tail = path.split("/lake/", 1)[-1]
    parts = tail.split("/")
    return "/".join(p[:12] + "…" if len(p) > 40 else p for p in parts)


def _child(
    env: Env, op: Operation, target: Target, hook: list[str], endpoint: str | None = None
) -> Run:
    return run_cli([*op.args(env), *target.cli_options(endpoint)], hook=hook)


def _run_trial(env: Env, op: Operation, storage: str, ref: Reference, point: Point) -> Trial:
    trial = Trial(op.name, storage, point)
    target = Target.new(env, storage, f"{op.name}-{point.n}-{point.when}")
    target.restore(env, env.baselines[op.baseline])
    with tempfile.TemporaryDirectory() as tmp:
        logfile = f"{tmp}/steps.jsonl"
        if point.mid_put:
            rc, reached = _kill_mid_put(env, op, target, point)
        else:
            hook = ["--kill-at", str(point.n), "--when", point.when, "--log", logfile]
            run = _child(env, op, target, hook)
            rc = run.returncode
            _, killed_at = read_log(logfile)
            reached = f"{killed_at.call} {_short(killed_at.target)}" if killed_at else ""
            if rc not in (-signal.SIGKILL, 0):
                trial.failures["child"] = f"exit {rc}: {run.error or run.stderr[-300:]}"
    trial.killed = rc == -signal.SIGKILL
    trial.reached = reached
    if not trial.killed and "child" not in trial.failures:
        trial.failures["child"] = f"not killed (exit {rc}): the point was never reached"
    trial.repro = (
        f"baseline '{op.baseline}' on {storage}; python -m t0lake.testing.crashpoints "
        + (
            f"(S3 fault proxy: SIGKILL during PUT #{point.n}, then {point.when}) "
            if point.mid_put
            else f"--kill-at {point.n} --when {point.when} "
        )
        + f"-- {' '.join(op.args(env)[:3])} …"
    )
    _check(env, op, target, ref, trial)
    if trial.passed:
        target.drop(env)
    else:
        trial.repro += f" (lake kept at {target.url})"
    return trial


def _kill_mid_put(env: Env, op: Operation, target: Target, point: Point) -> tuple[int, str]:
    proxy = _KillingProxy(env.endpoint, point.n, landed=point.when == "put-landed")
    try:
        argv = [PYTHON, "-m", "t0lake", "--json", *op.args(env), *target.cli_options(proxy.url)]
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        proxy._victim = proc
        rc = proc.wait(timeout=300)
    finally:
        proxy.close()
    return rc, f"PUT {_short(proxy.killed_path or '?')}"


def _check(env: Env, op: Operation, target: Target, ref: Reference, trial: Trial) -> None:
    """Apply the checks of the module docstring; each failure is recorded, not raised."""
    fail = trial.failures
    try:
        lake = t0lake.open(target.url, storage_options=target.options or None)
        snap = lake.snapshot(EP)
    except Exception as exc:  # every failure to open is a finding, typed or not
        fail["torn"] = _name(exc)
        return
    try:
        snap.verify()
    except Exception as exc:
        fail["unverified"] = _name(exc)
    served = live_days(snap.manifest)
    for day, (_, content) in ref.baseline.items():
        if day not in served:
            fail["lost"] = f"day {day} is no longer served"
        elif served[day][1] not in (content, ref.final.get(day, ("", ""))[1]):
            fail["lost"] = f"day {day} serves content neither the baseline nor a commit had"
    try:
        rows = snap.read().height
        if rows != snap.manifest.live_rows():
            fail["lost"] = f"read {rows} rows, the head serves {snap.manifest.live_rows()}"
    except Exception as exc:
        fail.setdefault("unverified", _name(exc))
    try:
        op.rerun(env, target)
        head = target.head()
        if live_days(head) != ref.final:
            fail["unfinished"] = "the re-run's live days differ from a clean run's"
        elif head is not None and dict(head.pins) != ref.pins:
            fail["unfinished"] = f"pins {dict(head.pins)} after the re-run, not {ref.pins}"
    except Exception as exc:
        fail["unfinished"] = f"the re-run failed: {_name(exc)}"
        return
    if op.name == "export" and (drift := registry_drift(env, target)):
        fail["registry"] = drift
    try:
        t0lake.vacuum(target.url, EP, grace=0, storage_options=target.options or None)
        storage = target.storage_()
        head = log.require_head(storage, EP)
        found = set(storage.walk(EP))  # vacuum only deletes: every file there is as verified
        expected = expected_files(storage, head)
        if found != expected:
            extra, missing = sorted(found - expected), sorted(expected - found)
            fail["leftover"] = f"left {extra[:3]}, missing {missing[:3]}"
    except Exception as exc:
        fail["leftover"] = f"vacuum or the check after it failed: {_name(exc)}"


def _name(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:240]}"


# --------------------------------------------------------------------------- the sweep


@dataclass
class CrashRow:
    """The counts of one operation on one storage."""

    operation: str
    storage: str
    steps: int
    puts: int
    tried: int = 0
    mid_put: int = 0
    killed: int = 0
    passed: int = 0
    failed: int = 0
    by_check: Counter[str] = field(default_factory=Counter)
    failures: list[Trial] = field(default_factory=list)
    seconds: float = 0.0


def _points(ref: Reference, storage: str, quick: bool) -> list[Point]:
    numbers = list(range(1, len(ref.steps) + 1))
    puts = list(range(1, ref.puts + 1))
    if quick:  # the first, the middle and the last step; the last PUT (the commit)
        numbers = sorted({numbers[0], numbers[len(numbers) // 2], numbers[-1]}) if numbers else []
        puts = puts[-1:]
    points = [
        Point(n, when, f"{when} {ref.steps[n - 1]}")
        for n in numbers
        for when in ("before", "after")
    ]
    if storage == "s3":
        points += [Point(n, w, f"{w} #{n}") for n in puts for w in ("put-lost", "put-landed")]
    return points


def crash_sweep(
    env: Env,
    *,
    quick: bool,
    jobs: int,
    storages: tuple[str, ...] = ("local", "s3"),
    progress: Callable[[str], None] = print,
) -> list[CrashRow]:
    """Every operation on every storage at every kill point; one row each."""
    rows: list[CrashRow] = []
    for storage in storages:
        for op in OPERATIONS:
            started = time.perf_counter()
            ref = _reference(env, op, storage)
            points = _points(ref, storage, quick)
            row = CrashRow(op.name, storage, steps=len(ref.steps), puts=ref.puts)
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                trials = list(pool.map(partial(_run_trial, env, op, storage, ref), points))
            for trial in trials:
                row.tried += 1
                row.mid_put += trial.point.mid_put
                row.killed += trial.killed
                if trial.passed:
                    row.passed += 1
                else:
                    row.failed += 1
                    row.by_check.update(trial.failures)
                    row.failures.append(trial)
            row.seconds = time.perf_counter() - started
            rows.append(row)
            progress(
                f"crash {op.name:8} {storage:5}: {row.tried} kill points, {row.passed} passed, "
                f"{row.failed} failed ({row.seconds:.0f}s)"
            )
    return rows


# --------------------------------------------------------------------------- controls


def _drop_newest_manifest(lake: Path) -> None:
    max(lake.glob(f"{EP}/_manifests/*.json")).unlink()


def _drop_a_day_file(lake: Path) -> None:
    next(iter(sorted(lake.glob(f"{EP}/tier=hot/day=2026-03-04/*.parquet")))).unlink()


def _plant_a_stray_file(lake: Path) -> None:
    (lake / EP / "notes.txt").write_text("not t0lake's\n", encoding="utf-8")


CONTROLS: tuple[tuple[str, str, Callable[[Path], None]], ...] = (
    ("newest manifest deleted (a silent rollback)", "lost", _drop_newest_manifest),
    ("a live day file deleted", "unverified", _drop_a_day_file),
    ("a stray file planted beside the data", "leftover", _plant_a_stray_file),
)


@dataclass(frozen=True)
class Control:
    damage: str
    expected: str
    caught: bool
    found: dict[str, str]


def controls(env: Env) -> list[Control]:
    """The checks against planted damage, with no kill: each must fail the trial, naming
    the check that should catch it (a harness whose checks cannot fail measures nothing)."""
    op = next(o for o in OPERATIONS if o.name == "pin")
    ref = _reference(env, op, "local")
    out = []
    for damage, expected, plant in CONTROLS:
        target = Target.new(env, "local", "control")
        target.restore(env, env.baselines[op.baseline])
        plant(Path(target.url))
        trial = Trial(op.name, "local", Point(0, "control", damage), killed=True)
        _check(env, op, target, ref, trial)
        out.append(Control(damage, expected, expected in trial.failures, dict(trial.failures)))
        target.drop(env)
    return out


def describe_failures(rows: list[CrashRow]) -> list[str]:
    """One line per failed trial: where it was killed, what failed, how to reproduce it."""
    out = []
    for row in rows:
        for t in row.failures:
            what = "; ".join(f"{k}: {v}" for k, v in sorted(t.failures.items()))
            out.append(
                f"{t.operation} on {t.storage}, killed {t.point.when} step {t.point.n} "
                f"({t.reached or t.point.label}): {what}. Repro: {t.repro}"
            )
    return out
