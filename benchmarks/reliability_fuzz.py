"""Fuzz of the public surface: every call ends typed or correct, and bad input writes nothing.

Hypothesis (derandomized: the same cases on every run) draws calls of the Python API and of
the CLI against the harness's certified store and a lake exported from it (local, and a
copy on the moto S3 server for the URL and storage-option cases):

names         entrypoint and pin names (path traversal, SQL quoting, unicode) for every
              call that takes one
urls          lake URLs (local aliases, other schemes, S3 buckets that do not exist)
options       storage options (bad endpoints, odd keys and value types)
dates         start/end/as-of days of reads, exports and compaction
durations     max_age, expire's older_than, vacuum's grace
snapshots     snapshot ids (time travel, pins)
columns       column lists of reads
filters       polars filter expressions of reads
pit           ``pit_join`` arguments (events, features, keys, times, max_age, known_at)
manifest      a stored manifest mutated (bytes, or JSON fields re-checksummed: a forgery)
parquet       a live data file mutated (bytes, a valid rewrite with a changed value)
cli           ``t0lake --json`` commands with fuzzed arguments, in processes of their own

Each case is judged: ``ok`` (a correct result, checked against the unmutated lake or the
documented rule), ``typed`` (a ``T0LakeError`` subclass with a message), ``untyped``
(anything else), ``hang`` (over the per-call timeout), ``abort`` (the process died),
``wrong`` (a result that is not correct: a refused name accepted, rows that differ). A case
that does not end ``ok`` must leave the digest of the fuzz directory (lakes, the working
directory of relative URLs), of the S3 buckets and of the audit tables
(``audit.t0_export_registry``, ``audit.t0_cert_registry``: counts and max ids) unchanged,
else it ``wrote`` on bad input. Names with ``..``, ``/``, ``%2F`` or NUL must be refused.
SQL identifiers with quotes, semicolons and unicode aim at a canary schema (a table that
must survive, a table that must stay empty).

The calls run in a child process (``--child CONFIG``) so that an abort is counted, not
fatal: it logs each case before running it, and is restarted after the target that died.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg import sql
from reliability_cases import AS_OF, EP, PYTHON, REPO, Env, run_sql

import t0lake

__all__ = ["FUZZ_HEADER", "FuzzReport", "FuzzRow", "describe_fuzz_failures", "fuzz", "fuzz_cells"]

# Seconds of case time per target (full run); --quick takes about a fifth.
BUDGET: dict[str, float] = {
    "names": 16,
    "urls": 12,
    "options": 12,
    "dates": 12,
    "durations": 10,
    "snapshots": 6,
    "columns": 8,
    "filters": 10,
    "pit": 10,
    "manifest": 14,
    "parquet": 12,
    "cli": 45,
}
SURFACE = {
    "names": "entrypoint and pin names of every call",
    "urls": "lake URLs (local, S3, other schemes)",
    "options": "storage options (S3 and local)",
    "dates": "start / end / as-of days",
    "durations": "max_age, older_than, grace",
    "snapshots": "snapshot ids (time travel, pin)",
    "columns": "column lists of reads",
    "filters": "filter expressions of reads",
    "pit": "pit_join arguments",
    "manifest": "a stored manifest mutated or forged",
    "parquet": "a live Parquet file mutated",
    "cli": "t0lake --json with fuzzed arguments",
}
QUICK_SCALE = 0.22
CALL_TIMEOUT = 30.0
CLI_TIMEOUT = 90.0
CANARY = "fuzzcanary"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_$]{0,62}")
_PIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_TRAVERSAL = re.compile(r"\.\.|/|\\|%2f|%5c|%00|\x00", re.I)

# --------------------------------------------------------------------------- the inputs

INJECTION = [
    f"lk.features_v'; DROP TABLE {CANARY}.t; --",
    f'lk.features_v"; DROP TABLE {CANARY}.t; --',
    f"x'); INSERT INTO {CANARY}.hits VALUES ('quote'); --",
    f"lk.features_v; INSERT INTO {CANARY}.hits VALUES ('semicolon')",
    f"lk.features_v$$; DROP TABLE {CANARY}.t; $$",
    "lk.features_v' OR '1'='1",
    '"lk"."features_v"',
    'lk."features_v"',
    "LK.FEATURES_V",
    "lk.features_v ",
    " lk.features_v",
    "lk.features_v\n",
    "lk.features_v;",
    "lk.features_v--",
    "lk.f\u0435atures_v",  # a Cyrillic e
    "\uff4c\uff4b.features_v",  # full-width lk
    "\u202elk.features_v",
    "lk.features_v\u200b",
    "\u0451.\u0436",
    "lk.*",
    "lk.%",
    "lk.src",
    f"{CANARY}.t",
    "audit.t0_cert_registry",
    "pg_catalog.pg_class",
    "information_schema.tables",
    "lk.features_v)",
    "lk",
    "",
]
TRAVERSAL = [
    "..",
    "../x",
    "lk/../features_v",
    "../lk.features_v",
    "lk.features_v/..",
    "lk.features_v/../../x",
    "./lk.features_v",
    "/etc/passwd",
    "/lk.features_v",
    "lk%2Ffeatures_v",
    "..%2F..%2Fetc",
    "%2e%2e%2flk.features_v",
    "lk.features_v%00",
    "lk.features_v\x00",
    "\x00",
    "lk.feat\x00ures_v",
    "lk\\..\\x",
    "C:\\x",
    "file:///etc/passwd",
    "lk.features_v/_manifests",
]
SPECIAL_NAMES = [EP, *TRAVERSAL, *INJECTION]
COLUMNS = [
    "grp",
    "id",
    "ts",
    "tz",
    "amount",
    "raw",
    "score",
    "ratio",
    "flag",
    "small",
    "d",
    "payload",
    "tags",
    "blob",
]
WEIRD_COLUMNS = [
    "",
    " grp",
    "GRP",
    "nope",
    "grp;",
    '"grp"',
    "grp\x00",
    "../grp",
    "day",
    "tier",
    "__index",
    "gr\u0440",
]
SPECIAL_DATES: list[Any] = [
    "2026-03-01",
    "2026-03-03",
    "2026-03-05",
    "2026-02-28",
    "2026-03-06",
    "2026-02-30",
    "2026-3-1",
    "20260301",
    "2026-03-01T00:00",
    "2026-03-01 ",
    " 2026-03-01",
    "\uff12\uff10\uff12\uff16-03-01",
    "2026-0\u0663-01",
    "0000-01-01",
    "9999-12-31",
    "+2026-03-01",
    "-2026-03-01",
    "2026-03-01\x00",
    "",
    "today",
    "2026/03/01",
    "1e3",
    date(2026, 3, 2),
    datetime(2026, 3, 2, 12, 0),
    20260301,
    1.5,
    None,
    True,
    b"2026-03-01",
    ["2026-03-01"],
]
SPECIAL_DURATIONS: list[Any] = [
    "24h",
    "1h30m",
    "0",
    "0s",
    "1s",
    "-1h",
    "1e3s",
    "\uff11h",
    "36525d",
    "36526d",
    "1 h",
    "1h ",
    "h",
    "",
    "99999999999999999999d",
    "1.5h",
    "\t1h",
    "1H",
    "P1D",
    "7",
    "-7",
    "1ms",
    "1h\x00",
    "1d1d1d",
    timedelta(hours=1),
    timedelta(0),
    timedelta(seconds=-1),
    timedelta(days=40000),
    7,
    -1,
    0,
    1.5,
    None,
    True,
    float("nan"),
    "nan",
    ["1h"],
]
SPECIAL_IDS: list[Any] = [
    1,
    2,
    3,
    0,
    -1,
    2**63,
    2**70,
    "1",
    "01",
    " 1",
    "1 ",
    "+1",
    "\u0661",
    "1.0",
    "0x1",
    "1e0",
    "../1",
    "-1",
    "",
    True,
    False,
    1.0,
    1.9,
    None,
    [1],
    b"1",
]


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _day(value: Any) -> date | str | None:
    """What a documented day argument means: a date, None (open), or ``"bad"`` (must be
    refused), ``"?"`` (not judged: a datetime, which is a date)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return "?"
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r" *[0-9]{4}-[0-9]{2}-[0-9]{2} *", value):
        try:
            return date.fromisoformat(value.strip(" "))
        except ValueError:
            return "bad"
    return "bad"


def _plainly_bad_duration(value: Any) -> bool:
    """A duration no reading of the documented rule accepts: negative, over 100 years,
    non-ASCII digits, NaN, a bool."""
    if isinstance(value, bool):
        return True
    if isinstance(value, timedelta):
        return value < timedelta(0) or value > timedelta(days=36525)
    if isinstance(value, float):
        return value != value or value < 0
    if isinstance(value, int):
        return value < 0
    if isinstance(value, str):
        return (not value.isascii()) or value.strip().startswith("-") or "\x00" in value
    return False


