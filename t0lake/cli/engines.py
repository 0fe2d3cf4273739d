"""Lake-reading commands for other engines (DuckDB, Polars, pyarrow, Spark, Trino): ``files``,
the live file list of a snapshot. What they read is plain Parquet and unverified; these
commands tell them exactly which bytes, and which rows of them, a snapshot is
(``docs/other-engines.md``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console

from t0lake.cli.options import common, day_option, lake_options, require_lake
from t0lake.cli.output import Output

__all__ = [
    "files_command",
    "iceberg_catalog_option",
    "mirror_command",
    "mirror_text",
    "ranges_text",
]

F = TypeVar("F", bound=Callable[..., Any])


@click.command("files")
@click.argument("entrypoint")
@click.option(
    "--snapshot",
    "snapshot_id",
    metavar="ID",
    default=None,
    help="List this snapshot's files instead of the latest's (time travel).",
)
@day_option("--start", "First day, inclusive (default: the first day of the snapshot).")
@day_option("--end", "Last day, inclusive (default: the last day of the snapshot).")
@lake_options
@common
def files_command(
    out: Output,
    entrypoint: str,
    snapshot_id: str | None,
    start: str | None,
    end: str | None,
    lake: str | None,
    storage_options: dict[str, str],
) -> None:
    """List the live files of a snapshot of ENTRYPOINT holding days START..END, as URIs any
    engine opens, in day order. A file that also holds rows outside those days (a compacted
    month or year read in part, or one of whose days was re-exported since) is marked: keep
    only its listed row ranges. Nothing is read or verified but the manifest."""
    from t0lake._util.days import parse_range
    from t0lake.lake import open_lake
    from t0lake.lake.snapshot import check_snapshot_id

    wanted = None if snapshot_id is None else check_snapshot_id(snapshot_id, entrypoint)
    first, last = parse_range(start, end)  # bad days before the lake is opened
    opened = open_lake(require_lake(lake), storage_options)
    snap = opened.snapshot(entrypoint, wanted)
    listed = snap.live_files(start, end)
    manifest = snap.manifest
    result: dict[str, Any] = {
        "entrypoint": entrypoint,
        "snapshot_id": snap.snapshot_id,
        "manifest_sha256": manifest.sha256,
        "start": None if first is None else first.isoformat(),
        "end": None if last is None else last.isoformat(),
        "event_time_col": manifest.event_time_col,
        "day_expr": manifest.day_expr,
        "rows": sum(f.rows for f in listed),
        "days": sum(len(f.days) for f in listed),
        "partial_files": sum(1 for f in listed if not f.whole),
        "files": [f.to_dict() for f in listed],
    }

    def render(console: Console, r: dict[str, Any]) -> None:
        # one URI a line (a pipe into xargs reads them); a partial file says which rows
        for f in r["files"]:
            if f["whole"]:
                console.print(f["uri"], markup=False)
            else:
                console.print(
                    f"{f['uri']}  # only rows {ranges_text(f['row_ranges'])} of "
                    f"{f['file_rows']:,}: days {f['days'][0]}..{f['days'][-1]}",
                    markup=False,
                )
        console.print(
            f"# {r['entrypoint']} snapshot {r['snapshot_id']}: {len(r['files'])} file(s), "
            f"{r['days']} day(s), {r['rows']:,} rows"
            + (
                f"; {r['partial_files']} file(s) hold other rows too: keep only the rows "
                "listed (--json gives them)"
                if r["partial_files"]
                else ""
            ),
            markup=False,
        )

    out.emit(result, render)


def ranges_text(ranges: list[list[int]]) -> str:
    """``[[40, 40], [80, 40]]`` as ``40-119`` (adjacent ranges merged; rows 0-based,
    inclusive)."""
    merged: list[list[int]] = []
    for first, rows in ranges:
        if merged and merged[-1][1] == first:
            merged[-1][1] = first + rows
        else:
            merged.append([first, first + rows])
    return ", ".join(f"{a}-{b - 1}" for a, b in merged)


# --------------------------------------------------------------------------- mirror


def iceberg_catalog_option(func: F) -> F:
    """``--iceberg-catalog URL`` (env T0LAKE_ICEBERG_CATALOG): the commands that commit to
    the lake mirror their commit into this catalog when it is given."""
    return click.option(
        "--iceberg-catalog",
        "iceberg_catalog",
        envvar="T0LAKE_ICEBERG_CATALOG",
        metavar="URL",
        default=None,
        help="SQLAlchemy URL of the Iceberg catalog that mirrors the lake, e.g. "
        "postgresql+psycopg://user@host/db (env T0LAKE_ICEBERG_CATALOG).",
    )(func)


def mirror_text(step: dict[str, Any] | None) -> str | None:
    """One line on a commit's mirror step (None when no catalog is configured)."""
    if step is None:
        return None
    if not step["mirrored"]:
        return (
            f"warning: the commit landed but the Iceberg mirror step failed ({step['error']}); "
            "'t0lake mirror' catches it up"
        )
    done = ", ".join(str(i) for i in step["mirrored"]) or "nothing new"
    skipped = f"; skipped {', '.join(step['skipped'])}" if step["skipped"] else ""
    return f"iceberg {step['table']}: mirrored {done}{skipped}"


@click.command("mirror", short_help="Mirror the lake's snapshots into an Iceberg catalog.")
@click.argument("entrypoint", required=False)
@iceberg_catalog_option
@lake_options
@common
def mirror_command(
    out: Output,
    entrypoint: str | None,
    iceberg_catalog: str | None,
    lake: str | None,
    storage_options: dict[str, str],
) -> None:
    """Bring the Iceberg table of ENTRYPOINT (default: of every entrypoint in the lake) up to
    the lake's head: one Iceberg snapshot per t0lake snapshot not mirrored yet, its data
    files exactly the manifest's live files (registered in place), tagged t0lake-00000007,
    pins as tags.

    Rules: a missed or crashed step is caught up from where the table's head stands; a run
    with nothing new commits nothing. A table whose head is not one of this lake's
    snapshots (by id and manifest checksum) is refused, exit 1, nothing written. A snapshot
    serving only part of a compacted file (one of its days re-exported since) is mirrored
    with an Iceberg v2 position-delete file naming the rows it no longer serves.

    \b
    Example:
      t0lake mirror ml.features_v --lake ./lake --iceberg-catalog sqlite:///catalog.db
    """
    from t0lake.mirror import mirror

    results = mirror(
        require_lake(lake), entrypoint, catalog=iceberg_catalog, storage_options=storage_options
    )
    result = {"lake": lake, "results": [r.to_dict() for r in results]}

    def render(console: Console, r: dict[str, Any]) -> None:
        for m in r["results"]:
            done = ", ".join(str(i) for i in m["mirrored"]) or "nothing new"
            console.print(
                f"{m['entrypoint']} → iceberg {m['table']}: mirrored {done} (lake head "
                f"{m['head']}, iceberg snapshot {m['iceberg_snapshot_id']})",
                markup=False,
            )
            for sid, why in m["skipped"].items():
                console.print(f"  skipped snapshot {sid}: {why}", markup=False)

    out.emit(result, render)
