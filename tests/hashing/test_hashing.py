"""The canonical hash in Python: independence from order, chunking and Parquet options;
sensitivity to every value, NULL, name, type and row; refusal of what it cannot hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import struct
from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import t0lake
from t0lake import hashing
from t0lake.errors import ConfigError, UnsupportedTypeError
from t0lake.hashing.streams import validity_bytes, varlen_streams
from t0lake.hashing.text import canonical_jsonb, decimal_streams, numeric_text


def sample() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([3, 1, 2], pa.int64()),
            "name": ["c", None, "ä"],
            "x": [1.5, float("nan"), -0.0],
            "d": pa.array([dt.date(2026, 1, 3), dt.date(1969, 12, 31), None]),
            "ts": pa.array(
                [dt.datetime(2026, 1, 1, 0, 0, 0, 1), None, dt.datetime(1999, 1, 1)],
                pa.timestamp("us"),
            ),
            "n": pa.array([Decimal("1.50"), Decimal("-0.01"), None], pa.decimal128(10, 2)),
            "tags": pa.array([["a"], [], None], pa.list_(pa.string())),
        }
    )


def test_row_order_chunking_and_parquet_options_do_not_matter() -> None:
    table = sample()
    expected = t0lake.dataset_hash(table, ["id"])
    assert t0lake.dataset_hash(table.take([2, 0, 1]), ["id"]) == expected
    rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=1))
    assert rechunked.column("id").num_chunks == 3
    assert t0lake.dataset_hash(rechunked, ["id"]) == expected
    for options in [
        {"compression": "zstd", "row_group_size": 1},
        {"compression": "none", "use_dictionary": False},
    ]:
        buf = io.BytesIO()
        pq.write_table(table, buf, **options)
        assert t0lake.dataset_hash(pq.read_table(io.BytesIO(buf.getvalue())), ["id"]) == expected


def test_polars_frames_hash_like_arrow() -> None:
    table = sample()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    expected = t0lake.dataset_hash(table, ["id"])
    assert t0lake.dataset_hash(frame, ["id"]) == expected
    assert t0lake.dataset_hash(frame.lazy(), ["id"]) == expected
    categorical = pl.DataFrame({"id": [1, 2], "c": ["a", "b"]}).with_columns(
        pl.col("c").cast(pl.Categorical)
    )
    assert t0lake.dataset_hash(categorical, ["id"]) == t0lake.dataset_hash(
        pa.table({"id": [1, 2], "c": ["a", "b"]}), ["id"]
    )


def test_column_order_does_not_matter_but_names_types_and_rows_do() -> None:
    table = sample()
    expected = t0lake.dataset_hash(table, ["id"])
    assert t0lake.dataset_hash(table.select(list(reversed(table.column_names))), ["id"]) == expected
    renamed = table.rename_columns(["id", "name2", "x", "d", "ts", "n", "tags"])
    assert t0lake.dataset_hash(renamed, ["id"]) != expected
    retyped = table.set_column(0, "id", table.column("id").cast(pa.int32()))
    assert t0lake.dataset_hash(retyped, ["id"]) != expected
    assert t0lake.dataset_hash(table.slice(0, 2), ["id"]) != expected


@pytest.mark.parametrize(
    ("column", "row", "value"),
    [
        ("name", 0, "C"),  # value
        ("name", 1, ""),  # NULL -> empty string
        ("name", 0, None),  # value -> NULL
        ("x", 2, 0.0),  # -0.0 -> 0.0
        ("x", 1, None),  # NaN -> NULL
        ("d", 0, dt.date(2026, 1, 4)),
        ("ts", 0, dt.datetime(2026, 1, 1, 0, 0, 0, 2)),
        ("n", 0, Decimal("1.51")),
        ("tags", 1, [None]),  # [] -> [NULL]
        ("tags", 0, ["a", "b"]),
    ],
)
def test_every_single_change_flips_the_hash(column: str, row: int, value: object) -> None:
    table = sample()
    values = table.column(column).to_pylist()
    values[row] = value
    changed = table.set_column(
        table.column_names.index(column), column, pa.array(values, table.schema.field(column).type)
    )
    assert t0lake.dataset_hash(changed, ["id"]) != t0lake.dataset_hash(table, ["id"])


def test_trailing_zeros_of_decimals_and_nan_payloads_are_not_content() -> None:
    a = pa.table({"id": [1], "n": pa.array([Decimal("1.5")], pa.decimal128(10, 1))})
    b = pa.table({"id": [1], "n": pa.array([Decimal("1.5000")], pa.decimal128(20, 4))})
    assert t0lake.dataset_hash(a, ["id"]) == t0lake.dataset_hash(b, ["id"])
    quiet = np.array([np.nan])
    other = np.array([0x7FF8000000000123], dtype=np.uint64).view(np.float64)
    assert np.isnan(other[0])
    ta = pa.table({"id": [1], "x": pa.array(quiet)})
    tb = pa.table({"id": [1], "x": pa.array(other)})
    assert t0lake.dataset_hash(ta, ["id"]) == t0lake.dataset_hash(tb, ["id"])


def test_timestamp_units_and_timezones_are_normalised() -> None:
    moment = dt.datetime(2026, 11, 20, 12, 30, tzinfo=dt.UTC)
    us = pa.table({"id": [1], "t": pa.array([moment], pa.timestamp("us", tz="UTC"))})
    ns = pa.table({"id": [1], "t": pa.array([moment], pa.timestamp("ns", tz="Europe/Berlin"))})
    ms = pa.table({"id": [1], "t": pa.array([moment], pa.timestamp("ms", tz="UTC"))})
    expected = t0lake.dataset_hash(us, ["id"])
    assert t0lake.dataset_hash(ns, ["id"]) == expected
    assert t0lake.dataset_hash(ms, ["id"]) == expected
    naive = pa.table({"id": [1], "t": pa.array([moment.replace(tzinfo=None)], pa.timestamp("us"))})
    assert t0lake.dataset_hash(naive, ["id"]) != expected  # timestamp vs timestamptz
    sub_us = pa.table({"id": [1], "t": pa.array([1], pa.timestamp("ns"))})
    with pytest.raises(ConfigError, match="sub-microsecond"):
        t0lake.dataset_hash(sub_us, ["id"])


@pytest.mark.parametrize(
    ("array", "reason"),
    [
        (pa.array([1], pa.uint32()), "uint32"),
        (pa.array([1], pa.int8()), "int8"),
        (pa.array([1.0], pa.float16()), "halffloat"),
        (pa.array([dt.time(1)], pa.time64("us")), "time64"),
        (pa.array([[[1]]], pa.list_(pa.list_(pa.int32()))), "arrays of int4"),
        (pa.array([{"a": 1}]), "struct"),
    ],
)
def test_types_without_a_canonical_encoding_are_refused(array: pa.Array, reason: str) -> None:
    table = pa.table({"id": [1], "v": array})
    with pytest.raises(UnsupportedTypeError, match=reason) as info:
        t0lake.dataset_hash(table, ["id"])
    assert info.value.context["column"] == "v"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ([], "non-empty"),
        (["nope"], "not in the data"),
        (["id", "id"], "twice"),
        (["tags"], "cannot order"),
    ],
)
def test_bad_keys_are_config_errors(key: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        t0lake.dataset_hash(sample(), key)


@pytest.mark.parametrize(
    "keys",
    [
        {"k": [1, 1]},
        {"k": pa.array([None, None], pa.int64())},
        {"k": [float("nan"), float("nan")]},
        {"k": [0.0, -0.0]},
        {"k": ["a", "a"], "j": [1, 1]},
    ],
)
def test_non_unique_keys_are_refused(keys: dict[str, object]) -> None:
    table = pa.table({**keys, "v": [1, 2]})
    with pytest.raises(ConfigError, match="not unique"):
        t0lake.dataset_hash(table, list(keys))


def test_composite_keys_that_differ_in_one_part_are_unique() -> None:
    table = pa.table({"a": ["x", "x", "y"], "b": [1, 2, 1], "v": [1.0, 2.0, 3.0]})
    assert len(t0lake.dataset_hash(table, ["a", "b"])) == 64


def test_worked_example_of_the_spec_by_hand() -> None:
    """docs/hashing.md's worked example, rebuilt from raw bytes with hashlib alone."""
    table = pa.table({"id": pa.array([2, 1], pa.int32()), "s": ["é", None]})

    def h(b: bytes) -> bytes:
        return hashlib.sha256(b).digest()

    id_digest = h(h(b"\x01\x01") + h(b"\x00\x00\x00\x01" + b"\x00\x00\x00\x02")).hex()
    s_digest = h(h(b"\x00\x01") + h(b"\x00\x00\x00\x02") + h("é".encode())).hex()
    document = (
        "t0lake-dataset-hash-v1\n"
        "rows=2\n"
        "key=2:id\n"
        f"col=2:id:int4:{id_digest}\n"
        f"col=1:s:text:{s_digest}\n"
    )
    assert hashing.column_hashes(table, ["id"])["s"].digest == s_digest
    assert t0lake.dataset_hash(table, ["id"]) == hashlib.sha256(document.encode()).hexdigest()