# --------------------------------------------------------------------------- results


@dataclass
class FuzzRow:
    target: str
    tried: int = 0
    ok: int = 0
    typed: int = 0
    untyped: int = 0
    hangs: int = 0
    aborts: int = 0
    wrote: int = 0
    wrong: int = 0
    seconds: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    passed: int = 0

    def add(self, case: dict[str, Any]) -> None:
        self.tried += 1
        outcome = case["outcome"]
        if outcome in ("ok", "typed") and not case.get("wrote"):
            self.passed += 1
        if outcome == "ok":
            self.ok += 1
        elif outcome == "typed":
            self.typed += 1
            self.errors[case.get("error") or "?"] += 1
        elif outcome == "untyped":
            self.untyped += 1
        elif outcome == "hang":
            self.hangs += 1
        elif outcome == "abort":
            self.aborts += 1
        elif outcome == "wrong":
            self.wrong += 1
        if case.get("wrote"):
            self.wrote += 1
        if outcome not in ("ok", "typed") or case.get("wrote"):
            what = outcome + (" + wrote" if case.get("wrote") else "")
            line = f"{self.target}: {what}: {case['input']} -> {case.get('detail') or ''}"
            if len(self.failures) < 12:
                self.failures.append(line.strip())


@dataclass
class FuzzReport:
    rows: list[FuzzRow]
    canary_rows: int  # rows of the canary table (1: it survived)
    canary_hits: int  # rows an injected INSERT put in the hits table (must be 0)
    seconds: float
    harness_errors: int = 0  # cases the harness itself failed to build (not counted)

    @property
    def canary_ok(self) -> bool:
        return self.canary_rows == 1 and self.canary_hits == 0


FUZZ_HEADER = [
    "target",
    "surface",
    "cases",
    "passed",
    "correct result",
    "bad input (typed error)",
    "untyped",
    "hang / abort",
    "wrote on bad input",
    "wrong result",
    "seconds",
]


def fuzz_cells(row: FuzzRow) -> list[str]:
    return [
        row.target,
        SURFACE.get(row.target, ""),
        str(row.tried),
        str(row.passed),
        str(row.ok),
        str(row.typed),
        str(row.untyped),
        f"{row.hangs} / {row.aborts}",
        str(row.wrote),
        str(row.wrong),
        f"{row.seconds:.0f}",
    ]


def describe_fuzz_failures(report: FuzzReport | None) -> list[str]:
    if report is None:
        return []
    lines = [line for row in report.rows for line in row.failures]
    if not report.canary_ok:
        lines.append(
            f"SQL canary: {CANARY}.t has {report.canary_rows} rows (1 expected), "
            f"{CANARY}.hits {report.canary_hits} (0 expected)"
        )
    return lines


# --------------------------------------------------------------------------- parent


def _setup(env: Env, root: Path) -> dict[str, Any]:
    """The fuzz directory: a lake of two snapshots (day 1 changed between them), its copy on
    S3, the canary schema, and the config of the child."""
    import t0lake

    base = root / "tree" / "base" / "lake"
    base.parent.mkdir(parents=True)
    (root / "tree" / "cwd").mkdir()
    t0lake.export(env.dsn, EP, str(base), progress=False)
    run_sql(env.dsn, "UPDATE lk.src SET score = -7 WHERE id = 12")
    t0lake.export(env.dsn, EP, str(base), progress=False)
    fs = env.fs()
    bucket = "fuzz-base"
    if fs.exists(bucket):  # a second fuzz against the same server
        bucket = f"fuzz-base-{os.getpid()}"
    fs.mkdir(bucket)
    for path in sorted(base.rglob("*")):
        if path.is_file():
            fs.pipe_file(f"{bucket}/lake/{path.relative_to(base).as_posix()}", path.read_bytes())
    from t0lake import pg

    schema = sql.Identifier(CANARY)
    with pg.connect(env.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {}.t (x int)").format(schema))
        conn.execute(sql.SQL("TRUNCATE {}.t").format(schema))
        conn.execute(sql.SQL("INSERT INTO {}.t VALUES (1)").format(schema))
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {}.hits (what text)").format(schema))
    return {
        "dsn": env.dsn,
        "endpoint": env.endpoint,
        "s3_options": env.s3_options,
        "tree": str(root / "tree"),
        "base": str(base),
        "s3_base": f"s3://{bucket}/lake",
        "results": str(root / "results.jsonl"),
        "current": str(root / "current.json"),
    }


def _canary(env: Env) -> tuple[int, int]:
    from t0lake import pg

    with pg.connect(env.dsn, autocommit=True) as conn:
        try:
            rows = conn.execute(
                sql.SQL("SELECT count(*) FROM {}.t").format(sql.Identifier(CANARY))
            ).fetchone()
        except Exception:  # the table is gone: the worst case
            return 0, 0
        hits = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.hits").format(sql.Identifier(CANARY))
        ).fetchone()
    return int(rows[0]) if rows else 0, int(hits[0]) if hits else 0


def fuzz(
    env: Env,
    *,
    quick: bool,
    progress: Callable[[str], None] = print,
    targets: tuple[str, ...] = tuple(BUDGET),
) -> FuzzReport:
    """Run every target in a child process (restarted after an abort); the report."""
    started = time.perf_counter()
    root = env.work / "fuzz"
    root.mkdir(parents=True)
    config = _setup(env, root)
    scale = QUICK_SCALE if quick else 1.0
    config["budget"] = {t: BUDGET[t] * scale for t in targets}
    config_path = root / "config.json"
    results = Path(config["results"])
    remaining = list(targets)
    aborts: list[dict[str, Any]] = []
    while remaining:
        config["targets"] = remaining
        config_path.write_text(json.dumps(config), encoding="utf-8")
        with suppress(FileNotFoundError):
            Path(config["current"]).unlink()
        limit = sum(config["budget"][t] for t in remaining) * 3 + 180
        log = (root / "child.log").open("a", encoding="utf-8")
        try:
            proc = subprocess.run(
                [PYTHON, str(Path(__file__).resolve()), "--child", str(config_path)],
                cwd=config["tree"] + "/cwd",
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=limit,
                check=False,
            )
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = -9
        finally:
            log.close()
        done = {
            doc["done"]
            for doc in _read_jsonl(results)
            if "done" in doc and doc["done"] in remaining
        }
        remaining = [t for t in remaining if t not in done]
        if code == 0 or not remaining:
            break
        current: dict[str, Any] = {}
        with suppress(OSError, ValueError):
            current = json.loads(Path(config["current"]).read_text(encoding="utf-8"))
        dead = str(current.get("target") or remaining[0])
        if code > 0 and code != 134:  # a Python exception in the harness, not an abort
            progress(f"[yellow]fuzz child failed ({code}) in {dead}; see {root}/child.log[/]")
            remaining = [t for t in remaining if t != dead]
            continue
        aborts.append(
            {
                "target": dead,
                "outcome": "abort",
                "input": current.get("input", "?"),
                "detail": f"the process ended with status {code}",
            }
        )
        progress(f"[red]fuzz child died ({code}) in {dead}: {current.get('input')}[/]")
        remaining = [t for t in remaining if t != dead]
    rows = {t: FuzzRow(t) for t in targets}
    harness: list[str] = []
    for doc in [*_read_jsonl(results), *aborts]:
        if "harness" in doc:
            harness.append(f"{doc['harness']}: {doc['input']}: {doc['detail']}")
            continue
        if "done" in doc:
            if doc["done"] in rows:
                rows[doc["done"]].seconds = float(doc.get("seconds", 0.0))
            continue
        if doc.get("target") in rows:
            rows[doc["target"]].add(doc)
    for row in rows.values():
        progress(
            f"fuzz {row.target}: {row.tried} cases, {row.passed} passed "
            f"({row.ok} correct, {row.typed} typed), {row.untyped} untyped, "
            f"{row.hangs} hangs, {row.aborts} aborts, {row.wrote} wrote, {row.wrong} wrong"
        )
    if harness:
        progress(f"[yellow]{len(harness)} cases the harness could not build[/] (not counted)")
        for line in harness[:5]:
            progress(f"  {line[:300]}")
    canary_rows, canary_hits = _canary(env)
    return FuzzReport(
        list(rows.values()),
        canary_rows,
        canary_hits,
        time.perf_counter() - started,
        harness_errors=len(harness),
    )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    docs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with suppress(ValueError):
            docs.append(json.loads(line))
    return docs


# --------------------------------------------------------------------------- child


class CaseTimeout(BaseException):
    """A call ran past the per-call timeout (raised by SIGALRM in the main thread)."""


