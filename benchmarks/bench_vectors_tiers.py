"""FeatureVectors across tiers (issue 19): the same 90-day ``query_features`` served from
PostgreSQL, from PostgreSQL + the lake, and from the lake alone, in one run.

    .venv/bin/python benchmarks/bench_vectors_tiers.py [--markets 1000] [--days 90]
        [--per-day 4] [--sample 3] [--repeat 3] [--whole-budget 60] [--s3]

Starts a throwaway PostgreSQL 15 and a lake in a temporary directory (``--s3``: a bucket
on a moto server, ``t0lake.testing.moto_server``). ``--markets`` x ``--days`` x
``--per-day`` vectors of the example schema (version 1 of ``example.orderbook``, 8 int64
features) are generated in SQL, as ``sql/examples/55_example_feature_vectors.sql`` does
(canonical blob, ``features_hash``, ``window_key``: the rows ``FeatureStore`` writes, and
proves on every read), for the days before the example days (2026-01-10 on).

Then, in order: every sampled market's 90-day query from Postgres (``FeatureStore(dsn)``);
``certify`` + ``export`` to the lake and ``retain_vectors`` of the older half of the days
(the query now spans Postgres and the lake); ``retain_vectors`` of the rest (the lake alone).
Each tier runs the very same queries through ``FeatureStore(dsn, lake=URL)``, and every
frame is compared with the Postgres frame of the same market (``DataFrame.equals``, schema
included). Figures: the p50 of ``--repeat`` rounds over ``--sample`` markets (wall and
process CPU ms per query; the machine is shared, CPU time is the steadier figure), and a
whole-range pass (every market's 90 days once) when its estimate fits ``--whole-budget``
seconds per tier. The ratio is each tier's p50 over the Postgres p50. Each tier opens a
fresh store, so "first query" is a cold one: a lake day is proven whole (every market), and
the store keeps the proven days (``LakeTier``'s cache), so the next markets' queries filter
them. Two more rows, run once at the end, split that first query's cost: ``Snapshot.to_arrow``
of the same days for every market, verified and with ``verify=False``. CPU figures are
this process's only (not the PostgreSQL server's).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

import t0lake
from t0lake import pg
from t0lake.exporter.export import export
from t0lake.testing import TempPostgres, moto_server
from t0lake.vectors import FeatureStore, retain_vectors
from t0lake.vectors.tiers import ROW_COLUMNS

EP = "fv.feature_vector_store_t0_v1_v"
MS_DAY = 86_400_000
END_DAY = date(2026, 1, 10)  # the first example day: the benchmark's days end before it
EPOCH = date(1970, 1, 1)

# markets x windows generated in SQL: the blob layout of sql/examples/55 (header: magic T0FV,
# encoding 1, version, schema_hash, 8 features, no NULLs; then 8 big-endian int64 values)
GENERATE = """
INSERT INTO fv.feature_vectors (window_key, market_id, epoch_id, tick_index, window_start_ms,
                                window_end_ms, feature_schema_version, features_blob,
                                features_hash, quality_flags, coverage_json, created_at_ms,
                                producer_instance, trace_id)
SELECT fv.window_key(w.market_id, w.epoch_id, w.tick_index, w.end_ms - w.width, w.end_ms,
                     1::smallint),
       w.market_id, w.epoch_id, w.tick_index, w.end_ms - w.width, w.end_ms, 1, w.blob,
       sha256(w.blob), w.i %% 7 / 6, jsonb_build_object('sources', 3),
       w.end_ms + 2000 + abs(hashtext(w.seed)) %% 60000, 'bench', NULL
  FROM (
    SELECT m.market_id, t.i, p.width, (t.i / p.per_day)::int8 AS epoch_id,
           t.i %% p.per_day AS tick_index,
           p.first_ms + t.i * p.width AS end_ms, m.market_id || '|' || t.i AS seed,
           '\\x5430465601'::bytea || int2send(1::smallint) || s.schema_hash
             || '\\x000800'::bytea
             || (SELECT string_agg(int8send(hashtext(m.market_id || '|' || t.i || '|' || f)
                                            ::bigint * 1000 + f), ''::bytea ORDER BY f)
                   FROM generate_series(1, 8) AS f) AS blob
      FROM (SELECT %(width)s::int8, %(per_day)s::int4, %(first_ms)s::int8, %(m0)s::int4,
                   %(m1)s::int4, %(windows)s::int4)
              AS p (width, per_day, first_ms, m0, m1, windows)
     CROSS JOIN LATERAL (SELECT format('MKT-%%s', lpad(g::text, 6, '0'))
                           FROM generate_series(p.m0, p.m1) AS g) AS m (market_id)
     CROSS JOIN (SELECT schema_hash FROM fv.feature_schemas WHERE feature_schema_version = 1)
              AS s (schema_hash)
     CROSS JOIN LATERAL generate_series(0, p.windows - 1) AS t (i)
  ) AS w
