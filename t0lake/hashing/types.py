"""Type tags: which Postgres type an Arrow field hashes as, and how its values are encoded.

The tag is part of the dataset hash, so Python and SQL must agree on it for every column;
this module is the one place that maps Arrow types (and the field metadata naming jsonb or
unconstrained numeric) to tags, and tags to their encoding: fixed-width big-endian values,
or variable-length byte strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from t0lake.errors import UnsupportedTypeError

__all__ = [
    "FIXED_WIDTH",
    "KEY_TYPES",
    "TYPE_METADATA_KEY",
    "VARIABLE_WIDTH",
    "canonical_type",
    "is_string",
]

# the big-endian numpy dtype of each fixed-width tag's values
FIXED_WIDTH: dict[str, np.dtype[Any]] = {
    "bool": np.dtype("u1"),
    "int2": np.dtype(">i2"),
    "int4": np.dtype(">i4"),
    "int8": np.dtype(">i8"),
    "float4": np.dtype(">f4"),
    "float8": np.dtype(">f8"),
    "date": np.dtype(">i4"),
    "timestamp": np.dtype(">i8"),
    "timestamptz": np.dtype(">i8"),
}
VARIABLE_WIDTH = frozenset({"text", "bytea", "numeric", "jsonb"})
KEY_TYPES = frozenset(FIXED_WIDTH) | {"text", "bytea", "numeric"}
# Field metadata that names the Postgres type of a text column: jsonb, or numeric kept as
# its exact text because it has no fixed precision/scale (see docs/lake-format.md).
TYPE_METADATA_KEY = b"t0lake.type"
_TEXT_TYPES_BY_METADATA = {b"jsonb": "jsonb", b"numeric": "numeric"}
# Arrow types with one tag each (built once: a proof looks a tag up per column and read)
_SIMPLE: dict[pa.DataType, str] = {
    pa.bool_(): "bool",
    pa.int16(): "int2",
    pa.int32(): "int4",
    pa.int64(): "int8",
    pa.float32(): "float4",
    pa.float64(): "float8",
    pa.date32(): "date",
    pa.date64(): "date",
    pa.string(): "text",
    pa.large_string(): "text",
    pa.string_view(): "text",
    pa.binary(): "bytea",
    pa.large_binary(): "bytea",
    pa.binary_view(): "bytea",
}


def canonical_type(field: pa.Field) -> str:
    """The Postgres-side type tag of an Arrow field, or UnsupportedTypeError.

    The tag is part of the dataset hash, so it must name the same type SQL sees:
    ``int4`` for Arrow int32 and Postgres integer alike.
    """
    return _tag(field.type, field.metadata or {}, field.name)


def _tag(dtype: pa.DataType, metadata: Mapping[bytes, bytes], name: str) -> str:
    marked = _TEXT_TYPES_BY_METADATA.get(metadata.get(TYPE_METADATA_KEY, b""))
    if marked is not None:
        if not is_string(dtype):
            raise UnsupportedTypeError(
                f"column {name!r} is marked {marked} but holds {dtype}",
                column=name,
                type=str(dtype),
            )
        return marked
    if isinstance(dtype, pa.BaseExtensionType):
        if dtype.extension_name == "arrow.json":
            return "jsonb"
        raise UnsupportedTypeError(
            f"column {name!r} has extension type {dtype.extension_name!r} with no canonical hash",
            column=name,
            type=str(dtype),
        )
    if pa.types.is_dictionary(dtype):
        return _tag(dtype.value_type, {}, name)
    if dtype in _SIMPLE:
        return _SIMPLE[dtype]
    if pa.types.is_decimal(dtype):
        return "numeric"
    if pa.types.is_timestamp(dtype):
        return "timestamptz" if dtype.tz is not None else "timestamp"
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_list_view(dtype):
        element = _tag(dtype.value_type, {}, name)
        if element.endswith("[]") or element == "jsonb":
            raise UnsupportedTypeError(
                f"column {name!r}: arrays of {element} have no canonical hash (only 1-D arrays "
                "of scalar types)",
                column=name,
                type=str(dtype),
            )
        return element + "[]"
    raise UnsupportedTypeError(
        f"column {name!r} has type {dtype}, which has no canonical hash encoding; "
        "cast it to a supported type (see docs/hashing.md)",
        column=name,
        type=str(dtype),
    )


def is_string(dtype: pa.DataType) -> bool:
    """Whether ``dtype`` is one of Arrow's string types (plain, large or view)."""
    return bool(
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
    )
