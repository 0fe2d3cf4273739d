"""One producer per kind of commit: each turns the current head into the next manifest.

A producer is called by :func:`t0lake.lake.commit.commit` with the head it should build on,
and again after every lost race, so it must derive everything from that head and its own
inputs. Today: ``replace_days`` (what an export commits). Compaction and expiry will be
producers beside it.
"""

from t0lake.lake.operations.replace_days import ReplaceDays, check_compatible, committed_hashes

__all__ = ["ReplaceDays", "check_compatible", "committed_hashes"]
