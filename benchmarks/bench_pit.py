"""Point-in-time join: t0lake ``pit_join`` against four peers at equal semantics.

    python benchmarks/bench_pit.py                 # 1M events x 5M feature rows
    python benchmarks/bench_pit.py --large         # 10M x 50M (memory mode; run it alone)
    python benchmarks/bench_pit.py --events 200000 --features 1000000 --repeat 1

The semantics every method is asked for (``docs/pit-join.md``): for each event, the feature
row of its entity with the latest ``ts`` strictly before ``t0`` and at most 7 days old, ties
on ``ts`` broken by the latest ``created``; one output row per event, in event order; no
match -> NULL. The data has ties on ``ts``, events exactly at a feature's ``ts``, entities
with no rows and duplicated events, so a method that differs shows it in the "differs"
column (rows whose feature value is not t0lake's; t0lake itself is held to a brute-force
reference by the property tests).

Peers, each hand-written to those semantics as far as it can express them:
* Polars ``join_asof`` (by, backward, ``allow_exact_matches=False``, tolerance 7d) on
  features sorted by (ts, created) (for the "sorted" layout it is told they already are, so
  it does not sort) and events sorted by t0, results scattered back to event order;
* pandas ``merge_asof`` (the same options and the same help; it takes the last of several
  rows with equal ``ts``, i.e. the latest ``created`` after that sort);
* DuckDB ``ASOF LEFT JOIN`` (``f.ts < e.t0``), the age limit applied after (an ASOF join
  has one inequality); which of several rows with equal ``ts`` it takes is not specified;
* a Feast-style template in DuckDB: join events to features on the entity within the
  window, ``ROW_NUMBER() OVER (PARTITION BY event ORDER BY ts DESC, created DESC)``, keep 1.

Each (method, layout) runs in a fresh subprocess that loads the same Arrow IPC files, so
peak memory is per method: the peak resident set of its first run (VmHWM, reset just
before the join) and the resident set before it (the loaded data). Time is the best of
``--repeat`` runs of the join alone, including any sorting and the return to event order;
the first run includes one-time costs (t0lake: importing numba and loading its compiled
merge loop, ~1 s), later runs do not. Data is generated
deterministically (numpy seed 8).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table

MAX_AGE_DAYS = 7
SPAN_DAYS = 120
START = np.datetime64("2026-01-01T00:00:00", "us")
METHODS = ["t0lake", "polars", "pandas", "duckdb_asof", "feast_sql"]
LAYOUTS = ["sorted", "shuffled"]


# --------------------------------------------------------------------------- data


def generate(n_events: int, n_features: int, directory: Path) -> None:
    """Events and features as Arrow IPC files (features twice: (ts, created)-sorted and
    shuffled). Deterministic: the same sizes give the same bytes."""
    rng = np.random.default_rng(8)
    entities = max(1, n_events // 10)
    span_s = SPAN_DAYS * 86_400
    us = 1_000_000
    ids = rng.integers(0, entities, n_features)
    ts_s = rng.integers(0, span_s, n_features)
    tie = rng.random(n_features) < 0.02  # 2 % repeat the (id, ts) of another row
    src = rng.integers(0, n_features, int(tie.sum()))
    ids[tie], ts_s[tie] = ids[src], ts_s[src]
    ts = START + ts_s * us
    created = ts + rng.integers(0, 3_600, n_features) * us
    features = pl.DataFrame(
        {
            "id": ids,
            "ts": ts,
            "created": created,
            "x": rng.standard_normal(n_features),
            "n": rng.integers(0, 1_000, n_features),
        }
    )
    ev_ids = rng.integers(0, int(entities * 1.05), n_events)  # 5 % entities have no rows
    ev_t0 = START + rng.integers(0, span_s, n_events) * us
    exact = rng.random(n_events) < 0.05  # 5 % exactly at some feature row's ts
    pick = rng.integers(0, n_features, int(exact.sum()))
    ev_ids[exact], ev_t0[exact] = ids[pick], ts[pick]
    dup = rng.random(n_events) < 0.01  # 1 % duplicate another event
    src = rng.integers(0, n_events, int(dup.sum()))
    ev_ids[dup], ev_t0[dup] = ev_ids[src], ev_t0[src]
    # label: the event's row number, which the SQL peers order by to return event order
    events = pl.DataFrame({"id": ev_ids, "t0": ev_t0, "label": np.arange(n_events)})
    events.write_ipc(directory / "events.arrow")
    features.sort("ts", "created").write_ipc(directory / "features_sorted.arrow")
    features.sample(fraction=1.0, shuffle=True, seed=8).write_ipc(
        directory / "features_shuffled.arrow"
    )


# --------------------------------------------------------------------------- methods


def run_t0lake(ev: Any, ft: Any, presorted: bool) -> np.ndarray[Any, Any]:
    """t0lake is not told the layout: it checks the order itself."""
    import t0lake

    out = t0lake.pit_join(
        ev, ft, by="id", t0="t0", ts="ts", created="created", max_age=f"{MAX_AGE_DAYS}d"
    )
    return out.get_column("x").to_numpy()


def _event_order(t0: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Events sorted by t0 for the asof peers; scattering results back by this order is
    cheaper than sorting the joined frame by a row number."""
    return np.argsort(t0, kind="stable")