def test_jsonb_is_canonicalised_like_postgres() -> None:
    cases = {
        '{"b": 1, "aa": 2, "a": 3}': '{"a": 3, "b": 1, "aa": 2}',
        '{"a":1,"a":2}': '{"a": 2}',
        "[1.50, 1e2, -0, 2E-3]": "[1.50, 100, 0, 0.002]",
        '"\\u00e9\\n\\u0001"': '"é\\n\\u0001"',
        "null": "null",
        "[true,false,{}]": "[true, false, {}]",
    }
    for text, expected in cases.items():
        assert canonical_jsonb(text) == expected


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=40, unique=True),
    data=st.data(),
)
def test_property_order_and_chunking_independence(ids: list[int], data: st.DataObject) -> None:
    values = data.draw(
        st.lists(st.one_of(st.none(), st.floats(), st.text()), min_size=len(ids), max_size=len(ids))
    )
    floats = [v if isinstance(v, float) else None for v in values]
    texts = [v if isinstance(v, str) else None for v in values]
    table = pa.table(
        {"id": ids, "f": pa.array(floats, pa.float64()), "t": pa.array(texts, pa.string())}
    )
    permutation = data.draw(st.permutations(range(len(ids))))
    chunk = data.draw(st.integers(1, len(ids)))
    shuffled = pa.Table.from_batches(table.take(permutation).to_batches(max_chunksize=chunk))
    assert t0lake.dataset_hash(shuffled, ["id"]) == t0lake.dataset_hash(table, ["id"])
    assert hashing.column_hashes(shuffled, ["id"], threads=1) == hashing.column_hashes(
        table, ["id"]
    )


