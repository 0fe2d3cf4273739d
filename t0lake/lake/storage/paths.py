"""Lake paths built from names that arrive from users: validated, never escaped.

An entrypoint name becomes a directory and every relative path is checked segment by
segment, so no name or path can leave the lake's root (no ``..``, no absolute paths, no
odd characters). Names are lower case: PostgreSQL folds an unquoted ``Syn.Events_V`` to
``syn.events_v``, so a lake directory per spelling would split one entrypoint in two.
"""

from __future__ import annotations

import re

from t0lake.errors import ConfigError

__all__ = ["check_name", "check_relative"]

# A relation name as an entrypoint is written: schema.name, plain identifiers only. Quoted or
# odd names are refused rather than escaped, so a lake path can never leave its directory.
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_$]{0,62}")
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_=.-]*")


def check_name(entrypoint: str) -> str:
    """The entrypoint name if it is safe as a lake directory (``schema.view``), else
    ConfigError: names arrive from users and end up in paths."""
    lower = entrypoint.lower() if isinstance(entrypoint, str) and entrypoint.isascii() else None
    if lower is not None and lower != entrypoint and _NAME.fullmatch(lower):
        raise ConfigError(
            f"entrypoint {entrypoint!r} has upper-case letters; write it in lower case, "
            f"{lower!r}: PostgreSQL folds unquoted names to lower case, and a lake "
            "directory per spelling would split one entrypoint in two",
            entrypoint=entrypoint,
        )
    if not isinstance(entrypoint, str) or not _NAME.fullmatch(entrypoint):
        raise ConfigError(
            f"entrypoint {entrypoint!r} must be schema.view with plain identifiers "
            "(lower-case letters, digits, underscore)",
            entrypoint=str(entrypoint),
        )
    return entrypoint


def check_relative(path: str) -> str:
    """A relative lake path whose every segment is plain; ConfigError otherwise."""
    parts = path.split("/")
    if not path or any(not _SEGMENT.fullmatch(p) or p in (".", "..") for p in parts):
        raise ConfigError(f"unsafe lake path {path!r}", path=path)
    return path
