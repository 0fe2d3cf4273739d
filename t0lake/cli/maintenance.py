"""Commands of the lake's life cycle: ``compact``, ``expire``, ``vacuum``, ``pin``, ``unpin``,
``policy``. Each is a thin face on :mod:`t0lake.lake.maintenance`: the rules (what moves,
what is kept, what may be deleted) are the library's, the CLI parses, refuses bad input
before anything is written, and prints the result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from t0lake.cli.engines import iceberg_catalog_option, mirror_text
from t0lake.cli.options import common, day_option, lake_options, require_lake
from t0lake.cli.output import Output
from t0lake.errors import ConfigError

__all__ = [
    "compact_command",
    "expire_command",
    "pin_command",
    "policy_command",
    "unpin_command",
    "vacuum_command",
]

F = TypeVar("F", bound=Callable[..., Any])
_HOT_DAYS_HELP = "Days stay hot until their month ended this many days before --as-of."
_WARM_MONTHS_HELP = "Years go cold once their December is this many months before --as-of."


def _hot_days_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--hot-days", type=click.IntRange(min=0), default=None, metavar="N", help=help_text
    )


def _warm_months_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--warm-months", type=click.IntRange(min=0), default=None, metavar="N", help=help_text
    )


def _duration(value: str) -> str | int:
    """A duration as typed; a bare whole number goes to the library as an int, which counts
    it in the parameter's unit (days for --older-than, hours for --grace)."""
    return int(value) if value.strip().isdigit() else value


def _no_entrypoint(lake: str) -> ConfigError:
    return ConfigError(f"no entrypoint has a snapshot in {lake}", lake=lake)


def _ids(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids) if ids else "none"


def _pins(pins: dict[str, int]) -> str:
    return ", ".join(f"{name} → {sid}" for name, sid in sorted(pins.items())) or "none"


def _mirror(
    url: str, results: list[dict[str, Any]], catalog: str | None, options: dict[str, str]
) -> None:
    """After the commits landed: each entrypoint's Iceberg mirror step, as ``mirror`` in
    its result (a failed step is reported there, never raised; nothing without a catalog)."""
    if not catalog:
        return
    from t0lake.mirror import follow

    for r in results:
        r["mirror"] = follow(url, r["entrypoint"], catalog, options)


def _print_mirror(console: Console, r: dict[str, Any]) -> None:
    if line := mirror_text(r.get("mirror")):
        console.print(f"  {line}", markup=False)


# --------------------------------------------------------------------------- compact


@click.command(
    "compact", short_help="Move days to their policy's tier: one proven file per month or year."
)
@click.argument("entrypoint", required=False)
@day_option("--as-of", "Required. The day tier moves are decided by (never the wall clock).")
@_hot_days_option(_HOT_DAYS_HELP + " Overrides the stored policy for this run only.")
@_warm_months_option(_WARM_MONTHS_HELP + " Overrides the stored policy for this run only.")
@iceberg_catalog_option
@lake_options
@common
def compact_command(
    out: Output,
    entrypoint: str | None,
    as_of: str | None,
    hot_days: int | None,
    warm_months: int | None,
    iceberg_catalog: str | None,
    lake: str | None,
    storage_options: dict[str, str],
) -> None:
    """Move the days of ENTRYPOINT (default: of every entrypoint in the lake) to the tier
    their policy gives them on --as-of, one deterministic, proven file per warm month or
    cold year, and commit one snapshot per entrypoint (operation 'compact').

    Rules: a month leaves hot once its last day is --hot-days days before --as-of; a year
    goes cold once its December is --warm-months months before --as-of's month; data never
    moves back to a hotter tier. Every output is read back and its (day, column) hashes
    re-proven before the commit, so reads return the same rows before and after. A unit
    already compacted writes nothing; a second run with the same --as-of commits nothing.
    The policy is the one stored in the lake ('t0lake policy'), or the default (hot 30
    days, warm 12 months); --hot-days/--warm-months change it for this run only.

    \b
    Example:
      t0lake compact ml.features_v --lake s3://bucket/features --as-of 2026-11-30
    """
    import dataclasses

    from t0lake._util.days import require_day
    from t0lake.lake import open_lake
    from t0lake.lake.maintenance import compact, get_policy

    url = require_lake(lake)
    if as_of is None:
        raise ConfigError(
            "--as-of DATE is required: compaction decides tier moves by it, never by the clock",
            parameter="as_of",
        )
    day = require_day(as_of, "as_of")  # refused before anything is read or written
    progress = False if out.as_json else None
    overrides: dict[str, Any] = {
        name: value
        for name, value in (("hot_days", hot_days), ("warm_months", warm_months))
        if value is not None
    }
    if overrides:
        names = (
            [entrypoint]
            if entrypoint is not None
            else open_lake(url, storage_options).entrypoints()
        )
        results = [
            result
            for name in names
            for result in compact(
                url,
                day,
                name,
                policy=dataclasses.replace(get_policy(url, name, storage_options), **overrides),
                storage_options=storage_options,
                progress=progress,
            )
        ]
    else:
        results = compact(url, day, entrypoint, storage_options=storage_options, progress=progress)
    if not results:
        raise _no_entrypoint(url)
    entries: list[dict[str, Any]] = [r.to_dict() for r in results]
    _mirror(url, entries, iceberg_catalog, storage_options)
    result = {"lake": url, "as_of": day.isoformat(), "overrides": overrides, "results": entries}

    def render(console: Console, r: dict[str, Any]) -> None:
        for c in r["results"]:
            _render_compacted(console, c)
            _print_mirror(console, c)
            if derived := c.get("downsample"):  # the policy's downsampling step, if any
                what = "committed" if derived["committed"] else "nothing new for"
                console.print(
                    f"  downsample: {what} {derived['target']} "
                    f"(snapshot {derived['snapshot_id']}, {len(derived['days'])} day(s))"
                )

    out.emit(result, render)