_RANGE_TYPES: dict[str, tuple[pa.DataType, st.SearchStrategy[object]]] = {
    "int8": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "float8": (pa.float64(), st.floats()),
    "bool": (pa.bool_(), st.booleans()),
    "text": (pa.string(), st.text()),
    "bytea": (pa.binary(), st.binary(max_size=8)),
    "date": (pa.date32(), st.dates()),
    "timestamptz": (pa.timestamp("us", tz="UTC"), st.datetimes(timezones=st.just(dt.UTC))),
    "numeric(18,4)": (
        pa.decimal128(18, 4),
        st.decimals(min_value=-(10**14) + 1, max_value=10**14 - 1, places=4),
    ),
    "numeric(38,2)": (
        pa.decimal128(38, 2),
        st.decimals(min_value=-(10**30), max_value=10**30, places=2),
    ),
    "int4[]": (pa.list_(pa.int32()), st.lists(st.one_of(st.none(), st.integers(-5, 5)))),
}


@settings(max_examples=120, deadline=None)
@given(kind=st.sampled_from(sorted(_RANGE_TYPES)), data=st.data())
def test_property_range_digests_equal_the_digest_of_each_slice(
    kind: str, data: st.DataObject
) -> None:
    dtype, values = _RANGE_TYPES[kind]
    rows = data.draw(st.lists(st.one_of(st.none(), values), max_size=30))
    array = pa.array(rows, dtype)
    chunk = data.draw(st.integers(1, max(1, len(rows))))
    column = pa.chunked_array(
        [array.slice(i, chunk) for i in range(0, len(rows), chunk)] or [array], dtype
    )
    ranges = data.draw(
        st.lists(
            st.integers(0, len(rows)).flatmap(
                lambda o: st.tuples(st.just(o), st.integers(0, len(rows) - o))
            ),
            max_size=6,
        )
    )
    field = pa.field("c", dtype)
    expected = [hashing.column_hash("c", array.slice(o, n), field).digest for o, n in ranges]
    assert hashing.range_digests("c", column, field, ranges) == expected


