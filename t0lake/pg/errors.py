"""The one map from t0lake's SQLSTATEs to typed errors.

The SQL functions of ``sql/core/`` raise with their own SQLSTATEs (docs/certification.md,
docs/hashing.md) and put the structured context in a JSON DETAIL. Whatever calls them wraps
the call in :func:`sql_errors`, so "not certified" from SQL is the same NotCertifiedError,
with the same context, as the one Python raises.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from t0lake.errors import (
    ConfigError,
    DriftError,
    NotCertifiedError,
    T0LakeError,
    T0ViolationError,
    UnsupportedTypeError,
)

__all__ = [
    "SQL_STATE_BAD_INPUT",
    "SQL_STATE_DRIFT",
    "SQL_STATE_NOT_CERTIFIED",
    "SQL_STATE_T0_VIOLATION",
    "next_step",
    "sql_errors",
    "typed_error",
]

# SQLSTATEs of sql/core/20_certification.sql and sql/core/00_hashing.sql.
SQL_STATE_NOT_CERTIFIED = "T0L01"
SQL_STATE_DRIFT = "T0L02"
SQL_STATE_T0_VIOLATION = "T0L03"
SQL_STATE_BAD_INPUT = "T0L04"

_ERROR_BY_STATE: dict[str, type[T0LakeError]] = {
    SQL_STATE_NOT_CERTIFIED: NotCertifiedError,
    SQL_STATE_DRIFT: DriftError,
    SQL_STATE_T0_VIOLATION: T0ViolationError,
    SQL_STATE_BAD_INPUT: ConfigError,
}


def typed_error(exc: psycopg.Error) -> T0LakeError | None:
    """The typed error of a t0lake SQLSTATE, with the JSON DETAIL as its context; None for
    any other database error (those propagate as they are)."""
    kind = _ERROR_BY_STATE.get(exc.sqlstate or "")
    if kind is None:
        return None
    message = (exc.diag.message_primary or str(exc)).removeprefix("t0lake: ")
    if kind is ConfigError and "canonical hash" in message and "type" in message:
        kind = UnsupportedTypeError
    context: dict[str, Any] = {}
    if exc.diag.message_detail:
        try:
            context = dict(json.loads(exc.diag.message_detail))
        except ValueError:
            context = {"detail": exc.diag.message_detail}
    context.pop("message", None)
    step = next_step(str(context.get("condition", "")), str(context.get("entrypoint", "")))
    return kind(f"{message}; {step}" if step else message, **context)


def next_step(condition: str, entrypoint: str) -> str:
    """What to run about a refused certification: the guard says what failed, this says
    what to do about it."""
    if not entrypoint:
        return ""
    steps = {
        "never certified": f"run: t0lake certify {entrypoint}",
        "expired": f"run: t0lake certify {entrypoint} (or raise --max-age)",
        "last certification failed": (
            f"fix what the gate names, then run: t0lake certify {entrypoint} (a reviewed "
            "change of rows or views: add --accept-changes)"
        ),
        "viewdef changed": (
            f"review the change, then run: t0lake certify {entrypoint} --accept-changes"
        ),
    }
    return steps.get(condition, "")


@contextmanager
def sql_errors() -> Iterator[None]:
    """Turn a t0lake SQLSTATE raised inside the block into its typed error."""
    try:
        yield
    except psycopg.Error as exc:
        typed = typed_error(exc)
        if typed is None:
            raise
        raise typed from exc
