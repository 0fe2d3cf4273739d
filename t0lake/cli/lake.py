"""Commands on the lake: ``export``, ``snapshots``, ``verify``, ``scan`` (and the mechanism for
lake commands whose issues have not landed yet, which say so and exit 2; none at present).
The life-cycle commands (``compact``, ``expire``, ``vacuum``, ...) are in
:mod:`t0lake.cli.maintenance`."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from t0lake._util.frames import to_arrow
from t0lake._version import __version__
from t0lake.cli.engines import iceberg_catalog_option, mirror_text
from t0lake.cli.options import (
    common,
    day_option,
    dsn_option,
    lake_options,
    require_lake,
)
from t0lake.cli.output import Output
from t0lake.errors import ConfigError, NotBuiltError

__all__ = [
    "PLANNED",
    "PLANNED_COMMANDS",
    "entrypoints_command",
    "export_command",
    "scan_command",
    "snapshots_command",
    "tiers_text",
    "verify_command",
]


@click.command("export")
@click.argument("entrypoint")
@day_option("--start", "First day to export, inclusive (default: the first day in the data).")
@day_option("--end", "Last day to export, inclusive (default: the last day in the data).")
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
@iceberg_catalog_option
@dsn_option
@lake_options
@common
def export_command(
    out: Output,
    entrypoint: str,
    start: str | None,
    end: str | None,
    max_age: str,
    workers: int | None,
    iceberg_catalog: str | None,
    dsn: str | None,
    lake: str | None,
    storage_options: dict[str, str],
) -> None:
    """Export the certified days of ENTRYPOINT to the lake as proven, deterministic Parquet
    and commit one snapshot. Days already committed with the same content write nothing.
    Refuses (nothing written) unless ENTRYPOINT is certified within --max-age."""
    from concurrent.futures import ThreadPoolExecutor

    from t0lake.exporter import export

    pool = ThreadPoolExecutor(max_workers=workers) if workers else None
    try:
        result = export(
            dsn,
            entrypoint,
            require_lake(lake),
            start=start,
            end=end,
            max_age=max_age,
            storage_options=storage_options,
            executor=pool,
            progress=False if out.as_json else None,
            iceberg_catalog=iceberg_catalog,
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
        views = r.get("materialized_views") or []
        if not r["committed"] and views:
            console.print(
                f"{r['entrypoint']} reads materialized view(s) {', '.join(views)}: changed "
                "inputs show only after "
                + "; ".join(f"REFRESH MATERIALIZED VIEW {v}" for v in views)
            )
        for path, problem in r.get("damaged_files", {}).items():
            console.print(f"damaged file {path} ({problem}): export its days to repair it")
        if r.get("days_repaired"):
            console.print(f"rewritten over a damaged file: {', '.join(r['days_repaired'])}")
        if r.get("days_superseded"):
            console.print(
                "kept the newer rows another export committed meanwhile for: "
                + ", ".join(r["days_superseded"])
            )
        if not r.get("registered", True):
            console.print(
                f"warning: snapshot {r['snapshot_id']} is in the lake but not registered in "
                f"audit.t0_export_registry ({r['registry_error']}); the next export registers it"
            )
        if line := mirror_text(r.get("mirror")):
            console.print(line, markup=False)

    out.emit(result.to_dict(), render)


@click.command("snapshots")
@click.argument("entrypoint")
@lake_options
@common
def snapshots_command(
    out: Output, entrypoint: str, lake: str | None, storage_options: dict[str, str]
) -> None:
    """List the committed snapshots of ENTRYPOINT in the lake, oldest first."""
    from t0lake.lake import open_lake

    history = open_lake(require_lake(lake), storage_options).snapshots(entrypoint)
    result = {"entrypoint": entrypoint, "snapshots": [h.to_dict() for h in history]}

    def render(console: Console, r: dict[str, Any]) -> None:
        table = Table(title=r["entrypoint"], title_justify="left")
        columns = ("snapshot", "committed at", "operation", "cert", "days", "rows", "files")
        for column in (*columns, "tiers", "pins"):
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
                tiers_text(h["tiers"]),
                ", ".join(h["pins"]) or "-",
            )
        console.print(table)

    out.emit(result, render)


@click.command("entrypoints")
@lake_options
@common
def entrypoints_command(out: Output, lake: str | None, storage_options: dict[str, str]) -> None:
    """List the entrypoints of the lake, each with its latest snapshot: the days it holds
    (first and last), its rows and its live files per tier."""
    from t0lake.lake import open_lake

    opened = open_lake(require_lake(lake), storage_options)
    listed = []
    for name in opened.entrypoints():
        snap = opened.snapshot(name)
        days = snap.days()
        listed.append(
            {
                "entrypoint": name,
                "snapshot_id": snap.snapshot_id,
                "operation": snap.manifest.operation.value,
                "committed_at": snap.manifest.committed_at,
                "days": len(days),
                "first_day": days[0].isoformat() if days else None,
                "last_day": days[-1].isoformat() if days else None,
                "rows": snap.manifest.live_rows(),
                "tiers": snap.manifest.files_per_tier(),
            }
        )
    result = {"lake": opened.url, "entrypoints": listed}

    def render(console: Console, r: dict[str, Any]) -> None:
        if not r["entrypoints"]:
            console.print(f"no entrypoint has a snapshot in {r['lake']}")
            return
        for e in r["entrypoints"]:  # a line each: readable in a pipe and at 80 columns
            span = f"{e['first_day']}..{e['last_day']}" if e["days"] else "no days"
            console.print(
                f"{e['entrypoint']}: snapshot {e['snapshot_id']} ({e['operation']}), "
                f"{e['days']} days {span}, {e['rows']:,} rows, files {tiers_text(e['tiers'])}"
            )

    out.emit(result, render)


_registry_option = click.option(
    "--dsn",
    envvar="T0LAKE_PG_DSN",
    metavar="DSN",
    help="Also hold the lake against audit.t0_export_registry in this PostgreSQL (env "
    "T0LAKE_PG_DSN): a head older than, or other than, the registered snapshot fails.",
)


@click.command("verify")
@click.argument("entrypoint", required=False)
@_registry_option
@lake_options
@common
def verify_command(
    out: Output,
    entrypoint: str | None,
    dsn: str | None,
    lake: str | None,
    storage_options: dict[str, str],
) -> None:
    """Recompute every hash of the latest snapshot of ENTRYPOINT (default: of every
    entrypoint in the lake): file checksums, row counts and each (day, column) content hash.
    With a DSN, the heads must also be the snapshots Postgres registered (a deleted newest
    manifest leaves a sound chain that only the registry can tell from the real one).
    Exits 1 if anything differs from the manifests or the registry."""
    from t0lake.errors import IntegrityError
    from t0lake.exporter.registry import check_lake
    from t0lake.lake import open_lake

    opened = open_lake(require_lake(lake), storage_options)
    names = [entrypoint] if entrypoint else opened.entrypoints()
    checked, failed = [], []
    registry: list[str] = []
    if dsn:
        try:
            registry = check_lake(dsn, opened.storage, [entrypoint] if entrypoint else None)
        except IntegrityError as exc:
            failed.append(exc)
    if not names and not failed:
        raise ConfigError(f"no entrypoint has a snapshot in {opened.url}", lake=opened.url)
    for name in names:
        try:
            checked.append(opened.snapshot(name).verify())
        except IntegrityError as exc:
            failed.append(exc)
    if registry:
        for v in checked:
            v["registry"] = "agrees" if v["entrypoint"] in registry else "not registered"
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
                f"{v['days']} days, {v['columns']:,} day-columns, {v['rows']:,} rows"
                + (f"; registry {v['registry']}" if "registry" in v else "")
            )

    out.emit({"lake": opened.url, "verified": checked}, render)


@click.command("scan")
@click.argument("entrypoint")
@day_option("--start", "First day, inclusive (default: the first day of the snapshot).")
@day_option("--end", "Last day, inclusive (default: the last day of the snapshot).")
@click.option("--columns", metavar="COL[,COL...]", help="Only these columns (comma-separated).")
@click.option("--snapshot", "snapshot_id", type=int, help="Read this snapshot (time travel).")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Write the rows to a .parquet or .csv file instead of printing a preview.",
)
@_registry_option
@lake_options
@common
def scan_command(
    out: Output,
    entrypoint: str,
    start: str | None,
    end: str | None,
    columns: str | None,
    snapshot_id: int | None,
    out_path: str | None,
    dsn: str | None,
    lake: str | None,
    storage_options: dict[str, str],
) -> None:
    """Read days START..END of ENTRYPOINT from the lake, verifying every (day, column) it
    returns against the manifest first; print a preview or write them with --out."""

    from t0lake.lake import open_lake

    suffix = Path(out_path).suffix.lower() if out_path else None
    if suffix not in (None, ".parquet", ".csv"):
        raise ConfigError(f"--out must end in .parquet or .csv, got {out_path!r}")
    if out_path is not None and "://" not in out_path:
        _check_extract_dir(out_path)  # before the lake is read: a typo costs nothing
    names = None
    if columns is not None:
        names = [c.strip() for c in columns.split(",") if c.strip()]
        if not names:
            raise ConfigError("--columns names no column; leave it out to read them all")
    opened = open_lake(require_lake(lake), storage_options)
    if dsn:  # a rolled-back head (its newest manifest deleted) is refused before any row
        from t0lake.exporter.registry import check_lake

        check_lake(dsn, opened.storage, [entrypoint])
    snap = opened.snapshot(entrypoint, snapshot_id)
    frame = snap.read(start, end, names)
    held = snap.days()
    result: dict[str, Any] = {
        "entrypoint": entrypoint,
        "snapshot_id": snap.snapshot_id,
        "rows": frame.height,
        "columns": frame.columns,
        "verified": True,
        # what the snapshot holds, so an empty range says where the data is
        "first_day": held[0].isoformat() if held else None,
        "last_day": held[-1].isoformat() if held else None,
    }
    if out_path is not None:
        buffer = io.BytesIO()
        if suffix == ".csv":
            _csv_ready(frame).write_csv(buffer)
            result["note"] = (
                "CSV keeps no column types, so this extract cannot be hashed back to the "
                "certified value; a .parquet extract can (t0lake hash --file)"
            )
        else:
            import pyarrow.parquet as pq

            # the manifest's exact Arrow types (numeric and jsonb keep their t0lake.type tag),
            # so `t0lake hash --file` gives the certified hash back
            pq.write_table(to_arrow(frame), buffer)
        result["out"] = _write_extract(out_path, buffer.getvalue(), storage_options)
    else:
        result["head"] = frame.head(20).to_dicts()

    def render(console: Console, r: dict[str, Any]) -> None:
        where = f" to {r['out']}" if "out" in r else ""
        if "note" in r:
            console.print(f"note: {r['note']}")
        console.print(
            f"{r['entrypoint']} snapshot {r['snapshot_id']}: {r['rows']:,} verified rows{where}"
        )
        if r["rows"] == 0:
            holds = (
                f"days {r['first_day']}..{r['last_day']}" if r["first_day"] else "no days at all"
            )
            console.print(f"no rows in that range; the snapshot holds {holds}")
        elif "head" in r:
            shown = min(20, r["rows"])
            console.print(f"preview: the first {shown} of {r['rows']:,} rows (--out FILE for all)")
            console.print(frame.head(20))

    out.emit(result, render)


def tiers_text(tiers: dict[str, int]) -> str:
    """Files per tier as a person reads them: ``hot 3 · warm 2`` (``-`` for none)."""
    return " · ".join(f"{tier} {count}" for tier, count in tiers.items() if count) or "-"


def _write_extract(out_path: str, data: bytes, storage_options: dict[str, str]) -> str:
    """Write an extract: a local file atomically (a temporary name, then a rename), or any
    fsspec URL (``s3://…``, with the lake's storage options) in one PUT."""
    if "://" in out_path:
        import fsspec

        try:
            with fsspec.open(out_path, "wb", **storage_options) as fh:
                fh.write(data)
        except Exception as exc:  # fsspec backends raise what they like for a bad target
            raise ConfigError(
                f"cannot write the extract to {out_path}: {type(exc).__name__}: {exc}",
                path=out_path,
            ) from exc
        return out_path
    target = Path(out_path)
    _check_extract_dir(out_path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        tmp.replace(target)
    except OSError as exc:  # no permission, disk full: nothing is left behind
        tmp.unlink(missing_ok=True)
        raise ConfigError(
            f"cannot write the extract to {out_path}: {exc.strerror or exc}", path=out_path
        ) from exc
    return str(target)


def _check_extract_dir(out_path: str) -> None:
    """ConfigError unless the directory of a local ``--out`` exists: t0lake never creates
    directories for an extract, so a typo in the path is not a new tree."""
    parent = Path(out_path).parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise ConfigError(
            f"--out {out_path}: the directory {parent} {what}; create it first or pass a "
            "file in an existing directory",
            path=out_path,
        )


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

# name -> (argument metavar, one-line summary) of each lake command that is not built yet;
# compact, expire and vacuum were built (t0lake/cli/maintenance.py), so none is planned now.
PLANNED: dict[str, tuple[str, str]] = {}


def _planned(name: str, args: str, summary: str) -> click.Command:
    """A command whose issue has not landed: its options parse (so --help documents them
    and malformed ones are refused) and it exits 2 saying so."""

    @click.command(name, help=f"{summary}\n\nNot built yet in this version: exits 2.")
    @click.argument("args", nargs=-1, metavar=args)
    @dsn_option
    @lake_options
    @common
    def command(out: Output, args: tuple[str, ...], **options: Any) -> None:
        raise NotBuiltError(
            f"'t0lake {name}' is not built yet in t0lake {__version__}", command=name
        )

    return command


PLANNED_COMMANDS = [_planned(name, args, summary) for name, (args, summary) in PLANNED.items()]
