"""The ``t0lake`` command.

One error funnel (:func:`main`): every failure becomes a one-line message on stderr (or a
JSON object with ``--json``) and a non-zero exit; tracebacks only with ``--debug``. Each
command returns a JSON-ready result that is printed either as JSON or as a rich table, so
the two outputs never drift apart.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from t0lake import __version__
from t0lake.errors import ConfigError, T0LakeError

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])

_EPILOG = (
    "Connection: --dsn or T0LAKE_PG_DSN. Lake: --lake or T0LAKE_LAKE (a path or s3://bucket/"
    "prefix). S3 options: the usual AWS_* variables or --storage-option key=value."
)


class _Output:
    """Where a command's result goes: JSON on stdout, or tables for a person."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.console = Console(highlight=False, soft_wrap=True)

    def emit(
        self, result: dict[str, Any], render: Callable[[Console, dict[str, Any]], None]
    ) -> None:
        if self.as_json:
            click.echo(json.dumps(result, indent=2, sort_keys=True, default=str))
        else:
            render(self.console, result)


def _common(func: F) -> F:
    """--json and --debug on every command (they may also be given before the command)."""

    @click.option("--json", "as_json", is_flag=True, help="Print the result (or error) as JSON.")
    @click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
    @click.pass_context  # type: ignore[arg-type]
    @functools.wraps(func)
    def wrapper(ctx: click.Context, as_json: bool, debug: bool, **kwargs: Any) -> Any:
        ctx.ensure_object(dict)
        ctx.obj["json"] = ctx.obj.get("json", False) or as_json
        ctx.obj["debug"] = ctx.obj.get("debug", False) or debug
        return ctx.invoke(func, _Output(ctx.obj["json"]), **kwargs)

    return wrapper  # type: ignore[return-value]


def _dsn_option(func: F) -> F:
    return click.option(
        "--dsn",
        envvar="T0LAKE_PG_DSN",
        metavar="DSN",
        help="PostgreSQL connection string (env T0LAKE_PG_DSN).",
    )(func)


def _lake_options(func: F) -> F:
    func = click.option(
        "--storage-option",
        "storage_options",
        multiple=True,
        metavar="KEY=VALUE",
        callback=_parse_storage_options,
        help="fsspec/s3fs option for the lake, repeatable (e.g. endpoint_url=http://...).",
    )(func)
    return click.option(
        "--lake",
        envvar="T0LAKE_LAKE",
        metavar="URL",
        help="Lake root: a local path or s3://bucket/prefix (env T0LAKE_LAKE).",
    )(func)


