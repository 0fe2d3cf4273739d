"""The hardening harness (issue 20): kill every operation at every I/O step, race writers
and readers on one lake, and write the figures into ``docs/reliability.md``.

    .venv/bin/python benchmarks/reliability.py [--quick] [--only crash|storm]
        [--out docs/reliability.md] [--jobs 2]

Starts a throwaway PostgreSQL and a moto S3 server on 127.0.0.1 (nothing else is touched),
builds the small certified store of the lake tests under the tolerant drift policy, then:

crash   ``reliability_crash``: export, compact, expire, vacuum and pin, on local disk and
        S3, each killed (SIGKILL, by the crash hook ``t0lake.testing.crashpoints``) just
        before and just after every storage I/O step, and on S3 during every PUT; after
        each kill the lake must open, verify, lose nothing, finish on a re-run, agree with
        the export registry and vacuum to exactly what its manifests reference.
storm   ``reliability_storm``: writers exporting (same and different day ranges, the
        source changing under them) and compacting one lake at once, readers verifying
        in a loop; every commit lands or fails typed, none is lost, every read verifies.
faults  ``reliability_faults``: S3 gone mid-export and at the commit, a commit whose answer
        is lost, a full disk, an unreadable file, manifests truncated, forged, rewritten or
        deleted: each ends as expected (typed) and leaves the lake whole.
fuzz    ``reliability_fuzz``: the public surface fed generated input; typed errors only.
secrets ``reliability_secrets``: planted passwords and S3 keys, never printed or stored.

``--quick`` tries three steps per operation (first, middle, last) and the commit's PUT,
and a shorter storm: a few minutes. The full run must stay within 15 minutes on the 2-core
machine. The tables are printed and written between the markers of ``--out`` (``-``: not
written); the prose around them is kept. Exit status 1 when any trial failed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from reliability_cases import REPO, environment
from reliability_crash import (
    CHECKS,
    Control,
    CrashRow,
    build_baselines,
    controls,
    crash_sweep,
    describe_failures,
)
from reliability_faults import FaultRow, run_faults
from reliability_fuzz import FUZZ_HEADER, FuzzReport, describe_fuzz_failures, fuzz, fuzz_cells
from reliability_secrets import SecretReport, describe_secret_failures, secrets
from reliability_storm import StormRow, describe_storm_failures, storm
from rich.console import Console
from rich.markup import escape
from rich.table import Table

LIBRARIES = ("pyarrow", "polars", "duckdb", "s3fs", "botocore", "moto", "psycopg", "numba")


def _machine() -> list[str]:
    versions = []
    for name in LIBRARIES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return [
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"{platform.system()} {platform.release()} {platform.machine()}",
        f"Python {platform.python_version()}; " + ", ".join(versions),
        f"t0lake {importlib.metadata.version('t0lake')}; load average at the end "
        + " ".join(f"{x:.1f}" for x in os.getloadavg())
        + " (other jobs on the machine slow the run down)",
    ]


# --------------------------------------------------------------------------- tables

CRASH_HEADER = [
    "operation",
    "storage",
    "I/O steps",
    "kill points",
    "of which mid-PUT",
    "killed",
    "passed",
    "failed",
    *CHECKS,
]
STORM_HEADER = [
    "storage",
    "writers",
    "readers",
    "runs",
    "commits",
    "no-op",
    "conflicts",
    "retries",
    "reads",
    "typed errors",
    "untyped",
    "days lost",
    "stale",
    "chain",
    "seconds",
]


SECRET_HEADER = ["secret planted in", "runs", "as expected", "untyped", "hits in stdout/stderr"]


FAULT_HEADER = ["fault", "storage", "expected", "observed", "lake whole after", "verdict"]


def _fault_cells(row: FaultRow) -> list[str]:
    verdict = "skipped" if row.skipped else ("pass" if row.passed else "**FAIL**")
    return [
        row.case,
        row.storage,
        row.expected,
        row.observed,
        "yes" if row.lake_ok else "no",
        verdict,
    ]


def _secret_table(report: SecretReport) -> list[list[str]]:
    return [
        [r.group, str(r.runs), str(r.as_expected), str(r.untyped), str(r.hits)] for r in report.rows
    ]


def crash_cells(row: CrashRow) -> list[str]:
    return [
        row.operation,
        row.storage,
        str(row.steps),
        str(row.tried),
        str(row.mid_put),
        str(row.killed),
        str(row.passed),
        str(row.failed),
        *(str(row.by_check.get(c, 0)) for c in CHECKS),
    ]


def storm_cells(row: StormRow) -> list[str]:
    return [
        row.storage,
        str(row.writers),
        str(row.readers),
        str(row.runs),
        str(row.commits),
        str(row.noop),
        str(row.conflicts),
        str(row.retries),
        str(row.reads),
        str(row.typed),
        str(row.untyped),
        str(row.days_lost),
        str(row.stale),
        "ok" if row.chain_ok else "BROKEN",
        f"{row.seconds:.0f}",
    ]


def _rich(title: str, header: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for name in header:
        table.add_column(name, justify="left" if name in ("operation", "storage") else "right")
    for cells in rows:
        table.add_row(*cells)
    return table


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- the document


def _replace_block(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- reliability:{name}:begin -->", f"<!-- reliability:{name}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text)
    return text.rstrip() + "\n\n" + block + "\n"


def write_doc(path: Path, blocks: dict[str, str]) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Reliability\n"
    for name, body in blocks.items():
        text = _replace_block(text, name, body)
    path.write_text(text, encoding="utf-8")


def _failures_md(lines: list[str]) -> str:
    if not lines:
        return "No trial failed."
    return "\n".join(f"- {line}" for line in lines)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a sample of the kill points")
    parser.add_argument(
        "--only", choices=("crash", "storm", "faults", "fuzz", "secrets"), default=None
    )
    parser.add_argument("--out", default="docs/reliability.md", help="'-': do not write")
    parser.add_argument("--jobs", type=int, default=2, help="crash trials run side by side")
    parser.add_argument("--storage", choices=("local", "s3"), action="append", default=None)
    args = parser.parse_args(argv)
    storages = tuple(args.storage or ("local", "s3"))
    console = Console(width=None if sys.stdout.isatty() else 200)
    started = time.perf_counter()
    command = "python benchmarks/reliability.py" + " ".join(
        [""] + (argv if argv is not None else sys.argv[1:])
    )
    crash_rows: list[CrashRow] = []
    control_rows: list[Control] = []
    storm_rows: list[StormRow] = []
    fault_rows: list[FaultRow] = []
    fuzz_report: FuzzReport | None = None
    secret_report: SecretReport | None = None
    work = tempfile.mkdtemp(prefix="t0lake-reliability-")
    with environment(Path(work)) as env:
        console.print(f"[dim]PostgreSQL and moto ({env.endpoint}) up[/]")
        if args.only in (None, "crash", "storm"):
            console.print("[dim]building baselines[/]")
            build_baselines(env)
        if args.only in (None, "crash"):
            control_rows = controls(env)
            for c in control_rows:
                console.print(
                    f"control {c.damage}: "
                    + ("caught" if c.caught else "[red]NOT caught[/]")
                    + f" ({', '.join(sorted(c.found)) or 'no check failed'})"
                )
            crash_rows = crash_sweep(
                env,
                quick=args.quick,
                jobs=args.jobs,
                storages=storages,
                progress=console.print,
            )
        if args.only in (None, "storm"):
            storm_rows = [
                storm(env, storage, quick=args.quick, progress=console.print)
                for storage in storages
            ]
        if args.only in (None, "faults"):
            fault_rows = run_faults(env, quick=args.quick)
        if args.only in (None, "fuzz"):
            fuzz_report = fuzz(env, quick=args.quick, progress=console.print)
        if args.only in (None, "secrets"):
            secret_report = secrets(env, quick=args.quick, progress=console.print)
    seconds = time.perf_counter() - started
    crash_table = [crash_cells(r) for r in crash_rows]
    storm_table = [storm_cells(r) for r in storm_rows]
    if crash_rows:
        console.print(_rich("Crash points", CRASH_HEADER, crash_table))
    if storm_rows:
        console.print(_rich("Concurrency storm", STORM_HEADER, storm_table))
    fault_table = [_fault_cells(r) for r in fault_rows]
    if fault_rows:
        console.print(_rich("Faults", FAULT_HEADER, fault_table))
    fuzz_table = [fuzz_cells(r) for r in fuzz_report.rows] if fuzz_report else []
    if fuzz_report:
        console.print(_rich("Fuzz", FUZZ_HEADER, fuzz_table))
    secret_table = _secret_table(secret_report) if secret_report else []
    if secret_report:
        console.print(_rich("Planted secrets", SECRET_HEADER, secret_table))
    failures = describe_failures(crash_rows) + describe_storm_failures(storm_rows)
    failures += describe_fuzz_failures(fuzz_report) + describe_secret_failures(secret_report)
    failures += [f"control not caught: {c.damage}" for c in control_rows if not c.caught]
    failures += [
        f"fault {r.case} ({r.storage}): expected {r.expected}, got {r.observed}"
        + ("" if r.lake_ok else "; the lake did not survive")
        for r in fault_rows
        if not r.passed and not r.skipped
    ]
    for line in failures:
        console.print(f"[red]FAILED[/] {escape(line)}")
    console.print(f"{seconds:.0f}s in all")
    if failures:
        console.print(f"the lakes of the failed trials are kept under {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if args.out != "-":
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        machine = "\n".join(f"- {line}" for line in _machine())
        blocks: dict[str, str] = {}
        if crash_rows:
            blocks["crash"] = (
                f"`{command}` — {stamp}, {'quick' if args.quick else 'full'} run, "
                f"{seconds:.0f}s in all\n\n{_markdown(CRASH_HEADER, crash_table)}\n\n"
                f"{_failures_md(describe_failures(crash_rows))}\n\n"
                f"Controls (planted damage, no kill; each must fail the checks):\n\n"
                + _markdown(
                    ["damage", "expected check", "caught", "checks that failed"],
                    [
                        [
                            c.damage,
                            c.expected,
                            "yes" if c.caught else "**no**",
                            ", ".join(sorted(c.found)),
                        ]
                        for c in control_rows
                    ],
                )
            )
        if storm_rows:
            blocks["storm"] = (
                f"`{command}` — {stamp}, {'quick' if args.quick else 'full'} run\n\n"
                f"{_markdown(STORM_HEADER, storm_table)}\n\n"
                f"{_failures_md(describe_storm_failures(storm_rows))}"
            )
        if fault_rows:
            skipped = [f"- {r.case}: skipped, {r.skipped}" for r in fault_rows if r.skipped]
            blocks["faults"] = (
                f"`{command}` — {stamp}, {'quick' if args.quick else 'full'} run\n\n"
                f"{_markdown(FAULT_HEADER, fault_table)}"
                + ("\n\n" + "\n".join(skipped) if skipped else "")
            )
        if fuzz_report:
            blocks["fuzz"] = (
                f"`{command}` — {stamp}, {'quick' if args.quick else 'full'} run, "
                f"{fuzz_report.seconds:.0f}s\n\n{_markdown(FUZZ_HEADER, fuzz_table)}\n\n"
                f"SQL canary: `fuzzcanary.t` {fuzz_report.canary_rows} row (1 planted), "
                f"`fuzzcanary.hits` {fuzz_report.canary_hits} rows (0 allowed)"
                + (
                    f"; {fuzz_report.harness_errors} cases the harness could not build "
                    "(not counted)."
                    if fuzz_report.harness_errors
                    else "."
                )
                + f"\n\n{_failures_md(describe_fuzz_failures(fuzz_report))}"
            )
        if secret_report:
            stored = ", ".join(f"{k} {v}" for k, v in secret_report.stored_hits.items())
            unexpected = [
                line for row in secret_report.rows for line in row.failures if "LEAK" not in line
            ]
            blocks["secrets"] = (
                f"`{command}` — {stamp}, {'quick' if args.quick else 'full'} run, "
                f"{secret_report.seconds:.0f}s; scram "
                f"{'required' if secret_report.scram_enforced else '**NOT required**'} "
                f"for the planted roles\n\n{_markdown(SECRET_HEADER, secret_table)}\n\n"
                f"Hits in what the runs left behind: {stored}.\n\n"
                f"{_failures_md(describe_secret_failures(secret_report))}"
                + (
                    "\n\nRuns that did not end as expected (no secret printed):\n\n"
                    + "\n".join(f"- {line}" for line in unexpected)
                    if unexpected
                    else ""
                )
            )
        blocks["machine"] = f"Last run ({stamp}, {seconds:.0f}s) on:\n\n{machine}"
        out = Path(args.out)
        write_doc(out if out.is_absolute() else REPO / out, blocks)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
