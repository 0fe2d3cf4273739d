"""Commands on the Postgres side: ``db init``, ``status``, ``certify``, ``hash``."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from t0lake.cli.options import (
    F,
    common,
    dsn_option,
)
from t0lake.cli.output import Output
from t0lake.errors import ConfigError

__all__ = ["certify_command", "db", "hash_command", "status"]


# --------------------------------------------------------------------------- db


@click.group()
def db() -> None:
    """Set up the t0lake objects in PostgreSQL; start and stop a throwaway server."""


@db.command("init")
@click.option(
    "--examples", is_flag=True, help="Also create the example stores and their synthetic inputs."
)
@dsn_option
@common
def db_init(out: Output, dsn: str | None, examples: bool) -> None:
    """Apply the SQL of t0lake (audit schema, hash functions, ...). Re-runnable: a second
    run changes nothing."""
    from t0lake import pg

    with pg.connect(dsn) as conn:
        applied = pg.apply_sql(conn, examples=examples)
    out.emit({"applied": applied, "examples": examples}, _render_init)


def _render_init(console: Console, result: dict[str, Any]) -> None:
    files = [a for a in result["applied"] if a.endswith(".sql")]
    line = f"applied {len(files)} SQL files: {', '.join(files)}"
    if len(files) < len(result["applied"]):
        line += "; the t0lake_hash extension (C column digests) is in place"
    console.print(line)


def _dir_option(help_text: str) -> Callable[[F], F]:
    """``--dir DIR``: the directory of the `db up` cluster, for up and down alike."""
    return click.option(
        "--dir", "directory", type=click.Path(file_okay=False), metavar="DIR", help=help_text
    )


@db.command("up")
@_dir_option("Where the cluster lives (default ~/.cache/t0lake/db; as root $TMPDIR/t0lake-db).")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="TCP port on 127.0.0.1 (default: a free one; a restart keeps the last one).",
)
@common
def db_up(out: Output, directory: str | None, port: int | None) -> None:
    """Start a throwaway PostgreSQL for trying the CLI (initdb + start in DIR; it keeps
    running after this command) and print the line that points the CLI at it:
    eval "$(t0lake db up)". It holds an empty database `t0lake`: run `t0lake db init
    --examples` next. Already running in DIR: says so and prints the same line. Stop it
    and delete DIR with `t0lake db down`."""
    from t0lake.testing.postgres import SandboxPostgres

    sandbox = SandboxPostgres(Path(directory) if directory else SandboxPostgres.default_directory())
    state = sandbox.up(port)
    result = state.to_dict()

    def render(console: Console, r: dict[str, Any]) -> None:
        if r["started"]:
            note = f"PostgreSQL started in {r['dir']} on 127.0.0.1:{r['port']}"
        else:
            note = f"PostgreSQL already runs in {r['dir']} on 127.0.0.1:{r['port']}"
        click.echo(f"t0lake: {note}; stop it with: t0lake db down", err=True)
        click.echo(f"export T0LAKE_PG_DSN={shlex.quote(r['dsn'])}")  # stdout: eval-able

    out.emit(result, render)


@db.command("down")
@_dir_option("The directory of `t0lake db up` (default: its default).")
@common
def db_down(out: Output, directory: str | None) -> None:
    """Stop the PostgreSQL of `t0lake db up` and delete its directory (and its data). When
    none is there, says so and exits 0. Only a directory `db up` made is ever deleted."""
    from t0lake.testing.postgres import SandboxPostgres

    sandbox = SandboxPostgres(Path(directory) if directory else SandboxPostgres.default_directory())
    result = {"dir": str(sandbox.directory), "outcome": sandbox.down()}

    def render(console: Console, r: dict[str, Any]) -> None:
        if r["outcome"] == "absent":
            click.echo(f"t0lake: no t0lake database in {r['dir']}: nothing to stop", err=True)
            return
        what = "stopped PostgreSQL and deleted" if r["outcome"] == "stopped" else "deleted"
        click.echo(f"t0lake: {what} {r['dir']}", err=True)
        click.echo("unset T0LAKE_PG_DSN")  # stdout: eval "$(t0lake db down)" forgets it

    out.emit(result, render)


# --------------------------------------------------------------------------- status


@click.command()
@dsn_option
@common
def status(out: Output, dsn: str | None) -> None:
    """Show the server, what t0lake has installed in it, and every declared entrypoint:
    certified at, age, gates, drift notes, and whether it may be served now."""
    from t0lake import pg
    from t0lake.certification import status as entrypoint_status

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
    if result.get("hash_impl"):
        impl = result["hash_impl"]
        table.add_row(
            "column digests",
            "C aggregate (t0lake_hash)" if impl == "native" else "pure SQL (string_agg)",
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


@click.command("certify")
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
@dsn_option
@common
def certify_command(
    out: Output,
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
    from t0lake.certification import certify

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


@click.command("hash")
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
@dsn_option
@common
def hash_command(
    out: Output, key: str, query: str | None, path: str | None, columns: bool, dsn: str | None
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

        if str(path).lower().endswith(".csv"):
            raise ConfigError(
                "a CSV file keeps no column types (numeric, jsonb, timestamps, lists), so it "
                "cannot be hashed to the certified value; write the extract as Parquet "
                "(t0lake scan ... --out FILE.parquet) and hash that",
                path=str(path),
            )
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
