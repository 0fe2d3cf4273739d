"""t0lake.certify / require_certified and `t0lake certify|status` on the real Postgres, with
the trainer-derived example store: view changes, drift policies, expiry, bad names."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import pytest
from psycopg import sql
from psycopg.abc import Query

import t0lake
from t0lake import pg
from t0lake.certification import entrypoints, parse_max_age, status
from t0lake.cli import main

EP = "ml.trainer_derived_feature_store_t0_v1_v"
GUARDED = "ml.trainer_derived_features_train_v"
EP_ID = sql.Identifier(*EP.split("."))
GUARDED_ID = sql.Identifier(*GUARDED.split("."))


def _feature_view(examples_dsn: str) -> str:
    """CREATE OR REPLACE of the store's logical view with its current definition."""
    body = str(
        _sql(
            examples_dsn, "SELECT pg_get_viewdef('ml.trainer_derived_features_v1'::regclass, true)"
        )[0][0]
    )
    return "CREATE OR REPLACE VIEW ml.trainer_derived_features_v1 AS " + body.rstrip().rstrip(";")


def _sql(examples_dsn: str, statement: Query) -> list[tuple[object, ...]]:
    with pg.connect(examples_dsn, autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else []


def _guarded_rows(examples_dsn: str) -> int:
    count = _sql(examples_dsn, sql.SQL("SELECT count(*) FROM {}").format(GUARDED_ID))[0][0]
    assert isinstance(count, int)
    return count


def test_certify_then_serve(examples_dsn: str) -> None:
    assert _guarded_rows(examples_dsn) == 0  # never certified: the guarded view is empty
    result = t0lake.certify(examples_dsn, EP)
    assert result.certified and result.gates == {"A": "pass", "B": "pass", "C": "pass"}
    assert result.checked_days == [date(2026, 1, 18), date(2026, 1, 19), date(2026, 1, 20)]
    assert "baselines captured for new days" in (result.notes or "")
    assert t0lake.require_certified(examples_dsn, EP, "24h").cert_id == result.cert_id
    assert _guarded_rows(examples_dsn) == 600


def test_rerunning_db_init_keeps_the_certification(examples_dsn: str) -> None:
    t0lake.certify(examples_dsn, EP)
    with pg.connect(examples_dsn) as conn:
        pg.apply_sql(conn, examples=True)
    assert t0lake.require_certified(examples_dsn, EP, "1h").certified
    assert _guarded_rows(examples_dsn) == 600


def test_any_change_in_the_closure_blocks_until_recertified(examples_dsn: str) -> None:
    t0lake.certify(examples_dsn, EP)
    # Same results, different stored definition: still a change.
    _sql(examples_dsn, _feature_view(examples_dsn) + " WHERE true")
    with pytest.raises(t0lake.NotCertifiedError) as info:
        t0lake.require_certified(examples_dsn, EP, "24h")
    assert info.value.context["gate"] == "A"
    assert info.value.context["object"] == "ml.trainer_derived_features_v1"
    assert "ml.trainer_derived_features_v1: definition changed" in info.value.message
    assert _guarded_rows(examples_dsn) == 0
    with pytest.raises(t0lake.NotCertifiedError) as info:
        t0lake.certify(examples_dsn, EP)  # gate A refuses the unreviewed change
    assert info.value.context["object"] == "ml.trainer_derived_features_v1"
    assert _guarded_rows(examples_dsn) == 0
    t0lake.certify(examples_dsn, EP, accept_changes=True)
    assert t0lake.require_certified(examples_dsn, EP, "24h") and _guarded_rows(examples_dsn) == 600


def test_replacing_the_entrypoint_itself_blocks_too(examples_dsn: str) -> None:
    t0lake.certify(examples_dsn, EP)
    _sql(
        examples_dsn,
        sql.SQL(
            "CREATE OR REPLACE VIEW {} AS SELECT * FROM ml.trainer_derived_features_v1_mv"
            " WHERE listing_id > 0"
        ).format(EP_ID),
    )
    with pytest.raises(t0lake.NotCertifiedError) as info:
        t0lake.require_certified(examples_dsn, EP, "24h")
    assert info.value.context["object"] == EP
    assert _guarded_rows(examples_dsn) == 0


def test_a_new_object_in_the_closure_is_a_change(examples_dsn: str) -> None:
    t0lake.certify(examples_dsn, EP)
    _sql(
        examples_dsn,
        "CREATE FUNCTION ml.weekend(d integer) RETURNS boolean LANGUAGE sql IMMUTABLE"
        " BEGIN ATOMIC SELECT d IN (0, 6); END;"
        + _feature_view(examples_dsn).replace(
            "EXTRACT(dow FROM a.t0) = ANY (ARRAY[0::numeric, 6::numeric])",
            "ml.weekend(EXTRACT(dow FROM a.t0)::integer)",
        ),
    )
    with pytest.raises(t0lake.NotCertifiedError) as info:
        t0lake.require_certified(examples_dsn, EP, "24h")
    assert "function ml.weekend(d integer): new in closure" in info.value.message


def _change_one_value_of_the_last_day(examples_dsn: str) -> None:
    _sql(
        examples_dsn,
        "UPDATE ml.listing_t0_events SET listing_id = listing_id + 100000"
        " WHERE (generation, listing_id, t0) = (SELECT generation, listing_id, t0"
        "  FROM ml.listing_t0_events WHERE t0::date = '2026-01-20'"
        "  ORDER BY generation, listing_id LIMIT 1);"
        "REFRESH MATERIALIZED VIEW ml.trainer_derived_features_v1_mv",
    )


def test_strict_drift_fails_naming_the_day(examples_dsn: str) -> None:
    t0lake.certify(examples_dsn, EP)
    _change_one_value_of_the_last_day(examples_dsn)
    with pytest.raises(t0lake.DriftError) as info:
        t0lake.certify(examples_dsn, EP)
    assert "2026-01-20" in info.value.message
    assert info.value.context["object"] == "2026-01-20"
    assert info.value.context["drifted_days"] == ["2026-01-20"]
    with pytest.raises(t0lake.DriftError):
        t0lake.require_certified(examples_dsn, EP, "24h")
    assert _guarded_rows(examples_dsn) == 0


def test_tolerant_drift_passes_and_notes_the_day(examples_dsn: str) -> None:
    t0lake.certify(examples_dsn, EP)
    _change_one_value_of_the_last_day(examples_dsn)
    result = t0lake.certify(examples_dsn, EP, allow_drift=True)
    assert result.certified and result.gates["C"] == "drift tolerated"
    assert result.drifted_days == [date(2026, 1, 20)]
    assert "drift tolerated on 2026-01-20" in (result.notes or "")
    notes = _sql(
        examples_dsn, "SELECT notes FROM audit.t0_cert_registry ORDER BY cert_id DESC LIMIT 1"
    )
    assert "2026-01-20" in str(notes[0][0])
    assert _guarded_rows(examples_dsn) == 600
    # The baseline was not updated, so a strict run still sees the drift ...
    with pytest.raises(t0lake.DriftError):
        t0lake.certify(examples_dsn, EP, allow_drift=False)
    # ... until a tolerant run accepts the new hashes.
    t0lake.certify(examples_dsn, EP, allow_drift=True, update_drifted=True)
    assert t0lake.certify(examples_dsn, EP, allow_drift=False).drifted_days == []


def test_declared_tolerant_policy_is_the_default(examples_dsn: str) -> None:
    t0lake.certify(examples_dsn, EP)
    _change_one_value_of_the_last_day(examples_dsn)
    _sql(examples_dsn, "UPDATE audit.t0_entrypoint SET drift_policy = 'tolerant'")
    assert t0lake.certify(examples_dsn, EP).drift_policy == "tolerant"


def test_expired_certification_fails_closed(examples_dsn: str) -> None:
    t0lake.certify(examples_dsn, EP)
    assert _guarded_rows(examples_dsn) == 600
    # The guarded view reads the declared max age at query time.
    _sql(examples_dsn, "UPDATE audit.t0_entrypoint SET max_age = interval '1 second'")
    time.sleep(1.1)
    assert _guarded_rows(examples_dsn) == 0
    with pytest.raises(t0lake.NotCertifiedError) as info:
        t0lake.require_certified(examples_dsn, EP, "1s")
    assert info.value.context["condition"] == "expired"
    assert "expired" in info.value.message
    assert t0lake.require_certified(examples_dsn, EP, timedelta(hours=1)).certified


def test_guarded_view_warns_why_it_is_empty(examples_dsn: str) -> None:
    warnings: list[str] = []
    with pg.connect(examples_dsn, autocommit=True) as conn:
        conn.add_notice_handler(lambda d: warnings.append(d.message_primary or ""))
        query = sql.SQL("SELECT count(*) FROM {}").format(GUARDED_ID)
        assert conn.execute(query).fetchone() == (0,)
    assert any("never certified" in w for w in warnings)


@pytest.mark.parametrize(
    "name",
    ["ml.nope", "ml.listing_posts", "x; DROP TABLE ml.listing_posts", '"', "a.b.c.d", ""],
)
def test_bad_entrypoint_names_are_config_errors(examples_dsn: str, name: str) -> None:
    with pytest.raises(t0lake.ConfigError):
        t0lake.certify(examples_dsn, name)
    with pytest.raises(t0lake.ConfigError):
        t0lake.require_certified(examples_dsn, name, "1h")
    assert _sql(examples_dsn, "SELECT count(*) FROM ml.listing_posts") == [(3000,)]


@pytest.mark.parametrize("bad", [100_000_000_000, 2**31, 36526, 0, -1, True, 1.5, "3", None])
def test_check_days_is_a_bounded_whole_number(examples_dsn: str, bad: object) -> None:
    runs = _sql(examples_dsn, "SELECT count(*) FROM audit.t0_cert_registry")
    with pytest.raises(t0lake.ConfigError, match="check_days must be a whole number") as info:
        t0lake.certify(examples_dsn, EP, bad)  # type: ignore[arg-type]
    assert info.value.context == {"parameter": "check_days", "value": repr(bad)}
    assert "36525" in info.value.message
    assert _sql(examples_dsn, "SELECT count(*) FROM audit.t0_cert_registry") == runs


def test_undeclared_view_is_a_config_error(examples_dsn: str) -> None:
    with pytest.raises(t0lake.ConfigError, match="not a declared entrypoint"):
        t0lake.certify(examples_dsn, "ml.trainer_derived_features_v1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1s", timedelta(seconds=1)),
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        (" 2W ", timedelta(weeks=2)),
        (timedelta(minutes=5), timedelta(minutes=5)),
    ],
)
def test_parse_max_age(text: str | timedelta, expected: timedelta) -> None:
    assert parse_max_age(text) == expected