class _OutOfTime(BaseException):
    """The target's time budget is spent: ends hypothesis's loop."""


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def fire(signum: int, frame: Any) -> None:
        raise CaseTimeout

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Ctx:
    """The child's view of the harness: the lakes, the digests, the case log."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        import s3fs

        import t0lake
        from t0lake import pg

        self.t0lake = t0lake
        self.cfg = cfg
        self.dsn: str = cfg["dsn"]
        self.tree = Path(cfg["tree"])
        self.base: str = cfg["base"]
        self.s3_base: str = cfg["s3_base"]
        self.s3_options: dict[str, Any] = cfg["s3_options"]
        self.fs = s3fs.S3FileSystem(**self.s3_options)
        self.out = open(cfg["results"], "a", encoding="utf-8")  # noqa: SIM115
        self.current = Path(cfg["current"])
        self.conn = pg.connect(self.dsn, autocommit=True)
        self.n = 0
        lake = t0lake.open(self.base)
        self.ids = [s.snapshot_id for s in lake.snapshots(EP)]
        self.frames = {i: lake.snapshot(EP, i).read() for i in self.ids}
        self.head = max(self.ids)
        self.verified = lake.snapshot(EP).verify()

    # ---- digests

    def digest(self, s3: bool) -> tuple[Any, ...]:
        files: dict[str, str] = {}
        for p in sorted(self.tree.rglob("*")):
            rel = str(p.relative_to(self.tree))
            if p.is_symlink():
                files[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                files[rel] = "dir"
            else:
                try:
                    files[rel] = hashlib.blake2b(p.read_bytes(), digest_size=12).hexdigest()
                except OSError as exc:
                    files[rel] = f"unreadable {exc.errno}"
        audit = self.conn.execute(
            "SELECT (SELECT count(*) || ':' || coalesce(max(export_id), 0) "
            "          FROM audit.t0_export_registry), "
            "       (SELECT count(*) || ':' || coalesce(max(cert_id), 0) "
            "          FROM audit.t0_cert_registry), "
            "       (SELECT count(*) FROM audit.t0_entrypoint), "
            f"      (SELECT count(*) FROM {CANARY}.hits), "
            f"      (SELECT count(*) FROM {CANARY}.t), "
            "       (SELECT count(*) FROM pg_class WHERE relpersistence <> 't')"
        ).fetchone()
        objects: list[tuple[str, str]] = []
        if s3:
            self.fs.invalidate_cache()
            for bucket in sorted(self.fs.ls("")):
                for path, info in sorted(self.fs.find(bucket, detail=True).items()):
                    objects.append((path, str(info.get("ETag"))))
        return files, tuple(audit or ()), tuple(objects)

    @staticmethod
    def _diff(before: tuple[Any, ...], after: tuple[Any, ...]) -> str:
        parts = []
        b_files, a_files = before[0], after[0]
        changed = sorted(k for k in set(b_files) | set(a_files) if b_files.get(k) != a_files.get(k))
        if changed:
            parts.append("files " + ", ".join(changed[:4]))
        if before[1] != after[1]:
            parts.append(f"audit {before[1]} -> {after[1]}")
        if before[2] != after[2]:
            parts.append("S3 objects changed")
        return "; ".join(parts)

    # ---- scratch lakes

    @contextmanager
    def scratch(self) -> Iterator[str]:
        """A copy of the base lake for a case that may write or mutate (deleted after)."""
        root = self.tree / "scratch" / f"{self.n:05d}"
        shutil.copytree(self.base, root / "lake")
        try:
            yield str(root / "lake")
        finally:
            shutil.rmtree(root, ignore_errors=True)

    # ---- one case

    def case(
        self,
        target: str,
        label: str,
        call: Callable[[], Any],
        oracle: Callable[[Any], str | None] | None = None,
        *,
        must_refuse: bool = False,
        s3: bool = False,
        timeout: float = CALL_TIMEOUT,
    ) -> None:
        """Run ``call``; judge it; log it."""
        self.n += 1
        self.current.write_text(json.dumps({"target": target, "input": label}), encoding="utf-8")
        before = self.digest(s3)
        error: str | None = None
        detail: str | None = None
        try:
            with _alarm(timeout):
                result = call()
        except CaseTimeout:
            outcome, detail = "hang", f"no answer within {timeout:.0f}s"
        except self.t0lake.T0LakeError as exc:
            error = str(getattr(exc, "cli_error", type(exc).__name__))
            if str(exc.message).strip():
                outcome = "typed"
            else:
                outcome, detail = "untyped", f"{error} with an empty message"
        except _CliAbort as exc:
            outcome, detail = "abort", str(exc)
        except (Exception, SystemExit) as exc:
            outcome = "untyped"
            detail = f"{type(exc).__module__}.{type(exc).__name__}: {str(exc)[:240]!r}"
        else:
            if must_refuse:
                outcome, detail = "wrong", "accepted an input that must be refused"
            else:
                try:
                    with _alarm(timeout):
                        detail = oracle(result) if oracle else None
                except (Exception, CaseTimeout) as exc:
                    detail = f"the oracle failed: {type(exc).__name__}: {exc}"
                outcome = "wrong" if detail else "ok"
        after = self.digest(s3)
        wrote = outcome != "ok" and before != after
        if wrote:
            detail = ((detail or "") + " | changed: " + self._diff(before, after)).strip(" |")
        doc = {
            "target": target,
            "input": label,
            "outcome": outcome,
            "error": error,
            "wrote": wrote,
            "detail": detail,
        }
        self.out.write(json.dumps(doc) + "\n")
        self.out.flush()

    def harness_error(self, target: str, value: Any, exc: Exception) -> None:
        doc = {"harness": target, "input": _short(value), "detail": f"{type(exc).__name__}: {exc}"}
        self.out.write(json.dumps(doc) + "\n")
        self.out.flush()

    def done(self, target: str, seconds: float) -> None:
        self.out.write(json.dumps({"done": target, "seconds": seconds}) + "\n")
        self.out.flush()

    # ---- oracles

    def same_days(self, frame: Any, snapshot_id: int | None = None) -> str | None:
        """None if every day ``frame`` holds is that day of the base lake's snapshot."""
        import polars as pl

        days = sorted(frame.select(pl.col("ts").dt.date().unique()).to_series().to_list())
        for day in days:
            part = frame.filter(pl.col("ts").dt.date() == day)
            wrong = self.same_rows(part, snapshot_id, start=day, end=day)
            if wrong:
                return f"day {day}: {wrong}"
        return None

    def same_rows(self, frame: Any, snapshot_id: int | None = None, **where: Any) -> str | None:
        """None if ``frame`` holds the rows of the base lake's snapshot for ``where``."""
        import polars as pl

        want = self.frames[snapshot_id or self.head]
        start, end = where.get("start"), where.get("end")
        if start is not None:
            want = want.filter(pl.col("ts").dt.date() >= start)
        if end is not None:
            want = want.filter(pl.col("ts").dt.date() <= end)
        if "columns" in where:
            want = want.select(where["columns"])
        if not isinstance(frame, pl.DataFrame):
            return f"returned {type(frame).__name__}, not a DataFrame"
        if frame.columns != want.columns and sorted(frame.columns) == sorted(want.columns):
            want = want.select(frame.columns)
        if not frame.equals(want):
            return f"rows differ from the base lake: {frame.shape} vs {want.shape}"
        return None


# --------------------------------------------------------------------------- the targets


def _strategies() -> dict[str, Any]:
    from hypothesis import strategies as st

    junk = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=20),
        st.binary(max_size=8),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    )
    jsonable = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    )
    ep_mutant = st.builds(
        lambda i, c: EP[:i] + c + EP[i:], st.integers(0, len(EP)), st.characters()
    )
    names = st.one_of(
        st.sampled_from(SPECIAL_NAMES),
        st.text(max_size=40),
        st.from_regex(r"\A[a-z_][a-z0-9_]{0,8}\.[a-z_][a-z0-9_$]{0,10}\Z"),
        ep_mutant,
        junk,
    )
    days = st.one_of(
        st.sampled_from(SPECIAL_DATES),
        st.dates(date(2026, 2, 20), date(2026, 3, 10)),
        st.dates(date(2026, 2, 20), date(2026, 3, 10)).map(str),
        st.text(max_size=12),
        junk,
    )
    durations = st.one_of(
        st.sampled_from(SPECIAL_DURATIONS),
        st.from_regex(r"\A[0-9]{1,4}(ms|s|m|h|d|w)( ?[0-9]{1,3}(s|m|h))?\Z"),
        st.timedeltas(timedelta(days=-10), timedelta(days=50000)),
        st.text(max_size=10),
        junk,
    )
    ids = st.one_of(st.sampled_from(SPECIAL_IDS), st.integers(-3, 6), st.text(max_size=4), junk)
    return {
        "st": st,
        "junk": junk,
        "jsonable": jsonable,
        "names": names,
        "days": days,
        "durations": durations,
        "ids": ids,
    }