def _parse_storage_options(
    ctx: click.Context, param: click.Parameter, values: Sequence[str]
) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", ctx=ctx, param=param)
        options[key.strip()] = value
    return options


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=_EPILOG,
)
@click.version_option(__version__, prog_name="t0lake")
@click.option("--json", "as_json", is_flag=True, help="Print results and errors as JSON.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, as_json: bool, debug: bool) -> None:
    """t0lake: an offline feature store, certified in PostgreSQL, exported to Parquet,
    proven on every read."""
    ctx.ensure_object(dict)
    ctx.obj.update(json=as_json, debug=debug)


# --------------------------------------------------------------------------- db


@cli.group()
def db() -> None:
    """Set up the t0lake objects in PostgreSQL."""


@db.command("init")
@click.option(
    "--examples", is_flag=True, help="Also create the example stores and their synthetic inputs."
)
@_dsn_option
@_common
def db_init(out: _Output, dsn: str | None, examples: bool) -> None:
    """Apply the SQL of t0lake (audit schema, hash functions, ...). Re-runnable: a second
    run changes nothing."""
    from t0lake import pg

    with pg.connect(dsn) as conn:
        applied = pg.apply_sql(conn, examples=examples)
    out.emit(
        {"applied": applied, "examples": examples},
        lambda c, r: c.print(f"applied {len(r['applied'])} SQL files: {', '.join(r['applied'])}"),
    )


# --------------------------------------------------------------------------- status


@cli.command()
@_dsn_option
@_common
def status(out: _Output, dsn: str | None) -> None:
    """Show the server, what t0lake has installed in it, and every declared entrypoint:
    certified at, age, gates, drift notes, and whether it may be served now."""
    from t0lake import pg
    from t0lake.certify import status as entrypoint_status

    with pg.connect(dsn) as conn:
        result = pg.server_status(conn)
    result["entrypoints"] = entrypoint_status(dsn)
    out.emit(result, _render_status)


def _render_status(console: Console, result: dict[str, Any]) -> None:
    table = Table(title="t0lake status", show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row("server", result["server_version"])
    table.add_row("database", result["database"])
    table.add_row(
        "hash functions",
        "installed" if result["hash_installed"] else "missing (run t0lake db init)",
    )
    console.print(table)
    for entry in result.get("entrypoints") or []:
        console.print(_entrypoint_table(entry))


def _age_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _entrypoint_table(entry: dict[str, Any]) -> Table:
    """One key/value table per entrypoint: long names and notes stay readable at any width."""
    table = Table(title=entry["entrypoint"], show_header=False, title_justify="left")
    table.add_column("what", no_wrap=True)
    table.add_column("value", overflow="fold")
    gates = entry["gates"] or {}
    table.add_row("status", entry["status"] + (f" (#{entry['cert_id']})" if gates else ""))
    label = "certified at" if entry["status"] == "CERTIFIED" else "last run at"
    table.add_row(label, entry["certified_at"] or "-")
    table.add_row("age", _age_text(entry["age_seconds"]))
    table.add_row("gates A/B/C", "/".join(gates.get(g) or "-" for g in "ABC") if gates else "-")
    table.add_row("drift policy", entry["drift_policy"])
    table.add_row("served", "yes" if entry["servable"] else f"no: {entry['problem']}")
    for label, key in (("failure", "message"), ("notes", "notes")):
        if entry[key]:
            table.add_row(label, entry[key])
    return table


# --------------------------------------------------------------------------- certify


@cli.command("certify")
@click.argument("entrypoint")
@click.option(
    "--check-days",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Check the dataset hashes of the last N days present in the data (3 daily, 30 weekly).",
)
@click.option(
    "--allow-drift/--strict",
    "allow_drift",
    default=None,
    help="Tolerate (record) or refuse drifted days; default: the declared drift policy.",
)
@click.option(
    "--update-drifted",
    is_flag=True,
    help="With --allow-drift: accept the drifted days' hashes as the new baselines.",
)
@click.option(
    "--accept-changes",
    is_flag=True,
    help="After a reviewed change: recapture viewdef and checked-day baselines first.",
)
@_dsn_option
@_common
def certify_command(
    out: _Output,
    entrypoint: str,
    check_days: int,
    allow_drift: bool | None,
    update_drifted: bool,
    accept_changes: bool,
    dsn: str | None,
) -> None:
    """Run the certification gates (A viewdefs, B closure lint and T0 probe, C day hashes)
    on ENTRYPOINT and record the result; exits non-zero naming the failed gate."""
    # t0lake.certify is also the name of the function the package exports.
    from t0lake.certify import certify

    result = certify(
        dsn,
        entrypoint,
        check_days,
        allow_drift,
        update_drifted=update_drifted,
        accept_changes=accept_changes,
    )

    def render(console: Console, r: dict[str, Any]) -> None:
        gates = " ".join(f"{g}={v}" for g, v in r["gates"].items())
        console.print(f"{r['entrypoint']}: {r['status']} (#{r['cert_id']}) {gates}")
        console.print(f"checked days: {', '.join(r['checked_days']) or '-'}")
        if r["notes"]:
            console.print(f"notes: {r['notes']}")

    out.emit(result.to_dict(), render)


# --------------------------------------------------------------------------- hash


@cli.command("hash")
@click.option(
    "--key",
    "key",
    required=True,
    metavar="COL[,COL...]",
    help="Key columns that order the rows (comma-separated).",
)
@click.option("--query", metavar="SQL", help="Hash the rows of this SELECT in PostgreSQL.")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False),
    help="Hash the rows of this Parquet file in Python.",
)
@click.option("--columns", is_flag=True, help="Also print the per-column digests.")
@_dsn_option
@_common
def hash_command(
    out: _Output, key: str, query: str | None, path: str | None, columns: bool, dsn: str | None
) -> None:
    """Print the canonical dataset hash of a query (SQL side) or a Parquet file (Python
    side). Equal rows give equal hashes on both sides."""
    keys = [k.strip() for k in key.split(",") if k.strip()]
    if (query is None) == (path is None):
        raise ConfigError("give exactly one of --query or --file")
    if query is not None:
        from t0lake import pg

        with pg.connect(dsn) as conn:
            digest = pg.sql_dataset_hash(conn, query, keys)
            per_column = (
                {
                    n: {"type": t, "digest": d}
                    for n, (t, d) in pg.sql_column_hashes(conn, query, keys).items()
                }
                if columns
                else None
            )
    else:
        import pyarrow.parquet as pq

        from t0lake import hashing

        table = pq.read_table(path)
        digest = hashing.dataset_hash(table, keys)
        per_column = (
            {
                h.name: {"type": h.type, "digest": h.digest}
                for h in hashing.column_hashes(table, keys).values()
            }
            if columns
            else None
        )
    result: dict[str, Any] = {"dataset_hash": digest, "key": keys}
    if per_column is not None:
        result["columns"] = per_column

    def render(console: Console, r: dict[str, Any]) -> None:
        console.print(r["dataset_hash"])
        for name, col in (r.get("columns") or {}).items():
            console.print(f"  {name}  {col['type']}  {col['digest']}")

    out.emit(result, render)


