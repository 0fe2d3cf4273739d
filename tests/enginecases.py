"""A lake with the history other engines get wrong, for the tests of ``t0lake files``,
``docs/other-engines.md`` and the Spark reads.

``lk.features_v`` (tests/lakecases.py, tolerant drift policy) goes through four snapshots:

1. export: five hot days, a file each;
2. a drifted day 1 re-exported: a second file in ``tier=hot/day=2026-03-01/``, so the hive
   glob counts that day twice (240 rows where the snapshot serves 200);
3. compaction as of June: one warm month file of the five days;
4. a drifted day 2 re-exported: a hot file for it, and the month file still holding the
   old slice of that day, which a plain read of the file would serve too.
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

import t0lake
from t0lake.testing import TempPostgres
from tests.conftest import _TEMPLATE, clone_database
from tests.lakecases import DAYS, EP, ROWS_PER_DAY, make_store, run_sql

__all__ = [
    "DRIFTED_ROW",
    "KEY",
    "History",
    "build_history",
    "doc_blocks",
    "history_in",
    "sorted_rows",
]

KEY = ["grp", "id"]
DRIFTED_ROW = 3  # id of the row of day 1 changed before snapshot 2
AS_OF = "2026-06-01"
OTHER_ENGINES_MD = Path(__file__).resolve().parent.parent / "docs" / "other-engines.md"


@dataclass(frozen=True)
class History:
    dsn: str
    lake: str

    def snapshot(self, snapshot_id: int | None = None) -> t0lake.Snapshot:
        return t0lake.open(self.lake).snapshot(EP, snapshot_id)


def build_history(dsn: str, lake: str) -> History:
    """The four snapshots of the module docstring, in ``lake``."""
    make_store(dsn, policy="tolerant")
    t0lake.export(dsn, EP, lake, progress=False)
    run_sql(dsn, f"UPDATE lk.src SET score = -1 WHERE id = {DRIFTED_ROW}")
    assert t0lake.export(dsn, EP, lake, progress=False).snapshot_id == 2
    (compacted,) = t0lake.compact(lake, as_of=AS_OF, progress=False)
    assert compacted.committed
    run_sql(dsn, f"UPDATE lk.src SET score = -2 WHERE id = {ROWS_PER_DAY + 5}")
    assert t0lake.export(dsn, EP, lake, progress=False).snapshot_id == 4
    assert t0lake.open(lake).snapshot(EP).manifest.live_rows() == DAYS * ROWS_PER_DAY
    return History(dsn, lake)


def history_in(pg_server: TempPostgres) -> Iterator[History]:
    """The lake of the module docstring, built once per test session in a database and a
    directory of its own, and shared read-only by the modules that use it (a module-scoped
    fixture of each yields from this; a test that damages the lake copies it first). The
    database goes with the session's cluster; the directory is removed at exit."""
    global _BUILT
    if _BUILT is None or _BUILT[0] is not pg_server:
        databases = clone_database(pg_server, _TEMPLATE)
        root = tempfile.mkdtemp(prefix="t0lake-engines-")
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _BUILT = (pg_server, build_history(next(databases), str(Path(root) / "lake")))
    yield _BUILT[1]


_BUILT: tuple[TempPostgres, History] | None = None


def sorted_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows in key order: engines other than t0lake promise no order."""
    return frame.sort(KEY)


def doc_blocks(heading: str, language: str = "python") -> list[str]:
    """The ``language`` code blocks under ``## heading`` of docs/other-engines.md (up to the
    next ``## ``), as the tests run them."""
    text = OTHER_ENGINES_MD.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(heading)}[ \t]*$", text, re.MULTILINE)
    assert match is not None, f"docs/other-engines.md has no section '## {heading}'"
    rest = text[match.end() :]
    end = re.search(r"^## ", rest, re.MULTILINE)
    section = rest[: end.start()] if end else rest
    blocks = re.findall(rf"^```{language}\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert blocks, f"docs/other-engines.md, '## {heading}': no {language} block"
    return blocks