def test_range_digests_of_chunked_columns_with_empty_chunks_and_straddling_ranges() -> None:
    """Chunks of a column as Polars' reads give them, empty ones too (at the start, between,
    at the end), with ranges inside one chunk and across several."""
    values = ["alpha", None, "a value longer than twelve", "", "z", None, "last"]
    for dtype in (pa.large_string(), pa.string_view(), pa.int64()):
        rows: list[object] = (
            [None if v is None else len(v) for v in values] if dtype == pa.int64() else values
        )
        array = pa.array(rows, dtype)
        pieces = [(0, 0), (0, 2), (2, 0), (2, 3), (5, 2), (7, 0)]  # (offset, rows)
        column = pa.chunked_array([array.slice(o, n) for o, n in pieces], dtype)
        field = pa.field("c", pa.string() if dtype != pa.int64() else dtype)
        ranges = [(0, 0), (0, 2), (2, 3), (1, 3), (0, 7), (5, 2), (7, 0), (2, 0), (4, 2)]
        expected = [hashing.column_hash("c", array.slice(o, n), field).digest for o, n in ranges]
        assert hashing.range_digests("c", column, field, ranges) == expected


def test_range_digests_refuse_rows_outside_the_column() -> None:
    with pytest.raises(ConfigError, match="outside"):
        hashing.range_digests("c", pa.array([1, 2]), pa.field("c", pa.int64()), [(1, 2)])


@pytest.mark.parametrize(
    ("dtype", "texts"),
    [
        (pa.decimal128(12, 3), ["0", "-0.001", "99999999.999", "-1", "10.5", "7.001", "0.01"]),
        (pa.decimal128(18, 1), ["99999999999999999.9", "-99999999999999999.9", "0", "-10"]),
        (pa.decimal64(9, 9), ["0.000000001", "-0.1", "0.999999999", "0"]),
        (pa.decimal32(5, 2), ["-999.99", "0.1", "100", "0"]),
    ],
)
def test_small_decimals_print_like_postgres(dtype: pa.DataType, texts: list[str]) -> None:
    """The compiled fast path of numeric(p <= 18) gives the bytes of trim_scale(x)::text."""
    array = pa.array([Decimal(t) for t in texts], dtype)
    lengths, data = varlen_streams(array, "numeric", "n")
    assert bytes(data) == "".join(texts).encode()
    assert lengths.tolist() == [len(t) for t in texts]


@st.composite
def _small_decimals(draw: st.DrawFn) -> pa.Array:
    precision = draw(st.integers(1, 18))
    scale = draw(st.integers(1, precision))
    bits = draw(
        st.sampled_from([b for b in (32, 64, 128) if precision <= {32: 9, 64: 18}.get(b, 38)])
    )
    dtype = {32: pa.decimal32, 64: pa.decimal64, 128: pa.decimal128}[bits](precision, scale)
    bound = 10**precision - 1
    unscaled = draw(st.lists(st.none() | st.integers(-bound, bound), max_size=40))
    values = [None if u is None else Decimal(u).scaleb(-scale) for u in unscaled]
    array = pa.array(values, dtype)
    start = draw(st.integers(0, len(values)))
    return array.slice(start, draw(st.integers(0, len(values) - start)))


