"""Compaction: t0lake.compact vs a plain pyarrow read + rewrite, and scans per tier layout.

Target (issue 15): ``t0lake.compact`` (every output re-proven from the bytes read back,
which proves its inputs too) at >= 0.7x the throughput of the limit, a plain ``pq.read_table`` +
``pa.concat_tables`` + ``pq.write_table`` of the same input files into the same month and
year files with the same compression, proving nothing. Also measured: the 30-day and
365-day range-scan latency over the hot, warm and cold layouts of the same days, and the
bytes each tier takes.

    .venv/bin/python benchmarks/bench_compact.py [--days 730] [--rows-per-day 5000]
        [--repeat 3] [--samples 7] [--seed 15]

Needs no Postgres: a synthetic lake of ``--days`` days (``bench_scan.py``'s 12-column day
generator; one hot file per day, hashed and written as the exporter does, committed as one
manifest) is written to a temporary directory, all hot. ``as_of`` is the day after the
last day, so the default policy (hot 30 days, warm 12 months) makes the first year cold,
the following months warm and the last month hot; ``--days`` must be long enough for a
cold year (>= 700 days from bench_scan's first day, 2025-01-01).

Compaction runs ``--repeat`` times, each on a fresh copy of the all-hot lake
(``shutil.copytree``, not timed); the peer runs as often over the input files of the same
outputs (the groups each compaction reported), once one group after another and once on a
thread pool as wide as compaction's default. The ratio is the faster peer's best time over
t0lake's best time; every run also reports the CPU seconds of the process. A second table
re-enacts compaction's steps one at a time (CPU seconds of each, best of 2) to show where
the time goes. Scans read random windows inside the cold year and the warm months
from the compacted lake and the very same days from the all-hot original, each layout in
turn on each window; row counts are checked on every read and whole frames once per range.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from bench_scan import ALL_COLUMNS, FIRST_DAY, KEY, SCHEMA, make_day
from rich.console import Console
from rich.table import Table

import t0lake
from t0lake.lake import commit, log
from t0lake.lake.layout import Tier
from t0lake.lake.maintenance.compact import CompactResult, plan_units
from t0lake.lake.manifest import (
    DayEntry,
    FileEntry,
    Manifest,
    Operation,
    schema_hash,
    schema_to_b64,
)
from t0lake.lake.reader import Part, Reader
from t0lake.lake.storage import LakeStorage, open_storage
from t0lake.lake.writer import write_day, write_parquet

EP = "bench.compact_v"
TARGET = 0.7
POLICY = t0lake.TierPolicy()  # the default: hot 30 days, warm 12 months
WORKERS = min(4, os.cpu_count() or 1)  # compaction's default thread pool (compact.py)

# --------------------------------------------------------------------------- the synthetic lake


def build_lake(storage: LakeStorage, days: int, rows: int, seed: int) -> Manifest:
    """Every day hashed and written as a hot file, then one manifest, as bench_scan.py does."""
    rng = np.random.default_rng(seed)
    entries: list[FileEntry] = []
    for index in range(days):
        day = FIRST_DAY + timedelta(days=index)
        entries.append(write_day(storage, EP, day, make_day(rng, index, rows), KEY))

    def build(head: Manifest | None) -> Manifest:
        if head is not None:
            raise SystemExit(f"{storage.url} already holds {EP}; the benchmark needs a new lake")
        return Manifest(
            entrypoint=EP,
            snapshot_id=1,
            parent_snapshot_id=None,
            parent_sha256=None,
            committed_at="2026-01-01T00:00:00+00:00",
            operation=Operation.EXPORT,  # what the exporter would have committed
            key=KEY,
            day_expr="t0::date",
            event_time_col="t0",
            viewdef_hash="synthetic",
            certification={"cert_id": 0, "note": "synthetic lake of benchmarks/bench_compact.py"},
            arrow_schema=schema_to_b64(SCHEMA),
            schema_hash=schema_hash(SCHEMA),
            files=tuple(entries),
            summary={"days": len(entries), "rows_added": sum(e.rows for e in entries)},
            t0lake_version=t0lake.__version__,
        )

    manifest = commit.commit(storage, EP, build)
    assert manifest is not None
    return manifest


def expected_tiers(days: int, as_of: date) -> dict[date, Tier]:
    return {
        FIRST_DAY + timedelta(days=i): POLICY.tier_of(FIRST_DAY + timedelta(days=i), as_of)
        for i in range(days)
    }


# --------------------------------------------------------------------------- compaction and peer


@dataclass
class Run:
    """One timed run: wall seconds and the CPU seconds of the whole process (all threads)."""

    wall: float
    cpu: float


class Clock:
    """Wall and process CPU time of a ``with`` block."""

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.run = Run(time.perf_counter() - self._wall, time.process_time() - self._cpu)


def run_compact(hot_dir: str, work: str, as_of: date) -> tuple[Run, CompactResult]:
    """Copy the all-hot lake (not timed) and compact the copy."""
    shutil.copytree(hot_dir, work)
    with Clock() as clock:
        (result,) = t0lake.compact(work, as_of, EP, policy=POLICY, progress=False)
    if not result.committed:
        raise SystemExit(f"compaction of {work} committed nothing")
    return clock.run, result


Group = tuple[Tier, list[str]]  # the tier of one output and the input files it was made of


def peer_group(hot_dir: str, out_dir: str, index: int, group: Group) -> tuple[int, int]:
    """The limit for one output: read the inputs, concatenate, write with the tier's options."""
    tier, inputs = group
    table = pa.concat_tables(pq.read_table(os.path.join(hot_dir, p)) for p in inputs)
    target = os.path.join(out_dir, f"{index:04d}-{tier.value}.parquet")
    pq.write_table(table, target, **POLICY.options(tier).to_json())
    return table.num_rows, os.path.getsize(target)


