"""The distributed point-in-time join (``pit_join_dask``) beside the local ``pit_join``.

    python benchmarks/bench_pit_dask.py --events 1e6 --features 5e6      # a check
    python benchmarks/bench_pit_dask.py                                  # 10M x 50M
    python benchmarks/bench_pit_dask.py --events 6e7 --features 3e8 --skip-local \\
        --memory-limit 6GiB                  # beyond what the local join can hold in 24 GiB

The semantics are bench_pit.py's (``docs/pit-join.md``): per event, the row of its entity
with the latest ``ts`` strictly before ``t0`` and at most 7 days old, ties on ``ts`` to the
latest ``created``; one row per event, in event order. Data (numpy seed 8 + part number):
entities = events / 10, 5 % of events' entities have no rows, features in no time order.
It is written first as Parquet, one file per part of at most ``--part-rows`` rows, part by
part, so no process ever holds all of it: the driver generates one part at a time, the
local join reads all of it (that is what it needs), the Dask join's workers one file each.

Both joins read the same files and write their result as Parquet (nothing returns to the
driver); the script then checks the Dask result equals the local one on every row (the
matched ``x`` per event, in event order) when both ran. Measured:

* local: a fresh process reads the Parquet with Polars and runs ``t0lake.pit_join``; its
  wall time (read + join + write), its CPU (user + sys) and its peak RSS (VmHWM);
* dask: a ``distributed.LocalCluster`` of 2 worker processes of 1 thread each with
  ``--memory-limit`` per worker (Dask spills above 60 % of it and pauses at 80 %;
  distributed's P2P shuffle buffers on disk), ``pit_join_dask(..., order="events")``,
  written with ``to_parquet``; wall time from building the graph to the last file, the
  workers' CPU, and the peak RSS of each worker process (``ru_maxrss``, the workers are
  fresh processes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

MAX_AGE = "7d"
SPAN_DAYS = 120
START = np.datetime64("2026-01-01T00:00:00", "us")
GIB = 1024**3


# --------------------------------------------------------------------------- data


def _parts(total: int, per: int) -> list[int]:
    n = max(1, -(-total // per))
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


def generate(n_events: int, n_features: int, part_rows: int, directory: Path) -> None:
    """Events and features as Parquet, part by part (the driver holds one part at most)."""
    entities = max(1, n_events // 10)
    span_s = SPAN_DAYS * 86_400
    us = 1_000_000
    for side, total in (("features", n_features), ("events", n_events)):
        (directory / side).mkdir(parents=True)
        label = 0
        for i, rows in enumerate(_parts(total, part_rows)):
            rng = np.random.default_rng([8, i, side == "events"])
            if side == "features":
                ts = START + rng.integers(0, span_s, rows) * us
                frame = pl.DataFrame(
                    {
                        "id": rng.integers(0, entities, rows),
                        "ts": ts,
                        "created": ts + rng.integers(0, 3_600, rows) * us,
                        "x": rng.standard_normal(rows),
                    }
                )
            else:
                frame = pl.DataFrame(
                    {
                        "id": rng.integers(0, int(entities * 1.05), rows),
                        "t0": START + rng.integers(0, span_s, rows) * us,
                        "label": np.arange(label, label + rows),
                    }
                )
                label += rows
            frame.write_parquet(directory / side / f"part-{i:05d}.parquet")


def _files(directory: Path) -> list[str]:
    return sorted(str(p) for p in directory.glob("*.parquet"))


# --------------------------------------------------------------------------- the joins


def _load() -> float:
    return os.getloadavg()[0]


def local_child(directory: Path, out: Path) -> None:
    """Runs in its own process: read everything, join, write; print the figures."""
    import t0lake

    start, cpu = time.perf_counter(), time.process_time()
    events = pl.read_parquet(_files(directory / "events"))
    features = pl.read_parquet(_files(directory / "features"))
    joined = t0lake.pit_join(events, features, "id", "t0", "ts", created="created", max_age=MAX_AGE)
    joined.select("label", "x").write_parquet(out)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "wall": time.perf_counter() - start,
                "cpu": time.process_time() - cpu,
                "peak_gib": usage.ru_maxrss * 1024 / GIB,
            }
        )
    )


def run_local(directory: Path, out: Path) -> dict[str, Any]:
    code = [sys.executable, __file__, "--local-child", str(directory), str(out)]
    done = subprocess.run(code, capture_output=True, text=True, check=False)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["killed"])[-1]}
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _worker_usage() -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"peak_gib": usage.ru_maxrss * 1024 / GIB, "cpu": usage.ru_utime + usage.ru_stime}


def run_dask(directory: Path, out: Path, memory_limit: str, spill: Path) -> dict[str, Any]:
    import dask
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from t0lake.pit.distributed import pit_join_dask

    with (
        dask.config.set({"temporary-directory": str(spill)}),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=":0",
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: __import__("t0lake.pit.distributed"))  # imports are not the join
        before = client.run(_worker_usage)
        start = time.perf_counter()
        events = dd.read_parquet(_files(directory / "events"), dtype_backend="pyarrow")
        features = dd.read_parquet(_files(directory / "features"), dtype_backend="pyarrow")
        joined = pit_join_dask(
            events, features, "id", "t0", "ts", created="created", max_age=MAX_AGE
        )
        joined[["label", "x"]].to_parquet(out, write_index=False)
        wall = time.perf_counter() - start
        after = client.run(_worker_usage)
    workers = sorted(after)
    return {
        "wall": wall,
        "cpu": sum(after[w]["cpu"] - before[w]["cpu"] for w in workers),
        "peaks_gib": [after[w]["peak_gib"] for w in workers],
        "partitions": (events.npartitions, features.npartitions),
    }


def differing(local: Path, distributed: Path) -> int:
    """Events whose matched x differs (NULL vs value counts), in event order."""
    a = pl.read_parquet(local)
    b = pl.read_parquet(_files(distributed))
    if a.get_column("label").to_list() != b.get_column("label").to_list():
        return -1  # not in event order
    x, y = a.get_column("x"), b.get_column("x")
    same = (x == y) | (x.is_null() & y.is_null())
    return int((~same.fill_null(False)).sum())


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=float, default=10_000_000)
    parser.add_argument("--features", type=float, default=50_000_000)
    parser.add_argument("--part-rows", type=float, default=2_500_000)
    parser.add_argument("--memory-limit", default="6GiB", help="per Dask worker")
    parser.add_argument("--skip-local", action="store_true", help="only the Dask join")
    parser.add_argument("--dir", type=Path, default=None, help="keep the data here")
    parser.add_argument("--local-child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.local_child:
        local_child(*args.local_child)
        return
    n_ev, n_ft, per = int(args.events), int(args.features), int(args.part_rows)
    root = Path(args.dir or tempfile.mkdtemp(prefix="t0lake-bench-pit-dask-"))
    try:
        data = root / f"data-{n_ev}-{n_ft}-{per}"
        if not data.exists():
            generate(n_ev, n_ft, per, data)
        print(f"{n_ev:,} events x {n_ft:,} feature rows, parts of {per:,} rows, in {data}")
        load_before = _load()
        local: dict[str, Any] | None = None
        if not args.skip_local:
            local = run_local(data, root / "local.parquet")
        spill = root / "spill"
        spill.mkdir(exist_ok=True)
        shutil.rmtree(root / "dask.parquet", ignore_errors=True)
        dist = run_dask(data, root / "dask.parquet", args.memory_limit, spill)
        load_after = _load()
        print(f"1-min load average: {load_before:.1f} before, {load_after:.1f} after")
        print("| join | wall s | CPU s | peak RSS GiB | x local wall | rows differing |")
        print("|---|---:|---:|---:|---:|---:|")
        if local is not None and "error" not in local:
            print(
                f"| local `pit_join` | {local['wall']:.1f} | {local['cpu']:.1f} | "
                f"{local['peak_gib']:.2f} | 1.00 | — |"
            )
        elif local is not None:
            print(f"| local `pit_join` | failed: {local['error']} | | | | |")
        ratio = f"{dist['wall'] / local['wall']:.2f}" if local and "error" not in local else "—"
        diff = (
            f"{differing(root / 'local.parquet', root / 'dask.parquet'):,}"
            if local and "error" not in local
            else "—"
        )
        peaks = " / ".join(f"{p:.2f}" for p in dist["peaks_gib"])
        print(
            f"| `pit_join_dask`, 2 workers x {args.memory_limit} | {dist['wall']:.1f} | "
            f"{dist['cpu']:.1f} | {peaks} (per worker) | {ratio} | {diff} |"
        )
        print(f"input partitions (events, features): {dist['partitions']}")
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