# --------------------------------------------------------------------------- demo


@cli.command()
@_common
def demo(out: _Output) -> None:
    """Start a throwaway PostgreSQL with the example stores, certify the trainer-derived
    store, export it to a temporary lake, verify the lake and read a week back; then run
    the walk-forward backtest of examples/backtest.ipynb on it (point-in-time join, purged
    splits, a ridge model per split, fingerprints reproduced from the same snapshot); then
    clean up. Nothing outside temporary directories is touched."""
    import tempfile

    from t0lake import pg
    from t0lake.certify import certify
    from t0lake.demo import backtest
    from t0lake.export import export
    from t0lake.read import open_lake
    from t0lake.tempdb import TempPostgres

    entrypoint = "ml.trainer_derived_feature_store_t0_v1_v"
    with TempPostgres() as server, tempfile.TemporaryDirectory(prefix="t0lake-demo-") as lake:
        if not out.as_json:
            out.console.print(f"[bold]throwaway PostgreSQL[/] on 127.0.0.1:{server.port}")
        with pg.connect(server.dsn) as conn:
            applied = pg.apply_sql(conn, examples=True)
            result: dict[str, Any] = {"applied": applied, **pg.server_status(conn)}
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
        console.print(f"db init --examples applied: {', '.join(r['applied'])}")
        c, e, v = r["certification"], r["export"], r["verify"]
        console.print(f"certify {c['entrypoint']}: {c['status']} (#{c['cert_id']})")
        console.print(
            f"export: snapshot {e['snapshot_id']}, {len(e['days_written'])} days, "
            f"{e['rows_written']:,} rows, {e['bytes_written']:,} bytes in {e['seconds']:.1f}s"
        )
        console.print(
            f"verify: {v['files']} files, {v['columns']} day-columns re-hashed, all match"
        )
        console.print(f"read 2026-01-10..2026-01-16: {r['read']['rows']:,} verified rows")
        _render_backtest(console, r["backtest"])

    out.emit(result, render)


