"""Planted secrets: a real scram password and an S3 secret key, looked for everywhere.

Two PostgreSQL roles get scram-sha-256 passwords (``password_encryption`` set first; the
roles are checked to be stored as SCRAM verifiers) and a ``pg_hba.conf`` line each that
requires scram from 127.0.0.1 (the throwaway server trusts everyone else; the file is
rewritten and the server reloaded, then a connection without the password must fail).
One password is plain, one has spaces (the quoted ``password='...'`` form). The S3 secret
key is planted in ``--storage-option secret=...`` and in ``AWS_SECRET_ACCESS_KEY`` (moto
accepts any key). Then CLI commands run with the password in every DSN form (URL,
key=value, quoted with spaces, ``?password=``, ``PGPASSWORD``), with a wrong password
too, and the lake commands with the S3 secret against a live bucket, a missing bucket and
an endpoint nothing listens on, each with and without ``--json`` and ``--debug``. The
server logs every statement and connection meanwhile (``log_statement = all``).

Then every fragment of every secret (and its URL-encoded form) is looked for in each
run's stdout and stderr, in every file of the lakes (local and S3), in every text column
of ``audit.t0_export_registry`` and ``audit.t0_cert_registry``, and in the server's log:
0 hits required. Runs that did not end as expected (a good password refused, a wrong one
accepted, an untyped error) are reported too: a sweep that never authenticates proves
nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from psycopg import sql
from reliability_cases import EP, PYTHON, REPO, Env

import t0lake
from t0lake import pg

__all__ = ["SECRETS_HEADER", "SecretReport", "SecretRow", "describe_secret_failures", "secrets"]

ROLE_A, SECRET_A = "t0_secret_a", "Pl4ntedPgSecretA9f8e7d"
ROLE_B, SECRET_B = "t0_secret_b", "my Pl4ntedB0x secr3tQ7 phr4seZ9"
WRONG = "Wr0ngPl4ntedPw55x"
S3_KEY_ID = "AKIAT0LAKEPLANTED01"
S3_SECRET = "Pl4ntedS3Secr3tK3y+x/Q9zzR7"
# Fragments: a mask that stops at a space or a quote must still be caught.
_FRAGMENTS = [
    SECRET_A,
    SECRET_A[:12],
    SECRET_A[-10:],
    "Pl4ntedB0x",
    "secr3tQ7",
    "phr4seZ9",
    WRONG,
    S3_SECRET,
    S3_SECRET[:14],
    S3_SECRET[-12:],
]
NEEDLES = sorted(
    {f for f in _FRAGMENTS} | {urllib.parse.quote(f, safe="") for f in _FRAGMENTS},
    key=len,
    reverse=True,
)
FLAGS: tuple[tuple[str, ...], ...] = ((), ("--json",), ("--debug",), ("--json", "--debug"))


@dataclass
class SecretRow:
    group: str
    runs: int = 0
    as_expected: int = 0
    untyped: int = 0
    hits: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass
class SecretReport:
    rows: list[SecretRow]
    stored_hits: dict[str, int]  # place -> hits (lake files, registries, server log)
    scram_enforced: bool
    notes: list[str]
    seconds: float

    @property
    def runs(self) -> int:
        return sum(r.runs for r in self.rows)

    @property
    def hits(self) -> int:
        return sum(r.hits for r in self.rows) + sum(self.stored_hits.values())


SECRETS_HEADER = ["runs", "secret in", "runs", "as expected", "untyped", "hits (stdout/stderr)"]


def describe_secret_failures(report: SecretReport | None) -> list[str]:
    if report is None:
        return []
    lines = [line for row in report.rows for line in row.failures if "LEAK" in line]
    lines += [f"LEAK in {place}: {n} hits" for place, n in report.stored_hits.items() if n]
    if not report.scram_enforced:
        lines.append("the server did not require the scram password: the sweep proves nothing")
    return lines


def find(text: str) -> list[str]:
    """The needles ``text`` holds."""
    return [n for n in NEEDLES if n in text]


# --------------------------------------------------------------------------- set-up


def _server(env: Env) -> tuple[str, int, Path, Path]:
    """Host, port, hba file and server log of the harness's server."""
    params = dict(re.findall(r"(\w+)=(\S+)", env.dsn))
    with pg.connect(env.dsn, autocommit=True) as conn:
        hba = conn.execute("SHOW hba_file").fetchone()
        data = conn.execute("SHOW data_directory").fetchone()
    assert hba and data
    return params["host"], int(params["port"]), Path(hba[0]), Path(data[0]).parent / "server.log"


