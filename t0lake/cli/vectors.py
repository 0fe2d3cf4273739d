"""``t0lake retain vectors``: old FeatureVectors leave PostgreSQL for the days the lake holds
with the same content, proven in one transaction (:mod:`t0lake.vectors.retain`)."""

from __future__ import annotations

import click
from rich.console import Console

from t0lake.cli.options import common, day_option, dsn_option, lake_options, require_lake
from t0lake.cli.output import Output

__all__ = ["retain"]


@click.group("retain", short_help="Retention of the online tables, proven against the lake.")
def retain() -> None:
    """Delete old rows from PostgreSQL, only where the lake holds the same content."""


@retain.command("vectors", short_help="Delete FeatureVectors older than --keep the lake holds.")
@click.option(
    "--keep",
    default="30d",
    show_default=True,
    metavar="DURATION",
    help="Whole days that stay in PostgreSQL (a bare number counts days).",
)
@click.option(
    "--entrypoint",
    default="fv.feature_vector_store_t0_v1_v",
    show_default=True,
    help="The exported FeatureVector entrypoint whose lake copy proves each day.",
)
@day_option("--as-of", "The day the window ends on (default: today, UTC).")
@dsn_option
@lake_options
@common
def retain_vectors_command(
    out: Output,
    keep: str,
    entrypoint: str,
    as_of: str | None,
    dsn: str | None,
    lake: str | None,
    storage_options: dict[str, str],
) -> None:
    """Delete from fv.feature_vectors the vectors of every UTC day before --as-of minus
    --keep, for the days the lake's head of --entrypoint holds with the same content hash,
    re-proven now in one REPEATABLE READ snapshot (SQL day hash == the manifest's), in one
    transaction, and record each day (lake snapshot, manifest sha256, when) in
    fv.vector_retention. A day not exported, exported with another hash, or whose lake files
    fail their proof is kept and named. Re-runnable: retained days are gone, so a second run
    deletes nothing.

    \b
    Example:
      t0lake retain vectors --keep 30d --lake s3://bucket/features
    """
    from t0lake._util.days import require_day
    from t0lake.vectors.retain import retain_vectors

    url = require_lake(lake)
    day = None if as_of is None else require_day(as_of, "as_of")
    digits = keep.strip()
    bare: str | int = int(digits) if digits.isascii() and digits.isdigit() else keep
    result = retain_vectors(
        dsn, url, bare, entrypoint=entrypoint, storage_options=storage_options, as_of=day
    ).to_dict()

    def render(console: Console, r: dict[str, object]) -> None:
        retained = r["retained"]
        kept = r["kept"]
        assert isinstance(retained, list) and isinstance(kept, dict)
        console.print(
            f"{r['entrypoint']}: {len(retained)} day(s) retained to the lake "
            f"(snapshot {r['snapshot_id']}), {r['rows_deleted']:,} vector(s) deleted; "
            f"days before {r['cutoff']} were candidates"
        )
        for day_, reason in kept.items():
            console.print(f"  kept {day_}: {reason}")

    out.emit(result, render)
