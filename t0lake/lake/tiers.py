"""The tier policy: which tier a day belongs in on a given ``as_of`` date, and how each tier's
files are written.

A day's tier is decided from whole calendar units, never from the wall clock:

- a **month** leaves ``hot`` once its last day is ``hot_days`` or more days before ``as_of``
  (so a month file is written once, complete, and hot always holds at least the last
  ``hot_days`` days);
- a **year** goes ``cold`` once its December is ``warm_months`` or more months before
  ``as_of``'s month.

Compaction never moves data to a hotter tier: a day already colder than the policy says
stays where it is. The policy of an entrypoint lives in the lake beside its data
(``{entrypoint}/_policy.json``), so every job that compacts a lake applies the same one;
an entrypoint without that file uses :data:`DEFAULT_POLICY`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from t0lake._util.canonical_json import canonical_json_bytes
from t0lake.errors import ConfigError, IntegrityError
from t0lake.lake.layout import Tier
from t0lake.lake.storage import Storage, check_name
from t0lake.lake.writer import COLD_OPTIONS, HOT_OPTIONS, WARM_OPTIONS, WriterOptions

__all__ = [
    "DEFAULT_POLICY",
    "POLICY_FILE",
    "TierPolicy",
    "load_policy",
    "partition_of",
    "policy_path",
    "save_policy",
    "unit_of",
]

POLICY_FILE = "_policy.json"


@dataclass(frozen=True)
class TierPolicy:
    """How long days stay hot and warm, and the frozen writer options of each tier.

    ``downsample`` is the optional downsampling step, applied by ``compact`` after the tier
    moves: a :class:`~t0lake.lake.maintenance.downsample.Downsample`, kept as its JSON record
    (so a policy file round-trips exactly).
    """

    hot_days: int = 30
    warm_months: int = 12
    hot: WriterOptions = HOT_OPTIONS
    warm: WriterOptions = WARM_OPTIONS
    cold: WriterOptions = COLD_OPTIONS
    downsample: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.downsample is not None and hasattr(self.downsample, "to_json"):
            object.__setattr__(self, "downsample", self.downsample.to_json())
        for name in ("hot_days", "warm_months"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(
                    f"tier policy {name} must be a whole number ≥ 0, got {value!r}",
                    parameter=name,
                )

    def options(self, tier: Tier) -> WriterOptions:
        """The writer options of ``tier``'s files."""
        return {Tier.HOT: self.hot, Tier.WARM: self.warm, Tier.COLD: self.cold}[tier]

    def tier_of(self, day: date, as_of: date) -> Tier:
        """The tier ``day`` belongs in on ``as_of`` (see the module docstring)."""
        month_end = _month_end(day)
        if (as_of - month_end).days < self.hot_days:
            return Tier.HOT
        months_back = (as_of.year * 12 + as_of.month) - (day.year * 12 + 12)
        if months_back >= self.warm_months:
            return Tier.COLD
        return Tier.WARM

    def target(self, day: date, current: Tier, as_of: date) -> Tier:
        """The tier compaction moves ``day`` to: the policy's, never hotter than now."""
        wanted = self.tier_of(day, as_of)
        return wanted if wanted.rank >= current.rank else current

    def to_json(self) -> dict[str, Any]:
        """The canonical record of the policy (what a compaction manifest carries)."""
        return {
            "hot_days": self.hot_days,
            "warm_months": self.warm_months,
            "writer": {tier.value: self.options(tier).to_json() for tier in Tier},
            "downsample": dict(self.downsample) if self.downsample else None,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> TierPolicy:
        writer = doc.get("writer") or {}
        unknown = set(doc) - {"hot_days", "warm_months", "writer", "downsample"}
        if unknown:
            raise ValueError(f"unknown tier policy field(s): {', '.join(sorted(unknown))}")
        return cls(
            hot_days=int(doc.get("hot_days", 30)),
            warm_months=int(doc.get("warm_months", 12)),
            hot=WriterOptions.from_json(writer.get("hot", HOT_OPTIONS.to_json())),
            warm=WriterOptions.from_json(writer.get("warm", WARM_OPTIONS.to_json())),
            cold=WriterOptions.from_json(writer.get("cold", COLD_OPTIONS.to_json())),
            downsample=doc.get("downsample"),
        )


DEFAULT_POLICY = TierPolicy()


def unit_of(day: date, tier: Tier) -> date:
    """The first day of the unit one file of ``tier`` holds: the day, its month or its year."""
    if tier == Tier.HOT:
        return day
    if tier == Tier.WARM:
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def partition_of(unit: date, tier: Tier) -> str:
    """The hive partition directory of a unit: ``day=…``, ``month=YYYY-MM`` or ``year=YYYY``."""
    if tier == Tier.HOT:
        return f"day={unit.isoformat()}"
    if tier == Tier.WARM:
        return f"month={unit.year:04d}-{unit.month:02d}"
    return f"year={unit.year:04d}"


def policy_path(entrypoint: str) -> str:
    return f"{check_name(entrypoint)}/{POLICY_FILE}"


def load_policy(storage: Storage, entrypoint: str) -> TierPolicy:
    """The entrypoint's policy from the lake, or DEFAULT_POLICY when none was set."""
    where = policy_path(entrypoint)
    try:
        data = storage.read_bytes(where)
    except FileNotFoundError:
        return DEFAULT_POLICY
    try:
        return TierPolicy.from_json(json.loads(data))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise IntegrityError(
            f"the tier policy {where} is not a valid policy document: {exc}", path=where
        ) from exc


def save_policy(storage: Storage, entrypoint: str, policy: TierPolicy) -> None:
    """Store the entrypoint's policy in the lake (it applies from the next compaction)."""
    storage.write_bytes(policy_path(entrypoint), canonical_json_bytes(policy.to_json()) + b"\n")


def _month_end(day: date) -> date:
    first_next = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_next - timedelta(days=1)