def _plant_roles(env: Env, hba: Path) -> list[str]:
    """The two scram roles and their pg_hba lines; the notes of what could not be done."""
    notes: list[str] = []
    with pg.connect(env.dsn, autocommit=True) as conn:
        conn.execute("SET password_encryption = 'scram-sha-256'")
        for role, secret in ((ROLE_A, SECRET_A), (ROLE_B, SECRET_B)):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(secret)
                )
            )
        stored = conn.execute(
            "SELECT rolname, left(rolpassword, 14) FROM pg_authid WHERE rolname IN (%s, %s)",
            (ROLE_A, ROLE_B),
        ).fetchall()
        if any(v != "SCRAM-SHA-256$" for _, v in stored):
            notes.append(f"the roles' passwords are not stored as SCRAM verifiers: {stored}")
        lines = "".join(
            f"host all {role} 127.0.0.1/32 scram-sha-256\n" for role in (ROLE_A, ROLE_B)
        )
        hba.write_text(lines + hba.read_text(encoding="utf-8"), encoding="utf-8")
        conn.execute("ALTER SYSTEM SET log_statement = 'all'")
        conn.execute("ALTER SYSTEM SET log_connections = on")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)
    return notes


def _scram_enforced(host: str, port: int) -> bool:
    """A connection without the password, or with a wrong one, is refused; the right one
    gets in."""
    import psycopg

    def can(password: str | None) -> bool:
        try:
            with psycopg.connect(
                host=host,
                port=port,
                user=ROLE_A,
                dbname="t0lake",
                password=password,
                connect_timeout=10,
            ):
                return True
        except psycopg.OperationalError:
            return False

    env_password = os.environ.pop("PGPASSWORD", None)
    try:
        return can(SECRET_A) and not can(None) and not can(WRONG)
    finally:
        if env_password is not None:
            os.environ["PGPASSWORD"] = env_password


