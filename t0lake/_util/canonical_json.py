"""One JSON text per value on every machine: sorted keys, no whitespace, ASCII, no NaN.

Manifests, fingerprints, feature schemas and coverage records are all hashed over their
JSON; if two places spelled that JSON differently, equal content would hash differently.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["canonical_json", "canonical_json_bytes"]

# one encoder for every call (json.dumps with options builds a new one per call)
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
)


def canonical_json(value: Any) -> str:
    """The canonical text of a JSON-ready value; ValueError for NaN or infinity, TypeError
    for anything JSON cannot hold."""
    return _ENCODER.encode(value)


def canonical_json_bytes(value: Any) -> bytes:
    """:func:`canonical_json` as ASCII bytes, what a hash is taken over."""
    return _ENCODER.encode(value).encode("ascii")