"""


def market(m: int) -> str:
    return f"MKT-{m:06d}"


@dataclass
class Tier:
    """One way of serving the queries and what it measured."""

    name: str
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    rows: int = 0
    whole_s: float | None = None
    whole_cpu_s: float | None = None
    whole_note: str = ""


@contextmanager
def lake_url(s3: bool) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """A local lake directory, or a bucket on a moto S3 server."""
    if not s3:
        with tempfile.TemporaryDirectory(prefix="bench_fv_tiers_") as tmp:
            yield os.path.join(tmp, "lake"), None
        return
    import s3fs

    with moto_server() as endpoint:
        options: dict[str, Any] = {"endpoint_url": endpoint, "key": "bench", "secret": "bench"}
        s3fs.S3FileSystem(**options).mkdir("bench-fv-tiers")
        yield "s3://bench-fv-tiers/lake", options


def load(dsn: str, markets: int, days: int, per_day: int, console: Console) -> int:
    """Generate the vectors in SQL, a slice of markets per statement; returns the rows."""
    width = MS_DAY // per_day
    first_ms = (END_DAY - timedelta(days=days) - EPOCH).days * MS_DAY
    step = max(1, 200_000 // (days * per_day))
    with pg.connect(dsn) as conn:
        for m0 in range(0, markets, step):
            m1 = min(markets, m0 + step) - 1
            conn.execute(
                GENERATE,
                {"width": width, "per_day": per_day, "first_ms": first_ms, "m0": m0, "m1": m1,
                 "windows": days * per_day},
            )  # fmt: skip
            conn.commit()
            console.print(f"  markets {m0:,}..{m1:,} of {markets:,} loaded", highlight=False)
        conn.execute("ANALYZE fv.feature_vectors")
        conn.commit()
        row = conn.execute(
            "SELECT count(*) FROM fv.feature_vectors WHERE market_id LIKE %s", ("MKT-%",)
        ).fetchone()
    assert row is not None
    return int(row[0])


def timed(call: Callable[[], pl.DataFrame]) -> tuple[pl.DataFrame, float, float]:
    w, c = time.perf_counter(), time.process_time()
    frame = call()
    return frame, (time.perf_counter() - w) * 1e3, (time.process_time() - c) * 1e3


def run_tier(
    tier: Tier,
    store: FeatureStore,
    sample: list[str],
    span: tuple[int, int],
    repeat: int,
    reference: dict[str, pl.DataFrame],
    markets: int,
    whole_budget: float,
    console: Console,
) -> None:
    """``repeat`` rounds of the sample's queries (each frame checked against the reference,
    or recorded as it on the first tier), then the whole range if its estimate fits."""
    start_ms, end_ms = span
    for r in range(repeat):
        for name in sample:
            frame, wall, cpu = timed(partial(store.query_features, name, start_ms, end_ms, 1))
            expected = reference.setdefault(name, frame)
            if not frame.equals(expected) or frame.schema != expected.schema:
                raise AssertionError(f"{tier.name}: {name} differs from the Postgres rows")
            tier.wall_ms.append(wall)
            tier.cpu_ms.append(cpu)
            tier.rows = frame.height
        console.print(
            f"  {tier.name}: round {r + 1}/{repeat}, p50 {statistics.median(tier.wall_ms):,.1f} ms",
            highlight=False,
        )
    estimate = statistics.median(tier.wall_ms) * markets / 1e3
    if estimate > whole_budget:
        tier.whole_note = f"skipped: est. {estimate:,.0f} s > --whole-budget {whole_budget:g} s"
        return
    w, c = time.perf_counter(), time.process_time()
    for m in range(markets):
        frame = store.query_features(market(m), start_ms, end_ms, 1)
        if frame.height != tier.rows:
            raise AssertionError(f"{tier.name}: {market(m)} has {frame.height} rows")
    tier.whole_s, tier.whole_cpu_s = time.perf_counter() - w, time.process_time() - c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--per-day", type=int, default=4, help="windows per market and day")
    parser.add_argument("--sample", type=int, default=3, help="markets timed per round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds over the sample")
    parser.add_argument(
        "--whole-budget", type=float, default=60.0,
        help="max estimated seconds of the every-market pass, per tier",
    )  # fmt: skip
    parser.add_argument("--s3", action="store_true", help="the lake on a moto S3 server")
    args = parser.parse_args()
    if args.markets < 1 or args.days < 2 or not 1 <= args.per_day <= 1440:
        parser.error("--markets >= 1, --days >= 2, 1 <= --per-day <= 1440")
    console = Console(width=150)
    picked = random.Random(19).sample(range(args.markets), min(args.sample, args.markets))
    sample = [market(m) for m in picked]
    first = END_DAY - timedelta(days=args.days)
    span = ((first - EPOCH).days * MS_DAY, (END_DAY - EPOCH).days * MS_DAY)
    half = first + timedelta(days=args.days // 2)  # retained first: the days before it
    tiers = [Tier("PostgreSQL"), Tier("PostgreSQL + lake"), Tier("lake")]
    reference: dict[str, pl.DataFrame] = {}
    phases: dict[str, float] = {}

    with TempPostgres() as server, lake_url(args.s3) as (lake, options):
        dsn = server.dsn
        with pg.connect(dsn) as conn:
            pg.apply_sql(conn, examples=True)  # the entrypoint and schema version 1
        console.print(
            f"loading {args.markets:,} markets x {args.days} days x {args.per_day} windows ...",
            highlight=False,
        )
        t = time.perf_counter()
        n = load(dsn, args.markets, args.days, args.per_day, console)
        phases["load (SQL)"] = time.perf_counter() - t
        common = (sample, span, args.repeat, reference, args.markets, args.whole_budget, console)

        with FeatureStore(dsn, cache=False) as store:
            run_tier(tiers[0], store, *common)
        t = time.perf_counter()
        t0lake.certify(dsn, EP, check_days=args.days + 10)
        phases["certify"] = time.perf_counter() - t
        t = time.perf_counter()
        export(dsn, EP, lake, storage_options=options, progress=False)
        phases["export"] = time.perf_counter() - t
        for tier, as_of in ((tiers[1], half), (tiers[2], END_DAY)):
            t = time.perf_counter()
            done = retain_vectors(dsn, lake, "1d", storage_options=options,
                                  as_of=as_of + timedelta(days=1))  # fmt: skip
            phases[f"retain to {as_of}"] = time.perf_counter() - t
            if done.kept:
                raise AssertionError(f"retain kept days: {done.kept}")
            console.print(f"  retained {len(done.retained)} days, {done.rows_deleted:,} rows",
                          highlight=False)  # fmt: skip
            with FeatureStore(dsn, cache=False, lake=lake, storage_options=options) as store:
                run_tier(tier, store, *common)
        with pg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT count(*) FROM fv.feature_vectors WHERE market_id LIKE %s", ("MKT-%",)
            ).fetchone()
        assert row == (0,), "every benchmark day left Postgres"
        snapshot = t0lake.open(lake, storage_options=options).snapshot(EP)
        scans = []
        for verify in (True, False):  # what the lake tier's queries read: every market's rows
            w, c = time.perf_counter(), time.process_time()
            table = snapshot.to_arrow(first, END_DAY - timedelta(days=1), ROW_COLUMNS,
                                      verify=verify)  # fmt: skip
            scans.append(((time.perf_counter() - w) * 1e3, (time.process_time() - c) * 1e3))
            if table.num_rows < n:
                raise AssertionError(f"the lake holds {table.num_rows:,} of {n:,} rows")

    where = "moto S3" if args.s3 else "local directory"
    title = (
        f"query_features, {args.days} days of one market ({tiers[0].rows:,} vectors), "
        f"{args.markets:,} markets x {args.days} days x {args.per_day}/day = {n:,} vectors; "
        f"lake: {where}; p50 of {args.repeat} x {len(sample)} queries; rows equal on every "
        f"query ({os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"load {os.getloadavg()[0]:.2f})"
    )
    table = Table(title=title)
    for column in ("served from", "first query ms", "p50 ms", "p50 CPU ms", "p50 vs PostgreSQL",
                   f"all {args.markets:,} markets, s (CPU s)"):  # fmt: skip
        table.add_column(column, justify="left" if column == "served from" else "right")
    base = statistics.median(tiers[0].wall_ms)
    for tier in tiers:
        p50 = statistics.median(tier.wall_ms)
        whole = (
            f"{tier.whole_s:,.2f} ({tier.whole_cpu_s:,.2f})"
            if tier.whole_s is not None and tier.whole_cpu_s is not None
            else tier.whole_note
        )
        label = {
            "PostgreSQL": "PostgreSQL (all days)",
            "PostgreSQL + lake": f"PostgreSQL ({(END_DAY - half).days} d) + lake "
            f"({(half - first).days} d)",
            "lake": f"lake (all days, {where})",
        }[tier.name]
        table.add_row(label, f"{tier.wall_ms[0]:,.1f}", f"{p50:,.1f}",
                      f"{statistics.median(tier.cpu_ms):,.1f}", f"{p50 / base:,.1f}x",
                      whole)  # fmt: skip
    for (wall, cpu), what in zip(scans, ("verified", "unverified"), strict=True):
        table.add_row(f"  lake: {what} scan, every market (1 run)", "", f"{wall:,.1f}",
                      f"{cpu:,.1f}", f"{wall / base:,.1f}x", "")  # fmt: skip
    console.print(table)
    console.print(
        "setup: " + ", ".join(f"{k} {v:,.1f} s" for k, v in phases.items()), highlight=False
    )


if __name__ == "__main__":
    main()
