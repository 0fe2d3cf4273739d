"""The ``t0lake`` command.

One error funnel (:func:`main`): every failure becomes a one-line message on stderr (or a
JSON object with ``--json``) and a non-zero exit; tracebacks only with ``--debug``. Each
command returns a JSON-ready result that is printed either as JSON or as a rich table, so
the two outputs never drift apart.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import click

from t0lake._version import __version__
from t0lake.cli.db import certify_command, db, hash_command, status
from t0lake.cli.demo import demo
from t0lake.cli.engines import files_command, mirror_command
from t0lake.cli.lake import (
    PLANNED_COMMANDS,
    entrypoints_command,
    export_command,
    scan_command,
    snapshots_command,
    verify_command,
)
from t0lake.cli.maintenance import (
    compact_command,
    expire_command,
    pin_command,
    policy_command,
    unpin_command,
    vacuum_command,
)
from t0lake.cli.options import EPILOG
from t0lake.cli.vectors import retain
from t0lake.errors import T0LakeError

__all__ = ["cli", "main", "run"]


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EPILOG,
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


for command in (db, status, certify_command, hash_command, demo):
    cli.add_command(command)
for command in (
    export_command,
    entrypoints_command,
    snapshots_command,
    verify_command,
    scan_command,
):
    cli.add_command(command)
for command in (
    compact_command,
    expire_command,
    vacuum_command,
    pin_command,
    unpin_command,
    policy_command,
):
    cli.add_command(command)
cli.add_command(files_command)  # lake reads for other engines (cli/engines.py)
cli.add_command(mirror_command)  # the Iceberg mirror (cli/engines.py)
cli.add_command(retain)  # retention of the online tables (cli/vectors.py)
for command in PLANNED_COMMANDS:
    cli.add_command(command)


# --------------------------------------------------------------------------- funnel


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; every error ends here as one line (or JSON) and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    debug = "--debug" in args or os.environ.get("T0LAKE_DEBUG") == "1"
    if as_json and "--version" in args:  # click's --version prints text
        click.echo(json.dumps({"version": __version__}))
        return 0
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
            traceback.print_exc(file=sys.stderr)
        _fail(exc.message, type(exc).__name__, as_json, exc.context)
        return exc.exit_code  # --debug shows more, it never changes what the exit code says
    except Exception as exc:
        if debug:
            traceback.print_exc(file=sys.stderr)
        _fail(
            f"{type(exc).__name__}: {exc}"
            + ("" if debug else " (rerun with --debug for the traceback)"),
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


def run() -> None:
    """The console script: :func:`main`, then leave the process without running the C++
    destructors of the native libraries. pyarrow's and Polars' thread pools can abort a
    process that exits normally (SIGABRT, "terminate called without an active exception",
    apache/arrow#34314, pola-rs/polars#24169) after the result was printed, which would turn
    exit 0, 1 or 2 into 134. Everything t0lake wrote is flushed and closed first."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to say to it
            stream.flush()
    logging.shutdown()
    os._exit(code)