@pytest.mark.parametrize("bad", ["", "24", "1y", "-1h", "0s", "h", timedelta(0)])
def test_parse_max_age_refuses(bad: str | timedelta) -> None:
    with pytest.raises(t0lake.ConfigError):
        parse_max_age(bad)


def test_entrypoints_and_status(examples_dsn: str) -> None:
    # other example stores are declared too; this test is about the trainer-derived one
    (declared,) = [e for e in entrypoints(examples_dsn) if e.entrypoint == EP]
    assert declared.key_cols == ["generation", "listing_id", "t0"]
    assert declared.drift_policy == "strict" and declared.max_age == timedelta(hours=24)
    (before,) = [s for s in status(examples_dsn) if s["entrypoint"] == EP]
    assert before["status"] == "NEVER" and not before["servable"]
    t0lake.certify(examples_dsn, EP)
    (after,) = [s for s in status(examples_dsn) if s["entrypoint"] == EP]
    assert after["status"] == "CERTIFIED" and after["servable"]
    assert after["gates"] == {"A": "pass", "B": "pass", "C": "pass"}


def test_cli_certify_and_status(
    examples_dsn: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T0LAKE_PG_DSN", examples_dsn)
    assert main(["certify", EP, "--check-days", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "CERTIFIED" and result["checked_days"] == [
        "2026-01-19",
        "2026-01-20",
    ]
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert EP in out and "CERTIFIED" in out
    assert main(["status", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["entrypoints"]
    (entry,) = [e for e in listed if e["entrypoint"] == EP]
    assert entry["servable"] and entry["age_seconds"] < 60
    _change_one_value_of_the_last_day(examples_dsn)
    assert main(["certify", EP, "--json"]) == 1
    error = json.loads(capsys.readouterr().out)
    assert error["error"] == "DriftError" and error["gate"] == "C"
    assert error["object"] == "2026-01-20"
    assert main(["certify", EP, "--allow-drift"]) == 0
    assert "drift tolerated on 2026-01-20" in capsys.readouterr().out
    assert main(["certify", "ml.nope"]) == 2
    assert "not an existing view" in capsys.readouterr().err


def test_failed_certification_is_recorded(examples_dsn: str) -> None:
    t0lake.certify(examples_dsn, EP)
    _change_one_value_of_the_last_day(examples_dsn)
    with pytest.raises(t0lake.DriftError):
        t0lake.certify(examples_dsn, EP)
    rows = _sql(
        examples_dsn, "SELECT status, failed_gate FROM audit.t0_cert_registry ORDER BY cert_id"
    )
    assert rows == [("CERTIFIED", None), ("FAILED", "C")]


@pytest.mark.parametrize("spelling", ['"lk"."features_v"', " lk.features_v", "LK.features_v"])
def test_certification_takes_only_the_spelling_the_lake_takes(spelling: str) -> None:
    """PostgreSQL resolves these to the same view, so certify used to record a run under a
    name export then refused; both now refuse before connecting (no DSN is ever used)."""
    with pytest.raises(t0lake.ConfigError, match="entrypoint"):
        t0lake.certify("host=/nonexistent dbname=none", spelling)
    with pytest.raises(t0lake.ConfigError, match="entrypoint"):
        t0lake.require_certified("host=/nonexistent dbname=none", spelling)