def _render_backtest(console: Console, b: dict[str, Any]) -> None:
    """The per-split table of the demo backtest and the reproduction check."""
    task = b["task"]
    table = Table(
        title=(
            f"walk-forward backtest, {b['entrypoint']} snapshot {b['snapshot_id']}: "
            f"{b['events']:,} checks, label = posts in the next {task['label_horizon']}, "
            f"purge {task['label_horizon']} + embargo {task['embargo']}"
        ),
        title_justify="left",
    )
    for column in ("split", "train days", "test days", "rows", "no features"):
        table.add_column(column, justify="left" if "days" in column else "right")
    for column in ("MAE", "naive MAE", "skill"):
        table.add_column(column, justify="right")
    table.add_column("training-frame fingerprint", no_wrap=True)
    for s in b["splits"]:
        table.add_row(
            str(s["index"]),
            f"{s['train_start']}..{s['train_end']}",
            f"{s['test_start']}..{s['test_end']}",
            f"{s['train_rows']}/{s['test_rows']}",
            str(s["unmatched"]),
            f"{s['mae']:.3f}",
            f"{s['mae_baseline']:.3f}",
            f"{s['skill']:+.3f}",
            s["fingerprint"][:16] + "…",
        )
    console.print(table)
    console.print(
        "skill = 1 - MAE / naive MAE; the synthetic posts arrive at random, so an honest "
        "skill is near zero (a large one would mean a leak)"
    )
    rep = b["reproduced"]
    console.print(
        f"reproduced split {rep['split']} from snapshot {b['snapshot_id']} re-opened: "
        f"fingerprint {rep['fingerprint']} (same fingerprint, same rows)"
    )


# --------------------------------------------------------------------------- lake


def _require_lake(lake: str | None) -> str:
    if not lake:
        raise ConfigError("no lake: pass --lake URL or set T0LAKE_LAKE")
    return lake


def _day_option(name: str, help_text: str) -> Callable[[F], F]:
    return click.option(name, metavar="DATE", default=None, help=help_text)


@cli.command("export")
@click.argument("entrypoint")
@_day_option("--start", "First day to export, inclusive (default: the first day in the data).")
@_day_option("--end", "Last day to export, inclusive (default: the last day in the data).")
@click.option(
    "--max-age",
    default="24h",
    show_default=True,
    metavar="AGE",
    help="Refuse unless certified within this age: 1s, 15m, 24h, 7d.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=None,
    help="Days exported in parallel (default 4, at most the number of CPUs).",
)
@_dsn_option
@_lake_options
@_common
def export_command(
    out: _Output,
    entrypoint: str,
    start: str | None,
    end: str | None,
    max_age: str,
    workers: int | None,
    dsn: str | None,
    lake: str | None,
    storage_options: dict[str, str],
) -> None:
    """Export the certified days of ENTRYPOINT to the lake as proven, deterministic Parquet
    and commit one snapshot. Days already committed with the same content write nothing.
    Refuses (nothing written) unless ENTRYPOINT is certified within --max-age."""
    from concurrent.futures import ThreadPoolExecutor

    from t0lake.export import export

    pool = ThreadPoolExecutor(max_workers=workers) if workers else None
    try:
        result = export(
            dsn,
            entrypoint,
            _require_lake(lake),
            start=start,
            end=end,
            max_age=max_age,
            storage_options=storage_options,
            executor=pool,
            progress=False if out.as_json else None,
        )
    finally:
        if pool is not None:
            pool.shutdown()

    def render(console: Console, r: dict[str, Any]) -> None:
        what = f"committed snapshot {r['snapshot_id']}" if r["committed"] else "nothing to commit"
        console.print(
            f"{r['entrypoint']}: {what}; {len(r['days_written'])} day(s) written "
            f"({r['rows_written']:,} rows, {r['bytes_written']:,} bytes), "
            f"{len(r['days_unchanged'])} unchanged, {r['seconds']:.1f}s"
        )
        if r["days_drifted"]:
            console.print(f"drift recorded on: {', '.join(r['days_drifted'])}")

    out.emit(result.to_dict(), render)


