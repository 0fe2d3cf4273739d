"""The pure-SQL path's validity streams: built from the positions of a column's NULLs
(``audit.t0_hash_validity``) instead of a byte appended per row and column, with the same
bytes as docs/hashing.md's validity stream, on both of its branches (few NULLs: runs
between them; many NULLs: a byte per row) and at every edge (no NULL, all NULL, the first
and last rows, runs of NULLs)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from t0lake import hashing, pg
from tests.conftest import use_hash_impl
from tests.hashcases import arrow_table, pg_table


def _validity_digest(mask: list[bool]) -> bytes:
    """The reference: H of one byte per row, 0x01 for a value, 0x00 for NULL."""
    return hashlib.sha256(bytes(1 if valid else 0 for valid in mask)).digest()


def _sql_validity(conn: psycopg.Connection, mask: list[bool]) -> bytes:
    nulls = [i + 1 for i, valid in enumerate(mask) if not valid] or None
    row = conn.execute(
        "SELECT audit.t0_hash_validity(%s, %s::bigint[], sha256(decode(repeat('01', %s), 'hex')))",
        (len(mask), nulls, len(mask)),
    ).fetchone()
    assert row is not None
    return bytes(row[0])


@pytest.fixture(scope="module")
def plain(pg_dsn: str) -> Iterator[psycopg.Connection]:
    with pg.connect(pg_dsn, autocommit=True) as c:
        yield c


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mask=st.one_of(
        st.lists(st.booleans(), max_size=300),  # about half NULL: the byte-per-row branch
        st.lists(st.sampled_from([True] * 15 + [False]), max_size=300),  # few: the runs
    )
)
def test_validity_from_null_positions_is_the_specified_stream(
    plain: psycopg.Connection, mask: list[bool]
) -> None:
    assert _sql_validity(plain, mask) == _validity_digest(mask)


@pytest.mark.parametrize(
    "mask",
    [
        [],
        [True] * 50,
        [False] * 50,  # all NULL
        [False] + [True] * 49,  # the first row
        [True] * 49 + [False],  # the last row
        [True] * 20 + [False] * 5 + [True] * 25,  # a run of NULLs, few of them
        [False, False] + [True] * 10 + [False] * 3,  # many, at both ends
        [True] * 3 + [False],  # exactly a quarter: the byte-per-row branch
    ],
    ids=["empty", "none", "all", "first", "last", "run", "both-ends", "quarter"],
)
def test_validity_edges(plain: psycopg.Connection, mask: list[bool]) -> None:
    assert _sql_validity(plain, mask) == _validity_digest(mask)


@pytest.fixture(scope="module")
def conn(pg_dsn: str, hash_impl: str) -> Iterator[psycopg.Connection]:
    with pg.connect(pg_dsn, autocommit=True) as c:
        use_hash_impl(c, hash_impl)
        c.execute("CREATE SCHEMA IF NOT EXISTS hash_validity")
        c.execute("SET search_path = hash_validity, public")
        yield c


def test_sparse_dense_and_empty_columns_hash_as_in_python(conn: psycopg.Connection) -> None:
    """Every type with no NULL, a few, many and only NULLs, in one table: the two SQL paths
    and Python agree per column (numeric and jsonb text made once per row included)."""
    n = 200
    columns = [("id", "int8")]
    rows: list[list[object]] = [[i] for i in range(n)]
    values: dict[str, Callable[[int], object]] = {
        "bool": lambda i: i % 3 == 0,
        "int4": lambda i: i * 7919 - 50_000,
        "float8": lambda i: i / 7,
        "numeric": lambda i: f"{i * 1.25:.4f}",
        "text": lambda i: f"é-{i}",
        "jsonb": lambda i: f'{{"b": {i}, "a": [1, "x"]}}',
        "timestamp": lambda i: None,
        "int4[]": lambda i: [i, None, i + 1][: i % 4],
    }
    patterns: dict[str, Callable[[int], bool]] = {
        "none": lambda i: False,
        "few": lambda i: i % 17 == 3 or i == n - 1,
        "many": lambda i: i % 3 != 1,
        "all": lambda i: True,
    }
    for tag, make in values.items():
        for pattern, is_null in patterns.items():
            columns.append((f"{tag.replace('[]', '_array')}_{pattern}", tag))
            for i in range(n):
                value = make(i) if tag != "timestamp" else dt.datetime(2026, 1, 1, 0, 0, i % 60)
                rows[i].append(None if is_null(i) else value)
    pg_table(conn, "v", columns, rows)
    python = {
        h.name: (h.type, h.digest)
        for h in hashing.column_hashes(arrow_table(columns, rows), ["id"]).values()
    }
    assert pg.sql_column_hashes(conn, "SELECT * FROM hash_validity.v", ["id"]) == python