def _run_target(
    ctx: Ctx,
    target: str,
    strategy: Any,
    body: Callable[[Any], None],
    specials: list[Any],
    budget: float,
) -> None:
    from hypothesis import HealthCheck, Phase, given, settings

    started = time.monotonic()
    deadline = started + budget

    def guarded(value: Any) -> None:
        """A harness bug (building a case, not running it) is logged, not fatal."""
        try:
            body(value)
        except Exception as exc:
            ctx.harness_error(target, value, exc)

    for value in specials:
        guarded(value)
    if time.monotonic() < deadline:

        @settings(
            max_examples=100_000,
            derandomize=True,
            database=None,
            deadline=None,
            phases=(Phase.generate,),
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
            print_blob=False,
        )
        @given(strategy)
        def test(value: Any) -> None:
            if time.monotonic() > deadline:
                raise _OutOfTime
            guarded(value)

        try:
            test()
        except _OutOfTime:
            pass
        except Exception as exc:  # a strategy that failed to build a value: the harness's bug
            ctx.harness_error(target, "(generation)", exc)
    ctx.done(target, time.monotonic() - started)


def _refuse_name(name: Any) -> bool:
    return isinstance(name, str) and bool(_TRAVERSAL.search(name))


def target_names(ctx: Ctx, s: dict[str, Any], budget: float) -> None:
    t0 = ctx.t0lake
    st = s["st"]
    ops = [
        "snapshot",
        "snapshots",
        "export",
        "certify",
        "require_certified",
        "compact",
        "expire",
        "vacuum",
        "get_policy",
        "set_policy",
        "pin",
        "unpin",
    ]

    def body(value: tuple[str, Any]) -> None:
        op, name = value
        label = f"{op}({_short(name)})"
        is_ep = name == EP
        valid_lake_name = isinstance(name, str) and bool(_NAME.fullmatch(name))

        def need_ep(_: Any) -> str | None:
            if is_ep or (name is None and op in ("compact", "expire", "vacuum")):
                return None  # None: every entrypoint of the lake, as documented
            return "succeeded for a name that is not the entrypoint"

        with ctx.scratch() as lake:
            calls: dict[str, tuple[Callable[[], Any], Callable[[Any], str | None]]] = {
                "snapshot": (lambda: t0.open(ctx.base).snapshot(name), need_ep),
                "snapshots": (lambda: t0.open(ctx.base).snapshots(name), need_ep),
                "export": (lambda: t0.export(ctx.dsn, name, lake, progress=False), need_ep),
                "certify": (lambda: t0.certify(ctx.dsn, name, check_days=1), need_ep),
                "require_certified": (lambda: t0.require_certified(ctx.dsn, name), need_ep),
                "compact": (lambda: t0.compact(lake, AS_OF, name, progress=False), need_ep),
                "expire": (lambda: t0.expire(lake, name, keep_last=1), need_ep),
                "vacuum": (lambda: t0.vacuum(lake, name, dry_run=True), need_ep),
                "get_policy": (
                    lambda: t0.get_policy(lake, name),
                    lambda _: None if valid_lake_name else "accepted a malformed name",
                ),
                "set_policy": (
                    lambda: t0.set_policy(lake, name, t0.TierPolicy()),
                    lambda _: None if valid_lake_name else "accepted a malformed name",
                ),
                "pin": (
                    lambda: t0.pin(lake, EP, 1, name),
                    lambda _: (
                        None
                        if isinstance(name, str) and _PIN.fullmatch(name)
                        else "accepted a malformed pin name"
                    ),
                ),
                "unpin": (lambda: t0.unpin(lake, EP, name), lambda _: "unpinned a pin never set"),
            }
            call, oracle = calls[op]
            ctx.case("names", label, call, oracle, must_refuse=_refuse_name(name))

    specials = [(op, n) for n in TRAVERSAL + INJECTION for op in ("snapshot", "export", "pin")]
    specials += [(op, n) for n in INJECTION[:6] for op in ("certify", "require_certified")]
    specials += [(op, EP) for op in ops if op not in ("pin", "unpin")]
    _run_target(ctx, "names", st.tuples(st.sampled_from(ops), s["names"]), body, specials, budget)


def _remove_relative_lake(url: str) -> None:
    """Remove what an export to a relative URL rightly made under the cwd: a later read of
    the same URL must not find it (it would count as a read of a lake that is not there)."""
    if "://" in url or not url or os.path.isabs(url):
        return
    cwd = Path.cwd().resolve()
    made = (cwd / url).resolve()
    if made != cwd and cwd in made.parents and made.is_dir():
        top = cwd / made.relative_to(cwd).parts[0]
        shutil.rmtree(top, ignore_errors=True)


def target_urls(ctx: Ctx, s: dict[str, Any], budget: float) -> None:
    t0 = ctx.t0lake
    st = s["st"]
    base = ctx.base
    bucket = ctx.s3_base.removeprefix("s3://").split("/")[0]
    aliases = {base, base + "/", "file://" + base, base + "/.", base + "/../lake", base + "//"}
    specials = [
        *sorted(aliases),
        "",
        "\x00",
        base + "\x00",
        base.replace("/", "%2F"),
        " " + base,
        "s3://",
        "s3:///lake",
        f"s3://{bucket}",
        ctx.s3_base,
        ctx.s3_base + "/",
        "s3://../x",
        f"s3://{bucket}/../../x",
        f"s3://{bucket}/lake/../lake",
        "s3://no-such-bucket-fuzz/lake",
        "s3://UPPER/x",
        "s3://b_u/x",
        "s3://a/x?versionId=1",
        "memory://fuzz",
        "http://127.0.0.1:1/lake",
        "ftp://127.0.0.1:1/x",
        "gs://b/x",
        "hdfs://x/y",
        "zip://x",
        "C:\\lake",
        "/dev/null",
        "/proc/self/x",
        "/etc/passwd",
        "file:",
        "file:///",
        "relative/lake",
        "./lake",
        "%2Ftmp%2Flake",
        f"s3:/{bucket}/lake",
        f"S3://{bucket}/lake",
    ]
    s3_aliases = {ctx.s3_base, ctx.s3_base + "/", f"s3://{bucket}/lake/../lake"}

    def body(value: tuple[str, Any, bool]) -> None:
        op, url, with_options = value
        options = ctx.s3_options if with_options else None
        is_s3 = isinstance(url, str) and url.lower().startswith("s3:")
        label = f"{op}({_short(url)}{', s3 options' if options else ''})"

        def lists_only_base(result: Any) -> str | None:
            names = list(result)
            if EP in names and url not in aliases and url not in s3_aliases:
                return f"found the base lake's entrypoint at {url!r}"
            return None if set(names) <= {EP} else f"listed {names!r}"

        def verified(result: Any) -> str | None:
            if url not in aliases and url not in s3_aliases:
                return f"verified a lake at {url!r}"
            return None if result.get("rows") == ctx.verified["rows"] else f"verify: {result}"

        if op == "entrypoints":
            call: Callable[[], Any] = lambda: t0.open(url, options).entrypoints()  # noqa: E731
            ctx.case("urls", label, call, lists_only_base, s3=is_s3)
        elif op == "verify":
            call = lambda: t0.open(url, options).snapshot(EP).verify()  # noqa: E731
            ctx.case("urls", label, call, verified, s3=is_s3)
        elif op == "export" and isinstance(url, str) and url in specials and "~" not in url:
            # writes only to the listed URLs: the aliases would commit nothing, the rest must
            # fail or (relative ones) land under the fuzz directory's cwd
            call = lambda: t0.export(ctx.dsn, EP, url, storage_options=options, progress=False)  # noqa: E731
            ctx.case("urls", label, call, None, s3=True)
            _remove_relative_lake(url)

    ops = st.sampled_from(["entrypoints", "verify", "export"])
    urls = st.one_of(
        st.sampled_from(specials),
        st.text(max_size=30),
        st.builds(
            lambda p, t: p + t,
            st.sampled_from(["s3://", "file://", "memory://", "./"]),
            st.text(max_size=20),
        ),
        s["junk"],
    )
    special_cases = [("entrypoints", u, u.lower().startswith("s3")) for u in specials]
    special_cases += [("verify", u, True) for u in (ctx.s3_base, "s3://no-such-bucket-fuzz/lake")]
    special_cases += [
        ("export", u, u.lower().startswith("s3"))
        for u in (
            "",
            "\x00",
            "s3://",
            "s3://no-such-bucket-fuzz/lake",
            "/dev/null",
            "/etc/passwd",
            "gs://b/x",
            "memory://fuzz",
            base + "\x00",
        )
    ]
    strategy = st.tuples(ops, urls, st.booleans())
    _run_target(ctx, "urls", strategy, body, special_cases, budget)