def _render_compacted(console: Console, c: dict[str, Any]) -> None:
    if not c["committed"]:
        console.print(
            f"{c['entrypoint']}: nothing to compact as of {c['as_of']} "
            f"(snapshot {c['snapshot_id']})"
        )
        return
    inputs = sum(len(o["inputs"]) for o in c["outputs"])
    console.print(
        f"{c['entrypoint']}: committed snapshot {c['snapshot_id']} as of {c['as_of']}: "
        f"{len(c['outputs'])} file(s) written from {inputs} input file(s)"
    )
    table = Table(title_justify="left")
    for column in ("tier", "unit", "file", "inputs", "days", "rows", "dropped days"):
        numeric = column in ("inputs", "days", "rows")
        table.add_column(column, justify="right" if numeric else "left")
    for o in c["outputs"]:
        partition, name = o["output"].rsplit("/", 2)[-2:]
        table.add_row(
            o["tier"],
            partition,
            name[:16] + "…",
            str(len(o["inputs"])),
            str(o["days"]),
            f"{o['rows']:,}",
            ", ".join(o["dropped_days"]) or "-",
        )
    console.print(table)


# --------------------------------------------------------------------------- expire


@click.command(
    "expire", short_help="Drop old snapshots from the history (never the head or a pinned one)."
)
@click.argument("entrypoint", required=False)
@click.option(
    "--keep-last",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Keep the N newest snapshots (≥ 1), expire the older ones.",
)
@click.option(
    "--older-than",
    default=None,
    metavar="DURATION",
    help="Expire snapshots committed longer ago than this: 12h, 30d, 2w (a bare number: days).",
)
@iceberg_catalog_option
@lake_options
@common
def expire_command(
    out: Output,
    entrypoint: str | None,
    keep_last: int | None,
    older_than: str | None,
    iceberg_catalog: str | None,
    lake: str | None,
    storage_options: dict[str, str],
) -> None:
    """Drop old snapshots from the history of ENTRYPOINT (default: of every entrypoint in
    the lake): the expiry is committed as a new snapshot (operation 'expire'), then the
    expired manifests are deleted.

    Rules: give exactly one of --keep-last and --older-than. The head and every pinned
    snapshot ('t0lake pin') are never expired. An expired snapshot can no longer be read
    (time travel fails with SnapshotExpiredError); its data files stay until 't0lake
    vacuum' finds that no retained snapshot references them.

    \b
    Example:
      t0lake expire ml.features_v --lake ./lake --keep-last 10
      t0lake expire --lake ./lake --older-than 30d
    """
    from t0lake.lake.maintenance import expire

    url = require_lake(lake)
    if (keep_last is None) == (older_than is None):
        raise ConfigError(
            "give exactly one of --keep-last N and --older-than DURATION"
            + (" (not both)" if keep_last is not None else ""),
            parameter="keep_last",
        )
    results = expire(
        url,
        entrypoint,
        keep_last=keep_last,
        older_than=None if older_than is None else _duration(older_than),
        storage_options=storage_options,
    )
    if not results:
        raise _no_entrypoint(url)
    entries: list[dict[str, Any]] = [r.to_dict() for r in results]
    _mirror(url, entries, iceberg_catalog, storage_options)
    result = {"lake": url, "results": entries}

    def render(console: Console, r: dict[str, Any]) -> None:
        for e in r["results"]:
            what = (
                f"expired snapshot(s) {_ids(e['expired'])}" if e["expired"] else "nothing to expire"
            )
            console.print(
                f"{e['entrypoint']}: {what}; head {e['head']}; kept {_ids(e['kept'])}; "
                f"pins {_pins(e['pinned'])}; {len(e['deleted_manifests'])} manifest file(s) "
                "deleted"
            )
            _print_mirror(console, e)

    out.emit(result, render)


