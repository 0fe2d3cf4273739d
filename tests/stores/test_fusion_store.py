"""The fusion store v2 of seed 004 on the real Postgres: the SQL views equal the Python
reference (tests/fusion_reference.py) row for row on generated inputs and on the synthetic
data, the synthetic data exercises every rule, the seed's validation queries hold, and the
store certifies, serves through its guarded view and refuses to when it may not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.abc import Query
from psycopg.rows import dict_row

import t0lake
from t0lake import pg
from tests.fusion_reference import META_FLAGS, Image, Listing, fusion_rows, parse_number

EP = "ml.fusion_feature_store_t0_v1_v"
GUARDED = "ml.v_damage_fusion_features_v2_scored_train_v"
EP_ID = sql.Identifier(*EP.split("."))
GUARDED_ID = sql.Identifier(*GUARDED.split("."))
SCORED = sql.Identifier("ml", "v_damage_fusion_features_v2_scored")
LISTINGS = sql.Identifier("iPhone", "iphone_listings")
IMAGES = sql.Identifier("ml", "iphone_image_features_v1")
LISTING_COLS = ["generation", "listing_id", "edited_date", "spam", "damage_ai_json"]
IMAGE_COLS = [
    "generation",
    "listing_id",
    "extracted_at",
    "feature_version",
    "damage_done",
    "is_stock_photo",
    "photo_quality_level",
    "background_clean_level",
    "visible_damage_level",
    "damage_on_protector_only",
    "battery_screenshot",
    "battery_health_pct_img",
]


def _apply_fusion_sql(conn: psycopg.Connection) -> None:
    """Only the fusion example files (the template already holds the audit SQL), so these
    tests do not depend on the other example stores."""
    files = [f for f in pg.sql_files(examples=True) if f.example and "fusion" in f.name]
    assert [f.name for f in files][:2] == [
        "40_example_fusion_store.sql",
        "41_example_fusion_validation.sql",
    ]
    with conn.transaction():
        for f in files:
            conn.execute(f.path.read_text(encoding="utf-8").encode())


@pytest.fixture
def dsn(fresh_dsn: str) -> str:
    """A database of its own with the fusion store and its synthetic inputs."""
    with pg.connect(fresh_dsn) as conn:
        _apply_fusion_sql(conn)
    return fresh_dsn


@pytest.fixture
def conn(dsn: str) -> Iterator[psycopg.Connection]:
    with pg.connect(dsn, autocommit=True) as c:
        yield c


def _rows(conn: psycopg.Connection, query: sql.Composable | str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query).fetchall()


def _view_rows(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return _rows(conn, sql.SQL("SELECT * FROM {} ORDER BY generation, listing_id").format(SCORED))


def _assert_rows_equal(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """Row for row, column for column, values and Python types (True is not 1), with a
    message naming the first difference."""
    assert [(r["generation"], r["listing_id"]) for r in actual] == [
        (r["generation"], r["listing_id"]) for r in expected
    ]
    for got, want in zip(actual, expected, strict=True):
        assert set(got) == set(want), f"columns differ: {sorted(set(got) ^ set(want))}"
        diff = {
            k: (got[k], want[k])
            for k in got
            if type(got[k]) is not type(want[k]) or got[k] != want[k]
        }
        assert not diff, f"row {(got['generation'], got['listing_id'])}: (sql, ref) {diff}"


def _load(conn: psycopg.Connection, listings: list[Listing], images: list[Image]) -> None:
    """Replace the inputs of the store with the given rows (JSON as text, so numbers keep
    their exact spelling)."""
    conn.execute(sql.SQL("TRUNCATE {}, {} RESTART IDENTITY").format(LISTINGS, IMAGES))
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL("INSERT INTO {} ({}) VALUES (%s, %s, %s, %s, %s::jsonb)").format(
                LISTINGS, sql.SQL(", ").join(map(sql.Identifier, LISTING_COLS))
            ),
            [
                (x.generation, x.listing_id, x.edited_date, x.spam, x.damage_ai_json)
                for x in listings
            ],
        )
        cur.executemany(
            sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                IMAGES,
                sql.SQL(", ").join(map(sql.Identifier, IMAGE_COLS)),
                sql.SQL(", ").join(sql.Placeholder() * len(IMAGE_COLS)),
            ),
            [tuple(getattr(i, c) for c in IMAGE_COLS) for i in images],
        )


def _stored_inputs(conn: psycopg.Connection) -> tuple[list[Listing], list[Image]]:
    """The input rows as they are in the database (JSON as its jsonb text)."""
    listings = [
        Listing(**r)
        for r in _rows(
            conn,
            sql.SQL(
                "SELECT generation, listing_id, edited_date, spam,"
                " damage_ai_json::text AS damage_ai_json FROM {}"
            ).format(LISTINGS),
        )
    ]
    images = [
        Image(**r)
        for r in _rows(
            conn,
            sql.SQL("SELECT {} FROM {} ORDER BY image_id").format(
                sql.SQL(", ").join(map(sql.Identifier, IMAGE_COLS)), IMAGES
            ),
        )
    ]
    return listings, images


# --------------------------------------------------------------------------- strategies

# Numbers as JSON numbers, exact (Decimal) or integral, some far out of any domain.
_json_numbers = st.one_of(
    st.integers(-5, 110),
    st.decimals(min_value=-5, max_value=110, places=2),
    st.sampled_from(
        [
            *map(Decimal, ["1E+2", "2.0", "3.000", "-0.0", "1E+20", "1.5E-20", "79.99"]),
            10**16,
            80,
            90,
        ]
    ),
)
# Strings that are numbers, that look like numbers, and that are not numbers at all.
_numeric_strings = st.builds(
    lambda pre, n, post: f"{pre}{n}{post}",
    st.sampled_from(["", " ", "+", "-", "  "]),
    st.one_of(st.integers(0, 110), st.decimals(min_value=0, max_value=110, places=1)),
    st.sampled_from(["", " ", "%", ".", " \n"]),
)
_malformed = st.sampled_from(
    [
        *("87%", "n/a", "", " ", "1e2", "2..5", "+", "-", ".", "5.", ".5", "+3", "\uff19\uff10"),
        *("79,5", "0x10", "NaN", "Infinity", "3\n", "\t3", "1_000", "\u0661", "true", "null"),
        *("1" * 16, "0." + "1" * 16, "1" * 15 + ".5", " 2 ", "2.", "-0", "3.0", "1.999"),
    ]
)
_fuzz = st.text(alphabet="0123456789.+- eE%a", max_size=6)
_other = st.sampled_from([True, False, None, {}, {"value": 2}, [1], [], "x"])
_values = st.one_of(_json_numbers, _numeric_strings, _malformed, _fuzz, _other)


def _mostly(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``common`` three times out of four, else ``rare`` (one_of would flatten nested
    alternatives and weigh every branch alike)."""
    return st.integers(0, 3).flatmap(lambda k: rare if k == 0 else common)


