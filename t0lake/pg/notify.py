"""LISTEN/NOTIFY: how a FeatureVector store hears of writes made by other processes."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
from psycopg import sql

__all__ = ["IntegrityViolation", "listen", "notifications"]

# A constraint of the database refused a write (unique, foreign key, check).
IntegrityViolation = psycopg.errors.IntegrityError


def listen(dsn: str, channel: str) -> psycopg.Connection:
    """A new autocommit connection LISTENing on ``channel``; psycopg.Error if refused."""
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
    except BaseException:
        conn.close()
        raise
    return conn


def notifications(conn: psycopg.Connection, timeout: float) -> Iterator[str]:
    """The payloads that arrive on a listening connection within ``timeout`` seconds."""
    for notify in conn.notifies(timeout=timeout):
        yield notify.payload
