"""Real servers for the tests: a throwaway PostgreSQL 15 cluster and a moto S3 server.

Both are started by the session and stopped at its end; nothing is assumed to be running.
Each test that changes the catalog gets its own database cloned from a template that
already holds the t0lake SQL, so tests never see each other's objects.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from t0lake import pg
from t0lake.testing import TempPostgres, moto_server

# fixtures of the lake tests (store_dsn, lake_dir) live beside the store they build
pytest_plugins = ["tests.lakecases"]

_TEMPLATE = "t0lake_template"
_EXAMPLES_TEMPLATE = "t0lake_examples_template"
_db_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[TempPostgres]:
    with TempPostgres() as server:
        with pg.connect(server.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_TEMPLATE)))
        template_dsn = server.dsn.replace(f"dbname={server.dbname}", f"dbname={_TEMPLATE}")
        with pg.connect(template_dsn) as conn:
            pg.apply_sql(conn)
        yield server


@pytest.fixture(scope="session")
def pg_dsn(pg_server: TempPostgres) -> str:
    """DSN of the shared database (t0lake SQL applied); for tests that only read."""
    with pg.connect(pg_server.dsn) as conn:
        pg.apply_sql(conn)
    return pg_server.dsn


@pytest.fixture(scope="module", params=["native", "sql"])
def hash_impl(request: pytest.FixtureRequest, pg_dsn: str) -> str:
    """Each implementation of the SQL column digests in turn: the C aggregate of
    ext/t0lake_hash and the pure-SQL reference. Without the extension the native half is
    skipped, unless T0LAKE_REQUIRE_NATIVE_HASH is set (CI sets it: there it must run)."""
    impl = str(request.param)
    if impl == "native":
        require_native_hash(pg_dsn)
    return impl


def require_native_hash(dsn: str) -> None:
    """Skip (or, under T0LAKE_REQUIRE_NATIVE_HASH, fail) unless the C aggregate serves."""
    with pg.connect(dsn) as conn:
        row = conn.execute("SELECT audit.t0_hash_impl()").fetchone()
    if row is None or row[0] != "native":
        message = "the t0lake_hash extension is not installed (make native-hash)"
        if os.environ.get("T0LAKE_REQUIRE_NATIVE_HASH"):
            pytest.fail(message)
        pytest.skip(message)


def use_hash_impl(conn: psycopg.Connection, impl: str) -> None:
    """Make ``conn``'s session hash with ``impl``, and check that it does."""
    conn.execute("SELECT set_config('t0lake.hash_impl', %s, false)", (impl,))
    row = conn.execute("SELECT audit.t0_hash_impl()").fetchone()
    assert row is not None and row[0] == impl


@pytest.fixture
def pg_conn(pg_dsn: str) -> Iterator[psycopg.Connection]:
    with pg.connect(pg_dsn, autocommit=True) as conn:
        yield conn


def clone_database(server: TempPostgres, template: str) -> Iterator[str]:
    """A database of its own, cloned from ``template``, dropped afterwards."""
    name = f"t0lake_test_{os.getpid()}_{next(_db_counter)}"
    with pg.connect(server.dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    yield server.dsn.replace(f"dbname={server.dbname}", f"dbname={name}")
    with pg.connect(server.dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def fresh_dsn(pg_server: TempPostgres) -> Iterator[str]:
    """A database of its own (cloned from the template with the t0lake SQL) for one test."""
    yield from clone_database(pg_server, _TEMPLATE)


@pytest.fixture(scope="session")
def _examples_template(pg_server: TempPostgres) -> str:
    """A second template: the t0lake SQL plus the example stores (db init --examples)."""
    with pg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(_EXAMPLES_TEMPLATE), sql.Identifier(_TEMPLATE)
            )
        )
    dsn = pg_server.dsn.replace(f"dbname={pg_server.dbname}", f"dbname={_EXAMPLES_TEMPLATE}")
    with pg.connect(dsn) as conn:
        pg.apply_sql(conn, examples=True)
    return _EXAMPLES_TEMPLATE


@pytest.fixture
def examples_dsn(pg_server: TempPostgres, _examples_template: str) -> Iterator[str]:
    """A database of its own holding the example stores of the seeds, uncertified: the one
    fixture for every test of the example stores."""
    yield from clone_database(pg_server, _examples_template)


# --------------------------------------------------------------------------- S3 (moto)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server in its own process on a random port of 127.0.0.1."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def s3_options(s3_endpoint: str) -> dict[str, object]:
    """fsspec/s3fs storage options that reach the moto server and nothing else."""
    return {"endpoint_url": s3_endpoint, "key": "testing", "secret": "testing"}


_bucket_counter = itertools.count()


@pytest.fixture
def s3_bucket(s3_options: dict[str, object]) -> str:
    """A new empty bucket for one test; returns its name."""
    import s3fs

    fs = s3fs.S3FileSystem(**s3_options)
    name = f"t0lake-test-{os.getpid()}-{next(_bucket_counter)}"
    fs.mkdir(name)
    return name