def target_options(ctx: Ctx, s: dict[str, Any], budget: float) -> None:
    t0 = ctx.t0lake
    st = s["st"]
    keys = [
        "endpoint_url",
        "key",
        "secret",
        "token",
        "anon",
        "client_kwargs",
        "config_kwargs",
        "region_name",
        "use_ssl",
        "default_block_size",
        "skip_instance_cache",
        "version_aware",
        "requester_pays",
        "profile",
        "s3_additional_kwargs",
        "auto_mkdir",
        "cache_regions",
    ]
    endpoint = ctx.s3_options["endpoint_url"]
    endpoints = [
        "http://127.0.0.1:1",
        "127.0.0.1",
        "",
        "http://[::1",
        "ftp://x",
        endpoint + "/",
        endpoint.replace("http://", "https://"),
        endpoint + "/extra/path",
        "http://",
        None,
        7,
    ]
    values = st.one_of(s["junk"], st.sampled_from(endpoints))

    def body(value: tuple[bool, dict[str, Any]]) -> None:
        on_s3, changes = value
        options: Any = {**ctx.s3_options, **changes} if on_s3 else dict(changes)
        url = ctx.s3_base if on_s3 else ctx.base
        label = f"verify({'s3' if on_s3 else 'local'}, {_short(options)})"

        def right(result: Any) -> str | None:
            return None if result.get("rows") == ctx.verified["rows"] else f"verify: {result}"

        ctx.case(
            "options",
            label,
            lambda: t0.open(url, options).snapshot(EP).verify(),
            right,
            s3=on_s3,
        )

    changes = st.dictionaries(
        st.one_of(st.sampled_from(keys), st.text(max_size=8)), values, max_size=3
    )
    specials: list[Any] = [
        (True, {"endpoint_url": "http://127.0.0.1:1"}),
        (True, {"endpoint_url": "not a url"}),
        (True, {"endpoint_url": None}),
        (True, {"anon": "yes"}),
        (True, {"client_kwargs": "x"}),
        (True, {"nonsense_option": 1}),
        (True, {"key": None, "secret": None}),
        (False, {"endpoint_url": endpoint}),
        (False, {"nonsense_option": 1}),
        (False, {"auto_mkdir": "no"}),
    ]
    strategy = st.tuples(st.booleans(), changes)
    _run_target(ctx, "options", strategy, body, specials, budget)


def target_dates(ctx: Ctx, s: dict[str, Any], budget: float) -> None:
    t0 = ctx.t0lake
    st = s["st"]

    def body(value: tuple[str, Any, Any]) -> None:
        op, start, end = value
        a, b = _day(start), _day(end)
        bad = "bad" in (a, b) or (
            isinstance(a, date) and isinstance(b, date) and a > b and op != "compact"
        )
        unjudged = "?" in (a, b)
        label = f"{op}({_short(start)}, {_short(end)})"

        def rows(frame: Any) -> str | None:
            if unjudged:
                return None
            if bad:
                return "accepted a malformed day or an empty range"
            return ctx.same_rows(frame, start=a, end=b)

        def accepted(_: Any) -> str | None:
            return "accepted a malformed day" if bad and not unjudged else None

        snap = t0.open(ctx.base).snapshot(EP)
        if op == "read":
            ctx.case("dates", label, lambda: snap.read(start, end), rows)
        elif op == "files":
            ctx.case("dates", label, lambda: snap.files(start, end), accepted)
        elif op == "export":
            with ctx.scratch() as lake:
                ctx.case(
                    "dates",
                    label,
                    lambda: t0.export(ctx.dsn, EP, lake, start, end, progress=False),
                    accepted,
                )
        else:  # compact: one day, as-of
            a_only = _day(start)
            with ctx.scratch() as lake:
                ctx.case(
                    "dates",
                    f"compact(as_of={_short(start)})",
                    lambda: t0.compact(lake, start, EP, progress=False),
                    lambda _: "accepted a malformed day" if a_only == "bad" else None,
                )

    specials = [("read", d, None) for d in SPECIAL_DATES]
    specials += [("read", None, d) for d in SPECIAL_DATES[:8]]
    specials += [("read", "2026-03-04", "2026-03-02"), ("export", "2026-03-04", "2026-03-02")]
    specials += [("compact", d, None) for d in SPECIAL_DATES[5:20]]
    ops = st.sampled_from(["read", "read", "files", "export", "compact"])
    _run_target(ctx, "dates", st.tuples(ops, s["days"], s["days"]), body, specials, budget)


def target_durations(ctx: Ctx, s: dict[str, Any], budget: float) -> None:
    t0 = ctx.t0lake
    st = s["st"]

    def body(value: tuple[str, Any]) -> None:
        op, d = value
        label = f"{op}({_short(d)})"

        def accepted(_: Any) -> str | None:
            return f"accepted the duration {d!r}" if _plainly_bad_duration(d) else None

        if op == "require_certified":
            ctx.case("durations", label, lambda: t0.require_certified(ctx.dsn, EP, d), accepted)
            return
        with ctx.scratch() as lake:
            calls = {
                "export": lambda: t0.export(ctx.dsn, EP, lake, max_age=d, progress=False),
                "expire": lambda: t0.expire(lake, EP, older_than=d),
                "vacuum": lambda: t0.vacuum(lake, EP, grace=d, dry_run=True),
                "vacuum!": lambda: t0.vacuum(lake, EP, grace=d),
            }
            ctx.case("durations", label, calls[op], accepted)

    ops_list = ["require_certified", "export", "expire", "vacuum", "vacuum!"]
    specials = [(op, d) for d in SPECIAL_DURATIONS for op in ("require_certified", "expire")]
    specials += [("vacuum!", d) for d in SPECIAL_DURATIONS[:12]]
    strategy = st.tuples(st.sampled_from(ops_list), s["durations"])
    _run_target(ctx, "durations", strategy, body, specials, budget)


def target_snapshots(ctx: Ctx, s: dict[str, Any], budget: float) -> None:
    t0 = ctx.t0lake
    st = s["st"]

    def number(sid: Any) -> int | None:
        if isinstance(sid, bool):
            return None
        if isinstance(sid, int):
            return sid
        if isinstance(sid, str) and sid.isascii() and sid.isdigit():
            return int(sid)
        return None

    def body(value: tuple[str, Any]) -> None:
        op, sid = value
        n = number(sid)
        label = f"{op}({_short(sid)})"
        if op == "snapshot":

            def right(snap: Any) -> str | None:
                if sid is None:
                    return ctx.same_rows(snap.read(), ctx.head)
                if n is None or n not in ctx.ids:
                    return f"time travel accepted {sid!r}"
                if snap.snapshot_id != n:
                    return f"asked {sid!r}, got snapshot {snap.snapshot_id}"
                return ctx.same_rows(snap.read(), n)

            ctx.case("snapshots", label, lambda: t0.open(ctx.base).snapshot(EP, sid), right)
        else:
            with ctx.scratch() as lake:
                ctx.case(
                    "snapshots",
                    label,
                    lambda: t0.pin(lake, EP, sid, "fz"),
                    lambda _: None if n in ctx.ids else f"pinned {sid!r}",
                )

    specials = [(op, i) for i in SPECIAL_IDS for op in ("snapshot", "pin")]
    strategy = st.tuples(st.sampled_from(["snapshot", "snapshot", "pin"]), s["ids"])
    _run_target(ctx, "snapshots", strategy, body, specials, budget)


def target_columns(ctx: Ctx, s: dict[str, Any], budget: float) -> None:
    t0 = ctx.t0lake
    st = s["st"]
    snap = t0.open(ctx.base).snapshot(EP)

    def body(value: tuple[str, Any]) -> None:
        op, cols = value
        label = f"{op}(columns={_short(cols)})"

        def right(result: Any) -> str | None:
            import polars as pl

            if isinstance(cols, str):
                return f"accepted the string columns={cols!r}"
            asked = COLUMNS if cols is None else list(dict.fromkeys(cols))
            if any(c not in COLUMNS for c in asked):
                return f"accepted unknown columns in {cols!r}"
            frame = pl.from_arrow(result) if op == "to_arrow" else result
            assert isinstance(frame, pl.DataFrame)
            if not asked:
                return None if frame.width == 0 else f"asked no column, got {frame.columns}"
            missing = [c for c in asked if c not in frame.columns]
            if missing:
                return f"columns {missing} missing from the result {frame.columns}"
            extra = [c for c in frame.columns if c not in COLUMNS]
            if extra:
                return f"columns {extra} not in the schema"
            return ctx.same_rows(frame, columns=frame.columns)

        calls = {
            "read": lambda: snap.read(columns=cols),
            "to_arrow": lambda: snap.to_arrow(columns=cols),
            "scan": lambda: snap.scan(columns=cols).collect(),
        }
        ctx.case("columns", label, calls[op], right)

    col = st.sampled_from(COLUMNS + WEIRD_COLUMNS)
    lists = st.one_of(
        st.lists(col, max_size=5),
        st.lists(col, max_size=3).map(tuple),
        st.text(max_size=6),
        st.lists(s["junk"], max_size=2),
        st.sets(st.sampled_from(COLUMNS), max_size=3),
        s["junk"],
    )
    specials: list[Any] = [("read", [c]) for c in WEIRD_COLUMNS]
    specials += [
        ("read", []),
        ("read", "grp"),
        ("read", ["grp", "grp"]),
        ("read", [1]),
        ("scan", ["nope"]),
        ("to_arrow", ["nope"]),
        ("read", None),
    ]
    strategy = st.tuples(st.sampled_from(["read", "read", "to_arrow", "scan"]), lists)
    _run_target(ctx, "columns", strategy, body, specials, budget)


