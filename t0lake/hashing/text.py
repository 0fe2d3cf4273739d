"""Canonical text of numeric and jsonb values: the bytes Postgres prints for them.

numeric and jsonb are hashed as text, so Python must print each value exactly as Postgres
does (``trim_scale(x)::text``; jsonb's own output with its key order and separators). The
decimal paths are vectorised (Arrow strings, or a compiled loop for small decimals); jsonb
is rare on the hot path and is printed per value.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from t0lake._util.jit import compiled
from t0lake.errors import ConfigError
from t0lake.hashing.types import is_string

__all__ = ["canonical_jsonb", "decimal_streams", "is_small_decimal", "numeric_text"]


def numeric_text(values: pa.Array) -> pa.Array:
    """Decimals as Postgres ``trim_scale(x)::text`` prints them: plain digits, no exponent,
    no trailing fractional zeros. Vectorised on Arrow strings; no per-row Python."""
    if is_string(values.type):
        # numeric text as Postgres printed it: only trailing fractional zeros to drop
        return _trim_printed(values)
    scale = values.type.scale
    factory = {32: pa.decimal32, 64: pa.decimal64, 128: pa.decimal128, 256: pa.decimal256}
    unscaled_type = factory[values.type.bit_width](values.type.precision, 0)
    digits = pc.cast(values.view(unscaled_type), pa.string())
    negative = pc.starts_with(digits, "-")
    digits = pc.utf8_ltrim(digits, "-")
    if scale > 0:
        padded = pc.utf8_lpad(digits, width=scale + 1, padding="0")
        whole = pc.utf8_slice_codeunits(padded, 0, -scale)
        frac = pc.utf8_rtrim(pc.utf8_slice_codeunits(padded, -scale), "0")
        text = pc.if_else(pc.equal(frac, ""), whole, pc.binary_join_element_wise(whole, frac, "."))
    elif scale < 0:
        text = pc.if_else(
            pc.equal(digits, "0"), digits, pc.binary_join_element_wise(digits, "0" * -scale, "")
        )
    else:
        text = digits
    return pc.if_else(negative, pc.binary_join_element_wise("-", text, ""), text)


def _trim_printed_regex(values: pa.Array) -> pa.Array:
    """The reference of :func:`_trim_printed`: ``-?digits.digits`` loses its trailing
    fractional zeros, then a bare trailing point; any other text is left as it is."""
    trimmed = pc.replace_substring_regex(values, r"^(-?\d+\.\d*?)0+$", r"\1")
    return pc.replace_substring_regex(trimmed, r"^(-?\d+)\.$", r"\1")


_WELL_FORMED = r"^-?\d+\.\d*$"


def _trim_printed(values: pa.Array) -> pa.Array:
    """:func:`_trim_printed_regex` in two of Arrow's trims: the regexes cost two thirds of
    an export's Python proof on a day with one numeric column (re2 per value, twice).

    Trimming every trailing ``0`` and then a trailing ``.`` gives the regexes' answer on
    every string they accept; the regexes change no other string. So only the strings the
    trims shortened, those ending in a zero or a point, are checked against
    ``-?digits.digits`` (one regex match each), and those that are not numbers get their
    text back. A property test holds the two to the same answer on any text."""
    if pa.types.is_string_view(values.type):
        values = values.cast(pa.large_string())
    trimmed = pc.ascii_rtrim(pc.ascii_rtrim(values, "0"), ".")
    shortened = np.flatnonzero(_byte_lengths(values) != _byte_lengths(trimmed))
    if shortened.size == 0:
        return values
    numbers = pc.match_substring_regex(values.take(pa.array(shortened)), _WELL_FORMED)
    others = shortened[~numbers.fill_null(True).to_numpy(zero_copy_only=False)]
    if others.size == shortened.size:  # only whole numbers and other text shortened
        return values
    if others.size:
        mask = np.zeros(len(values), dtype=bool)
        mask[others] = True
        trimmed = pc.replace_with_mask(trimmed, pa.array(mask), values.take(pa.array(others)))
    return trimmed


def _byte_lengths(values: pa.Array) -> np.ndarray[Any, np.dtype[Any]]:
    """Each string's byte length, from its offsets (no pass over the bytes)."""
    wide = pa.types.is_large_string(values.type)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64 if wide else np.int32)
    return np.diff(offsets[values.offset : values.offset + len(values) + 1])


