"""Regenerate tests/golden/hash_vectors.json (run only when the hash spec changes on purpose).

    .venv/bin/python tests/golden/make_hash_vectors.py

Each vector is a small table; values are JSON, with floats, numerics, dates, timestamps
and bytea written as strings (decoded per column type by tests/test_hash_vectors.py).
The expected hashes come from the Python side; the test checks them in SQL as well.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import t0lake
from t0lake import hashing
from tests.hashcases import arrow_table, decode_rows

VECTORS = [
    {
        "name": "worked-example",
        "key": ["id"],
        "columns": [["id", "int4"], ["s", "text"]],
        "rows": [[2, "é"], [1, None]],
    },
    {
        "name": "floats",
        "key": ["id"],
        "columns": [["id", "int4"], ["f8", "float8"], ["f4", "float4"]],
        "rows": [
            [1, "NaN", "NaN"],
            [2, "-0.0", "-0.0"],
            [3, "Infinity", "-Infinity"],
            [4, "5e-324", "1.401298464324817e-45"],
            [5, "1e308", "3.4028234663852886e38"],
            [6, None, None],
            [7, "0.1", "0.5"],
        ],
    },
    {
        "name": "integers-and-bool",
        "key": ["id"],
        "columns": [["id", "int8"], ["i2", "int2"], ["i4", "int4"], ["b", "bool"]],
        "rows": [
            [-9223372036854775808, -32768, -2147483648, False],
            [9223372036854775807, 32767, 2147483647, True],
            [0, None, 0, None],
        ],
    },
    {
        "name": "numeric",
        "key": ["id"],
        "columns": [["id", "int4"], ["n", "numeric"]],
        "rows": [
            [1, "1.50"],
            [2, "-0.0001"],
            [3, "100"],
            [4, "0"],
            [5, None],
            [6, "12345678901234567890.0123456789"],
        ],
    },
    {
        "name": "text-and-bytea",
        "key": ["id"],
        "columns": [["id", "int4"], ["t", "text"], ["b", "bytea"]],
        "rows": [[1, "", ""], [2, None, None], [3, "😀 ü", "00ff"], [4, "a\nb\\c'\"", "deadbeef"]],
    },
    {
        "name": "dates-and-times",
        "key": ["id"],
        "columns": [["id", "int4"], ["d", "date"], ["ts", "timestamp"], ["tz", "timestamptz"]],
        "rows": [
            [1, "1970-01-01", "1970-01-01T00:00:00", "1970-01-01T00:00:00+00:00"],
            [2, "1999-12-31", "1999-12-31T23:59:59.999999", "1999-12-31T23:59:59.999999+00:00"],
            [3, "2000-01-01", "2000-01-01T00:00:00", "2000-01-01T00:00:00+00:00"],
            [4, "2026-11-20", "2026-11-20T12:34:56.000001", "2026-11-20T12:34:56.000001+00:00"],
            [5, None, None, None],
        ],
    },
    {
        "name": "jsonb",
        "key": ["id"],
        "columns": [["id", "int4"], ["j", "jsonb"]],
        "rows": [
            [1, '{"b": 1, "aa": [1, 2.50], "a": null}'],
            [2, "null"],
            [3, '"x"'],
            [4, "{}"],
            [5, None],
        ],
    },
    {
        "name": "arrays",
        "key": ["id"],
        "columns": [["id", "int4"], ["ai", "int4[]"], ["at", "text[]"]],
        "rows": [[1, [1, None, 3], ["a", None, ""]], [2, [], []], [3, None, None]],
    },
    {
        "name": "composite-text-key-byte-order",
        "key": ["k", "g"],
        "columns": [["k", "text"], ["g", "int2"], ["v", "float8"]],
        "rows": [
            ["b", 1, "1"],
            ["B", 1, "2"],
            ["é", 0, "3"],
            ["a", 2, "4"],
            ["a", 1, "5"],
            ["", 0, "6"],
        ],
    },
    {"name": "empty", "key": ["id"], "columns": [["id", "int4"], ["s", "text"]], "rows": []},
]

for vector in VECTORS:
    columns = [tuple(c) for c in vector["columns"]]
    table = arrow_table(columns, decode_rows(columns, vector["rows"]))
    vector["expected"] = {
        "dataset_hash": t0lake.dataset_hash(table, vector["key"]),
        "columns": {
            h.name: [h.type, h.digest] for h in hashing.column_hashes(table, vector["key"]).values()
        },
    }

path = Path(__file__).with_name("hash_vectors.json")
path.write_text(json.dumps(VECTORS, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
print(f"wrote {len(VECTORS)} vectors to {path}")