def _filter_strategy(s: dict[str, Any]) -> Any:
    import polars as pl

    st = s["st"]
    literal = st.one_of(
        st.integers(-5, 300),
        st.floats(allow_nan=True),
        st.text(max_size=5),
        st.none(),
        st.booleans(),
        st.dates(date(2026, 2, 27), date(2026, 3, 6)),
        st.sampled_from(["alpha", "Beta", "2026-03-02", "NaN"]),
    )
    column = st.sampled_from([*COLUMNS, "nope", "", "GRP"])

    def build(kind: str, c: str, v: Any, v2: Any) -> Any:
        e = pl.col(c)
        ops: dict[str, Callable[[], Any]] = {
            "eq": lambda: e == v,
            "ne": lambda: e != v,
            "lt": lambda: e < v,
            "ge": lambda: e >= v,
            "is_null": lambda: e.is_null(),
            "is_in": lambda: e.is_in([v, v2]),
            "between": lambda: e.is_between(v, v2),
            "contains": lambda: e.str.contains(str(v)),
            "and": lambda: (e == v) & (pl.col("id") > 3),
            "not": lambda: ~(e == v),
            "len": lambda: e.list.len() > 1,
            "cast": lambda: e.cast(pl.Int8) > 1,
        }
        return ops[kind]()

    kinds = st.sampled_from(
        [
            "eq",
            "ne",
            "lt",
            "ge",
            "is_null",
            "is_in",
            "between",
            "contains",
            "and",
            "not",
            "len",
            "cast",
        ]
    )
    expr = st.builds(build, kinds, column, literal, literal)
    return st.one_of(
        expr,
        st.lists(expr, min_size=1, max_size=3),
        st.sampled_from(["id > 3", 1, True, None, [], [None], pl.lit(True), pl.lit(1)]),
    )


def target_filters(ctx: Ctx, s: dict[str, Any], budget: float) -> None:
    import polars as pl

    t0 = ctx.t0lake
    snap = t0.open(ctx.base).snapshot(EP)
    full = ctx.frames[ctx.head]

    def body(filters: Any) -> None:
        label = f"read(filters={_short(filters)})"

        def right(frame: Any) -> str | None:
            if not isinstance(frame, pl.DataFrame):
                return f"returned {type(frame).__name__}"
            try:
                want = full.filter(filters) if filters is not None else full
            except Exception:
                return None  # polars itself refuses: a result is not judged
            if not frame.equals(want):
                return f"{frame.height} rows, filtering the base frame gives {want.height}"
            return None

        ctx.case("filters", label, lambda: snap.read(filters=filters), right)

    specials: list[Any] = [
        pl.col("nope") > 1,
        pl.col("grp") > 1,
        pl.col("id") == "x",
        pl.col("tags") == 1,
        pl.col("ts") > "2026-03-02",
        pl.col("id").cast(pl.Int8) > 1,
        "id > 3",
        [pl.col("id") > 3, "x"],
        pl.lit(1),
        pl.col("id").sum() > 3,
        pl.col("id") > pl.col("nope"),
    ]
    _run_target(ctx, "filters", _filter_strategy(s), body, specials, budget)


def target_pit(ctx: Ctx, s: dict[str, Any], budget: float) -> None:
    import polars as pl

    t0 = ctx.t0lake
    st = s["st"]
    snap = t0.open(ctx.base).snapshot(EP)
    full = ctx.frames[ctx.head]

    t0_columns: dict[str, Callable[[int], Any]] = {
        "naive": lambda n: pl.Series("t0", [datetime(2026, 3, 1 + i % 6, 9) for i in range(n)]),
        "utc": lambda n: pl.Series(
            "t0", [datetime(2026, 3, 1 + i % 6, 9, tzinfo=UTC) for i in range(n)]
        ),
        "date": lambda n: pl.Series("t0", [date(2026, 3, 1 + i % 6) for i in range(n)]),
        "null": lambda n: pl.Series("t0", [None] * n, dtype=pl.Datetime("us")),
        "text": lambda n: pl.Series("t0", ["2026-03-02"] * n),
        "int": lambda n: pl.Series("t0", list(range(n)), dtype=pl.Int64),
    }
    grp_columns: dict[str, Callable[[int], Any]] = {
        "text": lambda n: pl.Series("grp", [["alpha", "Beta", "x", None][i % 4] for i in range(n)]),
        "int": lambda n: pl.Series("grp", list(range(n))),
        "none": lambda n: pl.Series("grp", [None] * n, dtype=pl.String),
    }
    id_columns: dict[str, Callable[[int], Any]] = {
        "int": lambda n: pl.Series("id", [1 + 7 * i for i in range(n)], dtype=pl.Int64),
        "int32": lambda n: pl.Series("id", [1 + 7 * i for i in range(n)], dtype=pl.Int32),
        "text": lambda n: pl.Series("id", [str(i) for i in range(n)]),
        "float": lambda n: pl.Series("id", [float(i) for i in range(n)]),
    }

    def events(n: int, t0k: str, gk: str | None, ik: str | None, extra: bool) -> Any:
        cols = [t0_columns[t0k](n)]
        if gk:
            cols.append(grp_columns[gk](n))
        if ik:
            cols.append(id_columns[ik](n))
        if extra:
            cols.append(pl.Series("score", [0.0] * n))
        return pl.DataFrame(cols)

    feature_kinds = {
        "snapshot": lambda: snap,
        "frame": lambda: full,
        "lazy": lambda: full.lazy(),
        "arrow": lambda: full.to_arrow(),
        "junk": lambda: "lk.features_v",
    }

    def body(value: tuple[Any, ...]) -> None:
        n, t0k, gk, ik, extra, fk, by, t0c, ts, created, max_age, strict, known_at = value
        try:
            ev = events(n, t0k, gk, ik, extra)
        except Exception:
            return  # not a frame this target can build
        features = feature_kinds[fk]()
        label = (
            f"pit_join(events[{n} rows: t0 {t0k}, grp {gk}, id {ik}, score {extra}], {fk}, "
            f"by={by!r}, t0={t0c!r}, ts={ts!r}, created={created!r}, max_age={max_age!r}, "
            f"strict={strict!r}, known_at={known_at!r})"
        )

        def right(out: Any) -> str | None:
            if not isinstance(out, pl.DataFrame):
                return f"returned {type(out).__name__}"
            if out.height != ev.height:
                return f"{out.height} rows for {ev.height} events"
            if out.columns[: len(ev.columns)] != ev.columns:
                return f"columns {out.columns} do not start with the events' {ev.columns}"
            if _plainly_bad_duration(max_age) and max_age is not None:
                return f"accepted max_age={max_age!r}"
            return None

        ctx.case(
            "pit",
            label,
            lambda: t0.pit_join(
                ev,
                features,
                by=by,
                t0=t0c,
                ts=ts,
                created=created,
                max_age=max_age,
                strict=strict,
                known_at=known_at,
            ),
            right,
        )

    opt_name = st.sampled_from([None, "ts", "tz", "d", "id", "small", "nope", "t0", "", 3])
    strategy = st.tuples(
        st.integers(0, 6),
        st.sampled_from(list(t0_columns)),
        st.sampled_from([*grp_columns, None]),
        st.sampled_from([*id_columns, None]),
        st.booleans(),
        st.sampled_from(list(feature_kinds)),
        st.sampled_from(["grp", ["grp", "id"], "id", "nope", [], "", ["grp", "grp"], 3, None]),
        st.sampled_from(["t0", "ts", "nope", "", None]),
        st.sampled_from(["ts", "tz", "d", "t0", "nope", "id", "grp"]),
        opt_name,
        st.one_of(st.none(), st.sampled_from(SPECIAL_DURATIONS), s["durations"]),
        st.one_of(st.booleans(), st.sampled_from([None, 1, "yes"])),
        opt_name,
    )
    specials = [
        (
            4,
            "naive",
            "text",
            "int",
            False,
            "snapshot",
            ["grp", "id"],
            "t0",
            "ts",
            None,
            None,
            True,
            None,
        ),
        (
            4,
            "utc",
            "text",
            "int",
            False,
            "snapshot",
            ["grp", "id"],
            "t0",
            "ts",
            None,
            None,
            True,
            None,
        ),
        (
            4,
            "naive",
            "text",
            "int",
            True,
            "snapshot",
            ["grp", "id"],
            "t0",
            "ts",
            None,
            "1d",
            False,
            "ts",
        ),
        (
            3,
            "null",
            "text",
            "int",
            False,
            "frame",
            ["grp", "id"],
            "t0",
            "ts",
            None,
            None,
            True,
            None,
        ),
        (
            3,
            "naive",
            "int",
            "int",
            False,
            "frame",
            ["grp", "id"],
            "t0",
            "ts",
            None,
            "-1h",
            True,
            None,
        ),
    ]
    _run_target(ctx, "pit", strategy, body, specials, budget)