def is_small_decimal(dtype: pa.DataType) -> bool:
    """Decimals with a fraction whose unscaled values fit an int64: numeric(p <= 18, s > 0).
    (Without a fraction, Arrow's own integer printing is faster.)"""
    return bool(
        pa.types.is_decimal(dtype)
        and dtype.bit_width <= 128
        and dtype.precision <= 18
        and dtype.scale > 0
    )


def decimal_streams(
    values: pa.Array,
    validity: np.ndarray[Any, np.dtype[np.uint8]] | None = None,
) -> tuple[np.ndarray[Any, np.dtype[Any]], memoryview]:
    """The numeric text streams of a small decimal column (native int32 byte lengths, the
    bytes): its unscaled int64 values printed
    by :func:`_print_decimals`. Same bytes as :func:`numeric_text` (the general path, held
    to it by tests), an order of magnitude faster: a month of a decimal column was a third of
    a verified read's proof when printed through Arrow's string kernels.

    With ``validity`` (one byte a row, 0 for NULL, as ``validity_bytes`` gives) only the rows
    it marks are printed, so a caller holding a column with NULLs need not drop them first
    (dropping copies every 16-byte value: a third of the print's own time)."""
    dtype = values.type
    scale = dtype.scale
    word = np.int32 if dtype.bit_width == 32 else np.int64
    words_per_value = 2 if dtype.bit_width == 128 else 1  # low word first, little-endian
    raw = np.frombuffer(values.buffers()[1], dtype=word)
    start = values.offset * words_per_value
    # the low words in place (a strided view, no copy); int32 words are widened
    unscaled = raw[start : start + len(values) * words_per_value : words_per_value]
    if word is np.int32:
        unscaled = unscaled.astype(np.int64)
        unscaled.flags.writeable = False  # the kernel's one signature: read-only input
    if validity is None:
        if values.null_count:
            raise ConfigError("decimal_streams: a column with NULLs needs its validity bytes")
        present = _ALL_PRESENT
    else:
        if len(validity) != len(values):
            raise ConfigError(
                f"decimal_streams: {len(validity)} validity bytes for {len(values)} rows"
            )
        present = np.ascontiguousarray(validity, dtype=np.uint8).view()  # caller keeps flags
        present.flags.writeable = False  # the kernel's one signature: read-only input
    out = np.empty(len(unscaled) * (_MAX_DECIMAL_TEXT + scale), dtype=np.uint8)
    lengths = np.empty(len(unscaled), dtype=np.int32)
    size, count = _print_decimals(
        unscaled, present, scale, out, lengths, _DIGIT_PAIRS, _POWERS_OF_TEN
    )
    return lengths[:count], out[:size].data


# sign, at most 18 integer digits (precision <= 18), the point; the fraction adds `scale`
_MAX_DECIMAL_TEXT = 20
# "00" "01" ... "99": the two ASCII digits of every number below 100, for printing by pairs
_DIGIT_PAIRS = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode(), dtype=np.uint8)
_POWERS_OF_TEN = np.array([10**i for i in range(20)], dtype=np.uint64)
_POWERS_OF_TEN.flags.writeable = False
# the validity of a column without NULLs: empty, which the kernel reads as "every row"
_ALL_PRESENT = np.empty(0, dtype=np.uint8)
_ALL_PRESENT.flags.writeable = False


