"""What every ``t0lake`` command shares: the common options (--json, --debug, --dsn, --lake,
--storage-option) and their parsing; the output itself is :mod:`t0lake.cli.output`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from t0lake.cli.output import Output
from t0lake.errors import ConfigError

__all__ = [
    "EPILOG",
    "common",
    "day_option",
    "dsn_option",
    "lake_options",
    "parse_storage_options",
    "require_lake",
]

F = TypeVar("F", bound=Callable[..., Any])
EPILOG = (
    "Connection: --dsn or T0LAKE_PG_DSN. Lake: --lake or T0LAKE_LAKE (a path or s3://bucket/"
    "prefix). S3 options: the usual AWS_* variables or --storage-option key=value."
)


def common(func: F) -> F:
    """--json and --debug on every command (they may also be given before the command)."""

    @click.option("--json", "as_json", is_flag=True, help="Print the result (or error) as JSON.")
    @click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
    @click.pass_context  # type: ignore[arg-type]
    @functools.wraps(func)
    def wrapper(ctx: click.Context, as_json: bool, debug: bool, **kwargs: Any) -> Any:
        ctx.ensure_object(dict)
        ctx.obj["json"] = ctx.obj.get("json", False) or as_json
        ctx.obj["debug"] = ctx.obj.get("debug", False) or debug
        return ctx.invoke(func, Output(ctx.obj["json"]), **kwargs)

    return wrapper  # type: ignore[return-value]


def dsn_option(func: F) -> F:
    return click.option(
        "--dsn",
        envvar="T0LAKE_PG_DSN",
        metavar="DSN",
        help="PostgreSQL connection string (env T0LAKE_PG_DSN).",
    )(func)


def lake_options(func: F) -> F:
    func = click.option(
        "--storage-option",
        "storage_options",
        multiple=True,
        metavar="KEY=VALUE",
        callback=parse_storage_options,
        help="fsspec/s3fs option for the lake, repeatable (e.g. endpoint_url=http://...).",
    )(func)
    return click.option(
        "--lake",
        envvar="T0LAKE_LAKE",
        metavar="URL",
        help="Lake root: a local path or s3://bucket/prefix (env T0LAKE_LAKE).",
    )(func)


def parse_storage_options(
    ctx: click.Context, param: click.Parameter, values: Sequence[str]
) -> dict[str, str]:
    """``--storage-option KEY=VALUE`` as a dict. A malformed one is refused by its position,
    never echoed: the values are secrets (an S3 secret typed without ``secret=`` would
    otherwise be printed back, and kept in terminal logs)."""
    options: dict[str, str] = {}
    for position, item in enumerate(values, start=1):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(
                f"the {_ordinal(position)} one given is not KEY=VALUE (e.g. "
                "endpoint_url=http://...); its text is not shown: it may be a secret",
                ctx=ctx,
                param=param,
            )
        options[key.strip()] = value
    return options


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def require_lake(lake: str | None) -> str:
    if not lake:
        raise ConfigError("no lake: pass --lake URL or set T0LAKE_LAKE")
    return lake


def day_option(name: str, help_text: str) -> Callable[[F], F]:
    return click.option(name, metavar="DATE", default=None, help=help_text)