def _dsn_forms(host: str, port: int, password_a: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Every way to hand the password over: (DSN, extra environment)."""
    qa = urllib.parse.quote(password_a, safe="")
    qb = urllib.parse.quote(SECRET_B, safe="")
    return {
        "URL": (f"postgresql://{ROLE_A}:{qa}@{host}:{port}/t0lake", {}),
        "URL, spaces": (f"postgresql://{ROLE_B}:{qb}@{host}:{port}/t0lake", {}),
        "key=value": (
            f"host={host} port={port} user={ROLE_A} password={password_a} dbname=t0lake",
            {},
        ),
        "quoted, spaces": (
            f"host={host} port={port} user={ROLE_B} password='{SECRET_B}' dbname=t0lake",
            {},
        ),
        "?password=": (f"postgresql://{ROLE_A}@{host}:{port}/t0lake?password={qa}", {}),
        "PGPASSWORD": (
            f"host={host} port={port} user={ROLE_A} dbname=t0lake",
            {"PGPASSWORD": password_a},
        ),
    }


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class Job:
    group: str
    label: str
    argv: list[str]
    env: dict[str, str]
    expect_ok: bool


def _run(job: Job) -> tuple[Job, int, str, str, float]:
    started = time.perf_counter()
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PGPASSWORD", "T0LAKE_PG_DSN", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
    }
    environ.update({"T0LAKE_DEBUG": "0", **job.env})
    try:
        proc = subprocess.run(
            [PYTHON, "-m", "t0lake", *job.argv],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=REPO,
            env=environ,
            check=False,
        )
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code = -9
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    return job, code, out, err, time.perf_counter() - started


_TYPED = {
    name
    for name, value in vars(t0lake).items()
    if isinstance(value, type) and issubclass(value, t0lake.T0LakeError)
} | {"UsageError"}


def _error_name(out: str, err: str, json_mode: bool) -> str | None:
    if json_mode:
        for line in reversed(out.strip().splitlines()):
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and "error" in doc:
                return str(doc["error"])
        try:
            doc = json.loads(out)
        except ValueError:
            return None
        return str(doc.get("error")) if isinstance(doc, dict) and "error" in doc else None
    match = re.search(r"\b([A-Z][A-Za-z]+Error)\b", err)
    return match.group(1) if match else None


def _jobs(env: Env, host: str, port: int, quick: bool) -> list[Job]:
    lake = str(env.work / "secrets" / "lake")
    s3_lake = "s3://secrets-lake/lake"
    jobs: list[Job] = []
    n = 0

    def flags() -> tuple[str, ...]:
        nonlocal n
        n += 1
        return FLAGS[n % len(FLAGS)]

    good = _dsn_forms(host, port, SECRET_A)
    wrong = _dsn_forms(host, port, WRONG)
    commands: list[tuple[str, list[str]]] = [
        ("status", ["status"]),
        ("certify", ["certify", EP, "--check-days", "1"]),
        ("export", ["export", EP, "--lake", lake, "--workers", "1"]),
        ("verify --dsn", ["verify", EP, "--lake", lake]),
        ("hash", ["hash", "--key", "id", "--query", "SELECT id FROM lk.src WHERE id < 5"]),
    ]
    for form, (dsn, extra) in good.items():
        for name, args in commands:
            if (
                quick
                and name in ("certify", "verify --dsn")
                and form not in ("URL", "quoted, spaces")
            ):
                continue
            f = flags()
            jobs.append(
                Job(
                    "PostgreSQL password",
                    f"{name}, {form} {' '.join(f)}".strip(),
                    [*f, *args, "--dsn", dsn],
                    extra,
                    True,
                )
            )
    for form, (dsn, extra) in wrong.items():
        if form.endswith("spaces"):
            dsn = dsn.replace(urllib.parse.quote(SECRET_B, safe=""), WRONG).replace(SECRET_B, WRONG)
        for name, args in commands[:1] + commands[2:3] + commands[4:]:
            if quick and name != "status":
                continue
            f = flags()
            jobs.append(
                Job(
                    "wrong PostgreSQL password",
                    f"{name}, {form} {' '.join(f)}".strip(),
                    [*f, *args, "--dsn", dsn],
                    extra,
                    False,
                )
            )
    s3_targets = {
        "live bucket": (env.endpoint, s3_lake, True),
        "missing bucket": (env.endpoint, "s3://no-such-bucket-planted/lake", False),
        "bad endpoint": ("http://127.0.0.1:1", s3_lake, False),
    }
    dsn_a = good["URL"][0]
    s3_commands: list[tuple[str, list[str]]] = [
        ("export", ["export", EP, "--workers", "1", "--dsn", dsn_a]),
        ("verify", ["verify", EP]),
        ("scan", ["scan", EP, "--end", "2026-03-01"]),
        ("snapshots", ["snapshots", EP]),
        ("compact", ["compact", EP, "--as-of", "2026-06-01"]),
    ]
    for how in ("--storage-option", "AWS_SECRET_ACCESS_KEY"):
        for where, (endpoint, url, ok) in s3_targets.items():
            for name, args in s3_commands:
                if quick and where != "live bucket" and name not in ("export", "verify"):
                    continue
                options = ["--lake", url, "--storage-option", f"endpoint_url={endpoint}"]
                extra: dict[str, str] = {}
                if how == "--storage-option":
                    options += [
                        "--storage-option",
                        f"key={S3_KEY_ID}",
                        "--storage-option",
                        f"secret={S3_SECRET}",
                    ]
                else:
                    extra = {"AWS_ACCESS_KEY_ID": S3_KEY_ID, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
                f = flags()
                jobs.append(
                    Job(
                        f"S3 secret ({how})",
                        f"{name}, {where} {' '.join(f)}".strip(),
                        [*f, *args, *options],
                        extra,
                        ok,
                    )
                )
    return jobs


def _stored(env: Env, lake: Path, server_log: Path, log_from: int) -> dict[str, int]:
    """Hits in everything the runs left behind."""
    hits: dict[str, int] = {}
    text = ""
    for path in sorted(lake.rglob("*")) if lake.exists() else []:
        if path.is_file():
            text += path.read_bytes().decode("latin-1")
    hits["local lake files"] = len(find(text))
    fs = env.fs()
    fs.invalidate_cache()
    blob = "".join(
        fs.cat_file(p).decode("latin-1") for p in fs.find("secrets-lake") if not p.endswith("/")
    )
    hits["S3 lake objects"] = len(find(blob))
    with pg.connect(env.dsn, autocommit=True) as conn:
        for table in ("audit.t0_export_registry", "audit.t0_cert_registry"):
            query = sql.SQL("SELECT t::text FROM {} t").format(  # every column
                sql.Identifier(*table.split("."))
            )
            rows = conn.execute(query).fetchall()
            hits[table] = len(find("\n".join(r[0] for r in rows)))
    try:
        log = server_log.read_bytes()[log_from:].decode("utf-8", "replace")
    except OSError:
        log = ""
    hits["PostgreSQL server log"] = len(find(log))
    return hits


def secrets(env: Env, *, quick: bool, progress: Callable[[str], None] = print) -> SecretReport:
    started = time.perf_counter()
    host, port, hba, server_log = _server(env)
    notes = _plant_roles(env, hba)
    log_from = server_log.stat().st_size if server_log.exists() else 0
    enforced = _scram_enforced(host, port)
    progress(f"secrets: scram {'required' if enforced else '[red]NOT required[/]'} for {ROLE_A}")
    (env.work / "secrets").mkdir(parents=True, exist_ok=True)
    env.fs().mkdir("secrets-lake")
    jobs = _jobs(env, host, port, quick)
    rows: dict[str, SecretRow] = {}
    # the local lake first (verify needs it), then the rest two at a time
    ordered = sorted(jobs, key=lambda j: not j.label.startswith("export, URL"))
    head, rest = ordered[:1], ordered[1:]
    s3_export_first = [
        j for j in rest if j.group.startswith("S3") and j.label.startswith("export, live")
    ][:1]
    rest = [j for j in rest if j not in s3_export_first]
    results = [_run(j) for j in head + s3_export_first]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results += list(pool.map(_run, rest))
    for job, code, out, err, _seconds in results:
        row = rows.setdefault(job.group, SecretRow(job.group))
        row.runs += 1
        leaked = find(out) + find(err)
        json_mode = "--json" in job.argv
        error = _error_name(out, err, json_mode)
        ok = code == 0
        if json_mode:
            typed = code in (1, 2) and error in _TYPED and error != "InternalError"
        else:  # the human form names no class; an internal error says so
            typed = code in (1, 2) and "InternalError" not in err
        if leaked:
            row.hits += len(leaked)
            row.failures.append(
                f"LEAK {job.group}: t0lake {' '.join(_mask(a) for a in job.argv)} printed "
                f"{len(leaked)} secret fragment(s) (exit {code})"
            )
        if not ok and not typed:
            row.untyped += 1
            row.failures.append(f"untyped {job.group}: {job.label}: exit {code}, error {error}")
        elif ok == job.expect_ok:
            row.as_expected += 1
        else:
            row.failures.append(f"unexpected {job.group}: {job.label}: exit {code}, error {error}")
    stored = _stored(env, env.work / "secrets" / "lake", server_log, log_from)
    report = SecretReport(
        list(rows.values()), stored, enforced, notes, time.perf_counter() - started
    )
    for row in report.rows:
        progress(
            f"secrets {row.group}: {row.runs} runs, {row.as_expected} as expected, "
            f"{row.untyped} untyped, {row.hits} hits"
        )
        for line in row.failures[:6]:
            progress(f"  {line}")
    progress(f"secrets stored: {stored}")
    return report


def _mask(arg: str) -> str:
    """An argument as the report may print it: the secrets replaced."""
    for secret in (SECRET_A, SECRET_B, WRONG, S3_SECRET):
        arg = arg.replace(secret, "<secret>").replace(
            urllib.parse.quote(secret, safe=""), "<secret>"
        )
    return arg