@cli.command("snapshots")
@click.argument("entrypoint")
@_lake_options
@_common
def snapshots_command(
    out: _Output, entrypoint: str, lake: str | None, storage_options: dict[str, str]
) -> None:
    """List the committed snapshots of ENTRYPOINT in the lake, oldest first."""
    from t0lake.read import open_lake

    history = open_lake(_require_lake(lake), storage_options).snapshots(entrypoint)
    result = {"entrypoint": entrypoint, "snapshots": [h.to_dict() for h in history]}

    def render(console: Console, r: dict[str, Any]) -> None:
        table = Table(title=r["entrypoint"], title_justify="left")
        for column in ("snapshot", "committed at", "operation", "cert", "days", "rows", "files"):
            table.add_column(column, justify="right" if column in ("days", "rows") else "left")
        for h in r["snapshots"]:
            table.add_row(
                str(h["snapshot_id"]),
                h["committed_at"],
                h["operation"],
                f"#{h['cert_id']}",
                str(h["days"]),
                f"{h['rows']:,}",
                str(h["files"]),
            )
        console.print(table)

    out.emit(result, render)


@cli.command("verify")
@click.argument("entrypoint", required=False)
@_lake_options
@_common
def verify_command(
    out: _Output, entrypoint: str | None, lake: str | None, storage_options: dict[str, str]
) -> None:
    """Recompute every hash of the latest snapshot of ENTRYPOINT (default: of every
    entrypoint in the lake): file checksums, row counts and each (day, column) content hash.
    Exits 1 if anything differs from the manifests."""
    from t0lake.errors import IntegrityError
    from t0lake.read import open_lake

    opened = open_lake(_require_lake(lake), storage_options)
    names = [entrypoint] if entrypoint else opened.entrypoints()
    if not names:
        raise ConfigError(f"no entrypoint has a snapshot in {opened.url}", lake=opened.url)
    checked, failed = [], []
    for name in names:
        try:
            checked.append(opened.snapshot(name).verify())
        except IntegrityError as exc:
            failed.append(exc)
    if failed:
        problems = [p for exc in failed for p in exc.context.get("problems", [exc.to_dict()])]
        raise IntegrityError(
            f"{len(failed)} of {len(names)} entrypoint(s) failed verification: {failed[0].message}",
            lake=opened.url,
            verified=checked,
            problems=problems,
        )

    def render(console: Console, r: dict[str, Any]) -> None:
        for v in r["verified"]:
            console.print(
                f"{v['entrypoint']} snapshot {v['snapshot_id']}: OK, {v['files']} files, "
                f"{v['days']} days, {v['columns']} day-columns, {v['rows']:,} rows"
            )

    out.emit({"lake": opened.url, "verified": checked}, render)


