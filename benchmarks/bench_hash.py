"""Throughput of t0lake.dataset_hash against hashlib.sha256 over the same number of bytes.

Target (issue 3): the Python hash runs at >= 0.5x the speed of sha256 over the raw bytes of
the table, i.e. it is vectorised over column buffers; per-row Python code is ~100x off.

    .venv/bin/python benchmarks/bench_hash.py [--rows 5000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

import t0lake
from t0lake.hashing.text import _trim_printed, _trim_printed_regex


def make_table(rows: int, seed: int = 7) -> pa.Table:
    """A feature-day-like table: int/float/timestamp/bool/text columns, a few NULLs."""
    rng = np.random.default_rng(seed)
    nulls = rng.random(rows) < 0.02
    words = np.array([f"listing-{i:06d}" for i in range(1000)])
    return pa.table(
        {
            "listing_id": pa.array(np.arange(rows, dtype=np.int64)),
            "generation": pa.array(rng.integers(0, 20, rows, dtype=np.int32)),
            "t0": pa.array(
                (1_700_000_000_000_000 + rng.integers(0, 10**12, rows)).astype("datetime64[us]")
            ).cast(pa.timestamp("us", tz="UTC")),
            "price": pa.array(rng.normal(500, 100, rows), mask=nulls),
            "score": pa.array(rng.random(rows).astype(np.float32)),
            "count_30d": pa.array(rng.integers(0, 1000, rows, dtype=np.int64), mask=nulls),
            "is_weekend": pa.array(rng.random(rows) < 0.3),
            "title": pa.array(words[rng.integers(0, len(words), rows)], mask=nulls),
        }
    )


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def numeric_text_table(rows: int, repeat: int) -> Table:
    """Numeric text as Postgres prints it (the lake holds numeric as text when ADBC gives
    it opaque): 16 fractional digits, a third of the values whole with 16 trailing zeros.
    Its canonical text drops them; Arrow's trims against the two regexes they replaced,
    which stay the reference (tests/hashing/test_text.py)."""
    values = pa.array([f"{(i % 100_000) / 3:.16f}" for i in range(rows)])
    regex = best_of(repeat, lambda: _trim_printed_regex(values))
    trims = best_of(repeat, lambda: _trim_printed(values))
    out = Table(title=f"canonical numeric text of {rows:,} printed values")
    for col in ("what", "ms", "vs the regexes"):
        out.add_column(col, justify="left" if col == "what" else "right")
    out.add_row("two regexes (pyarrow replace_substring_regex)", f"{regex * 1e3:.1f}", "1.00x")
    out.add_row(
        "two trims, the shortened checked (t0lake)", f"{trims * 1e3:.1f}", f"{regex / trims:.2f}x"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--numeric-rows", type=int, default=1_000_000, help="values of the numeric-text part"
    )
    args = parser.parse_args()

    table = make_table(args.rows)
    nbytes = table.nbytes
    raw = os.urandom(nbytes)
    shuffled = table.take(np.random.default_rng(1).permutation(args.rows))

    sha = best_of(args.repeat, lambda: hashlib.sha256(raw).digest())
    rows = [
        ("hashlib.sha256 (1 thread), same bytes", sha),
        (
            "t0lake.dataset_hash, rows in key order",
            best_of(args.repeat, lambda: t0lake.dataset_hash(table, ["listing_id"])),
        ),
        (
            "t0lake.dataset_hash, rows shuffled",
            best_of(args.repeat, lambda: t0lake.dataset_hash(shuffled, ["listing_id"])),
        ),
        (
            "t0lake.dataset_hash, key order, 1 thread",
            best_of(args.repeat, lambda: t0lake.dataset_hash(table, ["listing_id"], threads=1)),
        ),
    ]

    out = Table(
        title=f"dataset hash, {args.rows:,} rows x {table.num_columns} columns, "
        f"{nbytes / 1e6:,.0f} MB"
    )
    for col in ("what", "seconds", "MB/s", "vs sha256"):
        out.add_column(col, justify="left" if col == "what" else "right")
    for name, seconds in rows:
        out.add_row(
            name, f"{seconds:.3f}", f"{nbytes / seconds / 1e6:,.0f}", f"{sha / seconds:.2f}x"
        )
    console = Console()
    console.print(out)
    console.print(numeric_text_table(args.numeric_rows, args.repeat))
    console.print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