def run_peer(
    hot_dir: str, out_dir: str, groups: list[Group], workers: int
) -> tuple[Run, int, Counter[Tier]]:
    """Every group one after another (``workers`` 1) or on a thread pool; the rows written
    and the bytes per tier."""
    os.makedirs(out_dir)
    with Clock() as clock:
        if workers == 1:
            done = [peer_group(hot_dir, out_dir, i, g) for i, g in enumerate(groups)]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                done = list(
                    pool.map(lambda ig: peer_group(hot_dir, out_dir, *ig), enumerate(groups))
                )
    shutil.rmtree(out_dir)
    sizes: Counter[Tier] = Counter()
    for (tier, _), (_, nbytes) in zip(groups, done, strict=True):
        sizes[tier] += nbytes
    return clock.run, sum(rows for rows, _ in done), sizes


STEPS = (
    ("read the inputs (pyarrow, typed as the manifest says)", "pq.read_table of each input"),
    ("concatenate + write the Parquet bytes (tier options)", "concat_tables + write_table"),
    ("sha256 name, durable write (fsync), read back, compare", ""),
    ("decode the output and re-prove every (day, column): proves the inputs too", ""),
)


def cpu_steps(hot_dir: str, scratch: str, as_of: date) -> tuple[list[float], list[float]]:
    """CPU seconds of each step of compaction (``compact_unit`` in
    t0lake/lake/maintenance/compact.py, re-enacted step by step, one output after another)
    and of the peer's steps, summed over all the outputs of ``as_of``."""
    storage, out_storage = open_storage(hot_dir), open_storage(scratch)
    head = log.head(storage, EP)
    assert head is not None
    reader = Reader(storage, head)
    names = list(reader.schema.names)
    ours, peer = [0.0] * len(STEPS), [0.0] * len(STEPS)
    cpu = time.process_time
    for unit in plan_units(head, POLICY, as_of):
        options = POLICY.options(unit.tier)
        parts = [Part(f, (entry,)) for f, entry in unit.slices]  # all-hot: one day per file
        began = cpu()
        tables = list(reader.tables(parts, names, verify=False, prefetch=1))
        ours[0] += cpu() - began
        began = cpu()
        payload = write_parquet(pa.concat_tables(tables), options)
        ours[1] += cpu() - began
        path = f"{unit.tier.value}-{unit.start}.parquet"
        began = cpu()
        hashlib.sha256(payload).hexdigest()
        out_storage.write_bytes(path, payload)
        data = out_storage.read_bytes(path)
        assert data == payload
        ours[2] += cpu() - began
        days, offset = [], 0
        for _, e in unit.slices:
            days.append(DayEntry(e.day, e.rows, offset, e.dataset_hash, dict(e.columns)))
            offset += e.rows
        out = FileEntry(path, unit.tier, len(payload), "", offset, tuple(days))
        began = cpu()
        reader.prove_bytes(out, data)
        ours[3] += cpu() - began
        out_storage.delete(path)

        began = cpu()
        table = pa.concat_tables(
            pq.read_table(os.path.join(hot_dir, f.path)) for f, _ in unit.slices
        )
        peer[0] += cpu() - began
        began = cpu()
        pq.write_table(table, os.path.join(scratch, "peer.parquet"), **options.to_json())
        peer[1] += cpu() - began
    return ours, peer


