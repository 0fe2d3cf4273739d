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

With ``lake=URL``, range and point reads span the tiers: Postgres answers for what it still
holds, the lake (verified) for the days retention moved there (``fv.vector_retention``, read
in the same snapshot as the Postgres rows: no gap, no duplicate) and for downsampled
versions, which only the lake holds (``fv.downsampled_versions``).

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
from datetime import date
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
from t0lake.pg import vector_retention as fv_retention
from t0lake.vectors import read as fv_read
from t0lake.vectors import registry as fv_registry
from t0lake.vectors.cache import MISS, LatestCache
from t0lake.vectors.codec import verify_features_hash
from t0lake.vectors.downsample import derived_entrypoint, derived_schema, downsample_step
from t0lake.vectors.metrics import StoreMetrics, log_event
from t0lake.vectors.record import FeatureVector, check_market_id
from t0lake.vectors.schema import FeatureSchema
from t0lake.vectors.tiers import DEFAULT_ENTRYPOINT, LakeTier, day_of_ms, days_between
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
        lake: str | None = None,
        storage_options: dict[str, Any] | None = None,
        entrypoint: str = DEFAULT_ENTRYPOINT,
    ) -> None:
        self._dsn = pg.resolve_dsn(dsn)
        self.entrypoint = entrypoint
        self.lake = None if lake is None else LakeTier(lake, storage_options)
        self._derived: dict[int, fv_retention.DownsampledVersion | None] = {}
        self._retained_snapshot = 0  # the newest snapshot a retention named
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
        source = ["db"]
        with self.metrics.time_read("get_features_for_window", source), self._lock:
            day = day_of_ms(window_end_ms)
            with fv_retention.consistent_reads(self._conn):
                found = fv_read.features_for_window(
                    self._conn, market_id, window_start_ms, window_end_ms, schema.version,
                    self._schema,
                )  # fmt: skip
                lake_days = self._lake_days(schema.version, day, day)
            if lake_days:
                source[0] = "lake"
                found += [
                    fv_read.proven_vector(r, self._schema)
                    for r in self._lake_rows(
                        schema.version, lake_days, market_id,
                        start_ms=window_end_ms, end_ms=window_end_ms + 1,
                    )
                    if r[3] == window_start_ms
                ]  # fmt: skip
                found.sort(key=lambda v: (v.epoch_id, v.tick_index))
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
        source = ["db"]
        with self.metrics.time_read("get_features_by_epoch", source), self._lock:
            with fv_retention.consistent_reads(self._conn):
                found = fv_read.features_by_epoch(
                    self._conn, market_id, epoch_id, tick_index, versions, self._schema
                )
                lake = {  # without a lake, lake-only versions have nothing to add here
                    v: self._lake_days(v, None, None)
                    for v in versions
                    if self.lake is not None or self._downsampled(v) is None
                }
            # an epoch is not a day: every day the lake holds for the version is searched
            for version, days in lake.items():
                if days:
                    source[0] = "lake"
                    found += [
                        fv_read.proven_vector(r, self._schema)
                        for r in self._lake_rows(
                            version, days, market_id, epoch=(epoch_id, tick_index)
                        )
                    ]
            found.sort(key=lambda v: (v.feature_schema_version, v.window_end_ms,
                                      v.window_start_ms))  # fmt: skip
            return found

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
        names, every_ms = fv_read.check_query(
            market_id, start_ms, end_ms, schema, columns, every, agg
        )
        source = ["db"]
        with self.metrics.time_read("query_features", source), self._lock:
            first, last = days_between(start_ms, end_ms)
            with fv_retention.consistent_reads(self._conn):
                rows = fv_read.range_rows(
                    self._conn, market_id, start_ms, end_ms, schema.version, known_before_ms
                )
                lake_days = self._lake_days(schema.version, first, last)
            if lake_days:
                source[0] = "lake" if not rows else "db+lake"
                lake_rows = self._lake_rows(
                    schema.version, lake_days, market_id,
                    start_ms=start_ms, end_ms=end_ms, known_before_ms=known_before_ms,
                )  # fmt: skip
                rows = [
                    (r[1], r[2], r[3], r[4], r[9], r[10], r[7], r[8], r[6]) for r in lake_rows
                ] + list(rows)
                rows.sort(key=lambda r: (r[3], r[2], r[0], r[1]))  # the read order
            return fv_read.frame_of(market_id, schema, rows, names, every_ms, agg)

    # ------------------------------------------------------------------ tiers

    def _downsampled(self, version: int) -> fv_retention.DownsampledVersion | None:
        if version not in self._derived:
            self._derived[version] = fv_retention.downsampled_version(self._conn, version)
        return self._derived[version]

    def _lake_days(
        self, version: int, first: date | None, last: date | None
    ) -> dict[date, str | None]:
        """Inside the read snapshot: the days between ``first`` and ``last`` (None:
        unbounded) that the lake answers for ``version``, each with the dataset hash
        retention proved (None for a downsampled version: the lake is its only home).
        ConfigError when the lake holds some and this store has no lake."""
        derived = self._downsampled(version)
        if derived is not None:
            if self.lake is None:
                raise ConfigError(
                    f"feature schema version {version} is downsampled: only the lake holds "
                    "it; open FeatureStore(dsn, lake=URL)",
                    version=version,
                )
            head = self.lake.head(derived.entrypoint)
            live = head.days() if head is not None else {}
            return {
                d: None
                for d in live
                if (first is None or d >= first) and (last is None or d <= last)
            }
        retained = fv_retention.retained_days(self._conn, self.entrypoint)
        chosen = {
            d: r.dataset_hash
            for d, r in retained.items()
            if (first is None or d >= first) and (last is None or d <= last)
        }
        if chosen and self.lake is None:
            raise ConfigError(
                f"{len(chosen)} day(s) of this read were retained to the lake "
                f"({min(chosen)}..{max(chosen)}); open FeatureStore(dsn, lake=URL) to read them",
                entrypoint=self.entrypoint,
            )
        self._retained_snapshot = max((r.snapshot_id for r in retained.values()), default=0)
        return dict(chosen)

    def _lake_rows(
        self, version: int, days: dict[date, str | None], market_id: str, **where: Any
    ) -> list[tuple[Any, ...]]:
        assert self.lake is not None, "_lake_days refused a read without a lake"
        derived = self._downsampled(version)
        if derived is not None:
            return self.lake.rows(
                derived.entrypoint, days, proven=None, market_id=market_id, versions=[version],
                **where,
            )  # fmt: skip
        proven = {d: h for d, h in days.items() if h is not None}
        return self.lake.rows(
            self.entrypoint, days, proven=proven, market_id=market_id, versions=[version],
            at_least=self._retained_snapshot, **where,
        )  # fmt: skip

    def register_downsampled_version(
        self,
        source_version: int,
        version: int,
        every: str | int,
        aggregates: dict[str, str],
    ) -> Any:
        """Register schema ``version`` as ``source_version`` downsampled to buckets of
        ``every`` with one aggregate per feature (``last``, ``first``, ``min``, ``max``), and
        return the lake policy step that writes it (``t0lake.set_policy(lake, entrypoint,
        TierPolicy(downsample=step))``; ``t0lake compact`` then applies it). Idempotent;
        another definition under ``version`` is a SchemaVersionError."""
        source = self._schema(source_version)
        every_ms = fv_read.parse_every(every)
        target = derived_schema(source, version, every_ms)
        step = downsample_step(self.entrypoint, source, target, f"{every_ms}ms", aggregates)
        spec = fv_retention.DownsampledVersion(
            version, source.version, every_ms, dict(aggregates),
            derived_entrypoint(self.entrypoint, version),
        )  # fmt: skip
        self.register_feature_schema(target)
        with self._lock:
            fv_retention.record_downsampled_version(self._conn, spec)
            stored = fv_retention.downsampled_version(self._conn, version)
        if stored != spec:
            self.metrics.schema_version_mismatches.inc()
            raise SchemaVersionError(
                f"feature schema version {version} is registered as another downsampling",
                version=version,
            )
        self._derived[version] = spec
        return step

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
