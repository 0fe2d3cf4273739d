"""An entrypoint's tier policy, by lake URL: what ``t0lake policy`` reads and sets.

The policy is stored in the lake beside the entrypoint's data (``_policy.json``), so every
job that compacts the lake (a laptop, a nightly job, a Dask cluster) applies the same one.
Changing it changes nothing until the next ``compact``, which records the policy it applied
in its manifest.
"""

from __future__ import annotations

from typing import Any

from t0lake.errors import ConfigError
from t0lake.lake import log
from t0lake.lake.maintenance.downsample import Downsample, check_step
from t0lake.lake.storage import check_name, open_storage
from t0lake.lake.tiers import TierPolicy, load_policy, save_policy

__all__ = ["get_policy", "set_policy"]


def get_policy(
    lake_url: str, entrypoint: str, storage_options: dict[str, Any] | None = None
) -> TierPolicy:
    """The entrypoint's stored policy, or the default one when none was set."""
    return load_policy(open_storage(lake_url, storage_options), check_name(entrypoint))


def set_policy(
    lake_url: str,
    entrypoint: str,
    policy: TierPolicy,
    storage_options: dict[str, Any] | None = None,
) -> TierPolicy:
    """Store ``policy`` for the entrypoint; it applies from the next compaction. A
    downsampling step is checked against the entrypoint's head (when it has one) first."""
    if not isinstance(policy, TierPolicy):
        raise ConfigError("policy must be a t0lake.TierPolicy", parameter="policy")
    storage = open_storage(lake_url, storage_options)
    storage.check_commits()  # a lake nothing can be committed to has no use for a policy
    head = log.head(storage, check_name(entrypoint))
    if policy.downsample and head is not None:
        check_step(Downsample.from_json(policy.downsample), head)
    save_policy(storage, entrypoint, policy)
    return policy