@compiled(
    lambda t: t.UniTuple(t.int64, 2)(
        t.Array(t.int64, 1, "A", readonly=True),
        t.Array(t.uint8, 1, "C", readonly=True),
        t.int64,
        t.Array(t.uint8, 1, "C"),
        t.Array(t.int32, 1, "C"),
        t.Array(t.uint8, 1, "C", readonly=True),
        t.Array(t.uint64, 1, "C", readonly=True),
    )
)
def _print_decimals(
    unscaled: np.ndarray[Any, Any],
    present: np.ndarray[Any, Any],
    scale: int,
    out: np.ndarray[Any, Any],
    lengths: Any,
    pairs: np.ndarray[Any, Any],
    powers: np.ndarray[Any, Any],
) -> tuple[int, int]:
    """Print each ``unscaled / 10**scale`` whose ``present`` byte is not 0 (every one when
    ``present`` is empty) as ``trim_scale(x)::text`` into ``out``, one after the other, its
    byte length into ``lengths``; return (the bytes written, the values printed).

    One division splits the whole part from the fraction; the whole part is written two
    digits at a time from its end (its width counted against ``powers`` first), the
    fraction without its trailing zeros (a quarter less time than a digit at a time).
    Positions are unsigned: numba checks a signed index for wraparound on every store,
    which cost a quarter of the loop."""
    ten = np.uint64(10)
    hundred = np.uint64(100)
    one = np.uint64(1)
    two = np.uint64(2)
    widest = np.uint64(19)
    divisor = powers[scale]
    every = present.shape[0] == 0
    pos = np.uint64(0)
    count = 0
    for i in range(unscaled.shape[0]):
        if not every and present[i] == 0:
            continue
        signed = unscaled[i]
        begin = pos
        if signed < 0:
            out[pos] = 45  # "-"
            pos += one
            signed = -signed
        value = np.uint64(signed)
        whole = value // divisor
        fraction = value - whole * divisor
        width = one  # digits of the whole part (at least one: "0.001")
        while width < widest and whole >= powers[width]:
            width += one
        pos += width
        at = pos
        while whole >= hundred:
            quotient = whole // hundred
            pair = two * (whole - quotient * hundred)
            whole = quotient
            at -= two
            out[at] = pairs[pair]
            out[at + one] = pairs[pair + one]
        if whole >= ten:
            out[at - two] = pairs[two * whole]
            out[at - one] = pairs[two * whole + one]
        else:
            out[at - one] = np.uint8(48 + whole)
        if fraction:
            kept = np.uint64(scale)  # the fraction's digits up to its last non-zero one
            while fraction % ten == 0:
                fraction //= ten
                kept -= one
            out[pos] = 46  # "."
            pos += one + kept
            at = pos
            for _ in range(kept):
                quotient = fraction // ten
                at -= one
                out[at] = np.uint8(48 + (fraction - quotient * ten))
                fraction = quotient
        lengths[count] = np.int32(pos - begin)
        count += 1
    return int(pos), count


def canonical_jsonb(text: str) -> str:
    """Postgres' jsonb output of a JSON text: keys ordered by (byte length, bytes), last
    duplicate key wins, numbers as numeric prints them, ``", "`` and ``": "`` separators.

    jsonb columns are rare on the hot path; this per-value function keeps them exact.
    """
    value = json.loads(
        text, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant
    )
    return _jsonb_out(value)


def _reject_constant(name: str) -> Any:
    raise ConfigError(f"JSON constant {name} is not valid jsonb")


def _jsonb_out(value: Any) -> str:
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: (len(kv[0].encode()), kv[0].encode()))
        return "{" + ", ".join(f"{_json_string(k)}: {_jsonb_out(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_jsonb_out(v) for v in value) + "]"
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return _numeric_out(value)


def _json_string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _numeric_out(d: Decimal) -> str:
    """Decimal as Postgres numeric_out prints it (dscale = max(0, -exponent))."""
    sign, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    scale = max(0, -exponent)
    text = format(d.copy_abs(), f".{scale}f")
    is_zero = not any(digits)
    return ("-" if sign and not is_zero else "") + text