# --------------------------------------------------------------------------- scans

Window = tuple[date, date]


def windows(rng: np.random.Generator, region: list[date], span: int, samples: int) -> list[Window]:
    """``samples`` random windows of ``span`` days inside ``region`` (one if it is the whole)."""
    if span >= len(region):
        return [(region[0], region[-1])] * samples
    starts = rng.integers(0, len(region) - span + 1, samples)
    return [(region[int(s)], region[int(s) + span - 1]) for s in starts]


def time_scans(
    snaps: dict[str, t0lake.Snapshot], wins: list[Window], rows: int, verify: bool
) -> dict[str, list[float]]:
    """Latency samples per layout; the layouts take turns (rotating order) on every window."""
    names = list(snaps)
    times: dict[str, list[float]] = {n: [] for n in names}
    for i, (start, end) in enumerate(wins):
        expected = ((end - start).days + 1) * rows
        for name in names[i % len(names) :] + names[: i % len(names)]:
            began = time.perf_counter()
            frame = snaps[name].read(start, end, verify=verify)
            times[name].append(time.perf_counter() - began)
            if frame.height != expected or frame.width != len(ALL_COLUMNS):
                raise SystemExit(
                    f"{name} layout read {frame.height} x {frame.width} for {start}..{end}, "
                    f"expected {expected} x {len(ALL_COLUMNS)}"
                )
    return times


def check_equal(snaps: dict[str, t0lake.Snapshot], window: Window) -> None:
    """Every layout returns the very same frame (rows in day and key order) for ``window``."""
    frames = {name: snap.read(*window) for name, snap in snaps.items()}
    reference = next(iter(frames.values()))
    for name, frame in frames.items():
        if not frame.equals(reference):
            raise SystemExit(f"the {name} layout returned other rows for {window[0]}..{window[1]}")


def files_read(snap: t0lake.Snapshot, window: Window) -> int:
    return len(snap.files(*window))