# Meta flags: mostly false, sometimes true, sometimes not a boolean at all; each one present
# or missing. Well-formed documents are the common case, malformed ones are never rare.
_flags = st.sampled_from([False, False, False, True, None, "true", 1])
_meta = _mostly(
    st.fixed_dictionaries({}, optional={f: _flags for f in META_FLAGS}),
    st.sampled_from([None, [], "glass"]),
)
_severity = _mostly(st.integers(-1, 4), _values)
_binary = _mostly(st.integers(-1, 2), _values)
_battery = _mostly(
    st.one_of(st.integers(60, 101), st.sampled_from([0, 79, 80, 85, 90, 95, 100, 101])),
    st.one_of(_values, st.sampled_from([-1, 0, Decimal("100.0"), Decimal("100.01"), 101])),
)
_decision = _mostly(
    st.fixed_dictionaries({"severity": _severity, "meta": _meta}, optional={"binary": _binary}),
    st.one_of(
        st.fixed_dictionaries({}, optional={"severity": _severity, "binary": _binary}),
        st.sampled_from([None, "x", [], 3]),
    ),
)
_document = _mostly(
    st.fixed_dictionaries({"decision": _decision}, optional={"battery_effective": _battery}),
    st.one_of(
        st.fixed_dictionaries({}, optional={"battery_effective": _battery, "x": st.just(1)}),
        st.sampled_from([None, "garbage", [], 3]),
    ),
)


