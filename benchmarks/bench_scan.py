"""Range-scan latency: t0lake reads (verified and not) vs DuckDB and Polars on the same files.

Targets (issue 18), each printed as a ratio measured in the same run, met / not met:

* the proof's CPU <= 1.5x the CPU of sha256 over the same canonical bytes (the streams of
  docs/hashing.md of every (day, column) a 30-day all-column read returns);
* local disk, 30 days x all columns: verified p50 <= 1.6x the faster of Polars and DuckDB,
  ``verify=False`` <= 1.1x;
* moto S3, 30 days x all columns: ``verify=False`` <= 1.1x Polars on S3, verified <= 1.4x.

    .venv/bin/python benchmarks/bench_scan.py [--days 365] [--rows-per-day 10000]
        [--ranges 1,7,30,90] [--samples 15] [--s3-samples 5] [--no-s3] [--seed 7]

Needs no Postgres: the lake format is plain files plus a manifest, so the script writes a
synthetic lake of ``--days`` days (one key-sorted Parquet file per day, hashed and written
as the exporter does, committed as one manifest with the real commit protocol) to a
temporary directory and, unless ``--no-s3``, the same bytes to a moto S3 server it starts.
Every engine reads the file list the manifest says is live for the range, so all read the
same bytes; row counts are checked on every read and whole frames once per storage.
Latencies include ``snap.files()`` for DuckDB and Polars, as a user of the lake pays it.

The machine may be shared, so besides wall times the script prints CPU time
(``time.process_time``: every thread of this process; the moto server's own CPU is not
in it) per engine, and the floor a verified read cannot go under on this machine: the CPU
of Polars' decode plus the proof's, spread perfectly over its cores, and, measured, the
wall time of Polars' decode while sha256 hashes the proof's bytes at the same time (and
while the proof itself runs: what perfect overlap of the two would give).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
from bench_hash import best_of
from rich.console import Console
from rich.table import Table

import t0lake
from t0lake import hashing
from t0lake._util.frames import column_to_arrow
from t0lake.lake import commit
from t0lake.lake.manifest import FileEntry, Manifest, Operation, schema_hash, schema_to_b64
from t0lake.lake.snapshot import Snapshot
from t0lake.lake.storage import LakeStorage, open_storage
from t0lake.lake.writer import write_day
from t0lake.testing import moto_server

EP = "bench.scan_v"
KEY = ("listing_id",)
FIRST_DAY = date(2025, 1, 1)
TARGETS = {  # issue 18: (what, ours, peer, the ratio not to exceed)
    "proof": 1.5,
    "local verified": 1.6,
    "local verify=False": 1.1,
    "S3 verify=False": 1.1,
    "S3 verified": 1.4,
}

SCHEMA = pa.schema(
    [
        pa.field("listing_id", pa.int64()),  # nullable, as every exported column
        pa.field("generation", pa.int32()),
        pa.field("t0", pa.timestamp("us", tz="UTC")),
        pa.field("price", pa.float64()),
        pa.field("score", pa.float32()),
        pa.field("views", pa.int64()),
        pa.field("is_weekend", pa.bool_()),
        pa.field("title", pa.string()),
        pa.field("listed_on", pa.date32()),
        pa.field("amount", pa.decimal128(12, 3)),
        pa.field("seller_id", pa.int32()),
        pa.field("damage_score", pa.float64()),
    ]
)
ALL_COLUMNS = tuple(SCHEMA.names)
THREE_COLUMNS = ("listing_id", "t0", "price")
COLUMN_SETS = {"3": THREE_COLUMNS, "all": ALL_COLUMNS}

ENGINES = ("t0lake verified", "t0lake verify=False", "DuckDB", "Polars")
_SHORT = {
    "t0lake verified": "t0lake",
    "t0lake verify=False": "unverified",
    "DuckDB": "DuckDB",
    "Polars": "Polars",
}

# --------------------------------------------------------------------------- the synthetic lake


def make_day(rng: np.random.Generator, index: int, rows: int) -> pa.Table:
    """One day of a feature table, sorted by (and unique in) ``listing_id`` across the lake."""
    day = FIRST_DAY + timedelta(days=index)
    day_us = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000
    sparse = rng.random(rows) < 0.03
    words = np.array([f"listing-{i:05d}" for i in range(5000)])
    thousandths = rng.integers(0, 10**9, rows, dtype=np.int64)  # < 10^9: fits numeric(12, 3)
    words_of_decimal = np.zeros((rows, 2), dtype=np.int64)  # little-endian int128, all >= 0
    words_of_decimal[:, 0] = thousandths
    amount = pa.Array.from_buffers(
        pa.decimal128(12, 3), rows, [None, pa.py_buffer(words_of_decimal.tobytes())]
    )
    columns = {
        "listing_id": index * rows * 4 + np.cumsum(rng.integers(1, 4, rows, dtype=np.int64)),
        "generation": rng.integers(0, 20, rows, dtype=np.int32),
        "t0": (day_us + rng.integers(0, 86_400_000_000, rows)).astype("datetime64[us]"),
        "price": pa.array(rng.normal(500, 100, rows), mask=sparse),
        "score": rng.random(rows).astype(np.float32),
        "views": pa.array(
            rng.integers(0, 100_000, rows, dtype=np.int64), mask=rng.random(rows) < 0.1
        ),
        "is_weekend": rng.random(rows) < 2 / 7,
        "title": pa.array(words[rng.integers(0, len(words), rows)], mask=rng.random(rows) < 0.02),
        "listed_on": pa.array(
            (np.datetime64(day) - rng.integers(0, 365, rows)).astype("datetime64[D]")
        ),
        "amount": amount,
        "seller_id": rng.integers(0, 50_000, rows, dtype=np.int32),
        "damage_score": rng.random(rows),
    }
    return pa.table(
        {name: pa.array(columns[name]).cast(SCHEMA.field(name).type) for name in SCHEMA.names},
        schema=SCHEMA,
    )


def write_lake(storage: LakeStorage, days: int, rows: int, seed: int) -> list[FileEntry]:
    """Hash, write and describe each day exactly as the exporter does (minus Postgres)."""
    rng = np.random.default_rng(seed)
    entries = []
    for index in range(days):
        day = FIRST_DAY + timedelta(days=index)
        table = make_day(rng, index, rows)
        entries.append(write_day(storage, EP, day, table, KEY))
    return entries


def commit_lake(storage: LakeStorage, entries: list[FileEntry]) -> Manifest:
    """One manifest listing every day, committed with the real protocol."""

    def build(head: Manifest | None) -> Manifest:
        if head is not None:
            raise SystemExit(f"{storage.url} already holds {EP}; the benchmark needs a new lake")
        return Manifest(
            entrypoint=EP,
            snapshot_id=1,
            parent_snapshot_id=None,
            parent_sha256=None,
            committed_at="2026-01-01T00:00:00+00:00",
            operation=Operation.EXPORT,
            key=KEY,
            day_expr="t0::date",
            event_time_col="t0",
            viewdef_hash="synthetic",
            certification={"cert_id": 0, "note": "synthetic lake of benchmarks/bench_scan.py"},
            arrow_schema=schema_to_b64(SCHEMA),
            schema_hash=schema_hash(SCHEMA),
            files=tuple(entries),
            summary={"days": len(entries), "rows_added": sum(e.rows for e in entries)},
            t0lake_version=t0lake.__version__,
        )

    manifest = commit.commit(storage, EP, build)
    assert manifest is not None
    return manifest


def copy_lake(source: LakeStorage, target: LakeStorage, entries: list[FileEntry]) -> None:
    """The same bytes, file by file."""
    for entry in entries:
        target.write_bytes(entry.path, source.read_bytes(entry.path))


# --------------------------------------------------------------------------- the engines


@dataclass
class Target:
    """One copy of the lake and how each engine reaches it."""

    name: str
    snap: Snapshot
    duck: duckdb.DuckDBPyConnection
    polars_options: dict[str, str] | None
    samples: int
    unavailable: dict[str, str] = field(default_factory=dict)  # engine -> why "n/a"


Read = Callable[[Target, date, date, tuple[str, ...]], pl.DataFrame | pa.Table]


def read_t0lake(target: Target, start: date, end: date, cols: tuple[str, ...]) -> pl.DataFrame:
    return target.snap.read(start, end, list(cols))


def read_t0lake_unverified(
    target: Target, start: date, end: date, cols: tuple[str, ...]
) -> pl.DataFrame:
    return target.snap.read(start, end, list(cols), verify=False)


def read_duckdb(target: Target, start: date, end: date, cols: tuple[str, ...]) -> pa.Table:
    relation = target.duck.read_parquet(target.snap.files(start, end), hive_partitioning=False)
    return relation.select(*(duckdb.ColumnExpression(c) for c in cols)).to_arrow_table()


def read_polars(target: Target, start: date, end: date, cols: tuple[str, ...]) -> pl.DataFrame:
    lazy = pl.scan_parquet(
        target.snap.files(start, end),
        hive_partitioning=False,
        storage_options=target.polars_options,
    )
    return lazy.select(cols).collect()


READS: dict[str, Read] = {
    "t0lake verified": read_t0lake,
    "t0lake verify=False": read_t0lake_unverified,
    "DuckDB": read_duckdb,
    "Polars": read_polars,
}


def as_polars(result: pl.DataFrame | pa.Table) -> pl.DataFrame:
    frame = result if isinstance(result, pl.DataFrame) else pl.from_arrow(result)
    assert isinstance(frame, pl.DataFrame)
    return frame


def warm_up_and_check(target: Target, span: int, days: int, rows: int) -> str:
    """Read one range with every engine: an engine that fails here is "n/a" (with the reason)
    and the others must return the very same frame (sorted by key) as t0lake verified."""
    start = FIRST_DAY + timedelta(days=(days - span) // 2)
    end = start + timedelta(days=span - 1)
    frames: dict[str, pl.DataFrame] = {}
    for engine, read in READS.items():
        try:
            frames[engine] = as_polars(read(target, start, end, ALL_COLUMNS)).sort(KEY)
        except Exception as exc:
            if engine.startswith("t0lake"):
                raise
            target.unavailable[engine] = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
    reference = frames["t0lake verified"]
    if reference.height != span * rows:
        raise SystemExit(f"{target.name}: t0lake read {reference.height} rows, not {span * rows}")
    for engine, frame in frames.items():
        same = frame.cast(dict(reference.schema)).equals(reference)  # type: ignore[arg-type]
        if not same:
            raise SystemExit(
                f"{target.name}: {engine} returned different rows than t0lake for {start}..{end}"
            )
    return f"{span} days from {start}: {', '.join(frames)} returned equal frames"


Times = dict[tuple[int, str, str], list[float]]


def measure(
    target: Target, spans: list[int], days: int, rows: int, seed: int
) -> tuple[Times, Times]:
    """Latency and CPU samples per (span, column set, engine). Engines take turns on each
    range (in a rotating order), so every one sees the same ranges and much the same load."""
    rng = np.random.default_rng(seed)
    engines = [e for e in ENGINES if e not in target.unavailable]
    times: Times = {}
    cpu: Times = {}
    for span in spans:
        starts = rng.integers(0, days - span + 1, target.samples)
        for colset, cols in COLUMN_SETS.items():
            for i, offset in enumerate(starts):
                start = FIRST_DAY + timedelta(days=int(offset))
                end = start + timedelta(days=span - 1)
                for engine in engines[i % len(engines) :] + engines[: i % len(engines)]:
                    began, began_cpu = time.perf_counter(), time.process_time()
                    result = READS[engine](target, start, end, cols)
                    elapsed = time.perf_counter() - began
                    used = time.process_time() - began_cpu
                    got = result.height if isinstance(result, pl.DataFrame) else result.num_rows
                    if got != span * rows or len(result.columns) != len(cols):
                        raise SystemExit(
                            f"{target.name}: {engine} read {got} rows x {len(result.columns)} "
                            f"columns for {start}..{end}, expected {span * rows} x {len(cols)}"
                        )
                    times.setdefault((span, colset, engine), []).append(elapsed)
                    cpu.setdefault((span, colset, engine), []).append(used)
    return times, cpu


# --------------------------------------------------------------------------- report


def p50(samples: list[float]) -> float:
    return float(np.percentile(samples, 50)) * 1000


def report(
    console: Console,
    target: Target,
    spans: list[int],
    times: dict[tuple[int, str, str], list[float]],
    rows: int,
) -> None:
    out = Table(
        title=f"{target.name}: range scans of {rows:,} rows/day x {len(ALL_COLUMNS)} columns, "
        f"latency in ms (p50 / p95 / p99 of {target.samples} ranges each)"
    )
    out.add_column("days", justify="right")
    out.add_column("cols", justify="right")
    for engine in ENGINES:
        for q in ("p50", "p95", "p99"):
            out.add_column(f"{_SHORT[engine]}\n{q}", justify="right")
    out.add_column("t0lake p50 /\nbest other", justify="right")
    for span in spans:
        for colset in COLUMN_SETS:
            cells = [str(span), colset]
            for engine in ENGINES:
                samples = times.get((span, colset, engine))
                if samples is None:
                    cells += ["n/a"] * 3
                else:
                    cells += [f"{v * 1000:,.1f}" for v in np.percentile(samples, [50, 95, 99])]
            others = [
                p50(times[(span, colset, e)])
                for e in ("DuckDB", "Polars")
                if e not in target.unavailable
            ]
            ratio = p50(times[(span, colset, "t0lake verified")]) / min(others) if others else None
            cells.append("n/a" if ratio is None else f"{ratio:.2f}x")
            out.add_row(*cells)
    console.print(out)
    for engine, why in target.unavailable.items():
        console.print(f"  {engine} n/a on {target.name}: {why}")


def verdict(ratio: float, limit: float) -> str:
    return "[green]met[/green]" if ratio <= limit else "[red]NOT met[/red]"


def headline(console: Console, target: Target, times: Times, cpu: Times, prefix: str) -> None:
    """The issue-18 targets of one storage: 30 days x all columns, t0lake against the faster
    unverified scanner (local disk) or Polars (S3), wall p50 and CPU median side by side."""
    key = (30, "all")
    if (*key, "t0lake verified") not in times:
        console.print(f"{target.name}: targets not measured (needs 30 in --ranges, >= 30 --days)")
        return
    peers = ("DuckDB", "Polars") if prefix == "local" else ("Polars",)
    others = {e: p50(times[(*key, e)]) for e in peers if (*key, e) in times}
    if not others:
        console.print(f"{target.name}: targets n/a (no peer could read the lake)")
        return
    best = min(others, key=others.__getitem__)
    peer_cpu = float(np.median(cpu[(*key, best)])) * 1000
    for engine, name in (("t0lake verify=False", "verify=False"), ("t0lake verified", "verified")):
        ours = p50(times[(*key, engine)])
        ours_cpu = float(np.median(cpu[(*key, engine)])) * 1000
        limit = TARGETS[f"{prefix} {name}"]
        console.print(
            f"issue 18, {target.name}, 30 days x all columns, t0lake {name}: p50 {ours:,.1f} ms / "
            f"{best} {others[best]:,.1f} ms = {ours / others[best]:.2f}x (target <= {limit}x): "
            f"{verdict(ours / others[best], limit)}; CPU (median) {ours_cpu:,.1f} ms / "
            f"{peer_cpu:,.1f} ms = {ours_cpu / peer_cpu:.2f}x"
        )


def canonical_streams(
    column: pa.Array, field: pa.Field, ranges: list[tuple[int, int]]
) -> list[bytes]:
    """The byte streams docs/hashing.md defines for each (offset, rows) range of a column
    (validity, then values, or lengths and bytes), built once here so that only sha256 over
    them is timed: the hash's own cost over exactly the bytes the proof hashes."""
    from t0lake.hashing.streams import fixed_width_bytes, validity_bytes, varlen_streams
    from t0lake.hashing.types import VARIABLE_WIDTH, canonical_type

    tag = canonical_type(field)
    out = []
    for offset, rows in ranges:
        part = column.slice(offset, rows)
        out.append(validity_bytes(part).tobytes())
        present = part.drop_null()
        if tag in VARIABLE_WIDTH:
            lengths, data = varlen_streams(present, tag, field.name)
            out += [lengths.tobytes(), bytes(data)]
        else:
            out.append(fixed_width_bytes(present, tag, field.name).tobytes())
    return out