# --------------------------------------------------------------------------- vacuum


@click.command("vacuum", short_help="Delete the files no retained snapshot references.")
@click.argument("entrypoint", required=False)
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted; delete nothing.")
@click.option(
    "--grace",
    default="1h",
    show_default=True,
    metavar="DURATION",
    help="Keep unreferenced files younger than this: 0, 30m, 1h, 2d (a bare number: hours).",
)
@lake_options
@common
def vacuum_command(
    out: Output,
    entrypoint: str | None,
    dry_run: bool,
    grace: str,
    lake: str | None,
    storage_options: dict[str, str],
) -> None:
    """Delete the files of ENTRYPOINT (default: of every entrypoint in the lake) that no
    retained snapshot references, and the manifests 'expire' recorded as expired.

    Rules: what is garbage is decided from the manifests, never from listings alone: a data
    or temporary file is deleted only if no retained (not expired) manifest references it
    and it is older than --grace (an export or compaction in flight writes its files before
    its manifest). A broken manifest chain deletes nothing. The policy file and files t0lake
    did not write are left alone and reported. Run it after 'compact' and 'expire'.

    \b
    Example:
      t0lake vacuum ml.features_v --lake ./lake --dry-run
      t0lake vacuum --lake s3://bucket/features --grace 2h
    """
    from t0lake.lake.maintenance import vacuum

    url = require_lake(lake)
    results = vacuum(
        url,
        entrypoint,
        dry_run=dry_run,
        grace=_duration(grace),
        storage_options=storage_options,
    )
    if not results:
        raise _no_entrypoint(url)
    dicts = [r.to_dict() for r in results]
    result = {
        "lake": url,
        "dry_run": dry_run,
        "grace": grace,
        "files": sum(len(d["deleted"]) for d in dicts),
        "bytes": sum(int(d["bytes"]) for d in dicts),
        "results": dicts,
    }

    def render(console: Console, r: dict[str, Any]) -> None:
        verb = "would delete" if r["dry_run"] else "deleted"
        for v in r["results"]:
            console.print(
                f"{v['entrypoint']}: {verb} {len(v['deleted'])} file(s), {v['bytes']:,} bytes "
                f"({v['referenced']} file(s) referenced by retained snapshots)"
            )
            if v["deleted"]:
                table = Table(title_justify="left")
                table.add_column(verb)
                table.add_column("kind")
                table.add_column("bytes", justify="right")
                for d in v["deleted"]:
                    table.add_row(d["path"], d["kind"], f"{d['bytes']:,}")
                console.print(table)
            if v["young"]:
                console.print(
                    f"  kept {len(v['young'])} unreferenced file(s) younger than --grace "
                    f"{r['grace']}"
                )
            for path in v["unknown"]:
                console.print(f"  left alone (not written by t0lake): {path}")
        console.print(f"total: {verb} {r['files']} file(s), {r['bytes']:,} bytes")

    out.emit(result, render)


# --------------------------------------------------------------------------- pin / unpin


@click.command("pin", short_help="Name a snapshot so that expire keeps it.")
@click.argument("entrypoint")
@click.argument("snapshot_id", metavar="SNAPSHOT", type=click.IntRange(min=1))
@click.option(
    "--name", required=True, metavar="NAME", help="The pin's name: letters, digits, '_', '.', '-'."
)
@iceberg_catalog_option
@lake_options
@common
def pin_command(
    out: Output,
    entrypoint: str,
    snapshot_id: int,
    name: str,
    iceberg_catalog: str | None,
    lake: str | None,
    storage_options: dict[str, str],
) -> None:
    """Pin snapshot SNAPSHOT of ENTRYPOINT under --name, committed as a new snapshot
    (operation 'pin').

    Rules: 'expire' never drops a pinned snapshot, so time travel to it, and 'vacuum''s
    keeping of its files, last until it is unpinned. The snapshot must exist and not be
    expired; a name already naming another snapshot is refused (unpin it first); pinning
    the same snapshot under the same name again commits nothing.

    \b
    Example:
      t0lake pin ml.features_v 42 --name paper-2026 --lake ./lake
    """
    from t0lake.lake.maintenance import pin

    url = require_lake(lake)
    result = pin(url, entrypoint, snapshot_id, name, storage_options)
    _mirror(url, [result], iceberg_catalog, storage_options)

    def render(console: Console, r: dict[str, Any]) -> None:
        what = "pinned" if r["committed"] else "already pinned:"
        console.print(
            f"{r['entrypoint']}: {what} snapshot {r['snapshot_id']} as {r['pin']!r} "
            f"(head {r['head']}); pins {_pins(r['pins'])}"
        )
        _print_mirror(console, r)

    out.emit(result, render)


