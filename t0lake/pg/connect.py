"""Connections: the DSN to use, a connection or a typed error, never a password in a message.

Every other part of t0lake reaches Postgres through :func:`connect`, so a refused
connection is one ConfigError naming the redacted DSN and the cause.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from t0lake.errors import ConfigError

__all__ = ["Connection", "DatabaseError", "connect", "redact_dsn", "resolve_dsn"]

# The psycopg types callers outside pg/ name in signatures and except clauses: they import
# them from here, so psycopg stays an implementation detail of this package.
Connection = psycopg.Connection
DatabaseError = psycopg.Error

_UNPARSEABLE = "<a connection string that does not parse (not shown: it may hold a password)>"


def redact_dsn(dsn: str) -> str:
    """The DSN with its password replaced, fit for messages and logs.

    The DSN is parsed as libpq parses it (URLs, key=value with quoted values and escaped
    quotes, ``?password=``), so a password is masked whole whatever its form; a DSN that
    does not parse is not shown at all, since no one can tell which part is the secret.
    """
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return _UNPARSEABLE
    secret = params.get("password")
    if not secret:
        return dsn
    masked = make_conninfo("", **{**params, "password": "***"})
    shown = _redact_url(dsn) if "://" in dsn else masked
    if str(secret) in shown:  # a URL form this does not know: the key=value form is safe
        shown = masked
    return shown if str(secret) not in shown else _UNPARSEABLE


def _redact_url(dsn: str) -> str:
    """``postgresql://user:***@host/db?password=***``: the URL form kept as the user wrote it."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hosts = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hosts}"
    query = urlencode(
        [
            (k, "***" if k == "password" else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


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
        conninfo_to_dict(dsn)
    except psycopg.Error:
        # libpq's message quotes the text around the fault, which may be part of a password
        raise ConfigError(
            "the PostgreSQL connection string does not parse: quote values with spaces "
            "(password='two words'), escape quotes inside them (\\'), or use a URL",
            dsn=_UNPARSEABLE,
        ) from None
    try:
        return psycopg.connect(dsn, autocommit=autocommit)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot connect to PostgreSQL at {redact_dsn(dsn)}: {reason}", dsn=redact_dsn(dsn)
        ) from exc