@dataclass
class ProofCost:
    """CPU (ms, best of repeats, ``time.process_time``) of the parts of a verified read."""

    span: int
    rows: int
    canonical_bytes: int
    sha256_ms: float
    proof_ms: float
    read_ms: float
    sha256_scaling: float  # sha256 of the same streams on every core, against one thread
    # wall ms, best of repeats: Polars decoding the read's files alone ("decode"), and the
    # same decode while sha256 hashes the proof's streams ("sha256", the faster of one
    # thread or one per core), or while the proof runs on a frame decoded before ("proof")
    alongside: dict[str, float]
    # column -> (median CPU ms of its proof in a pass over every column, best sha256 ms of
    # its streams alone, bytes of its streams): where the proof's time beyond sha256 goes
    columns: dict[str, tuple[float, float, int]]

    def table(self) -> Table:
        out = Table(
            title=f"the proof of a {self.span}-day read, column by column (CPU ms; the proof's "
            f"median over runs of all columns, sha256 alone best of runs)"
        )
        for name in ("column", "proof ms", "sha256 ms", "proof / sha256", "canonical MB"):
            out.add_column(name, justify="left" if name == "column" else "right")
        for name, (proof, sha, size) in sorted(self.columns.items(), key=lambda kv: -kv[1][0]):
            out.add_row(
                name, f"{proof:.2f}", f"{sha:.2f}", f"{proof / sha:.2f}x", f"{size / 1e6:.2f}"
            )
        return out

    def lines(self, polars_wall_ms: float | None, polars_cpu_ms: float | None) -> list[str]:
        cores = os.cpu_count() or 1
        ratio = self.proof_ms / self.sha256_ms
        limit = TARGETS["proof"]
        floor = (self.read_ms + self.proof_ms) / cores
        out = [
            f"issue 18, the proof of a {self.span}-day all-column read ({self.rows:,} rows, "
            f"{self.canonical_bytes / 1e6:,.1f} MB of canonical bytes, "
            f"{self.canonical_bytes / self.rows:.0f} bytes a row): CPU {self.proof_ms:.1f} ms "
            f"(from Polars' frame to every (day, column) digest, one thread) / sha256 over the "
            f"same canonical bytes {self.sha256_ms:.1f} ms = {ratio:.2f}x (target <= {limit}x): "
            f"{verdict(ratio, limit)}",
            f"CPU of the same read by Polars {self.read_ms:.1f} ms; decode + proof spread "
            f"perfectly over {cores} cores: a verified read needs >= {floor:.1f} ms",
        ]
        if polars_wall_ms:
            out.append(
                f"  the floor of a verified read against Polars' p50 wall time of this run "
                f"({polars_wall_ms:.1f} ms): {floor / polars_wall_ms:.2f}x (target "
                f"{TARGETS['local verified']}x)"
            )
        out.append(
            f"sha256 of the same streams on {cores} threads ran {self.sha256_scaling:.2f}x as "
            f"fast as on one (wall time, best of repeats): the cores this machine gives hashing"
        )
        alone, sha, proof = (self.alongside[k] for k in ("decode", "sha256", "proof"))
        out += [
            f"measured floors (wall, best of repeats): Polars' decode of the same files alone "
            f"{alone:.1f} ms; the same decode while sha256 hashes the proof's streams at the "
            f"same time {sha:.1f} ms = {sha / alone:.2f}x the decode alone, while the proof "
            f"runs on a frame decoded before {proof:.1f} ms = {proof / alone:.2f}x (target "
            f"{TARGETS['local verified']}x)",
            "  a verified read decodes and hashes those bytes, so it cannot take less than the "
            "first here; the second is what today's proof reaches if it overlapped the "
            "decode perfectly",
        ]
        if polars_wall_ms:
            # Polars' p50 read also lists the files and sets itself up, as a verified read does
            setup = max(0.0, polars_wall_ms - alone)
            out.append(
                f"  with Polars' own setup of a read ({setup:.1f} ms: its p50 {polars_wall_ms:.1f} "
                f"ms less the decode) added to both, against that p50: "
                f"{(sha + setup) / polars_wall_ms:.2f}x and {(proof + setup) / polars_wall_ms:.2f}x"
            )
        if polars_wall_ms and polars_cpu_ms:
            used = polars_cpu_ms / polars_wall_ms
            out.append(
                f"  at the parallelism Polars' own read reached in this run ({polars_cpu_ms:.1f} "
                f"ms of CPU in {polars_wall_ms:.1f} ms = {used:.2f} cores), decode + proof "
                f"need >= {(self.read_ms + self.proof_ms) / used:.1f} ms = "
                f"{(self.read_ms + self.proof_ms) / used / polars_wall_ms:.2f}x Polars' wall time"
            )
        return out