@cli.command("scan")
@click.argument("entrypoint")
@_day_option("--start", "First day, inclusive (default: the first day of the snapshot).")
@_day_option("--end", "Last day, inclusive (default: the last day of the snapshot).")
@click.option("--columns", metavar="COL[,COL...]", help="Only these columns (comma-separated).")
@click.option("--snapshot", "snapshot_id", type=int, help="Read this snapshot (time travel).")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Write the rows to a .parquet or .csv file instead of printing a preview.",
)
@_lake_options
@_common
def scan_command(
    out: _Output,
    entrypoint: str,
    start: str | None,
    end: str | None,
    columns: str | None,
    snapshot_id: int | None,
    out_path: str | None,
    lake: str | None,
    storage_options: dict[str, str],
) -> None:
    """Read days START..END of ENTRYPOINT from the lake, verifying every (day, column) it
    returns against the manifest first; print a preview or write them with --out."""
    from pathlib import Path

    from t0lake.read import open_lake

    suffix = Path(out_path).suffix.lower() if out_path else None
    if suffix not in (None, ".parquet", ".csv"):
        raise ConfigError(f"--out must end in .parquet or .csv, got {out_path!r}")
    names = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    snap = open_lake(_require_lake(lake), storage_options).snapshot(entrypoint, snapshot_id)
    frame = snap.read(start, end, names)
    result: dict[str, Any] = {
        "entrypoint": entrypoint,
        "snapshot_id": snap.snapshot_id,
        "rows": frame.height,
        "columns": frame.columns,
        "verified": True,
    }
    if out_path is not None:
        target = Path(out_path)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        if suffix == ".csv":
            _csv_ready(frame).write_csv(tmp)
        else:
            frame.write_parquet(tmp)
        tmp.replace(target)
        result["out"] = str(target)
    else:
        result["head"] = frame.head(20).to_dicts()

    def render(console: Console, r: dict[str, Any]) -> None:
        where = f" to {r['out']}" if "out" in r else ""
        console.print(
            f"{r['entrypoint']} snapshot {r['snapshot_id']}: {r['rows']:,} verified rows{where}"
        )
        if "head" in r:
            console.print(frame.head(20))

    out.emit(result, render)


def _csv_ready(frame: Any) -> Any:
    """CSV has no nested or binary cells: lists become JSON arrays, bytes become hex."""
    import polars as pl

    columns = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.List):
            columns.append(
                pl.col(name).map_elements(
                    lambda v: json.dumps(list(v), default=str), return_dtype=pl.String
                )
            )
        elif dtype == pl.Binary:
            columns.append(pl.col(name).bin.encode("hex"))
        else:
            columns.append(pl.col(name))
    return frame.select(columns)


# --------------------------------------------------------------------------- not built yet

_PLANNED = {
    "compact": ("", "Move and compact days between tiers, deterministically."),
    "expire": ("", "Expire old snapshots."),
    "vacuum": ("", "Remove files no manifest references."),
}


def _planned(name: str, args: str, summary: str) -> click.Command:
    """A command whose issue has not landed: its options parse (so --help documents them
    and malformed ones are refused) and it exits 2 saying so."""

    @click.command(name, help=f"{summary}\n\nNot built yet in this version: exits 2.")
    @click.argument("args", nargs=-1, metavar=args)
    @_dsn_option
    @_lake_options
    @_common
    def command(out: _Output, args: tuple[str, ...], **options: Any) -> None:
        raise ConfigError(f"'t0lake {name}' is not built yet in t0lake {__version__}", command=name)

    return command


for _name, (_args, _summary) in _PLANNED.items():
    cli.add_command(_planned(_name, _args, _summary))


# --------------------------------------------------------------------------- funnel


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; every error ends here as one line (or JSON) and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    debug = "--debug" in args or os.environ.get("T0LAKE_DEBUG") == "1"
    try:
        result = cli.main(args=args, prog_name="t0lake", standalone_mode=False, obj={})
        return result if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        _fail("aborted", "Aborted", as_json, {})
        return 130
    except click.ClickException as exc:
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        _fail(exc.format_message() + hint, "UsageError", as_json, {})
        return 2
    except T0LakeError as exc:
        if debug:
            raise
        _fail(exc.message, type(exc).__name__, as_json, exc.context)
        return exc.exit_code
    except Exception as exc:
        if debug:
            raise
        _fail(
            f"{type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
            "InternalError",
            as_json,
            {},
        )
        return 1


def _fail(message: str, kind: str, as_json: bool, context: dict[str, Any]) -> None:
    message = " ".join(message.split())  # one line, always
    if as_json:
        click.echo(json.dumps({"error": kind, "message": message, **context}, default=str))
    else:
        click.echo(f"t0lake: error: {message}", err=True)
