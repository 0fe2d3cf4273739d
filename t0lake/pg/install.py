"""``t0lake db init``: apply ``sql/`` and, where the server has it, the C extension.

The SQL files are plain and re-runnable: ``sql/core/`` is t0lake itself (hashing, audit
primitives, certification, the export registry, the FeatureVector tables), ``sql/examples/``
the example stores of the seeds. They are applied in file-name order across both folders,
so an example file numbered between core files lands between them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from t0lake.errors import ConfigError

__all__ = ["NATIVE_HASH_EXTENSION", "SqlFile", "apply_sql", "sql_dir", "sql_files"]

_log = logging.getLogger("t0lake")

NATIVE_HASH_EXTENSION = "t0lake_hash"


@dataclass(frozen=True)
class SqlFile:
    """One re-runnable SQL file; ``example`` files (``sql/examples/``) create the demo stores."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def example(self) -> bool:
        return self.path.parent.name == "examples"


def sql_dir() -> Path:
    """Where the SQL files are: inside the installed package, or at the top of a checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "sql", package.parent / "sql"):
        if (candidate / "core").is_dir():
            return candidate
    raise ConfigError(f"the t0lake SQL files are missing (looked in {package / 'sql'})")


def sql_files(*, examples: bool = False) -> list[SqlFile]:
    """The SQL files in the order ``db init`` applies them (by file name)."""
    root = sql_dir()
    paths = list((root / "core").glob("*.sql"))
    if examples:
        paths += (root / "examples").glob("*.sql")
    return [SqlFile(p) for p in sorted(paths, key=lambda p: p.name)]


def apply_sql(conn: psycopg.Connection, *, examples: bool = False) -> list[str]:
    """Apply every SQL file in one transaction; each is re-runnable, so this is idempotent.

    Where the server has the ``t0lake_hash`` extension (``ext/t0lake_hash``) available, it
    is created too: the SQL hash then runs its column digests as a C aggregate, same bytes
    for a fraction of the CPU. Without it (or without the right to create it) the pure-SQL
    path serves, and ``applied`` says which it was.
    """
    applied = []
    with conn.transaction():
        # One transaction-level lock so two concurrent `db init` runs do not interleave.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('t0lake db init'))")
        for f in sql_files(examples=examples):
            conn.execute(f.path.read_text(encoding="utf-8").encode())
            applied.append(f.name)
        if _create_native_hash(conn):
            applied.append(f"extension {NATIVE_HASH_EXTENSION}")
    return applied


def _create_native_hash(conn: psycopg.Connection) -> bool:
    available = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = %s", (NATIVE_HASH_EXTENSION,)
    ).fetchone()
    if available is None:
        return False
    try:
        with conn.transaction():  # a savepoint: a refusal leaves the rest of db init intact
            conn.execute(
                sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
                    sql.Identifier(NATIVE_HASH_EXTENSION)
                )
            )
    except psycopg.Error as exc:  # no right to create it, or a library built for another server
        _log.warning(
            "t0lake_hash extension not created (%s); the pure-SQL hash path serves",
            exc.diag.message_primary or type(exc).__name__,
        )
        return False
    return True
