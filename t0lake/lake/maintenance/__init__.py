"""The lake's life cycle, as users run it: compact, pin/unpin, expire, vacuum.

    compact     move days to their policy's tier, one proven output file per month or year
    downsample  the policy's optional step: aggregates of old rows as a dataset of their own
    history     pins and expiry of snapshots
    policy      an entrypoint's tier policy, stored in the lake
    vacuum      delete what no retained manifest references, after a grace period

Each builds on a producer of :mod:`t0lake.lake.operations` and the commit protocol;
``docs/maintenance.md`` is the runbook.
"""

from t0lake.lake.maintenance.compact import CompactResult, compact
from t0lake.lake.maintenance.downsample import Downsample, DownsampleResult
from t0lake.lake.maintenance.history import ExpireResult, expire, pin, unpin
from t0lake.lake.maintenance.policy import get_policy, set_policy
from t0lake.lake.maintenance.vacuum import VacuumResult, vacuum

__all__ = [
    "CompactResult",
    "Downsample",
    "DownsampleResult",
    "ExpireResult",
    "VacuumResult",
    "compact",
    "expire",
    "get_policy",
    "pin",
    "set_policy",
    "unpin",
    "vacuum",
]