def proof_cost(snap: Snapshot, span: int, repeat: int = 7) -> ProofCost:
    """CPU of a span-day all-column read by Polars as a verified read decodes it (a chunk per
    file, then combined), of the proof alone over the same rows (as the reader runs it:
    each column out of Polars' frame, every (day, column) digest), and of sha256 alone over
    the canonical streams of the same (day, column) pairs."""
    start = FIRST_DAY
    end = FIRST_DAY + timedelta(days=span - 1)
    files = snap.files(start, end)
    entries = [e for day, (_, e) in sorted(snap.manifest.days().items()) if start <= day <= end]
    offsets = np.cumsum([0] + [e.rows for e in entries])
    ranges = [(int(offset), e.rows) for offset, e in zip(offsets, entries, strict=False)]

    def cpu(fn: Callable[[], object]) -> float:
        best = float("inf")
        for _ in range(repeat):
            began = time.process_time()
            fn()
            best = min(best, time.process_time() - began)
        return best * 1000

    def decode() -> pl.DataFrame:
        # as a verified read decodes: a chunk per file, combined by Polars' threads
        return pl.read_parquet(files, hive_partitioning=False).rechunk()

    frame = decode()
    read_ms = cpu(decode)

    columns: dict[str, list[float]] = {n: [] for n in frame.columns}  # CPU ms per run

    def prove_column(frame: pl.DataFrame, n: str) -> None:
        # as the reader proves a column: out of Polars' frame, every (day, column) digest
        hashing.range_digests(n, column_to_arrow(frame.get_column(n)), snap.schema.field(n), ranges)

    def prove(frame: pl.DataFrame) -> None:
        for n in frame.columns:
            began = time.process_time()
            prove_column(frame, n)
            columns[n].append((time.process_time() - began) * 1000)

    # each run proves a frame just decoded, as a read does (one proven before has had its
    # columns converted, and is no longer in the caches a read finds it in)
    proof_ms = float("inf")
    for _ in range(repeat):
        fresh = decode()
        began = time.process_time()
        prove(fresh)
        proof_ms = min(proof_ms, (time.process_time() - began) * 1000)
    by_column = {
        n: canonical_streams(frame.get_column(n).to_arrow(), snap.schema.field(n), ranges)
        for n in frame.columns
    }
    streams = [b for n in frame.columns for b in by_column[n]]

    def sha_of(name: str) -> float:
        return cpu(lambda: [hashlib.sha256(b).digest() for b in by_column[name]])

    sha_ms = cpu(lambda: [hashlib.sha256(b).digest() for b in streams])
    cores = os.cpu_count() or 1

    def hashes(threads: int) -> Callable[[], Callable[[ThreadPoolExecutor], list[Any]]]:
        shares = [streams[i::threads] for i in range(threads)]
        return lambda: lambda pool: [pool.submit(_hash_all, share) for share in shares]

    def proof_of_fresh_frame() -> Callable[[ThreadPoolExecutor], list[Any]]:
        fresh = decode()
        return lambda pool: [pool.submit(prove_column, fresh, n) for n in fresh.columns]

    jobs = {f"sha256 x{n}": hashes(n) for n in sorted({1, cores})}
    alongside = decode_alongside(files, {**jobs, "proof": proof_of_fresh_frame}, repeat)
    alongside["sha256"] = min(alongside.pop(name) for name in jobs)
    return ProofCost(
        span=span,
        rows=int(offsets[-1]),
        canonical_bytes=sum(len(b) for b in streams),
        sha256_ms=sha_ms,
        proof_ms=proof_ms,
        read_ms=read_ms,
        sha256_scaling=sha256_scaling(streams, repeat),
        alongside=alongside,
        columns={
            n: (
                float(np.median(columns[n])),
                sha_of(n),
                sum(len(b) for b in by_column[n]),
            )
            for n in frame.columns
        },
    )