@click.command("unpin", short_help="Remove a pin; its snapshot may then be expired.")
@click.argument("entrypoint")
@click.option("--name", required=True, metavar="NAME", help="The pin to remove.")
@iceberg_catalog_option
@lake_options
@common
def unpin_command(
    out: Output,
    entrypoint: str,
    name: str,
    iceberg_catalog: str | None,
    lake: str | None,
    storage_options: dict[str, str],
) -> None:
    """Remove the pin --name of ENTRYPOINT, committed as a new snapshot (operation
    'unpin'); the snapshot it named may then be expired.

    Rules: an unknown pin name is a ConfigError (exit 2) and writes nothing.

    \b
    Example:
      t0lake unpin ml.features_v --name paper-2026 --lake ./lake
    """
    from t0lake.lake.maintenance import unpin

    url = require_lake(lake)
    result = unpin(url, entrypoint, name, storage_options)
    _mirror(url, [result], iceberg_catalog, storage_options)

    def render(console: Console, r: dict[str, Any]) -> None:
        console.print(
            f"{r['entrypoint']}: removed pin {r['unpinned']!r} (head {r['head']}); "
            f"pins {_pins(r['pins'])}"
        )
        _print_mirror(console, r)

    out.emit(result, render)


# --------------------------------------------------------------------------- policy


@click.command("policy", short_help="Show or set an entrypoint's tier policy.")
@click.argument("entrypoint")
@_hot_days_option(_HOT_DAYS_HELP + " Stores the changed policy.")
@_warm_months_option(_WARM_MONTHS_HELP + " Stores the changed policy.")
@click.option(
    "--reset", is_flag=True, help="Store the default policy (hot 30 days, warm 12 months)."
)
@lake_options
@common
def policy_command(
    out: Output,
    entrypoint: str,
    hot_days: int | None,
    warm_months: int | None,
    reset: bool,
    lake: str | None,
    storage_options: dict[str, str],
) -> None:
    """Show the tier policy of ENTRYPOINT; with --hot-days, --warm-months or --reset, store
    the changed policy in the lake first (beside the entrypoint's data, so every job that
    compacts the lake applies the same one).

    Rules: without options nothing is written. A change applies from the next 'compact',
    which records the policy it applied in its manifest; nothing moves now. --reset does
    not combine with --hot-days/--warm-months. Writer options (compression, row groups)
    are shown but only changeable from Python (t0lake.set_policy).

    \b
    Example:
      t0lake policy ml.features_v --lake ./lake
      t0lake policy ml.features_v --lake ./lake --hot-days 14 --warm-months 6
    """
    import dataclasses

    from t0lake.lake.maintenance import get_policy, set_policy
    from t0lake.lake.tiers import DEFAULT_POLICY

    url = require_lake(lake)
    if reset and (hot_days is not None or warm_months is not None):
        raise ConfigError(
            "--reset stores the default policy; it does not combine with --hot-days or "
            "--warm-months",
            parameter="reset",
        )
    before = get_policy(url, entrypoint, storage_options)
    changes: dict[str, Any] = {
        name: value
        for name, value in (("hot_days", hot_days), ("warm_months", warm_months))
        if value is not None
    }
    stored = reset or bool(changes)
    policy = DEFAULT_POLICY if reset else dataclasses.replace(before, **changes)
    if stored:
        set_policy(url, entrypoint, policy, storage_options)
    result = {
        "entrypoint": entrypoint,
        "lake": url,
        "policy": policy.to_json(),
        "default": policy == DEFAULT_POLICY,
        "stored": stored,
        "changed": policy != before,
    }

    def render(console: Console, r: dict[str, Any]) -> None:
        p = r["policy"]
        state = "default" if r["default"] else "custom"
        if r["stored"]:
            state += ", stored" + ("" if r["changed"] else " (unchanged)")
        table = Table(title=f"{r['entrypoint']} tier policy ({state})", title_justify="left")
        for column in ("tier", "holds", "writer"):
            table.add_column(column)
        rules = {
            "hot": f"a file per day, until the month ended {p['hot_days']} day(s) before as-of",
            "warm": f"a file per month, until December is {p['warm_months']} month(s) before",
            "cold": "a file per year, from then on",
        }
        for tier, rule in rules.items():
            w = p["writer"][tier]
            table.add_row(
                tier,
                rule,
                f"{w['compression']} level {w['compression_level']}, "
                f"row groups of {w['row_group_size']:,}",
            )
        console.print(table)
        if p["downsample"]:
            console.print(f"downsample: {p['downsample']}")

    out.emit(result, render)