def _back(order: np.ndarray[Any, Any], x_sorted: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    x = np.empty(len(order), dtype=np.float64)
    x[order] = x_sorted
    return x


def run_polars(ev: Any, ft: Any, presorted: bool) -> np.ndarray[Any, Any]:
    from datetime import timedelta

    right = ft if presorted else ft.sort("ts", "created", maintain_order=True)
    order = _event_order(ev.get_column("t0").to_numpy())
    out = ev[order].join_asof(
        right,
        left_on="t0",
        right_on="ts",
        by="id",
        strategy="backward",
        allow_exact_matches=False,
        tolerance=timedelta(days=MAX_AGE_DAYS),
        check_sortedness=False,
    )
    return _back(order, out.get_column("x").to_numpy())


def run_pandas(ev: Any, ft: Any, presorted: bool) -> np.ndarray[Any, Any]:
    import pandas as pd

    right = ft if presorted else ft.sort_values(["ts", "created"], kind="stable")
    order = _event_order(ev["t0"].to_numpy())
    out = pd.merge_asof(
        ev.iloc[order],
        right,
        left_on="t0",
        right_on="ts",
        by="id",
        direction="backward",
        allow_exact_matches=False,
        tolerance=pd.Timedelta(days=MAX_AGE_DAYS),
    )
    return _back(order, out["x"].to_numpy())


def _duckdb(sql: str, ev: Any, ft: Any) -> np.ndarray[Any, Any]:
    """DuckDB sorts or hashes as it sees fit; it is not told the layout."""
    import duckdb

    con = duckdb.connect()
    con.register("events", ev)
    con.register("features", ft)
    out = con.execute(sql).to_arrow_table()
    return out.column("x").to_numpy(zero_copy_only=False)


def run_duckdb_asof(ev: Any, ft: Any, presorted: bool) -> np.ndarray[Any, Any]:
    return _duckdb(
        f"""
        SELECT e.*, CASE WHEN f.ts >= e.t0 - INTERVAL {MAX_AGE_DAYS} DAY THEN f.x END AS x
          FROM events e
          ASOF LEFT JOIN features f ON e.id = f.id AND e.t0 > f.ts
         ORDER BY e.label
        """,
        ev,
        ft,
    )


def run_feast_sql(ev: Any, ft: Any, presorted: bool) -> np.ndarray[Any, Any]:
    return _duckdb(
        f"""
        WITH joined AS (
          SELECT e.label, f.x,
                 row_number() OVER (PARTITION BY e.label
                                    ORDER BY f.ts DESC, f.created DESC) AS rn
            FROM events e JOIN features f
              ON f.id = e.id AND f.ts < e.t0
             AND f.ts >= e.t0 - INTERVAL {MAX_AGE_DAYS} DAY
        )
        SELECT e.*, joined.x
          FROM events e LEFT JOIN joined ON joined.label = e.label AND joined.rn = 1
         ORDER BY e.label
        """,
        ev,
        ft,
    )


RUNNERS: dict[str, Callable[[Any, Any, bool], np.ndarray[Any, Any]]] = {
    "t0lake": run_t0lake,
    "polars": run_polars,
    "pandas": run_pandas,
    "duckdb_asof": run_duckdb_asof,
    "feast_sql": run_feast_sql,
}


def _load(method: str, directory: Path, layout: str) -> tuple[Any, Any]:
    import pyarrow as pa

    def table(name: str) -> pa.Table:
        with pa.memory_map(str(directory / name)) as source:
            return pa.ipc.open_file(source).read_all().combine_chunks()

    ev, ft = table("events.arrow"), table(f"features_{layout}.arrow")
    if method == "pandas":
        return ev.to_pandas(), ft.to_pandas()
    if method in ("t0lake", "polars"):
        return pl.from_arrow(ev), pl.from_arrow(ft)
    return ev, ft  # DuckDB scans Arrow tables in place


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def child(method: str, directory: Path, layout: str, repeat: int, out: Path) -> None:
    """One method in this (fresh) process: load, reset the peak, join, report."""
    ev, ft = _load(method, directory, layout)
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current RSS (Linux >= 4.0)
    before = _status_kib("VmRSS")
    best = float("inf")
    peak = 0
    x = None
    for _ in range(max(1, repeat)):
        x = None  # the previous result is freed before the next run
        start = time.perf_counter()
        x = RUNNERS[method](ev, ft, layout == "sorted")
        best = min(best, time.perf_counter() - start)
        # the peak of the first run: later runs would add the allocator's leftovers
        peak = peak or _status_kib("VmHWM")
    np.save(out, np.asarray(x, dtype=np.float64))
    print(json.dumps({"seconds": best, "rss_before_kib": before, "peak_kib": peak}))


# --------------------------------------------------------------------------- driver


def _measure(method: str, directory: Path, layout: str, repeat: int) -> dict[str, Any]:
    out = directory / f"x_{method}_{layout}.npy"
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            method,
            str(directory),
            layout,
            str(repeat),
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["x"] = np.load(out)
    return result


def _differs(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> int:
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return int((~same).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=5_000_000)
    parser.add_argument("--large", action="store_true", help="10M events x 50M feature rows")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args()
    if args.large:
        args.events, args.features, args.repeat = 10_000_000, 50_000_000, 1
    methods = args.methods.split(",")
    args.load_before = os.getloadavg()[0]
    console = Console(width=max(Console().width, 130))
    with tempfile.TemporaryDirectory(prefix="t0lake-bench-pit-") as tmp:
        directory = Path(tmp)
        with console.status(f"generating {args.events:,} events x {args.features:,} rows"):
            generate(args.events, args.features, directory)
        rows: list[dict[str, Any]] = []
        for layout in args.layouts.split(","):
            results: dict[str, dict[str, Any]] = {}
            for method in methods:
                with console.status(f"{method} ({layout})"):
                    results[method] = _measure(method, directory, layout, args.repeat)
            rows.extend(_rows(layout, results))
        _print(console, args, rows)
        if args.json:
            print(json.dumps(rows))


def _rows(layout: str, results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    ok = {m: r for m, r in results.items() if "error" not in r}
    reference = ok.get("t0lake", {}).get("x")
    peers = {m: r for m, r in ok.items() if m != "t0lake"}
    agreeing = [r for r in peers.values() if reference is None or not _differs(r["x"], reference)]
    fastest = min((r["seconds"] for r in peers.values()), default=float("nan"))
    fastest_agreeing = min((r["seconds"] for r in agreeing), default=float("nan"))
    leanest = min((r["peak_kib"] for r in peers.values()), default=float("nan"))
    rows = []
    for method, r in results.items():
        if "error" in r:
            rows.append({"layout": layout, "method": method, "error": r["error"]})
            continue
        rows.append(
            {
                "layout": layout,
                "method": method,
                "seconds": r["seconds"],
                "vs_fastest_peer": r["seconds"] / fastest,
                "vs_fastest_agreeing_peer": r["seconds"] / fastest_agreeing,
                "peak_gib": r["peak_kib"] / 2**20,
                "data_gib": r["rss_before_kib"] / 2**20,
                "peak_vs_leanest_peer": r["peak_kib"] / leanest,
                "differs": None if reference is None else _differs(r["x"], reference),
                "matched": int((~np.isnan(r["x"])).sum()),
            }
        )
    return rows


def _print(console: Console, args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    table = Table(
        title=f"point-in-time join, {args.events:,} events x {args.features:,} feature rows "
        f"(best of {args.repeat}; 1-min load {args.load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after)"
    )
    for name in (
        "features",
        "method",
        "seconds",
        "x fastest peer",
        "x fastest agreeing",
        "peak RSS GiB",
        "data GiB",
        "x leanest peer",
        "matched",
        "differs from t0lake",
    ):
        table.add_column(name, justify="left" if name in ("features", "method") else "right")
    for r in rows:
        if "error" in r:
            table.add_row(r["layout"], r["method"], "error: " + r["error"][:60])
            continue
        table.add_row(
            r["layout"],
            r["method"],
            f"{r['seconds']:.2f}",
            f"{r['vs_fastest_peer']:.2f}",
            f"{r['vs_fastest_agreeing_peer']:.2f}",
            f"{r['peak_gib']:.2f}",
            f"{r['data_gib']:.2f}",
            f"{r['peak_vs_leanest_peer']:.2f}",
            f"{r['matched']:,}",
            "-" if r["method"] == "t0lake" else f"{r['differs']:,}",
        )
    console.print(table)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, name, folder, kind, times, target = sys.argv
        child(name, Path(folder), kind, int(times), Path(target))
    else:
        main()