def _trim_scale_text(value: Decimal) -> str:
    """Postgres trim_scale(x)::text, one value at a time: the plain digits, then no
    trailing fractional zeros (and no point left bare)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@settings(max_examples=200, deadline=None)
@given(array=_small_decimals())
def test_property_small_decimal_text_equals_the_general_path(array: pa.Array) -> None:
    present = pc.drop_null(array)
    lengths, data = decimal_streams(present)
    reference = [_trim_scale_text(d) for d in present.to_pylist()]
    assert bytes(data) == "".join(reference).encode()
    assert lengths.tolist() == [len(t) for t in reference]
    general = numeric_text(present).to_pylist()  # vectorised Arrow strings
    assert general == reference


@settings(max_examples=200, deadline=None)
@given(array=_small_decimals())
def test_property_small_decimals_print_only_the_rows_their_validity_marks(
    array: pa.Array,
) -> None:
    """Given the validity bytes, the printer skips NULL rows itself (at any slice offset)
    and gives the streams of the column with its NULLs dropped."""
    lengths, data = decimal_streams(array, validity_bytes(array))
    present_lengths, present_data = decimal_streams(pc.drop_null(array))
    assert bytes(data) == bytes(present_data)
    assert lengths.tolist() == present_lengths.tolist()


def test_small_decimals_ignore_what_a_null_row_holds() -> None:
    """A writer may leave any value under a NULL row (here the int64 minimum, whose
    negation overflows); it is not content and is not printed."""
    unscaled = np.array([1234, np.iinfo(np.int64).min, -5], dtype=np.int64)
    validity = pa.array([True, False, True]).buffers()[1]
    array = pa.Array.from_buffers(
        pa.decimal64(12, 3), 3, [validity, pa.py_buffer(unscaled.tobytes())], null_count=1
    )
    lengths, data = decimal_streams(array, validity_bytes(array))
    assert bytes(data) == b"1.234-0.005"
    assert lengths.tolist() == [5, 6]
    field = pa.field("c", array.type)
    assert hashing.range_digests("c", array, field, [(0, 3)]) == [
        hashing.column_hash(
            "c", pa.array([Decimal("1.234"), None, Decimal("-0.005")], pa.decimal64(12, 3)), field
        ).digest
    ]


def test_small_decimals_refuse_nulls_without_their_validity() -> None:
    array = pa.array([Decimal("1.5"), None], pa.decimal64(4, 1))
    with pytest.raises(ConfigError, match="needs its validity"):
        decimal_streams(array)
    with pytest.raises(ConfigError, match="1 validity bytes for 2 rows"):
        decimal_streams(array, np.ones(1, dtype=np.uint8))


@pytest.mark.parametrize("large", [False, True])
def test_range_digests_of_text_whose_null_rows_hold_bytes(large: bool) -> None:
    """A writer may leave bytes under a NULL row; they are not content. The zero-copy path
    of range_digests assumes NULL rows are empty and must fall back when they are not."""
    dtype, offset_type = (pa.large_string(), np.int64) if large else (pa.string(), np.int32)
    offsets = np.array([0, 2, 7, 9, 9, 12], dtype=offset_type)  # row 1 (NULL) holds "XXXXX"
    validity = pa.array([True, False, True, True, True]).buffers()[1]
    array = pa.Array.from_buffers(
        dtype, 5, [validity, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"abXXXXXcdefg")]
    )
    assert array.to_pylist() == ["ab", None, "cd", "", "efg"]
    field = pa.field("c", dtype)
    ranges = [(0, 5), (1, 2), (2, 3), (0, 0)]
    expected = [
        hashing.column_hash("c", pa.array(array.to_pylist()[o : o + n], dtype), field).digest
        for o, n in ranges
    ]
    assert hashing.range_digests("c", array, field, ranges) == expected


_PACKED = {  # the spec's encodings, by struct format: the simplest independent reference
    "int2": (pa.int16(), ">h", st.integers(-(2**15), 2**15 - 1)),
    "int4": (pa.int32(), ">i", st.integers(-(2**31), 2**31 - 1)),
    "int8": (pa.int64(), ">q", st.integers(-(2**63), 2**63 - 1)),
    "float4": (pa.float32(), ">f", st.floats(width=32)),
    "float8": (pa.float64(), ">d", st.floats()),
}


def _reference_digest(values: Sequence[object], fmt: str) -> str:
    """docs/hashing.md section 2 for a fixed-width column, one Python value at a time."""
    validity = bytes(0 if v is None else 1 for v in values)
    packed = b""
    for v in values:
        if v is None:
            continue
        if isinstance(v, float) and v != v:  # every NaN as the one canonical pattern
            packed += bytes.fromhex("7fc00000" if fmt == ">f" else "7ff8000000000000")
        else:
            packed += struct.pack(fmt, v)
    h = hashlib.sha256
    return h(h(validity).digest() + h(packed).digest()).hexdigest()


@settings(max_examples=150, deadline=None)
@given(tag=st.sampled_from(sorted(_PACKED)), data=st.data())
def test_property_range_digests_of_numbers_with_nulls_at_any_offset_match_the_spec(
    tag: str, data: st.DataObject
) -> None:
    """The fast paths of range_digests (the validity bitmap unpacked at a slice's bit
    offset, numbers selected from Arrow's value buffer, a digest of all-valid validity
    reused per row count) give the bytes of the spec, checked value by value."""
    dtype, fmt, values = _PACKED[tag]
    rows = data.draw(st.lists(st.one_of(st.none(), values), max_size=40))
    skip = data.draw(st.integers(0, 11))  # a slice whose validity starts mid-byte
    padded = [0] * skip + rows
    array = pa.array(padded, dtype).slice(skip)
    if data.draw(st.booleans()):
        array = pa.array(rows, dtype).slice(0)  # no offset; maybe no NULL at all
    ranges = data.draw(
        st.lists(
            st.integers(0, len(rows)).flatmap(
                lambda o: st.tuples(st.just(o), st.integers(0, len(rows) - o))
            ),
            max_size=6,
        )
    )
    field = pa.field("c", dtype)
    expected = [_reference_digest(rows[o : o + n], fmt) for o, n in ranges]
    assert hashing.range_digests("c", array, field, ranges) == expected
    whole = hashing.column_hash("c", array, field).digest
    assert whole == _reference_digest(rows, fmt)


@pytest.mark.parametrize("kind", ["int8", "float8", "bool", "text", "text-view", "numeric", "date"])
def test_range_digests_of_long_chunked_columns_equal_the_digest_of_each_slice(kind: str) -> None:
    """Columns of reader size, chunked as a Polars frame of many files: ranges that straddle
    chunks, start mid-chunk or are empty give each slice's own digest (NULLs in some
    stretches of rows only, none in others; Polars' string views too)."""
    block = 65_536  # a stretch of rows without NULL

    rng = np.random.default_rng(11)
    rows = 2 * block + 12_345
    mask = rng.random(rows) < 0.05
    mask[block : 2 * block] = False  # one block without a NULL
    ints = rng.integers(-(10**9), 10**9, rows)
    arrays = {
        "int8": lambda: pa.array(ints, pa.int64(), mask=mask),
        "float8": lambda: pa.array(np.where(ints % 97 == 0, np.nan, ints / 7), mask=mask),
        "bool": lambda: pa.array(ints % 3 == 0, mask=mask),
        "text": lambda: pa.array([f"v{i % 1000}é" for i in ints], pa.large_string(), mask=mask),
        "text-view": lambda: pa.array([f"value-{i}" for i in ints], pa.string_view(), mask=mask),
        "numeric": lambda: pa.array(
            [Decimal(int(i)).scaleb(-3) for i in ints], pa.decimal128(18, 3), mask=mask
        ),
        "date": lambda: pa.array(ints % 40_000, pa.int32(), mask=mask).cast(pa.date32()),
    }
    array = arrays[kind]()
    cuts = [0, 5, 40_000, block - 1, block + 7, 2 * block + 3, rows]
    column = pa.chunked_array([array.slice(a, b - a) for a, b in itertools.pairwise(cuts)])
    ranges = [
        (0, rows),
        (3, block),
        (block - 10, 20),
        (block + 100, block - 200),
        (2 * block - 1, 12_346),
        (rows, 0),
        (77, 10_000),
    ]
    field = pa.field("c", pa.large_string() if kind == "text-view" else array.type)
    expected = [hashing.column_hash("c", array.slice(o, n), field).digest for o, n in ranges]
    assert hashing.range_digests("c", column, field, ranges) == expected


def test_range_digests_of_polars_string_views_and_lists_of_them() -> None:
    """The reader hands the proof Polars' own string views (CompatLevel.newest()), lists of
    them too; they hash as the same text as plain Arrow strings."""
    frame = pl.DataFrame(
        {"s": ["a", None, "ünïcode-long-value", ""], "l": [["x", None], None, [], ["long-string!"]]}
    )
    table = frame.to_arrow(compat_level=pl.CompatLevel.newest())
    assert pa.types.is_string_view(table.column("s").type)
    plain = frame.to_arrow()
    for name in ("s", "l"):
        field = plain.schema.field(name)
        ranges = [(0, 4), (1, 2), (3, 1)]
        expected = [
            hashing.column_hash(name, plain.column(name).slice(o, n), field).digest
            for o, n in ranges
        ]
        assert hashing.range_digests(name, table.column(name), field, ranges) == expected
        # the whole-column path (ColumnHasher) takes the views as they are too
        whole = hashing.column_hash(name, table.column(name), field).digest
        assert whole == hashing.column_hash(name, plain.column(name), field).digest
