import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from t0lake import pg
from t0lake.errors import ConfigError

SECRET_DSNS = [
    ("host=h password=s3cret user=u", "s3cret"),
    ("host=h user=u password='my secret phrase' dbname=x", "secret phrase"),
    ("host=h password='it\\'s a secret' user=u", "s a secret"),
    ("postgresql://u:s3cret@h:5432/db", "s3cret"),
    ("postgresql://u@h/db?password=s3cret&sslmode=disable", "s3cret"),
    ("postgresql://u:first@h1,h2/db?password=second", "first"),
    ("postgresql://u:first@h1,h2/db?password=second", "second"),
]


@pytest.mark.parametrize(("dsn", "secret"), SECRET_DSNS)
def test_redact_dsn_masks_the_password_whole_in_every_form(dsn: str, secret: str) -> None:
    shown = pg.redact_dsn(dsn)
    assert secret not in shown and "secret" not in shown.replace("s3cret", "")
    params = conninfo_to_dict(shown)
    assert params["password"] == "***"
    original = conninfo_to_dict(dsn)
    assert {k: v for k, v in params.items() if k != "password"} == {
        k: v for k, v in original.items() if k != "password"
    }


def test_redact_dsn_keeps_a_dsn_without_password_and_hides_one_that_does_not_parse() -> None:
    assert pg.redact_dsn("host=h user=u") == "host=h user=u"
    shown = pg.redact_dsn("host=h password=my secret phrase")
    assert "secret" not in shown and "phrase" not in shown and "does not parse" in shown


@pytest.mark.parametrize(("dsn", "secret"), SECRET_DSNS[:3])
def test_connect_failure_is_a_config_error_without_the_password(dsn: str, secret: str) -> None:
    refused = dsn.replace("host=h", "host=127.0.0.1 port=1 connect_timeout=2")
    with pytest.raises(ConfigError) as info:
        pg.connect(refused)
    shown = f"{info.value} {info.value.to_dict()} {info.value.__cause__}"
    assert secret not in shown
    assert "127.0.0.1" in str(info.value)


def test_a_dsn_that_does_not_parse_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match="does not parse") as info:
        pg.connect("host=127.0.0.1 password=my secret phrase")
    assert "phrase" not in f"{info.value} {info.value.to_dict()}"
    assert info.value.__cause__ is None and info.value.__suppress_context__


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
