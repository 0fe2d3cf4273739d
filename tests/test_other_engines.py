"""docs/other-engines.md runs as written: its DuckDB, Polars and pyarrow blocks, against a
lake whose latest snapshot has a re-exported day inside a compacted month, return exactly
t0lake's rows, and its first block shows the glob counting more (the Spark blocks run in
tests/test_spark.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest

from t0lake.testing import TempPostgres
from tests.enginecases import OTHER_ENGINES_MD, History, doc_blocks, history_in, sorted_rows
from tests.lakecases import DAYS, EP, ROWS_PER_DAY

PROBLEM = "The problem: the hive glob is not a snapshot"
ENGINES = ["DuckDB", "Polars", "pyarrow"]
RUN_IN_TEST_SPARK = ["Spark"]
MIRROR = ["Through the Iceberg mirror"]  # the mirror work's section: tests/mirror/ own it


@pytest.fixture(scope="module")
def history(pg_server: TempPostgres) -> Iterator[History]:
    yield from history_in(pg_server)


def _run(block: str, history: History) -> dict[str, Any]:
    namespace: dict[str, Any] = {"LAKE": history.lake, "ENTRYPOINT": EP}
    exec(compile(block, str(OTHER_ENGINES_MD), "exec"), namespace)
    return namespace


def test_the_first_block_shows_the_glob_counting_stale_files(
    history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    (block,) = doc_blocks(PROBLEM)
    ns = _run(block, history)
    assert ns["listed_rows"] == DAYS * ROWS_PER_DAY == history.snapshot().manifest.live_rows()
    assert ns["glob_rows"] > ns["listed_rows"]  # every file ever written, stale ones too
    assert capsys.readouterr().out.split() == [
        str(ns["glob_rows"]),
        str(ns["listed_rows"]),
        str(ns["listed_rows"]),
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_each_engines_block_reads_exactly_the_snapshot(history: History, engine: str) -> None:
    (block,) = doc_blocks(engine)
    rows = pl.DataFrame(_run(block, history)["rows"])
    expected = history.snapshot().read()
    assert rows.height == expected.height
    assert sorted_rows(rows).equals(sorted_rows(expected))


def test_every_python_block_of_the_doc_is_run_by_a_test() -> None:
    text = OTHER_ENGINES_MD.read_text(encoding="utf-8")
    total = len(re.findall(r"^```python\n", text, re.MULTILINE))
    covered = [PROBLEM, *ENGINES, *RUN_IN_TEST_SPARK, *MIRROR]
    assert sum(len(doc_blocks(h)) for h in covered) == total