def _manifest_paths(lake: str) -> list[Path]:
    return sorted((Path(lake) / EP / "_manifests").glob("*.json"))


def _json_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _json_paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _json_paths(v, (*prefix, i))
    return out


def _mutate_json(data: bytes, pick: int, action: str, value: Any, forge: bool) -> bytes:
    from t0lake._util.canonical_json import canonical_json_bytes

    doc = json.loads(data)
    paths = [p for p in _json_paths(doc) if p and p[0] != "manifest_sha256"]
    path = paths[pick % len(paths)]
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(parent[last])
    else:
        parent[last] = value
    if forge:
        doc.pop("manifest_sha256", None)
        doc["manifest_sha256"] = hashlib.sha256(canonical_json_bytes(doc)).hexdigest()
    return json.dumps(doc, indent=1, sort_keys=True).encode()


def _mutate_bytes(data: bytes, action: str, at: int, blob: bytes) -> bytes:
    i = at % (len(data) + 1)
    if action == "flip" and data:
        j = min(i, len(data) - 1)
        return data[:j] + bytes([data[j] ^ (blob[0] if blob and blob[0] else 0x20)]) + data[j + 1 :]
    if action == "truncate":
        return data[:i]
    if action == "insert":
        return data[:i] + blob + data[i:]
    if action == "delete":
        return data[:i] + data[i + 1 + len(blob) :]
    if action == "zero":
        return data[:i] + b"\x00" * len(blob) + data[i + len(blob) :]
    if action == "append":
        return data + blob
    return data


def target_manifest(ctx: Ctx, s: dict[str, Any], budget: float) -> None:
    t0 = ctx.t0lake
    st = s["st"]
    forged_values = st.one_of(
        s["jsonable"],
        st.sampled_from(
            [
                "../../etc/passwd",
                "/etc/passwd",
                "lk.features_v/tier=hot/../../x.parquet",
                "tier=hot/day=2026-03-01/x.parquet",
                "0" * 64,
                "f" * 64,
                "2026-02-30",
                "hot",
                "cold",
                "frozen",
                -1,
                0,
                2**63,
                10**30,
                "lk.other_v",
                "",
                None,
            ]
        ),
    )

    def body(value: tuple[Any, ...]) -> None:
        which, level, op, pick, action, blob, jvalue, forge = value
        with ctx.scratch() as lake:
            paths = _manifest_paths(lake)
            path = paths[-1] if which == "head" else paths[0]
            data = path.read_bytes()
            if level == "bytes":
                new = _mutate_bytes(data, action, pick, blob)
                how = f"{action} at {pick} with {blob!r}"
            else:
                jaction = (
                    "delete"
                    if action in ("delete", "truncate")
                    else ("duplicate" if action == "append" else "set")
                )
                new = _mutate_json(data, pick, jaction, jvalue, forge)
                how = (
                    f"{'forged' if forge else 'edited'} field #{pick} {jaction} "
                    f"{_short(jvalue, 60)}"
                )
            path.write_bytes(new)
            changed = new != data
            sid = ctx.head if which == "head" else ctx.ids[0]
            label = f"{op} after the {which} manifest {how}"

            def same(result: Any) -> str | None:
                if op == "verify":
                    if which == "head" and result.get("rows") != ctx.verified["rows"]:
                        return f"verify says {result}"
                    return None
                if op == "snapshots":
                    ids = [i.snapshot_id for i in result]
                    return None if ids == ctx.ids else f"snapshots {ids}, base {ctx.ids}"
                if op == "export":
                    # the export succeeded on the mutated lake: its head must verify
                    t0.open(lake).snapshot(EP).verify()
                    return None
                if level == "json" and forge and which == "head":
                    # a consistent forgery of the head (nothing later names its checksum)
                    # may hide days; every row it serves must still be a proven base row
                    return ctx.same_days(result, sid)
                return ctx.same_rows(result, sid)

            calls = {
                "read": lambda: t0.open(lake).snapshot(EP, sid).read(),
                "verify": lambda: t0.open(lake).snapshot(EP).verify(),
                "snapshots": lambda: t0.open(lake).snapshots(EP),
                "export": lambda: t0.export(ctx.dsn, EP, lake, progress=False),
            }
            ctx.case("manifest", label, calls[op], same if changed else None)

    strategy = st.tuples(
        st.sampled_from(["head", "head", "first"]),
        st.sampled_from(["bytes", "json", "json"]),
        st.sampled_from(["read", "read", "verify", "snapshots", "export"]),
        st.integers(0, 100_000),
        st.sampled_from(["flip", "truncate", "insert", "delete", "zero", "append", "set"]),
        st.binary(min_size=1, max_size=6),
        forged_values,
        st.booleans(),
    )
    specials: list[Any] = [
        ("head", "bytes", "read", 0, "truncate", b"x", None, False),
        ("head", "bytes", "read", 10, "flip", b"\x01", None, False),
        ("first", "bytes", "read", 0, "truncate", b"x", None, False),
        ("head", "json", "read", 3, "set", b"x", "../../etc/passwd", True),
        ("head", "json", "verify", 3, "set", b"x", 10**30, True),
        ("head", "json", "export", 5, "set", b"x", -1, True),
    ]
    _run_target(ctx, "manifest", strategy, body, specials, budget)


def target_parquet(ctx: Ctx, s: dict[str, Any], budget: float) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = ctx.t0lake
    st = s["st"]

    def rewrite(path: Path, change: bool) -> None:
        table = pq.read_table(path)
        if change:
            values = table.column("score").to_pylist()
            values[0] = -12345.5 if values[0] != -12345.5 else 0.0
            i = table.schema.get_field_index("score")
            table = table.set_column(i, table.field(i), pa.array(values, table.field(i).type))
        pq.write_table(table, path, compression="snappy")

    def body(value: tuple[Any, ...]) -> None:
        op, day_i, action, at, blob = value
        with ctx.scratch() as lake:
            files = sorted((Path(lake) / EP).glob("tier=*/day=*/*.parquet"))
            live = {f.path for f in t0.open(lake).snapshot(EP).manifest.files}
            files = [f for f in files if f.relative_to(Path(lake)).as_posix() in live] or files
            path = files[day_i % len(files)]
            day = date.fromisoformat(path.parent.name.removeprefix("day="))
            data = path.read_bytes()
            if action == "rewrite-same":
                rewrite(path, change=False)
            elif action == "rewrite-changed":
                rewrite(path, change=True)
            elif action == "swap":
                path.write_bytes(files[(day_i + 1) % len(files)].read_bytes())
            else:
                path.write_bytes(_mutate_bytes(data, action, at, blob))
            changed = path.read_bytes() != data
            label = f"{op} of {day} after its file: {action} at {at} with {blob!r}"

            def same(result: Any) -> str | None:
                if op == "verify":
                    return "verify passed a changed file" if changed else None
                frame = result
                if op == "read_all":
                    return ctx.same_rows(frame)
                return ctx.same_rows(frame, start=day, end=day)

            snap = t0.open(lake).snapshot(EP)
            calls = {
                "read": lambda: snap.read(day, day),
                "read_all": lambda: snap.read(),
                "scan": lambda: snap.scan(day, day).collect(),
                "verify": lambda: snap.verify(),
            }
            ctx.case("parquet", label, calls[op], same)

    strategy = st.tuples(
        st.sampled_from(["read", "read", "read_all", "scan", "verify"]),
        st.integers(0, 10),
        st.sampled_from(
            [
                "flip",
                "flip",
                "truncate",
                "insert",
                "delete",
                "zero",
                "append",
                "swap",
                "rewrite-same",
                "rewrite-changed",
            ]
        ),
        st.integers(0, 100_000),
        st.binary(min_size=1, max_size=6),
    )
    specials: list[Any] = [
        ("read", 0, "rewrite-changed", 0, b"x"),
        ("verify", 0, "rewrite-same", 0, b"x"),
        ("read", 0, "rewrite-same", 0, b"x"),
        ("read", 1, "truncate", 100, b"x"),
        ("read", 1, "swap", 0, b"x"),
        ("read_all", 2, "flip", 3000, b"\x01"),
        ("scan", 3, "append", 0, b"PAR1"),
    ]
    _run_target(ctx, "parquet", strategy, body, specials, budget)


