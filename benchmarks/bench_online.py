"""Online reads and sustained writes of the FeatureVector store (seed 003, issue 6).

Targets: ``get_latest_features`` p95 < 5 ms from the cache and < 20 ms without it, under a
concurrent writer, over >= 10k market ids x 100 windows (the seed's goals are p50 < 20 ms and
p95 < 100 ms); and the sustained write rate in vectors/s.

    .venv/bin/python benchmarks/bench_online.py [--markets 10000] [--windows 100]
        [--reads 20000] [--seconds 10] [--writer-rate 1000] [--batch 5000]

Starts a throwaway PostgreSQL 15 (nothing else needed) and prints two tables. Peers measured
in the same run: for reads, the bare indexed ``SELECT ... ORDER BY window_end_ms DESC LIMIT 1``
through psycopg (no decoding, no proofs, no cache); for writes, psycopg binary COPY of the
same rows into a table with the same indexes and CHECKs (no validation, no idempotency).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb
from rich.console import Console
from rich.table import Table

from t0lake import pg
from t0lake.testing import TempPostgres
from t0lake.vectors import FeatureStore
from t0lake.vectors.record import FeatureVector
from t0lake.vectors.schema import FeatureDef, FeatureSchema

SCHEMA = FeatureSchema.of(
    1,
    "bench.orderbook",
    [
        FeatureDef("mid_px", "i64", 8),
        FeatureDef("spread_bps", "i32", 2),
        FeatureDef("depth_bid", "i64", 4),
        FeatureDef("depth_ask", "i64", 4),
        FeatureDef("trades", "i64", 0),
        FeatureDef("volume", "i64", 4),
        FeatureDef("vwap", "i64", 8, nullable=True),
        FeatureDef("realized_vol", "f64", nullable=True),
    ],
)
T0 = 1_768_003_200_000
WIDTH_MS = 30_000
COLUMNS = (
    "window_key", "market_id", "epoch_id", "tick_index", "window_start_ms", "window_end_ms",
    "feature_schema_version", "features_blob", "features_hash", "quality_flags",
    "coverage_json", "created_at_ms", "producer_instance", "trace_id",
)  # fmt: skip


def market(m: int) -> str:
    return f"MKT-{m:06d}"


def vector(m: int, w: int, rng: random.Random) -> FeatureVector:
    px = rng.randrange(1_000_000, 10_000_000)
    return FeatureVector.build(
        SCHEMA,
        market_id=market(m),
        epoch_id=w // 96,
        tick_index=w % 96,
        window_start_ms=T0 + w * WIDTH_MS,
        window_end_ms=T0 + (w + 1) * WIDTH_MS,
        features={
            "mid_px": Decimal(px) / 100,
            "spread_bps": Decimal(rng.randrange(1, 5000)) / 100,
            "depth_bid": rng.randrange(0, 10**9),
            "depth_ask": rng.randrange(0, 10**9),
            "trades": rng.randrange(0, 5000),
            "volume": rng.randrange(0, 10**12),
            "vwap": None if w % 17 == 0 else Decimal(px + rng.randrange(-500, 500)) / 100,
            "realized_vol": None if w % 23 == 0 else rng.random(),
        },
        created_at_ms=T0 + (w + 1) * WIDTH_MS + rng.randrange(100, 2000),
        quality_flags=0,
        coverage_json={"sources": 3},
        producer_instance="bench",
    )


def copy_rows(conn: Any, vectors: list[FeatureVector]) -> None:
    """The peer: binary COPY of the same rows into bench.fv_copy, no checks of our own."""
    statement = sql.SQL("COPY bench.fv_copy ({}) FROM STDIN (FORMAT binary)").format(
        sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
    )
    types = ["bytea", "text", "int8", "int4", "int8", "int8", "int2", "bytea", "bytea", "int8",
             "jsonb", "int8", "text", "text"]  # fmt: skip
    with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.set_types(types)
        for v in vectors:
            copy.write_row(
                (v.window_key, v.market_id, v.epoch_id, v.tick_index, v.window_start_ms,
                 v.window_end_ms, v.feature_schema_version, v.features_blob, v.features_hash,
                 v.quality_flags, Jsonb(dict(v.coverage_json)), v.created_at_ms,
                 v.producer_instance, v.trace_id)
            )  # fmt: skip
    conn.commit()


def load(dsn: str, markets: int, windows: int, batch: int, console: Console) -> dict[str, float]:
    """Write markets x windows vectors in batches; the same rows again by COPY (the peer)."""
    rng = random.Random(6)
    order = [(m, w) for w in range(windows) for m in range(markets)]  # time order, as produced
    build_s = write_s = copy_s = 0.0
    with FeatureStore(dsn, cache=False) as store, pg.connect(dsn) as conn:
        for start in range(0, len(order), batch):
            t = time.perf_counter()
            chunk = [vector(m, w, rng) for m, w in order[start : start + batch]]
            build_s += time.perf_counter() - t
            t = time.perf_counter()
            assert len(store.write_batch(chunk).written) == len(chunk)
            write_s += time.perf_counter() - t
            t = time.perf_counter()
            copy_rows(conn, chunk)
            copy_s += time.perf_counter() - t
            if start // batch % 20 == 0:
                console.print(f"  loaded {start + len(chunk):,} / {len(order):,} vectors")
        conn.execute("ANALYZE fv.feature_vectors")
        conn.commit()
    return {"n": len(order), "build_s": build_s, "write_s": write_s, "copy_s": copy_s}


def writer(dsn: str, markets: int, windows: int, rate: float, stop: Any, out: Any) -> None:
    """The concurrent writer: new windows for random markets at ``rate`` vectors/s, in
    batches of rate/10 every 0.1 s, until told to stop."""
    rng = random.Random(7)
    next_window = dict.fromkeys(range(markets), windows)
    per_tick = max(1, int(rate / 10))
    written = 0
    started = time.perf_counter()
    with FeatureStore(dsn, cache=False) as store:
        tick = time.perf_counter()
        while not stop.is_set():
            chosen = rng.sample(range(markets), per_tick)
            chunk = []
            for m in chosen:
                chunk.append(vector(m, next_window[m], rng))
                next_window[m] += 1
            written += len(store.write_batch(chunk).written)
            tick += 0.1
            time.sleep(max(0.0, tick - time.perf_counter()))
    out.put((written, time.perf_counter() - started))


def measure(n: int, seconds: float, markets: int, call: Callable[[str], object]) -> list[float]:
    """Latencies (ms) of back-to-back reads of random markets: at least ``n`` reads and at
    least ``seconds`` of them, so the concurrent writer invalidates the cache meanwhile."""
    rng = random.Random(8)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(latencies) < n or time.perf_counter() < deadline:
        name = market(rng.randrange(markets))
        t = time.perf_counter()
        call(name)
        latencies.append((time.perf_counter() - t) * 1e3)
    return latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", type=int, default=10_000)
    parser.add_argument("--windows", type=int, default=100)
    parser.add_argument("--reads", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="min seconds per read path")
    parser.add_argument("--writer-rate", type=float, default=1000.0, help="vectors/s")
    parser.add_argument("--batch", type=int, default=5000, help="vectors per load batch")
    args = parser.parse_args()
    console = Console(width=150)

    with TempPostgres() as server:
        dsn = server.dsn
        with pg.connect(dsn) as conn:
            pg.apply_sql(conn)
            conn.execute("CREATE SCHEMA bench")
            conn.execute("CREATE TABLE bench.fv_copy (LIKE fv.feature_vectors INCLUDING ALL)")
            conn.commit()
        with FeatureStore(dsn, cache=False) as s:
            s.register_feature_schema(SCHEMA)
        console.print(
            f"loading {args.markets:,} markets x {args.windows} windows into PostgreSQL 15 ..."
        )
        loaded = load(dsn, args.markets, args.windows, args.batch, console)

        ctx = multiprocessing.get_context("spawn")
        stop, out = ctx.Event(), ctx.Queue()
        proc = ctx.Process(
            target=writer, args=(dsn, args.markets, args.windows, args.writer_rate, stop, out)
        )
        proc.start()
        time.sleep(1.0)
        results: dict[str, list[float]] = {}
        try:
            with FeatureStore(dsn) as cached:
                console.print("warming the cache (one read per market) ...")
                for m in range(args.markets):
                    cached.get_latest_features(market(m), 1)
                lookups0 = _lookups(cached)
                results["cache"] = measure(
                    args.reads,
                    args.seconds,
                    args.markets,
                    lambda n: cached.get_latest_features(n, 1),
                )
                hits, total = (a - b for a, b in zip(_lookups(cached), lookups0, strict=True))
            with FeatureStore(dsn, cache=False) as direct:
                results["db"] = measure(
                    args.reads,
                    args.seconds,
                    args.markets,
                    lambda n: direct.get_latest_features(n, 1),
                )
            with pg.connect(dsn, autocommit=True) as conn:
                query = (
                    "SELECT * FROM fv.feature_vectors WHERE market_id = %s"
                    " AND feature_schema_version = 1 ORDER BY window_end_ms DESC LIMIT 1"
                )
                results["raw"] = measure(
                    args.reads,
                    args.seconds,
                    args.markets,
                    lambda n: conn.execute(query, (n,)).fetchone(),
                )
        finally:
            stop.set()
            proc.join(60)
        written, seconds = out.get(timeout=10)

    hit_rate = hits / total if total else 0.0
    title = (
        f"get_latest_features, {args.markets:,} markets x {args.windows} windows "
        f"({loaded['n']:,} vectors), >= {args.reads:,} reads and >= {args.seconds:g} s each, "
        "concurrent writer "
        f"{written / seconds:,.0f} vectors/s ({os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}, load {os.getloadavg()[0]:.2f})"
    )
    table = Table(title=title)
    for column in ("read path", "p50 ms", "p95 ms", "p99 ms", "mean ms", "p95 vs peer", "target"):
        table.add_column(column, justify="left" if column in ("read path", "target") else "right")
    peer95 = pct(results["raw"], 0.95)
    for key, name, target in (
        ("cache", f"FeatureStore, cache (hit rate {hit_rate:.1%})", "p95 < 5 ms"),
        ("db", "FeatureStore, no cache (verify + decode)", "p95 < 20 ms"),
        ("raw", "peer: bare indexed SELECT (psycopg)", ""),
    ):
        lat = results[key]
        table.add_row(
            name,
            f"{pct(lat, 0.50):.3f}",
            f"{pct(lat, 0.95):.3f}",
            f"{pct(lat, 0.99):.3f}",
            f"{statistics.fmean(lat):.3f}",
            f"{pct(lat, 0.95) / peer95:.2f}x",
            target,
        )
    console.print(table)

    writes = Table(title=f"sustained writes, {loaded['n']:,} vectors in batches of {args.batch:,}")
    for column in ("write path", "seconds", "vectors/s", "vs COPY"):
        writes.add_column(column, justify="left" if column == "write path" else "right")
    copy_rate = loaded["n"] / loaded["copy_s"]
    for name, secs in (
        ("FeatureStore.write_batch (validate, idempotent insert)", loaded["write_s"]),
        ("  + building the vectors (encode, hash, key)", loaded["write_s"] + loaded["build_s"]),
        ("peer: binary COPY, same rows, no checks", loaded["copy_s"]),
    ):
        rate = loaded["n"] / secs
        writes.add_row(name, f"{secs:.1f}", f"{rate:,.0f}", f"{rate / copy_rate:.2f}x")
    console.print(writes)


def _lookups(store: FeatureStore) -> tuple[float, float]:
    value = store.metrics.registry.get_sample_value
    hits = value("feature_store_cache_lookups_total", {"result": "hit"}) or 0.0
    misses = value("feature_store_cache_lookups_total", {"result": "miss"}) or 0.0
    return hits, hits + misses


if __name__ == "__main__":
    main()
