"""Connections: the DSN to use, a connection or a typed error, never a password in a message.

Every other part of t0lake reaches Postgres through :func:`connect`, so a refused
connection is one ConfigError naming the redacted DSN and the cause.
"""

from __future__ import annotations

import os
import re

import psycopg

from t0lake.errors import ConfigError

__all__ = ["Connection", "DatabaseError", "connect", "redact_dsn", "resolve_dsn"]

# The psycopg types callers outside pg/ name in signatures and except clauses: they import
# them from here, so psycopg stays an implementation detail of this package.
Connection = psycopg.Connection
DatabaseError = psycopg.Error

_PASSWORD = re.compile(r"(password\s*=\s*)(\S+)|(://[^:/@]+:)([^@]+)(@)", re.IGNORECASE)


def redact_dsn(dsn: str) -> str:
    """The DSN with any password replaced, fit for messages and logs."""
    return _PASSWORD.sub(
        lambda m: (m.group(1) + "***") if m.group(1) else (m.group(3) + "***" + m.group(5)), dsn
    )


def resolve_dsn(dsn: str | None) -> str:
    """The DSN to use: the argument, else ``T0LAKE_PG_DSN``; ConfigError when neither."""
    dsn = dsn or os.environ.get("T0LAKE_PG_DSN")
    if not dsn:
        raise ConfigError("no PostgreSQL connection: pass --dsn or set T0LAKE_PG_DSN")
    return dsn


def connect(dsn: str | None, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection, or raise ConfigError naming the (redacted) DSN and the cause."""
    dsn = resolve_dsn(dsn)
    try:
        return psycopg.connect(dsn, autocommit=autocommit)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot connect to PostgreSQL at {redact_dsn(dsn)}: {reason}", dsn=redact_dsn(dsn)
        ) from exc
