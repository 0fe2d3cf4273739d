"""``pin``, ``unpin`` and ``expire`` commits: they change the history, never the live files.

Pins and the expiry record live in the manifests themselves (every commit carries them
forward), because a put-if-absent manifest is the only atomic step the lake has: a pin
taken by one process and an expiry run by another can race, and whichever loses rebases on
the winner's record instead of overwriting it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from t0lake.errors import ConfigError, SnapshotExpiredError, SnapshotNotFoundError
from t0lake.lake.manifest import Manifest, Operation

__all__ = ["Expire", "Pin", "Unpin", "check_pin_name"]

_PIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def check_pin_name(name: str) -> str:
    """A pin name: letters, digits, ``_ . -`` (it names a tag in other catalogs too)."""
    if not isinstance(name, str) or not _PIN_NAME.fullmatch(name):
        raise ConfigError(
            f"pin name {name!r} must be 1-100 letters, digits, '_', '.' or '-', starting with "
            "a letter or digit",
            name=str(name),
        )
    return name


@dataclass(frozen=True)
class Pin:
    """Name a snapshot so that ``expire`` never drops it (e.g. the one a published
    backtest's fingerprint names)."""

    name: str
    snapshot_id: int
    retained: frozenset[int]  # the snapshot ids still in the lake (not expired)

    def __call__(self, head: Manifest | None) -> Manifest | None:
        if head is None:
            raise ConfigError("there is no snapshot to pin yet", name=self.name)
        if self.snapshot_id in head.expired:
            raise SnapshotExpiredError(
                f"snapshot {self.snapshot_id} of {head.entrypoint} cannot be pinned: it was "
                "expired",
                entrypoint=head.entrypoint,
                snapshot_id=self.snapshot_id,
            )
        if self.snapshot_id not in self.retained | {head.snapshot_id}:
            raise SnapshotNotFoundError(
                f"snapshot {self.snapshot_id} of {head.entrypoint} cannot be pinned: it does "
                "not exist",
                entrypoint=head.entrypoint,
                snapshot_id=self.snapshot_id,
            )
        if head.pins.get(self.name) == self.snapshot_id:
            return None
        if self.name in head.pins:
            raise ConfigError(
                f"pin {self.name!r} of {head.entrypoint} already names snapshot "
                f"{head.pins[self.name]}; unpin it first",
                entrypoint=head.entrypoint,
                name=self.name,
                snapshot_id=head.pins[self.name],
            )
        pins = {**head.pins, self.name: self.snapshot_id}
        return head.successor(
            Operation.PIN, {"pin": self.name, "snapshot_id": self.snapshot_id}, pins=pins
        )


@dataclass(frozen=True)
class Unpin:
    """Remove a pin; the snapshot it named may then be expired."""

    name: str

    def __call__(self, head: Manifest | None) -> Manifest | None:
        if head is None or self.name not in head.pins:
            raise ConfigError(
                f"there is no pin named {self.name!r}" + (f" on {head.entrypoint}" if head else ""),
                name=self.name,
            )
        pins = {k: v for k, v in head.pins.items() if k != self.name}
        return head.successor(
            Operation.UNPIN,
            {"unpin": self.name, "snapshot_id": head.pins[self.name]},
            pins=pins,
        )


@dataclass(frozen=True)
class Expire:
    """Record snapshots as expired (their checksums kept, so the chain still checks).

    ``victims`` maps each snapshot id to expire to its manifest's checksum, read when the
    expiry was planned; pinned snapshots and the head are never expired, whatever the plan.
    """

    victims: Mapping[int, str]

    def __call__(self, head: Manifest | None) -> Manifest | None:
        if head is None:
            return None
        pinned = set(head.pins.values())
        fresh = {
            sid: digest
            for sid, digest in self.victims.items()
            if sid not in head.expired and sid not in pinned and sid != head.snapshot_id
        }
        if not fresh:
            return None
        return head.successor(
            Operation.EXPIRE,
            {"expired": sorted(fresh)},
            expired={**head.expired, **fresh},
        )