def _typed_names() -> set[str]:
    import t0lake

    return {
        name
        for name, value in vars(t0lake).items()
        if isinstance(value, type) and issubclass(value, t0lake.T0LakeError)
    } | {"UsageError"}


def target_cli(ctx: Ctx, s: dict[str, Any], budget: float) -> None:
    st = s["st"]
    typed = _typed_names() - {"InternalError"}
    text = st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=16
    )
    cli_names = st.one_of(st.sampled_from([n for n in SPECIAL_NAMES if "\x00" not in n]), text)
    days = st.one_of(
        st.sampled_from([d for d in SPECIAL_DATES if isinstance(d, str) and "\x00" not in d]), text
    )
    durations = st.one_of(
        st.sampled_from([d for d in SPECIAL_DURATIONS if isinstance(d, str) and "\x00" not in d]),
        text,
    )
    ids = st.one_of(
        st.sampled_from([str(i) for i in SPECIAL_IDS if isinstance(i, int | str)]), text
    )
    # no NUL: an argv holding one never reaches t0lake (subprocess refuses it)
    columns = st.one_of(
        st.lists(
            st.sampled_from([c for c in COLUMNS + WEIRD_COLUMNS[:10] if "\x00" not in c]),
            max_size=3,
        ).map(",".join),
        text,
    )
    storage_option = st.one_of(
        st.sampled_from(
            ["=", "novalue", "endpoint_url=http://127.0.0.1:1", "anon=true", "key=", "=x", "a=b=c"]
        ),
        text,
    )
    catalogs = st.one_of(
        st.sampled_from(
            ["sqlite://", "nope://x", "postgresql+psycopg://nobody@127.0.0.1:1/x", "", ":"]
        ),
        text,
    )
    injection_keys = [
        f"id; INSERT INTO {CANARY}.hits VALUES ('key')",
        f'id"; DROP TABLE {CANARY}.t; --',
        "id,id",
        "nope",
        "\u0456d",
    ]

    def argv_for(draw: Any) -> list[str]:
        cmd = draw(
            st.sampled_from(
                [
                    "status",
                    "certify",
                    "hash",
                    "export",
                    "entrypoints",
                    "snapshots",
                    "verify",
                    "scan",
                    "compact",
                    "expire",
                    "vacuum",
                    "pin",
                    "unpin",
                    "policy",
                    "files",
                    "mirror",
                    "retain vectors",
                ]
            )
        )
        argv: list[str] = cmd.split()
        needs_name = cmd in (
            "certify",
            "export",
            "snapshots",
            "scan",
            "pin",
            "unpin",
            "policy",
            "files",
        )
        optional_name = ("verify", "compact", "expire", "vacuum", "mirror")
        if needs_name or (cmd in optional_name and draw(st.booleans())):
            argv.append(draw(st.one_of(st.just(EP), cli_names)))
        if cmd == "pin":
            argv.append(draw(ids))
        options: dict[str, list[Any]] = {
            "certify": [("--check-days", ids)],
            "hash": [
                ("--key", st.sampled_from(injection_keys)),
                ("--query", st.just("SELECT 1 AS id")),
            ],
            "export": [
                ("--start", days),
                ("--end", days),
                ("--max-age", durations),
                ("--workers", ids),
            ],
            "scan": [
                ("--start", days),
                ("--end", days),
                ("--columns", columns),
                ("--snapshot", ids),
            ],
            "compact": [("--as-of", days), ("--hot-days", ids)],
            "expire": [("--keep-last", ids), ("--older-than", durations)],
            "vacuum": [("--grace", durations), ("--dry-run", None)],
            "pin": [("--name", cli_names)],
            "unpin": [("--name", cli_names)],
            "policy": [("--hot-days", ids), ("--warm-months", ids)],
            "files": [("--snapshot", ids), ("--start", days), ("--end", days)],
            # an in-memory SQLite catalog works; the others must be refused, typed
            "mirror": [("--iceberg-catalog", catalogs)],
            "retain vectors": [
                ("--keep", durations),
                ("--as-of", days),
                ("--entrypoint", st.one_of(st.just(EP), cli_names)),
            ],
        }.get(cmd, [])
        for opt, strategy in options:
            if draw(st.integers(0, 3)) == 0:
                continue
            argv += [opt] if strategy is None else [opt, draw(strategy)]
        if cmd in ("status", "certify", "hash", "export", "retain vectors") or (
            draw(st.integers(0, 4)) == 0 and cmd not in ("files", "mirror")
        ):
            argv += ["--dsn", ctx.dsn]
        if draw(st.integers(0, 5)) == 0:
            argv += ["--storage-option", draw(storage_option)]
        if draw(st.integers(0, 3)) == 0:
            argv.append("--debug")
        return argv

    def body(argv: list[str]) -> None:
        with ctx.scratch() as lake:
            full = [PYTHON, "-m", "t0lake", "--json", *argv]
            if argv[0] not in ("status", "certify", "hash"):
                full += ["--lake", lake]
            label = "t0lake --json " + " ".join(_short(a, 60) for a in argv)

            def call() -> Any:
                try:
                    proc = subprocess.run(
                        full,
                        capture_output=True,
                        text=True,
                        timeout=CLI_TIMEOUT,
                        cwd=REPO,
                        env={**os.environ, "T0LAKE_DEBUG": "0"},
                        check=False,
                    )
                except subprocess.TimeoutExpired:
                    raise CaseTimeout from None
                doc: dict[str, Any] | None = None
                for line in reversed(proc.stdout.strip().splitlines() or [""]):
                    with suppress(ValueError):
                        loaded = json.loads(line)
                        if isinstance(loaded, dict):
                            doc = loaded
                            break
                if doc is None:
                    with suppress(ValueError):
                        loaded = json.loads(proc.stdout)
                        doc = loaded if isinstance(loaded, dict) else None
                error = doc.get("error") if doc else None
                if proc.returncode == 0 and error is None:
                    return proc
                if proc.returncode in (1, 2) and error in typed and doc and doc.get("message"):
                    raise _CliTyped(str(error))
                tail = (proc.stderr.strip().splitlines() or [""])[-1][:200]
                if proc.returncode < 0 or proc.returncode == 134:
                    raise _CliAbort(f"exit {proc.returncode}: {tail}")
                raise _CliUntyped(f"exit {proc.returncode}, error {error!r}: {tail}")

            ctx.case("cli", label, call, None, timeout=CLI_TIMEOUT + 10)

    specials = [
        ["export", "lk.features_v'; DROP TABLE fuzzcanary.t; --", "--dsn", ctx.dsn],
        ["hash", "--key", injection_keys[0], "--query", "SELECT 1 AS id", "--dsn", ctx.dsn],
        ["scan", "../lk.features_v"],
        ["pin", EP, "1", "--name", "../x"],
        ["export", EP, "--start", "2026-02-30", "--dsn", ctx.dsn],
        ["verify", "--storage-option", "endpoint_url=http://127.0.0.1:1"],
    ]

    @st.composite
    def argvs(draw: Any) -> list[str]:
        return argv_for(draw)

    _run_target(ctx, "cli", argvs(), body, specials, budget)


class _CliTyped(t0lake.T0LakeError):
    """The CLI ended with a typed error (exit 1/2 and a t0lake error name in its JSON)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the CLI ended with {name}")
        self.cli_error = name


class _CliAbort(Exception):
    """The CLI process died of a signal (an abort is 134 or -6)."""


class _CliUntyped(Exception):
    """The CLI ended otherwise: InternalError, an abort, a signal, no JSON."""


TARGETS: dict[str, Callable[[Ctx, dict[str, Any], float], None]] = {
    "names": target_names,
    "urls": target_urls,
    "options": target_options,
    "dates": target_dates,
    "durations": target_durations,
    "snapshots": target_snapshots,
    "columns": target_columns,
    "filters": target_filters,
    "pit": target_pit,
    "manifest": target_manifest,
    "parquet": target_parquet,
    "cli": target_cli,
}


def _child(config_path: str) -> int:
    cfg = json.loads(Path(config_path).read_text(encoding="utf-8"))
    ctx = Ctx(cfg)
    strategies = _strategies()
    for target in cfg["targets"]:
        TARGETS[target](ctx, strategies, float(cfg["budget"][target]))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", required=True)
    sys.exit(_child(parser.parse_args().child))
