import psycopg
import pytest

from t0lake import pg
from t0lake.errors import ConfigError


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("host=h password=s3cret user=u", "host=h password=*** user=u"),
        ("postgresql://u:s3cret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("host=h user=u", "host=h user=u"),
    ],
)
def test_redact_dsn_hides_passwords(dsn: str, expected: str) -> None:
    assert pg.redact_dsn(dsn) == expected


def test_connect_failure_is_a_config_error_without_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        pg.connect("host=127.0.0.1 port=1 user=u password=s3cret connect_timeout=2")
    assert "s3cret" not in str(info.value)
    assert "127.0.0.1" in str(info.value)


def test_connect_without_dsn_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("T0LAKE_PG_DSN", raising=False)
    with pytest.raises(ConfigError, match="T0LAKE_PG_DSN"):
        pg.connect(None)


def _catalog(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT p.oid, p.proname, md5(pg_get_functiondef(p.oid)) FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'audit' AND p.prokind <> 'a' ORDER BY 1"
    ).fetchall()


def test_db_init_is_idempotent(fresh_dsn: str) -> None:
    with pg.connect(fresh_dsn, autocommit=True) as conn:
        before = _catalog(conn)
        assert before, "the template holds the t0lake functions"
        available = conn.execute(
            "SELECT count(*) FROM pg_available_extensions WHERE name = %s",
            (pg.NATIVE_HASH_EXTENSION,),
        ).fetchone()
        assert available is not None
        extension = [f"extension {pg.NATIVE_HASH_EXTENSION}"] * available[0]
        assert pg.apply_sql(conn) == [f.name for f in pg.sql_files()] + extension
        assert _catalog(conn) == before


def test_server_status_reports_the_hash_functions(fresh_dsn: str) -> None:
    with pg.connect(fresh_dsn, autocommit=True) as conn:
        assert pg.server_status(conn)["hash_installed"] is True
        conn.execute("DROP SCHEMA audit CASCADE")
        assert pg.server_status(conn)["hash_installed"] is False
