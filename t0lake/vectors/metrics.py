"""Metrics and log lines of the FeatureVector store (seed 003, section 12).

Metrics live in a ``prometheus_client`` registry the caller owns and exposes (for example
``prometheus_client.start_http_server(port, registry=metrics.registry)``); by default each
store gets a registry of its own, so several stores in one process never collide.

The seed's names, as exposed (a Counter gains the ``_total`` suffix of the Prometheus
convention, a Histogram its ``_bucket``/``_sum``/``_count`` series)::

    feature_vectors_written_total            Counter    vectors inserted
    feature_vectors_unchanged_total          Counter    idempotent re-writes (no-ops)
    feature_store_write_latency_ms           Histogram  per write call      {op}
    feature_store_read_latency_ms            Histogram  per read call       {op, source}
    cache_hit_rate                           Gauge      hits / lookups of the latest cache
    feature_store_cache_lookups_total        Counter    latest-cache lookups  {result}
    uniqueness_violation_count_total         Counter    conflicting rewrites refused
    schema_version_mismatch_count_total      Counter    unknown / conflicting versions

Labels are bounded (an operation name, ``cache``/``db``, ``hit``/``miss``): never a market id.

Log lines go to the ``t0lake.vectors`` logger as one JSON object per line with the seed's
fields (market_id, epoch_id, window_end_ms, schema_version, features_hash, trace_id) and an
``event``; the same dict is on the record as ``record.fv`` for structured handlers. Neither
ever holds ``features_blob`` or a feature value.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["LOGGER_NAME", "StoreMetrics", "log_event"]

LOGGER_NAME = "t0lake.vectors"
_log = logging.getLogger(LOGGER_NAME)

# milliseconds: a cache hit is microseconds, a Postgres round trip a fraction of a ms, a
# batch write up to seconds
_BUCKETS_MS = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 50, 100, 250, 500, 1000, 2500, 10000,
)  # fmt: skip


class StoreMetrics:
    """The collectors of one store, in ``registry`` (a new one when not given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.written = Counter(
            "feature_vectors_written_total", "FeatureVectors inserted.", registry=r
        )
        self.unchanged = Counter(
            "feature_vectors_unchanged_total",
            "FeatureVector writes that found the same record stored (idempotent no-ops).",
            registry=r,
        )
        self.write_latency = Histogram(
            "feature_store_write_latency_ms",
            "Latency of a write call (one vector or one batch), in milliseconds.",
            ["op"],
            buckets=_BUCKETS_MS,
            registry=r,
        )
        self.read_latency = Histogram(
            "feature_store_read_latency_ms",
            "Latency of a read call, in milliseconds, by operation and source.",
            ["op", "source"],
            buckets=_BUCKETS_MS,
            registry=r,
        )
        self.cache_lookups = Counter(
            "feature_store_cache_lookups_total",
            "Lookups of the latest-read cache, by result (hit or miss).",
            ["result"],
            registry=r,
        )
        self.cache_hit_rate = Gauge(
            "cache_hit_rate",
            "Share of latest-read cache lookups that were hits since the store started.",
            registry=r,
        )
        self.cache_hit_rate.set_function(self._hit_rate)
        self.uniqueness_violations = Counter(
            "uniqueness_violation_count",
            "Writes refused because another record holds the window_key.",
            registry=r,
        )
        self.schema_version_mismatches = Counter(
            "schema_version_mismatch_count",
            "Unknown, unsupported or conflicting feature schema versions met.",
            registry=r,
        )
        self._hits = 0
        self._lookups = 0

    def _hit_rate(self) -> float:
        return self._hits / self._lookups if self._lookups else 0.0

    def cache_lookup(self, hit: bool) -> None:
        self._lookups += 1
        self._hits += hit
        self.cache_lookups.labels("hit" if hit else "miss").inc()

    @contextmanager
    def time_read(self, op: str, source: list[str]) -> Iterator[None]:
        """Time a read; ``source[0]`` is set by the body to where the answer came from."""
        start = perf_counter()
        try:
            yield
        finally:
            self.read_latency.labels(op, source[0]).observe((perf_counter() - start) * 1e3)

    @contextmanager
    def time_write(self, op: str) -> Iterator[None]:
        start = perf_counter()
        try:
            yield
        finally:
            self.write_latency.labels(op).observe((perf_counter() - start) * 1e3)


def log_event(event: str, fields: Mapping[str, Any], level: int = logging.INFO) -> None:
    """One structured line: ``{"event": ..., <fields>}``. Callers pass metadata only."""
    if not _log.isEnabledFor(level):
        return
    doc = {"event": event, **fields}
    _log.log(level, json.dumps(doc, sort_keys=True, default=str), extra={"fv": doc})