def sha256_scaling(streams: list[bytes], repeat: int) -> float:
    """Wall time of sha256 over ``streams`` on one thread / on one thread per core (hashlib
    releases the GIL): how much of a second core the hashing of a proof can use here."""
    cores = os.cpu_count() or 1
    shares = [streams[i::cores] for i in range(cores)]
    with ThreadPoolExecutor(max_workers=cores) as pool:
        alone = best_of(repeat, lambda: _hash_all(streams))
        together = best_of(repeat, lambda: list(pool.map(_hash_all, shares)))
    return alone / together


def _hash_all(share: list[bytes]) -> None:
    """sha256 of each buffer (hashlib releases the GIL: threads hash side by side)."""
    for b in share:
        hashlib.sha256(b).digest()


def decode_alongside(
    files: list[str],
    jobs: dict[str, Callable[[], Callable[[ThreadPoolExecutor], list[Any]]]],
    repeat: int,
) -> dict[str, float]:
    """Wall ms (best of ``repeat``) of Polars decoding ``files`` alone (``"decode"``), and of
    the same decode while each job runs in a pool of one thread per core, the two started
    together. A job is prepared untimed before each run (``prepare()`` returns the function
    that submits its work and returns the futures). The machine shares its cores between
    the two however it does: measured, not inferred from CPU times."""

    def decode() -> None:
        pl.read_parquet(files, hive_partitioning=False)

    out = {"decode": best_of(repeat, decode) * 1000}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for name, prepare in jobs.items():
            best = float("inf")
            for _ in range(repeat):
                submit = prepare()
                began = time.perf_counter()
                futures = submit(pool)
                decode()
                for future in futures:
                    future.result()
                best = min(best, time.perf_counter() - began)
            out[name] = best * 1000
    return out


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rows-per-day", type=int, default=10_000)
    parser.add_argument("--ranges", default="1,7,30,90", help="range lengths in days")
    parser.add_argument("--samples", type=int, default=15, help="ranges per cell, local disk")
    parser.add_argument("--s3-samples", type=int, default=5, help="ranges per cell, moto S3")
    parser.add_argument("--no-s3", action="store_true", help="local disk only")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    spans = sorted({int(s) for s in args.ranges.split(",")})
    if not spans or spans[0] < 1 or spans[-1] > args.days:
        parser.error(f"--ranges must be between 1 and --days ({args.days})")

    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="t0lake-bench-scan-") as tmp, _maybe_s3(args) as s3:
        began = time.perf_counter()
        local = open_storage(os.path.join(tmp, "lake"))
        entries = write_lake(local, args.days, args.rows_per_day, args.seed)
        commit_lake(local, entries)
        nbytes = sum(e.bytes for e in entries)
        console.print(
            f"lake: {args.days} days x {args.rows_per_day:,} rows = "
            f"{args.days * args.rows_per_day:,} rows, {len(ALL_COLUMNS)} columns, "
            f"{nbytes / 1e6:,.1f} MB of Parquet; built in {time.perf_counter() - began:.1f} s"
        )
        targets = [
            Target(
                "local disk",
                t0lake.open(local.url).snapshot(EP),
                _duck(None),
                None,
                args.samples,
            )
        ]
        if s3 is not None:
            began = time.perf_counter()
            endpoint, options = s3
            remote = open_storage("s3://t0lake-bench/lake", options, check=False)  # no bucket yet
            remote.fs.mkdir("t0lake-bench")
            copy_lake(local, remote, entries)
            commit_lake(remote, entries)
            snap = t0lake.open(remote.url, storage_options=options).snapshot(EP)
            targets.append(
                Target(
                    "moto S3",
                    snap,
                    _duck(snap.storage.fs),
                    {
                        "aws_endpoint_url": endpoint,
                        "aws_access_key_id": "testing",
                        "aws_secret_access_key": "testing",
                        "aws_region": "us-east-1",
                        "aws_allow_http": "true",
                    },
                    args.s3_samples,
                )
            )
            console.print(f"copied to moto S3 at {endpoint} in {time.perf_counter() - began:.1f} s")

        check_span = min(30, args.days)
        results = []
        for target in targets:
            began = time.perf_counter()
            checked = warm_up_and_check(target, check_span, args.days, args.rows_per_day)
            console.print(f"{target.name}: {checked}")
            times, cpu = measure(target, spans, args.days, args.rows_per_day, args.seed)
            console.print(f"{target.name}: measured in {time.perf_counter() - began:.1f} s")
            results.append((target, times, cpu))
        cost = proof_cost(targets[0].snap, check_span)  # the lake is still there

    for target, times, _ in results:
        report(console, target, spans, times, args.rows_per_day)
    for (target, times, cpu), prefix in zip(results, ("local", "S3"), strict=False):
        headline(console, target, times, cpu, prefix)
    polars_local = results[0][1].get((check_span, "all", "Polars"))
    polars_cpu = results[0][2].get((check_span, "all", "Polars"))
    at_30 = polars_local is not None and check_span == 30
    console.print(cost.table())
    for line in cost.lines(
        p50(polars_local) if at_30 and polars_local else None,
        float(np.median(polars_cpu)) * 1000 if at_30 and polars_cpu else None,
    ):
        console.print(line)
    load_after = os.getloadavg()
    console.print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, duckdb {duckdb.__version__}, polars {pl.__version__}, "
        f"pyarrow {pa.__version__}; load average (1 min) {load_before[0]:.2f} at start, "
        f"{load_after[0]:.2f} at end"
    )


def _duck(fs: Any) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection; on S3 it reads through the lake's s3fs filesystem (httpfs cannot be
    installed offline, so this measures DuckDB's fsspec bridge, not httpfs), and never tries to
    download an extension."""
    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET TimeZone = 'UTC'")
    # no cross-query data cache: every engine reads the bytes on every sample
    con.execute("SET enable_external_file_cache = false")
    if fs is not None:
        con.register_filesystem(fs)
    return con


@contextmanager
def _maybe_s3(args: argparse.Namespace) -> Iterator[tuple[str, dict[str, Any]] | None]:
    if args.no_s3:
        yield None
        return
    with moto_server() as endpoint:
        yield endpoint, {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}


if __name__ == "__main__":
    main()
