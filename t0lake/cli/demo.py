"""``t0lake demo``: the whole flow end to end on a throwaway Postgres and lake."""

from __future__ import annotations

import textwrap
from typing import Any

import click
from rich.console import Console

from t0lake.cli.options import (
    common,
)
from t0lake.cli.output import Output

__all__ = ["demo"]


# --------------------------------------------------------------------------- demo


WIDTH = 80  # every line of the demo fits an 80-column terminal, a pipe and a CI log


@click.command()
@common
def demo(out: Output) -> None:
    """Start a throwaway PostgreSQL with the example stores, plant the demo's learnable
    signal in their posts (docs/feature_spec.md), certify the trainer-derived store, export
    it to a temporary lake, verify the lake and read a week back; then run the walk-forward
    backtest of examples/backtest.ipynb on it (point-in-time join, purged splits, a ridge
    model per split, fingerprints reproduced from the same snapshot), beside the inflated
    skill a leaky join would have reported; then clean up. Nothing outside temporary
    directories is touched."""
    import tempfile

    from t0lake import pg
    from t0lake.certification import certify
    from t0lake.demo import backtest, plant_signal
    from t0lake.exporter import export
    from t0lake.lake import open_lake
    from t0lake.testing import TempPostgres

    entrypoint = "ml.trainer_derived_feature_store_t0_v1_v"
    with TempPostgres() as server, tempfile.TemporaryDirectory(prefix="t0lake-demo-") as lake:
        if not out.as_json:
            out.console.print(f"throwaway PostgreSQL on 127.0.0.1:{server.port}")
        with pg.connect(server.dsn) as conn:
            applied = pg.apply_sql(conn, examples=True)
            result: dict[str, Any] = {"applied": applied, **pg.server_status(conn)}
        result["planted_posts"] = plant_signal(server.dsn)
        cert = certify(server.dsn, entrypoint, check_days=3)
        exported = export(server.dsn, entrypoint, lake, progress=False if out.as_json else None)
        snap = open_lake(lake).snapshot(entrypoint)
        week = snap.read("2026-01-10", "2026-01-16")
        result.update(
            certification=cert.to_dict(),
            export=exported.to_dict(),
            verify=snap.verify(),
            read={"start": "2026-01-10", "end": "2026-01-16", "rows": week.height},
        )
        result["backtest"] = backtest(server.dsn, lake)

    def render(console: Console, r: dict[str, Any]) -> None:
        files = [a for a in r["applied"] if a.endswith(".sql")]
        extension = " and the t0lake_hash extension" if len(files) < len(r["applied"]) else ""
        c, e, v = r["certification"], r["export"], r["verify"]
        lines = [
            f"db init --examples: {len(files)} SQL files{extension}",
            f"planted signal: {r['planted_posts']:,} posts replace the example's random ones "
            '(docs/feature_spec.md, "The demo\'s planted signal")',
            f"certify {c['entrypoint']}: {c['status']} (#{c['cert_id']})",
            f"export: snapshot {e['snapshot_id']}, {len(e['days_written'])} days, "
            f"{e['rows_written']:,} rows, {e['bytes_written']:,} bytes in {e['seconds']:.1f}s",
            f"verify: {v['files']} files, {v['columns']} (day, column) hashes recomputed, "
            "all match",
            f"read 2026-01-10..2026-01-16: {r['read']['rows']:,} verified rows",
        ]
        _print(console, lines)
        _render_backtest(console, r["backtest"])

    out.emit(result, render)


def _print(console: Console, paragraphs: list[str], indent: str = "") -> None:
    """Each paragraph wrapped to WIDTH, as plain text (no markup, no highlighting)."""
    for paragraph in paragraphs:
        for line in textwrap.wrap(
            paragraph, WIDTH, subsequent_indent=indent, break_on_hyphens=False
        ) or [""]:
            console.print(line, markup=False, highlight=False, soft_wrap=True)


def _days(start: str, end: str, short: bool) -> str:
    return f"{start[5:]}..{end[5:]}" if short else f"{start}..{end}"


def _render_backtest(console: Console, b: dict[str, Any]) -> None:
    """The per-split table of the demo backtest, its legend and the reproduction check, in
    plain fixed-width text: nothing is cut at 80 columns, in a terminal or a pipe."""
    task, splits = b["task"], b["splits"]
    years = {s[k][:4] for s in splits for k in ("train_start", "test_end")}
    short = len(years) == 1
    _print(
        console,
        [
            "",
            f"walk-forward backtest of {b['entrypoint']}, snapshot {b['snapshot_id']}: "
            f"{b['events']:,} checks; label = posts in the next {task['label_horizon']}; "
            f"purge {task['label_horizon']} + embargo {task['embargo']}",
        ],
    )
    days = 12 if short else 22
    header = (
        ("split", "train", "test", "train", "test", "no", "", "naive", "", "leaky"),
        ("", "days", "days", "rows", "rows", "row", "MAE", "MAE", "skill", "skill"),
    )
    widths = (5, days, days, 5, 4, 3, 6, 6, 6, 6)
    left = {1, 2}

    def row(cells: tuple[str, ...]) -> str:
        text = ""
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            gap = "" if i == 0 else ("  " if i <= 3 else " ")
            text += gap + (cell.ljust(width) if i in left else cell.rjust(width))
        return text.rstrip()

    lines = [row(h) for h in header]
    for s in splits:
        leaky = s.get("leaky_skill")
        lines.append(
            row(
                (
                    str(s["index"]),
                    _days(s["train_start"], s["train_end"], short),
                    _days(s["test_start"], s["test_end"], short),
                    str(s["train_rows"]),
                    str(s["test_rows"]),
                    str(s["unmatched"]),
                    f"{s['mae']:.3f}",
                    f"{s['mae_baseline']:.3f}",
                    f"{s['skill']:+.3f}",
                    "-" if leaky is None else f"{leaky:+.3f}",
                )
            )
        )
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    means = b.get("mean_skill") or {}
    year = f" (all in {years.pop()})" if short else ""
    legend = [
        f"train/test days: the inclusive days each split trains and tests on{year}. "
        "rows: the labelled checks it trains and tests on. no row: its checks with no "
        f"store row in the {task['max_age']} before them, left out (never zero-filled).",
        "skill = 1 - MAE / naive MAE, where the naive forecast is the training mean: "
        "above 0 beats it.",
    ]
    if means.get("leaky_skill") is not None:
        legend.append(
            "leaky skill: the same model given one more input, the generation's posts on "
            "the check's day from a daily table joined on the date, as a backfilled "
            "known_at makes it look known at midnight; that row counts posts after the "
            "check, which the label counts too. t0lake refuses this join: its pit_join "
            "with known_at gives the same table a mean skill of "
            f"{means['known_at_skill']:+.3f}."
        )
        legend.append(
            f"mean skill: t0lake {means['skill']:+.3f}, leaky join "
            f"{means['leaky_skill']:+.3f} (the difference is the leak)."
        )
    _print(console, legend)
    fingerprints = "  ".join(f"{s['index']}={s['fingerprint'][:12]}" for s in splits)
    rep = b["reproduced"]
    _print(
        console,
        [
            f"training-frame fingerprints (first 12 hex digits): {fingerprints}",
            f"reproduced split {rep['split']} from snapshot {b['snapshot_id']} re-opened: "
            f"same fingerprint, same rows: {rep['fingerprint']}",
        ],
        indent="  ",
    )