def _to_json(value: Any) -> str:
    """JSON text with exact numbers (Decimal written as it is, e.g. 1E+2 or 2.0)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_to_json(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value)


_json_text = _mostly(_document.map(_to_json), st.none())  # None: SQL NULL

DAY0 = date(2026, 1, 10)
_offsets = st.one_of(
    st.integers(-4 * 24 * 60, 2 * 24 * 60).map(lambda m: timedelta(minutes=m)),
    st.sampled_from([timedelta(0), timedelta(microseconds=-1), timedelta(microseconds=1)]),
)


_image_fields = {
    "feature_version": st.sampled_from([1, 1, 1, 2, None]),
    "damage_done": st.sampled_from([True, True, True, False, None]),
    "is_stock_photo": st.sampled_from([False, False, False, True, None]),
    "photo_quality_level": st.sampled_from([None, 0, 1, 1, 2, 2, 3, 4]),
    "background_clean_level": st.sampled_from([None, 0, 1, 2]),
    "visible_damage_level": st.sampled_from([None, None, 0, 1, 2, 2, 3, 5, 8, 9, 10]),
    "damage_on_protector_only": st.sampled_from([False, False, True, None]),
    "battery_screenshot": st.sampled_from([False, False, True, None]),
    "battery_health_pct_img": st.sampled_from([None, 0, 79, 80, 85, 89, 90, 95, 100]),
}


@st.composite
def _inputs(draw: st.DrawFn) -> tuple[list[Listing], list[Image]]:
    """A few listings (some spam, JSON of every kind) and, per listing, up to eight images
    around its t0 (exactly at it, a microsecond either side, days before and after), plus
    images of a listing that does not exist."""
    listings = draw(
        st.lists(
            st.builds(
                Listing,
                generation=st.sampled_from([11, 12]),
                listing_id=st.integers(1, 4),
                edited_date=st.sampled_from([DAY0 + timedelta(days=d) for d in range(3)]),
                spam=st.sampled_from([None, False, False, False, True]),
                damage_ai_json=_json_text,
            ),
            min_size=1,
            max_size=5,
            unique_by=lambda x: (x.generation, x.listing_id),
        )
    )
    keys = [(x.generation, x.listing_id, x.edited_date) for x in listings]
    images = []
    for generation, listing_id, day in [*keys, (13, 99, DAY0)]:
        t0 = datetime.combine(day, time())
        # Images of one listing tend to look alike: each field is the listing's usual value
        # or a fresh one, so "two Q2 images", "all stock" and the like come up often.
        usual = draw(st.fixed_dictionaries(_image_fields))
        alike = {k: st.one_of(st.just(usual[k]), v) for k, v in _image_fields.items()}
        for offset, fields in draw(
            st.lists(st.tuples(_offsets, st.fixed_dictionaries(alike)), max_size=8)
        ):
            images.append(Image(generation, listing_id, t0 + offset, **fields))
    return listings, images


# --------------------------------------------------------------------------- SQL == reference


def test_parse_num_equals_reference(conn: psycopg.Connection) -> None:
    fixed = ["87", " 87 ", "87%", "1e2", "", ".5", "5.", "+3", "-0", "\uff19", "1" * 16]
    # A literal argument is constant-folded by the planner: it must not raise either.
    for text in fixed:
        (got,) = conn.execute(
            sql.SQL("SELECT ml.fusion_parse_num({})").format(sql.Literal(text))
        ).fetchone()  # type: ignore[misc]
        assert got == parse_number(text), text

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.one_of(_fuzz, _numeric_strings, _malformed), min_size=1, max_size=40))
    def check(texts: list[str]) -> None:
        got = conn.execute(
            "SELECT ml.fusion_parse_num(t) FROM unnest(%s::text[]) WITH ORDINALITY AS u (t, i)"
            " ORDER BY i",
            (texts,),
        ).fetchall()
        assert [g for (g,) in got] == [parse_number(t) for t in texts]

    check()


_Q2 = {"feature_version": 1, "damage_done": True, "is_stock_photo": False, "photo_quality_level": 2}
_T0 = datetime.combine(DAY0, time())


def _case(json_text: str | None, *images: dict[str, Any]) -> tuple[list[Listing], list[Image]]:
    """One listing edited on DAY0 with the given images (an hour before t0 by default)."""
    listing = Listing(11, 1, DAY0, False, json_text)
    rows = [Image(11, 1, im.pop("at", _T0 - timedelta(hours=1)), **im) for im in images]
    return [listing], rows


# The rules of the seed at their edges, always tried before the generated cases.
_EDGE_CASES = [
    # the ends of the battery range are batteries; just outside them they are not
    _case('{"battery_effective": 0, "decision": {"severity": "3.0", "binary": 2}}'),
    _case('{"battery_effective": "100", "decision": {"severity": 4, "binary": "1"}}'),
    _case('{"battery_effective": 100.01, "decision": {"severity": -1, "binary": 0}}'),
    # damage on the protector only, without a damage value: unknown, not "1"
    _case(
        None,
        {**_Q2, "visible_damage_level": 0},
        {**_Q2, "damage_on_protector_only": True},
        {**_Q2, "visible_damage_level": 0},
    ),
    # one Q2 value and two Q1 values: the Q1 fallback (reason 7)
    _case(
        '{"decision": {"severity": 1}}',
        {**_Q2, "visible_damage_level": 5},
        {**_Q2, "photo_quality_level": 1, "visible_damage_level": 2},
        {**_Q2, "photo_quality_level": 1, "visible_damage_level": 2},
    ),
    # all stock; a single real image; screenshots that disagree with each other and the text
    _case(
        '{"battery_effective": "70"}',
        {**_Q2, "is_stock_photo": True},
        {"battery_screenshot": True, "battery_health_pct_img": 95},
        {"battery_screenshot": True, "battery_health_pct_img": 80},
    ),
    _case('{"battery_effective": 79.99}', {**_Q2, "visible_damage_level": 3}),
    # image rows at exactly t0 and a microsecond before it
    _case(
        '{"decision": {"severity": "2", "meta": {"glass": false, "charging": true}}}',
        {**_Q2, "visible_damage_level": 9, "at": _T0},
        {**_Q2, "visible_damage_level": 9, "at": _T0 - timedelta(microseconds=1)},
        {**_Q2, "visible_damage_level": 8, "damage_on_protector_only": False},
    ),
    # structural evidence against protector-only severe damage
    _case(
        '{"decision": {"severity": 0, "meta": {"no_wear_global": true}}}',
        {**_Q2, "visible_damage_level": 10, "damage_on_protector_only": True},
        {**_Q2, "visible_damage_level": 10, "damage_on_protector_only": True},
    ),
]


def test_view_equals_reference_on_generated_inputs(conn: psycopg.Connection) -> None:
    @settings(max_examples=100, deadline=None)
    @given(_inputs())
    def check(case: tuple[list[Listing], list[Image]]) -> None:
        listings, images = case
        _load(conn, listings, images)
        _assert_rows_equal(_view_rows(conn), fusion_rows(listings, images))

    for case in _EDGE_CASES:
        check = example(case)(check)
    check()


def test_view_equals_reference_on_the_synthetic_inputs(conn: psycopg.Connection) -> None:
    listings, images = _stored_inputs(conn)
    assert len(listings) == 400 and len(images) > 1000
    expected = fusion_rows(listings, images)
    assert len(expected) == sum(1 for x in listings if x.spam is not True)
    _assert_rows_equal(_view_rows(conn), expected)


# --------------------------------------------------------------------------- synthetic data


def _one(conn: psycopg.Connection, query: Query) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def test_synthetic_inputs_exercise_every_rule(conn: psycopg.Connection) -> None:
    listings, images = _stored_inputs(conn)
    rows = fusion_rows(listings, images)
    # spread over 20 days, so certification has several days to check
    assert _one(conn, sql.SQL("SELECT count(DISTINCT edited_date) FROM {}").format(EP_ID)) == 20
    # spam (true) is excluded; NULL spam is kept
    spam = [x for x in listings if x.spam is True]
    assert spam and any(x.spam is None for x in listings)
    assert len(rows) == len(listings) - len(spam)
    # malformed numbers: present in the JSON yet unknown after parsing
    docs = {(x.generation, x.listing_id): x.damage_ai_json for x in listings}
    malformed = [
        r
        for r in rows
        if '"battery_effective"' in (docs[r["generation"], r["listing_id"]] or "")
        and r["batt_eff_text"] is None
    ]
    assert len(malformed) >= 10
    # missing meta flags, and flags that are not booleans
    assert any(r["txt_glass"] is None for r in rows) and any(r["txt_glass"] for r in rows)
    # image rows extracted at or after t0 exist (and are ignored)
    t0 = {(x.generation, x.listing_id): datetime.combine(x.edited_date, time()) for x in listings}
    late = [
        i
        for i in images
        if (i.generation, i.listing_id) in t0 and i.extracted_at >= t0[i.generation, i.listing_id]
    ]
    assert any(i.extracted_at == t0[i.generation, i.listing_id] for i in late)
    assert len(late) >= 50
    # every value of every categorical rule
    assert {r["img_score_reason_code"] for r in rows} == set(range(8))
    assert {r["img_damage_source_level"] for r in rows} == {0, 1, 2}
    assert {r["batt_source"] for r in rows} == {"both", "img_only", "text_only", "none"}
    assert {r["batt_bucket"] for r in rows} == {None, "lt80", "80_84", "85_89", "90_94", "95_100"}
    assert {r["damage_fused_tier"] for r in rows} == {0, 1, 2, 3}
    assert {r["damage_fused_tier_known"] for r in rows} == {None, 0, 1, 2, 3}
    # screenshots that disagree; single images; all-stock listings; structural evidence
    assert any(r["batt_img_spread"] for r in rows)
    assert any(r["img_rows_v1"] == 1 for r in rows)
    assert any(r["img_stock_ratio"] == 1.0 for r in rows)
    assert any(r["img_structural_strong"] for r in rows)
    # the floors raised some severities, and unknown stays NULL in the *_known columns
    assert any(r["text_sev_corr"] > (r["text_sev_decision"] or 0) for r in rows)
    assert any(r["text_sev_corr_known"] is None and r["text_sev_corr"] == 0 for r in rows)
    assert any(
        r["text_sev_raw_known"] is None and r["text_sev_corr_known"] is not None for r in rows
    )


# --------------------------------------------------------------------------- validation (10.x)


def test_validation_queries_on_the_synthetic_inputs(conn: psycopg.Connection) -> None:
    coverage = _rows(conn, "SELECT * FROM ml.v_damage_fusion_validation_coverage")
    assert len(coverage) == 1
    c = coverage[0]
    assert c["n_rows"] == _one(conn, "SELECT count(*) FROM ml.v_damage_fusion_features_v2")
    for name in ("pct_img_scored", "pct_text_scored", "pct_batt_scored"):
        assert 0.2 <= c[name] <= 0.8, (name, c[name])
    # the same rates from the reference
    rows = fusion_rows(*_stored_inputs(conn))
    for name, flag in (
        ("pct_img_scored", "img_damage_scored"),
        ("pct_text_scored", "text_damage_scored"),
        ("pct_batt_scored", "batt_scored"),
        ("pct_any_scored", "damage_any_scored"),
    ):
        assert c[name] == pytest.approx(sum(r[flag] for r in rows) / len(rows), rel=1e-12)
    assert (
        max(c["pct_img_scored"], c["pct_text_scored"], c["pct_batt_scored"])
        < (c["pct_any_scored"])
        < 1.0
    )
    codes = conn.execute("SELECT * FROM ml.v_damage_fusion_validation_reason_codes").fetchall()
    assert [code for code, _ in codes] == list(range(8))
    assert all(n >= 10 for _, n in codes)
    assert sum(n for _, n in codes) == c["n_rows"]
    assert (
        conn.execute("SELECT * FROM ml.v_damage_fusion_validation_duplicate_keys").fetchall() == []
    )


def test_duplicate_key_query_finds_duplicates(conn: psycopg.Connection) -> None:
    # Without the primary key of the listings, a listing entered twice is a duplicate key.
    conn.execute(
        sql.SQL(
            "ALTER TABLE {} DROP CONSTRAINT iphone_listings_pkey;"
            " INSERT INTO {} SELECT * FROM {} WHERE spam IS NOT TRUE"
            " ORDER BY generation, listing_id LIMIT 3"
        ).format(LISTINGS, LISTINGS, LISTINGS)
    )
    dups = conn.execute("SELECT * FROM ml.v_damage_fusion_validation_duplicate_keys").fetchall()
    assert len(dups) == 3 and all(n == 2 for _, _, n in dups)


def test_validation_queries_on_an_empty_store(conn: psycopg.Connection) -> None:
    _load(conn, [], [])
    assert _rows(conn, "SELECT * FROM ml.v_damage_fusion_validation_coverage") == [
        {
            "n_rows": 0,
            "pct_img_scored": None,
            "pct_text_scored": None,
            "pct_batt_scored": None,
            "pct_any_scored": None,
        }
    ]
    assert conn.execute("SELECT * FROM ml.v_damage_fusion_validation_reason_codes").fetchall() == []


# --------------------------------------------------------------------------- certification


def _guarded_rows(conn: psycopg.Connection) -> int:
    return int(_one(conn, sql.SQL("SELECT count(*) FROM {}").format(GUARDED_ID)))


def test_certify_then_serve_and_fail_closed(dsn: str, conn: psycopg.Connection) -> None:
    total = _one(conn, sql.SQL("SELECT count(*) FROM {}").format(EP_ID))
    assert total > 300
    assert _guarded_rows(conn) == 0  # never certified: the guarded view is empty
    with pytest.raises(t0lake.NotCertifiedError):
        t0lake.require_certified(dsn, EP, "24h")
    result = t0lake.certify(dsn, EP, check_days=3)
    assert result.certified and result.gates == {"A": "pass", "B": "pass", "C": "pass"}
    assert result.drift_policy == "tolerant"
    assert result.checked_days == [date(2026, 1, 18), date(2026, 1, 19), date(2026, 1, 20)]
    assert _guarded_rows(conn) == total
    assert t0lake.require_certified(dsn, EP, "24h").cert_id == result.cert_id
    # the runbook of the seed, in SQL
    conn.execute("CALL audit.run_t0_cert_fusion_store_v1(3, true)")
    strict = sql.SQL("SELECT audit.require_certified_strict({}, interval '24 hours')")
    assert _one(conn, strict.format(EP)) is True
    # a changed definition blocks serving until certified again
    conn.execute(
        "CREATE OR REPLACE FUNCTION ml.fusion_parse_bool(p_value jsonb) RETURNS boolean"
        " LANGUAGE sql IMMUTABLE PARALLEL SAFE"
        " RETURN CASE WHEN jsonb_typeof(p_value) = 'boolean' THEN p_value = 'true'::jsonb"
        " ELSE false END"
    )
    assert _guarded_rows(conn) == 0
    with pytest.raises(t0lake.NotCertifiedError) as info:
        t0lake.require_certified(dsn, EP, "24h")
    assert info.value.context["object"] == "ml.fusion_parse_bool(p_value jsonb)"


def test_entrypoint_outputs_no_timestamps_and_adds_edited_date(conn: psycopg.Connection) -> None:
    types = dict(
        conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
            " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
            (EP,),
        ).fetchall()
    )
    assert types["edited_date"] == "date"
    assert not [t for t in types.values() if t.startswith(("timestamp", "time "))]

    def columns(relation: sql.Composable) -> list[str]:
        cur = conn.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(relation))
        return [d.name for d in cur.description or []]

    entrypoint = columns(sql.Identifier(*EP.split(".")))
    assert entrypoint == [*columns(SCORED), "edited_date"]
    assert columns(sql.Identifier(*GUARDED.split("."))) == entrypoint
    # gate B finds nothing: no clock or random token, unique key, no timestamp, T0 probe
    assert conn.execute("SELECT * FROM audit.t0_gate_b(%s)", (EP,)).fetchall() == []


def test_t0_probe_refuses_image_rows_at_t0(dsn: str, conn: psycopg.Connection) -> None:
    # The same store with "at or before t0": the probe's image row at exactly t0 counts.
    (viewdef,) = conn.execute(
        "SELECT pg_get_viewdef('ml.v_damage_fusion_features_v2'::regclass)"
    ).fetchone()  # type: ignore[misc]
    assert viewdef.count("i.extracted_at < l.t0") == 1
    conn.execute(
        "CREATE OR REPLACE VIEW ml.v_damage_fusion_features_v2 AS "
        + viewdef.replace("i.extracted_at < l.t0", "i.extracted_at <= l.t0")
    )
    with pytest.raises(t0lake.T0ViolationError) as info:
        t0lake.certify(dsn, EP, accept_changes=True)
    assert info.value.context["gate"] == "B"
    assert "ml.iphone_image_features_v1 with extracted_at at exactly t0 changed" in str(info.value)
    assert "img_rows_v1" in str(info.value)
    assert _guarded_rows(conn) == 0


def test_drift_is_tolerated_and_recorded(dsn: str, conn: psycopg.Connection) -> None:
    t0lake.certify(dsn, EP, check_days=3)
    # retroactive enrichment: a listing of the last day gets a new decision
    conn.execute(
        sql.SQL(
            'UPDATE {} SET damage_ai_json = \'{{"decision": {{"severity": 3}}}}\''
            " WHERE (generation, listing_id) = (SELECT generation, listing_id FROM {}"
            " WHERE edited_date = '2026-01-20' AND text_sev_decision IS DISTINCT FROM 3"
            " ORDER BY 1, 2 LIMIT 1)"
        ).format(LISTINGS, sql.SQL(EP))
    )
    result = t0lake.certify(dsn, EP, check_days=3)
    assert result.certified and result.gates["C"] == "drift tolerated"
    assert result.drifted_days == [date(2026, 1, 20)]
    assert "drift tolerated on 2026-01-20" in (result.notes or "")
    assert _guarded_rows(conn) > 0
    with pytest.raises(t0lake.DriftError):
        t0lake.certify(dsn, EP, check_days=3, allow_drift=False)
    assert _guarded_rows(conn) == 0
    # accepting the new hashes makes the next strict run pass
    t0lake.certify(dsn, EP, check_days=3, allow_drift=True, update_drifted=True)
    assert t0lake.certify(dsn, EP, check_days=3, allow_drift=False).certified


def test_db_init_twice_keeps_the_fusion_store(fresh_dsn: str) -> None:
    def snapshot(c: psycopg.Connection) -> list[tuple[Any, ...]]:
        return c.execute(
            sql.SQL(
                "SELECT 'listings', count(*), md5(string_agg(x::text, ',' ORDER BY x::text))"
                "  FROM {} x"
                " UNION ALL SELECT 'images', count(*),"
                "  md5(string_agg(x::text, ',' ORDER BY x::text)) FROM {} x"
                " UNION ALL SELECT 'declared', count(*), NULL FROM audit.t0_entrypoint"
                "  WHERE entrypoint = %s"
                " UNION ALL SELECT 'probe', count(*), NULL FROM audit.t0_probe_source"
                "  WHERE entrypoint = %s"
                " UNION ALL SELECT 'view', count(*), md5(string_agg(x::text, ','"
                "  ORDER BY x::text)) FROM {} x"
            ).format(LISTINGS, IMAGES, SCORED),
            (EP, EP),
        ).fetchall()

    with pg.connect(fresh_dsn) as c:
        applied = pg.apply_sql(c, examples=True)
        assert "40_example_fusion_store.sql" in applied
        before = snapshot(c)
        pg.apply_sql(c, examples=True)
        after = snapshot(c)
    assert before == after
    assert [r[1] for r in before[:4]] == [400, before[1][1], 1, 1]
