"""The FeatureVector store of seed 003: one object for producers, models and verifiers.

    store = t0lake.FeatureStore(dsn, supported_versions={1})
    store.register_feature_schema(schema)               # idempotent; immutable once set
    store.write(FeatureVector.build(schema, market_id="BTC-USD", ...))   # idempotent
    store.write_batch(vectors)                          # all or nothing, index on error
    store.get_latest_features("BTC-USD", 1)             # cached, LISTEN/NOTIFY-invalidated
    store.get_features_for_window("BTC-USD", start_ms, end_ms, 1)
    store.get_features_by_epoch("BTC-USD", epoch_id, tick_index)
    store.query_features("BTC-USD", start_ms, end_ms, 1, columns=[...], every="5m")
    store.verify("BTC-USD", start_ms, end_ms, 1, commitment)   # seed section 10

The parts, each a module of its own: ``fv_schema`` (definitions, schema_hash),
``fv_codec`` (blob, hashes, window key), ``fv_record`` (the record and its checks),
``fv_registry`` (schemas in Postgres), ``fv_write``, ``fv_read``, ``fv_cache`` (latest
reads), ``fv_metrics`` (Prometheus and log lines). This module wires them to one connection
and counts what happens.

Consumers declare the schema versions they understand (``supported_versions``, seed 7.1-7.2):
a read of any other version raises SchemaVersionError, as does a version nobody registered.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

import polars as pl
from prometheus_client import CollectorRegistry

from t0lake import pg
from t0lake.errors import (
    ConfigError,
    IntegrityError,
    SchemaVersionError,
    T0LakeError,
    VectorConflictError,
)
from t0lake.vectors import read as fv_read
from t0lake.vectors import registry as fv_registry
from t0lake.vectors.cache import MISS, LatestCache
from t0lake.vectors.codec import verify_features_hash
from t0lake.vectors.metrics import StoreMetrics, log_event
from t0lake.vectors.record import FeatureVector, check_market_id
from t0lake.vectors.schema import FeatureSchema
from t0lake.vectors.write import WriteResult, write_vectors

__all__ = ["FeatureStore"]


class FeatureStore:
    """The FeatureVector store on one PostgreSQL database (module docstring).

    One connection serves reads and writes (calls are serialised by a lock, so a store can
    be shared by threads); with ``cache=True`` a second one listens for invalidations.
    ``metrics`` (or a fresh :class:`StoreMetrics` in ``registry``) receives the seed's
    counters and histograms.
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        supported_versions: Iterable[int] | None = None,
        cache: bool = True,
        cache_size: int = 200_000,
        cache_ttl_s: float | None = None,
        metrics: StoreMetrics | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._dsn = pg.resolve_dsn(dsn)
        self._supported = None if supported_versions is None else frozenset(supported_versions)
        self.metrics = metrics if metrics is not None else StoreMetrics(registry)
        self._lock = threading.RLock()  # _write calls _schema while holding it
        self._schemas: dict[int, FeatureSchema] = {}
        self._conn = pg.connect(self._dsn, autocommit=True)
        self.cache: LatestCache | None = None
        if cache:
            self.cache = LatestCache(self._dsn, max_entries=cache_size, ttl_s=cache_ttl_s)
            self.cache.wait_listening(timeout=10)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
        self._conn.close()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ schemas

    def register_feature_schema(self, schema: FeatureSchema) -> bool:
        """Register a schema version; True if new, False if already registered identically.
        Other content under a registered version raises SchemaVersionError."""
        try:
            with self._lock:
                created = fv_registry.register_schema(self._conn, schema)
        except SchemaVersionError:
            self.metrics.schema_version_mismatches.inc()
            raise
        log_event(
            "feature_schema_registered" if created else "feature_schema_unchanged",
            {
                "schema_version": schema.version,
                "domain": schema.domain,
                "schema_hash": schema.schema_hash.hex(),
            },
        )
        return created

    def list_feature_schemas(self, domain: str | None = None) -> list[FeatureSchema]:
        """Registered schemas (of ``domain`` when given), by version, each re-hashed."""
        with self._lock:
            return fv_registry.list_schemas(self._conn, domain)

    def _schema(self, version: int) -> FeatureSchema:
        schema = self._schemas.get(version)
        if schema is None:
            try:
                with self._lock:
                    schema = fv_registry.load_schema(self._conn, version)
            except SchemaVersionError:
                self.metrics.schema_version_mismatches.inc()
                raise
            self._schemas[version] = schema  # registered versions never change
        return schema

    def feature_schema(self, version: int) -> FeatureSchema:
        """The schema a read of ``version`` decodes with; SchemaVersionError when the version
        is not registered or not among ``supported_versions``."""
        if isinstance(version, bool) or not isinstance(version, int):
            raise ConfigError("schema_version must be an int", parameter="schema_version")
        if self._supported is not None and version not in self._supported:
            self.metrics.schema_version_mismatches.inc()
            raise SchemaVersionError(
                f"feature schema version {version} is not supported by this reader "
                f"(supported: {sorted(self._supported)})",
                version=version,
            )
        return self._schema(version)

    # ------------------------------------------------------------------ writes

    def write(self, vector: FeatureVector) -> bool:
        """Write one vector; True if written, False if the same record was already stored.
        A different record under its window_key raises VectorConflictError."""
        return bool(self._write([vector], "write").written)

    def write_batch(self, vectors: Sequence[FeatureVector]) -> WriteResult:
        """Write many vectors in one transaction: all, or none when any record is bad (the
        error's ``index`` names it)."""
        return self._write(vectors, "write_batch")

    def _write(self, vectors: Sequence[FeatureVector], op: str) -> WriteResult:
        vectors = list(vectors)
        try:
            with self.metrics.time_write(op), self._lock:
                result = write_vectors(self._conn, vectors, self._schema)
        except VectorConflictError as exc:
            self.metrics.uniqueness_violations.inc()
            self._log_refused(vectors, exc, "feature_vector_conflict")
            raise
        except SchemaVersionError as exc:
            self._log_refused(vectors, exc, "feature_vector_unknown_schema")
            raise
        except T0LakeError as exc:
            self._log_refused(vectors, exc, "feature_vector_invalid")
            raise
        if self.cache is not None:
            # read-your-writes in this process at once, without waiting for the NOTIFY
            for key in {(vectors[i].market_id, vectors[i].feature_schema_version)
                        for i in result.written}:  # fmt: skip
                self.cache.invalidate(key)
        self.metrics.written.inc(len(result.written))
        self.metrics.unchanged.inc(len(result.existing))
        for i in result.written:
            log_event("feature_vector_written", _fields(vectors[i]))
        for i in result.existing:
            log_event("feature_vector_unchanged", _fields(vectors[i]))
        return result

    def _log_refused(self, vectors: list[FeatureVector], exc: T0LakeError, event: str) -> None:
        index = exc.context.get("index")
        fields: dict[str, Any] = {"error": type(exc).__name__, "index": index}
        if isinstance(index, int) and isinstance(vectors[index], FeatureVector):
            with contextlib.suppress(AttributeError, TypeError, ValueError):
                fields.update(_fields(vectors[index]))  # a malformed record: what is known
        log_event(event, fields, level=logging.WARNING)

    # ------------------------------------------------------------------ reads

    def get_latest_features(self, market_id: str, schema_version: int) -> FeatureVector | None:
        """The market's latest vector of ``schema_version`` (the last window to end), or
        None. From the cache when it holds the key; never a row older than a write that
        committed and was notified before the call."""
        check_market_id(market_id)
        schema = self.feature_schema(schema_version)
        source = ["db"]
        with self.metrics.time_read("get_latest_features", source):
            key = (market_id, schema_version)
            ticket = None
            if self.cache is not None:
                cached, ticket = self.cache.lookup(key)
                self.metrics.cache_lookup(cached is not MISS)
                if cached is not MISS:
                    source[0] = "cache"
                    result: FeatureVector | None = cached
                    return result
            with self._lock:
                vector = fv_read.latest_features(
                    self._conn, market_id, schema.version, self._schema
                )
            if self.cache is not None and ticket is not None:
                self.cache.store(key, vector, ticket)
            return vector

    def get_features_for_window(
        self,
        market_id: str,
        window_start_ms: int,
        window_end_ms: int,
        schema_version: int,
        *,
        epoch_id: int | None = None,
        tick_index: int | None = None,
    ) -> FeatureVector | None:
        """The vector of exactly this window and version, or None. When vectors of several
        (epoch_id, tick_index) share the window, pass them: ambiguity is a ConfigError."""
        check_market_id(market_id)
        schema = self.feature_schema(schema_version)
        with self.metrics.time_read("get_features_for_window", ["db"]), self._lock:
            found = fv_read.features_for_window(
                self._conn, market_id, window_start_ms, window_end_ms, schema.version,
                self._schema,
            )  # fmt: skip
        found = [
            v
            for v in found
            if (epoch_id is None or v.epoch_id == epoch_id)
            and (tick_index is None or v.tick_index == tick_index)
        ]
        if len(found) > 1:
            raise ConfigError(
                f"{len(found)} vectors share this window (different epoch_id/tick_index); "
                "pass epoch_id and tick_index",
                market_id=market_id,
                count=len(found),
            )
        return found[0] if found else None

    def get_features_by_epoch(
        self,
        market_id: str,
        epoch_id: int,
        tick_index: int,
        schema_version: int | None = None,
    ) -> list[FeatureVector]:
        """Vectors published at ``(epoch_id, tick_index)``: of ``schema_version``, or of every
        version this reader supports (every registered one without ``supported_versions``),
        by version."""
        check_market_id(market_id)
        if schema_version is not None:
            versions = [self.feature_schema(schema_version).version]
        elif self._supported is not None:
            versions = sorted(self._supported)
        else:
            versions = [s.version for s in self.list_feature_schemas()]
        with self.metrics.time_read("get_features_by_epoch", ["db"]), self._lock:
            return fv_read.features_by_epoch(
                self._conn, market_id, epoch_id, tick_index, versions, self._schema
            )

    def query_features(
        self,
        market_id: str,
        start_ms: int,
        end_ms: int,
        schema_version: int,
        columns: Sequence[str] | None = None,
        every: str | int | None = None,
        *,
        agg: str = "last",
        known_before_ms: int | None = None,
    ) -> pl.DataFrame:
        """A range of one market's vectors as Polars, ``start_ms <= window_end_ms < end_ms``:
        metadata columns and the decoded features (projected to ``columns``), downsampled
        to buckets of ``every`` by ``agg`` when given. Semantics in :mod:`t0lake.fv_read`."""
        schema = self.feature_schema(schema_version)
        with self.metrics.time_read("query_features", ["db"]), self._lock:
            return fv_read.query_frame(
                self._conn, market_id, start_ms, end_ms, schema,
                columns=columns, every=every, agg=agg, known_before_ms=known_before_ms,
            )  # fmt: skip

    # ------------------------------------------------------------------ verification

    def verify(
        self,
        market_id: str,
        window_start_ms: int,
        window_end_ms: int,
        schema_version: int,
        commitment: bytes | str,
        *,
        epoch_id: int | None = None,
        tick_index: int | None = None,
    ) -> FeatureVector:
        """Seed section 10.2: fetch the window's vector, recompute ``features_hash`` from its
        blob and compare with ``commitment`` (for example from an oracle bundle). Returns the
        vector; IntegrityError when it is missing or does not match."""
        vector = self.get_features_for_window(
            market_id, window_start_ms, window_end_ms, schema_version,
            epoch_id=epoch_id, tick_index=tick_index,
        )  # fmt: skip
        if vector is None:
            raise IntegrityError(
                "no FeatureVector is stored for the window: nothing to verify",
                market_id=market_id,
                window_start_ms=window_start_ms,
                window_end_ms=window_end_ms,
                version=schema_version,
            )
        try:
            verify_features_hash(vector.features_blob, commitment)
        except IntegrityError as exc:
            raise IntegrityError(
                exc.message, window_key=vector.window_key.hex(), **exc.context
            ) from None
        log_event("feature_vector_verified", _fields(vector))
        return vector

    def sync(self, timeout: float = 10.0) -> bool:
        """Wait until the latest-read cache has processed every write committed before this
        call (read-your-writes across connections); True at once without a cache."""
        if self.cache is None:
            return True

        def notify(channel: str, payload: str) -> None:
            with self._lock:
                self._conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))

        return self.cache.sync(notify, timeout)


def _fields(vector: FeatureVector) -> dict[str, Any]:
    return {**vector.log_fields(), "window_key": vector.window_key.hex()}
