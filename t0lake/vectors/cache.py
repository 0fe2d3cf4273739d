"""The in-process cache of latest reads (seed 003, section 9), invalidated by Postgres.

``sql/core/51_feature_vector_api.sql`` makes every statement that inserts into or deletes from
``fv.feature_vectors`` send ``NOTIFY t0lake_fv`` with each (market_id, schema version) it
touched. A background thread of each cache LISTENs on its own connection and drops exactly
those entries. Postgres delivers a notification only after the writing transaction
committed, and in commit order, which gives the guarantee: once a write has committed and
its notification has been processed here, no read is served the older latest row.

Why a read can never put a stale row back after the notification was processed: every
entry a reader stores carries a ticket taken before its database read, the (epoch, key
generation) of that moment. A notification bumps the key's generation, so a row read before
a write committed but stored after its notification arrived is refused.

Failing safe: the cache serves nothing until its LISTEN is in place, and empties itself
whenever the listening connection is lost (notifications sent meanwhile are lost with it),
then again when it listens anew. :meth:`LatestCache.sync` waits until every write
committed before the call has been processed, for readers that need to see their own writes
through another connection.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Final

from t0lake import pg
from t0lake.errors import ConfigError

__all__ = ["CHANNEL", "MISS", "LatestCache", "Ticket"]

CHANNEL: Final = "t0lake_fv"


class _Miss:
    def __repr__(self) -> str:
        return "MISS"


MISS: Final = _Miss()

Ticket = tuple[int, int]


class LatestCache:
    """A bounded LRU of latest rows keyed by ``(market_id, schema_version)``.

    Values may be ``None`` (no row yet): a market with no vector is as cacheable as one
    with, and its first write invalidates it like any other. ``ttl_s`` additionally expires
    entries by age (the seed's "TTL based on publish cadence"); correctness does not need it.
    """

    def __init__(
        self,
        dsn: str,
        *,
        max_entries: int = 200_000,
        ttl_s: float | None = None,
        reconnect_s: float = 1.0,
    ) -> None:
        if max_entries < 1:
            raise ConfigError(
                f"max_entries must be >= 1, got {max_entries}",
                parameter="max_entries",
                value=str(max_entries),
            )
        self._dsn = dsn
        self._max = max_entries
        self._ttl = ttl_s
        self._reconnect = reconnect_s
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[Any, float]] = OrderedDict()
        self._generations: dict[Hashable, int] = {}
        self._epoch = 0
        self._listening = False
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._synced = threading.Condition(self._lock)
        self._sync_tokens: set[str] = set()
        self.invalidations = 0  # notifications processed (for tests and diagnostics)
        self._thread = threading.Thread(target=self._listen, name="t0lake-fv-cache", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ reads

    def lookup(self, key: Hashable) -> tuple[Any, Ticket]:
        """``(value, ticket)``; value is :data:`MISS` when not cached (or not listening).
        Take the ticket before reading the database; hand it to :meth:`store`."""
        with self._lock:
            ticket = (self._epoch, self._generations.get(key, 0))
            if not self._listening:
                return MISS, ticket
            entry = self._entries.get(key)
            if entry is None:
                return MISS, ticket
            value, stored = entry
            if self._ttl is not None and time.monotonic() - stored > self._ttl:
                del self._entries[key]
                return MISS, ticket
            self._entries.move_to_end(key)
            return value, ticket

    def store(self, key: Hashable, value: Any, ticket: Ticket) -> bool:
        """Cache ``value`` read under ``ticket``; refused (False) when the key was
        invalidated since the ticket was taken, or the cache is not listening."""
        with self._lock:
            if not self._listening or ticket != (self._epoch, self._generations.get(key, 0)):
                return False
            self._entries[key] = (value, time.monotonic())
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def listening(self) -> bool:
        return self._ready.is_set()

    def wait_listening(self, timeout: float = 10.0) -> bool:
        """Block until the LISTEN is in place (the cache serves nothing before)."""
        return self._ready.wait(timeout)

    # ------------------------------------------------------------------ invalidation

    def invalidate(self, key: Hashable) -> None:
        with self._lock:
            self._invalidate_locked(key)

    def _invalidate_locked(self, key: Hashable) -> None:
        self._entries.pop(key, None)
        self._generations[key] = self._generations.get(key, 0) + 1
        if len(self._generations) > 4 * self._max:
            self._flush_locked()  # bound the generations too: a new epoch voids old tickets

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        self._entries.clear()
        self._generations.clear()
        self._epoch += 1

    def _handle(self, payload: str) -> None:
        try:
            doc = json.loads(payload)
        except ValueError:
            doc = None
        with self._lock:
            self.invalidations += 1
            if isinstance(doc, dict) and "sync" in doc:
                self._sync_tokens.add(str(doc["sync"]))
                self._synced.notify_all()
            elif isinstance(doc, dict) and isinstance(doc.get("m"), str) and "v" in doc:
                self._invalidate_locked((doc["m"], int(doc["v"])))
            else:  # {"all": true} after TRUNCATE, or anything unexpected: drop everything
                self._flush_locked()

    def sync(self, notify: Callable[[str, str], None], timeout: float = 10.0) -> bool:
        """Wait until every write committed before this call has been processed here.

        ``notify(channel, payload)`` must send a NOTIFY and commit it (for example
        ``SELECT pg_notify(%s, %s)`` on an autocommit connection). Notifications arrive in
        commit order, so once this token is back, so are all the ones committed before.
        """
        if not self._ready.wait(timeout):
            return False
        token = uuid.uuid4().hex
        notify(CHANNEL, json.dumps({"sync": token}))
        deadline = time.monotonic() + timeout
        with self._lock:
            while token not in self._sync_tokens:
                left = deadline - time.monotonic()
                if left <= 0 or not self._synced.wait(left):
                    return False
            self._sync_tokens.discard(token)
        return True

    # ------------------------------------------------------------------ the listener

    def _set_listening(self, on: bool) -> None:
        with self._lock:
            self._listening = on
            self._flush_locked()
        if on:
            self._ready.set()
        else:
            self._ready.clear()

    def _listen(self) -> None:
        while not self._stop.is_set():
            conn: pg.Connection | None = None
            try:
                conn = pg.listen(self._dsn, CHANNEL)
                self._set_listening(True)  # empties what was cached while deaf
                while not self._stop.is_set():
                    for payload in pg.notifications(conn, timeout=0.2):
                        self._handle(payload)
            except pg.DatabaseError:
                pass
            finally:
                self._set_listening(False)
                if conn is not None:
                    conn.close()
            self._stop.wait(self._reconnect)

    def close(self) -> None:
        """Stop listening and empty the cache; lookups miss from now on."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._set_listening(False)
