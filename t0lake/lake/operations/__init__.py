"""One producer per kind of commit: each turns the current head into the next manifest.

A producer is called by :func:`t0lake.lake.commit.commit` with the head it should build on,
and again after every lost race, so it must derive everything from that head and its own
inputs:

    replace_days   what an export commits: new hot files for some days
    compact        one output file replaces the inputs of a month or a year
    history        pin, unpin and expire: the same files, another history
"""

from t0lake.lake.operations.compact import Compact, CompactOutput
from t0lake.lake.operations.history import Expire, Pin, Unpin, check_pin_name
from t0lake.lake.operations.replace_days import ReplaceDays, check_compatible, committed_hashes

__all__ = [
    "Compact",
    "CompactOutput",
    "Expire",
    "Pin",
    "ReplaceDays",
    "Unpin",
    "check_compatible",
    "check_pin_name",
    "committed_hashes",
]