# --------------------------------------------------------------------------- main


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--rows-per-day", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of compaction and peers")
    parser.add_argument("--samples", type=int, default=7, help="reads per scan cell")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rows = args.rows_per_day
    as_of = FIRST_DAY + timedelta(days=args.days)
    tiers = expected_tiers(args.days, as_of)
    region = {t: sorted(d for d, tt in tiers.items() if tt == t) for t in Tier}
    cold_year = [d for d in region[Tier.COLD] if d.year == FIRST_DAY.year]
    if len(cold_year) < 365 or not region[Tier.WARM] or args.repeat < 1 or args.samples < 1:
        parser.error(
            f"--days {args.days} gives no complete cold year and warm months on as_of {as_of} "
            "(the default policy needs >= 700 days), or --repeat/--samples < 1"
        )

    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="t0lake-bench-compact-") as tmp:
        began = time.perf_counter()
        hot_dir = os.path.join(tmp, "hot")
        hot_manifest = build_lake(open_storage(hot_dir), args.days, rows, args.seed)
        hot_days = hot_manifest.days()
        in_bytes = sum(f.bytes for f in hot_manifest.files)
        console.print(
            f"lake: {args.days} days x {rows:,} rows = {args.days * rows:,} rows, "
            f"{len(ALL_COLUMNS)} columns, {in_bytes / 1e6:,.1f} MB of hot Parquet, built in "
            f"{time.perf_counter() - began:.1f} s; on as_of {as_of} the policy makes "
            + ", ".join(f"{len(region[t])} days {t.value}" for t in Tier)
        )
        moved_days = [d for d, t in tiers.items() if t != Tier.HOT]
        moved = sum(hot_days[d][1].rows for d in moved_days)
        moved_bytes = sum(hot_days[d][0].bytes for d in moved_days)

        # ---------------------------------------------------------------- throughput
        began = time.perf_counter()
        ours: list[Run] = []
        peers: dict[int, list[Run]] = {1: [], WORKERS: []}
        outputs: set[tuple[str, ...]] = set()
        groups: list[Group] = []
        peer_sizes: Counter[Tier] = Counter()
        compacted = ""
        for rep in range(args.repeat):
            if compacted:
                shutil.rmtree(compacted)  # keep the last one, for the scans
            compacted = os.path.join(tmp, f"compacted-{rep}")
            run, result = run_compact(hot_dir, compacted, as_of)
            ours.append(run)
            outputs.add(tuple(o["output"] for o in result.outputs))
            groups = [(Tier(o["tier"]), list(o["inputs"])) for o in result.outputs]
            for workers in sorted(peers, reverse=rep % 2 == 1):  # alternate which goes first
                run, written, peer_sizes = run_peer(
                    hot_dir, os.path.join(tmp, "peer"), groups, workers
                )
                if written != moved:
                    raise SystemExit(f"the peer wrote {written:,} rows, not {moved:,}")
                peers[workers].append(run)
        if len(outputs) != 1:
            raise SystemExit("compaction of the same lake wrote different files on two runs")
        steps = [cpu_steps(hot_dir, os.path.join(tmp, "scratch"), as_of) for _ in range(2)]
        ours_steps = [min(s[0][i] for s in steps) for i in range(len(STEPS))]
        peer_steps = [min(s[1][i] for s in steps) for i in range(len(STEPS))]
        console.print(
            f"compaction: {len(groups)} outputs ("
            + ", ".join(f"{n} {t.value}" for t, n in sorted(Counter(g[0] for g in groups).items()))
            + f") of {sum(len(g[1]) for g in groups)} hot files, {moved:,} rows, "
            f"{moved_bytes / 1e6:,.1f} MB; the same {len(groups)} files on every run; "
            f"measured in {time.perf_counter() - began:.1f} s"
        )

        # ---------------------------------------------------------------- checks
        began = time.perf_counter()
        hot = t0lake.open(hot_dir).snapshot(EP)
        comp = t0lake.open(compacted).snapshot(EP)
        if comp.tiers() != tiers:
            raise SystemExit("the compacted lake does not serve each day from its policy tier")
        if hot.tiers() != dict.fromkeys(tiers, Tier.HOT):
            raise SystemExit("the all-hot copy changed")
        rng = np.random.default_rng(args.seed)
        cells: list[tuple[int, str, Tier, list[Window]]] = []
        for span in (30, 365):
            for tier, days_of in ((Tier.WARM, region[Tier.WARM]), (Tier.COLD, cold_year)):
                if span > len(days_of):
                    continue
                whole = span == len(days_of)
                unit = "year" if tier == Tier.COLD else "months"
                what = f"the {tier.value} {unit}" if whole else f"inside the {tier.value} {unit}"
                cells.append((span, what, tier, windows(rng, days_of, span, args.samples)))
        for _, _, _, wins in cells:
            check_equal({"hot": hot, "compacted": comp}, wins[0])
        console.print(
            "checks: every day is in its policy tier; the hot and compacted layouts returned "
            f"equal frames for {', '.join(f'{w[0][0]}..{w[0][1]}' for *_, w in cells)} "
            f"({time.perf_counter() - began:.1f} s)"
        )

        # ---------------------------------------------------------------- scans
        began = time.perf_counter()
        scans = []
        for span, what, tier, wins in cells:
            snaps = {"hot": hot, tier.value: comp}
            measured = {v: time_scans(snaps, wins, rows, v) for v in (True, False)}
            files = {"hot": files_read(hot, wins[0]), tier.value: files_read(comp, wins[0])}
            scans.append((span, what, files, measured))
        console.print(f"scans: measured in {time.perf_counter() - began:.1f} s")

        # ---------------------------------------------------------------- bytes
        comp_bytes: Counter[Tier] = Counter()
        comp_files: Counter[Tier] = Counter()
        for f in comp.manifest.files:
            comp_bytes[f.tier] += f.bytes
            comp_files[f.tier] += 1
        hot_bytes: Counter[Tier] = Counter()
        for day, tier in tiers.items():
            hot_bytes[tier] += hot_days[day][0].bytes

    # -------------------------------------------------------------------- report
    def best(runs: list[Run]) -> Run:
        return min(runs, key=lambda r: r.wall)

    fastest = min(peers, key=lambda w: best(peers[w]).wall)
    limit = best(peers[fastest])
    out = Table(
        title=f"compaction into {len(groups)} month/year files: {moved:,} rows, "
        f"{moved_bytes / 1e6:,.1f} MB of hot input; best and median of {args.repeat} runs"
    )
    for name in (
        "pipeline",
        "best s",
        "median s",
        "CPU s\n(best run)",
        "rows/s",
        "input MB/s",
        "throughput vs\nfastest peer",
    ):
        out.add_column(name, justify="left" if name == "pipeline" else "right")
    lines = [
        ("peer: read_table + concat_tables + write_table, one output after another", peers[1]),
        (f"peer: the same on a {WORKERS}-thread pool (compaction's default width)", peers[WORKERS]),
        (
            "[bold]t0lake.compact[/bold]: outputs re-proven from the bytes read back, committed",
            ours,
        ),
    ]
    for name, runs in lines:
        b = best(runs)
        out.add_row(
            name,
            f"{b.wall:.2f}",
            f"{statistics.median(r.wall for r in runs):.2f}",
            f"{b.cpu:.2f}",
            f"{moved / b.wall:,.0f}",
            f"{moved_bytes / 1e6 / b.wall:,.1f}",
            f"{limit.wall / b.wall:.2f}x",
        )
    console.print(out)
    ratio = limit.wall / best(ours).wall
    verdict = "[green]met[/green]" if ratio >= TARGET else "[red]NOT met[/red]"
    console.print(
        f"issue 15 target, compaction throughput: fastest peer {limit.wall:.2f} s / t0lake "
        f"{best(ours).wall:.2f} s (best of {args.repeat} each) = {ratio:.2f}x (target >= "
        f"{TARGET}x): {verdict}"
    )

    out = Table(
        title="where the CPU goes: each step alone, every output one after another, "
        "CPU seconds (all threads; best of 2)"
    )
    for name in ("step", "t0lake", "peer"):
        out.add_column(name, justify="left" if name == "step" else "right")
    for (name, peer_name), t, p in zip(STEPS, ours_steps, peer_steps, strict=True):
        out.add_row(name, f"{t:.2f}", f"{p:.2f} ({peer_name})" if peer_name else "-")
    out.add_row("[bold]total[/bold]", f"{sum(ours_steps):.2f}", f"{sum(peer_steps):.2f}")
    console.print(out)
    cores = os.cpu_count() or 1
    console.print(
        f"CPU of the timed best runs: t0lake {best(ours).cpu:.2f} s, fastest peer "
        f"{limit.cpu:.2f} s (ratio {limit.cpu / best(ours).cpu:.2f}x); spread perfectly over "
        f"{cores} cores compaction needs >= {best(ours).cpu / cores:.2f} s"
    )

    out = Table(
        title=f"range scans of the same days per layout, all {len(ALL_COLUMNS)} columns, "
        f"ms (p50 of {args.samples} reads)"
    )
    for name in ("days", "range", "layout", "files", "verified", "x hot", "verify=False", "x hot"):
        out.add_column(name, justify="left" if name in ("range", "layout") else "right")
    for span, what, files, measured in scans:
        for layout, nfiles in files.items():
            cells_out = [str(span), what, layout, str(nfiles)]
            for v in (True, False):
                ms = p50_ms(measured[v][layout])
                cells_out += [f"{ms:,.1f}", f"{ms / p50_ms(measured[v]['hot']):.2f}x"]
            out.add_row(*cells_out)
    console.print(out)

    out = Table(title="bytes per tier after compaction vs the same days as hot files")
    for name in ("tier", "days", "files", "MB", "same days hot, MB", "x hot", "peer's files, MB"):
        out.add_column(name, justify="left" if name == "tier" else "right")
    for tier in Tier:
        level = POLICY.options(tier).compression_level
        out.add_row(
            f"{tier.value} (zstd {level})",
            str(len(region[tier])),
            str(comp_files[tier]),
            f"{comp_bytes[tier] / 1e6:,.2f}",
            f"{hot_bytes[tier] / 1e6:,.2f}",
            f"{comp_bytes[tier] / hot_bytes[tier]:.2f}x",
            "-" if tier == Tier.HOT else f"{peer_sizes[tier] / 1e6:,.2f}",
        )
    total = sum(comp_bytes.values())
    out.add_row(
        "all",
        str(args.days),
        str(sum(comp_files.values())),
        f"{total / 1e6:,.2f}",
        f"{in_bytes / 1e6:,.2f}",
        f"{total / in_bytes:.2f}x",
        "",
    )
    console.print(out)
    load_after = os.getloadavg()
    console.print(
        f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, "
        f"polars {pl.__version__}, pyarrow {pa.__version__}; load average (1 min) "
        f"{load_before[0]:.2f} at start, {load_after[0]:.2f} at end"
    )


if __name__ == "__main__":
    main()
