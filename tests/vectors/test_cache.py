"""The latest-read cache (t0lake/vectors/cache.py): invalidation through LISTEN/NOTIFY observed
across two connections, the ticket that keeps a stale read out, and failing safe when the
listening connection is lost."""

from __future__ import annotations

import time

import pytest

from t0lake import pg
from t0lake.errors import ConfigError
from t0lake.vectors import FeatureStore
from t0lake.vectors.cache import MISS, LatestCache
from tests.fvcases import BOOK, book_vector


def _lookups(s: FeatureStore, result: str) -> float:
    value = s.metrics.registry.get_sample_value(
        "feature_store_cache_lookups_total", {"result": result}
    )
    return value or 0.0


def _wait(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_invalidation_is_observed_across_two_connections(fresh_dsn: str) -> None:
    with FeatureStore(fresh_dsn) as reader, FeatureStore(fresh_dsn, cache=False) as writer:
        writer.register_feature_schema(BOOK)
        assert reader.get_latest_features("ETH-USD", 1) is None  # a miss, cached as "none"
        assert reader.get_latest_features("ETH-USD", 1) is None
        assert (_lookups(reader, "miss"), _lookups(reader, "hit")) == (1, 1)

        writer.write(book_vector("ETH-USD", 5))
        assert reader.sync()  # the write committed and its NOTIFY was processed
        latest = reader.get_latest_features("ETH-USD", 1)
        assert latest is not None and latest.tick_index == 5
        assert reader.get_latest_features("ETH-USD", 1) == latest  # from the cache now
        assert _lookups(reader, "hit") == 2

        # an older window does not change "latest", a newer one does
        writer.write_batch([book_vector("ETH-USD", 3), book_vector("ETH-USD", 9)])
        assert reader.sync()
        latest = reader.get_latest_features("ETH-USD", 1)
        assert latest is not None and latest.tick_index == 9

        # retention deletes invalidate too: the cache never serves a deleted row
        with pg.connect(fresh_dsn, autocommit=True) as conn, conn.transaction():
            # past the append-only guard (sql/core/52_…), as an administrator may
            conn.execute(
                "ALTER TABLE fv.feature_vectors DISABLE TRIGGER feature_vectors_append_only"
            )
            conn.execute("DELETE FROM fv.feature_vectors WHERE tick_index = 9")
            conn.execute(
                "ALTER TABLE fv.feature_vectors ENABLE TRIGGER feature_vectors_append_only"
            )
        assert reader.sync()
        latest = reader.get_latest_features("ETH-USD", 1)
        assert latest is not None and latest.tick_index == 5
        with pg.connect(fresh_dsn, autocommit=True) as conn, conn.transaction():
            conn.execute(
                "ALTER TABLE fv.feature_vectors DISABLE TRIGGER feature_vectors_no_truncate"
            )
            conn.execute("TRUNCATE fv.feature_vectors")
            conn.execute(
                "ALTER TABLE fv.feature_vectors ENABLE TRIGGER feature_vectors_no_truncate"
            )
        assert reader.sync()
        assert reader.get_latest_features("ETH-USD", 1) is None


def test_notification_without_sync_reaches_the_cache(fresh_dsn: str) -> None:
    """No help from sync(): the background listener alone drops the entry."""
    with FeatureStore(fresh_dsn) as reader, FeatureStore(fresh_dsn, cache=False) as writer:
        writer.register_feature_schema(BOOK)
        writer.write(book_vector("SOL-USD", 1))
        assert reader.sync()  # (else that write's own notification may void the first read)
        assert reader.get_latest_features("SOL-USD", 1) is not None
        assert reader.cache is not None and len(reader.cache) == 1
        seen = reader.cache.invalidations
        writer.write(book_vector("SOL-USD", 2))
        _wait(lambda: reader.cache.invalidations > seen)  # type: ignore[union-attr]
        latest = reader.get_latest_features("SOL-USD", 1)
        assert latest is not None and latest.tick_index == 2


def test_only_the_written_market_and_version_are_dropped(fresh_dsn: str) -> None:
    with FeatureStore(fresh_dsn) as reader, FeatureStore(fresh_dsn, cache=False) as writer:
        writer.register_feature_schema(BOOK)
        writer.write_batch([book_vector("A", 1), book_vector("B", 1)])
        assert reader.sync()
        reader.get_latest_features("A", 1)
        reader.get_latest_features("B", 1)
        writer.write(book_vector("A", 2))
        assert reader.sync()
        assert reader.cache is not None
        assert reader.cache.lookup(("B", 1))[0] is not MISS
        assert reader.cache.lookup(("A", 1))[0] is MISS


def test_a_read_that_raced_a_write_is_not_cached(fresh_dsn: str) -> None:
    cache = LatestCache(fresh_dsn)
    try:
        assert cache.wait_listening()
        value, ticket = cache.lookup(("A", 1))  # a reader takes its ticket, reads "old" ...
        assert value is MISS
        cache.invalidate(("A", 1))  # ... a write's notification arrives meanwhile ...
        assert cache.store(("A", 1), "old", ticket) is False  # ... so "old" is refused
        assert cache.lookup(("A", 1))[0] is MISS
        _, ticket = cache.lookup(("A", 1))
        assert cache.store(("A", 1), "new", ticket) is True
        assert cache.lookup(("A", 1))[0] == "new"
    finally:
        cache.close()
    assert cache.lookup(("A", 1))[0] is MISS  # closed: serves nothing


def test_lost_listener_empties_the_cache_and_serves_nothing_until_it_listens_again(
    fresh_dsn: str,
) -> None:
    cache = LatestCache(fresh_dsn, reconnect_s=1.5)
    try:
        assert cache.wait_listening()
        _, ticket = cache.lookup("k")
        assert cache.store("k", 1, ticket)
        with pg.connect(fresh_dsn, autocommit=True) as conn:
            # kill the listening backend: notifications sent now would be lost
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query LIKE 'LISTEN%%' AND pid <> pg_backend_pid()"
            )
        _wait(lambda: not cache.listening)
        assert cache.lookup("k")[0] is MISS
        _, ticket = cache.lookup("k")
        assert cache.store("k", 2, ticket) is False  # deaf: nothing is cached
        assert cache.wait_listening()  # reconnected
        assert cache.lookup("k")[0] is MISS  # emptied when it listened again
    finally:
        cache.close()


def test_capacity_and_ttl(fresh_dsn: str) -> None:
    cache = LatestCache(fresh_dsn, max_entries=2, ttl_s=0.2)
    try:
        assert cache.wait_listening()
        for key in ("a", "b", "c"):
            cache.store(key, key, cache.lookup(key)[1])
        assert len(cache) == 2 and cache.lookup("a")[0] is MISS  # least recently used went
        time.sleep(0.3)
        assert cache.lookup("c")[0] is MISS  # expired
    finally:
        cache.close()
    with pytest.raises(ConfigError, match="max_entries"):
        LatestCache(fresh_dsn, max_entries=0)


def test_a_store_reads_its_own_writes_at_once(fresh_dsn: str) -> None:
    with FeatureStore(fresh_dsn) as s:
        s.register_feature_schema(BOOK)
        for i in range(20):
            s.write(book_vector("OWN", i))
            latest = s.get_latest_features("OWN", 1)  # no sync(): the write dropped the entry
            assert latest is not None and latest.tick_index == i
            assert s.get_latest_features("OWN", 1) == latest
