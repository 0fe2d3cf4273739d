-- t0lake example: synthetic FeatureVectors (seed 003) with a certified entrypoint.
--
-- Applied only by `t0lake db init --examples`. Re-runnable: the rows are generated once,
-- deterministically (generate_series over fixed times, sha256/hashtext for the content; no
-- now(), no random()), only while the tables hold no example rows.
--
--   fv.feature_schemas / fv.feature_vectors  (sql/core/50_feature_vectors.sql) the tables
--   fv.feature_vector_store_t0_v1_v          certification entrypoint, one row per vector
--   fv.feature_vectors_train_v               guarded consumer (fail closed)
--
-- Synthetic content: schema versions 1 and 2 of domain 'example.orderbook'; 4 markets; per
-- market and version one 15-minute window ending every 15 minutes from 2026-01-10 00:00 UTC
-- to 2026-01-16 23:45 UTC (7 days of 96 windows, epoch_id = day, tick_index = window of
-- the day); each vector is created 2 to 61 seconds after its window
-- closed. features_blob is the canonical encoding (version 1, docs/feature_vectors.md) of 8
-- non-NULL int64 fixed-point values, schema_hash = fv.schema_hash(...), features_hash =
-- sha256(features_blob), window_key = fv.window_key(...) (sql/core/51_feature_vector_api.sql): the
-- rows are what t0lake.FeatureStore writes, and it reads and proves them.

INSERT INTO fv.feature_schemas (feature_schema_version, domain, schema_hash, created_at_ms,
                                features)
SELECT v.version, 'example.orderbook',
       fv.schema_hash(v.version, 'example.orderbook', v.features), 1767225600000, v.features
  FROM (VALUES
    (1::smallint, '[{"name": "mid_px", "type": "i64", "scale": 8},
                    {"name": "spread_bps", "type": "i64", "scale": 2},
                    {"name": "depth_bid", "type": "i64", "scale": 4},
                    {"name": "depth_ask", "type": "i64", "scale": 4},
                    {"name": "trades", "type": "i64", "scale": 0},
                    {"name": "volume", "type": "i64", "scale": 4},
                    {"name": "vwap", "type": "i64", "scale": 8},
                    {"name": "imbalance", "type": "i64", "scale": 6}]'::jsonb),
    (2::smallint, '[{"name": "mid_px", "type": "i64", "scale": 8},
                    {"name": "spread_bps", "type": "i64", "scale": 2},
                    {"name": "depth_bid", "type": "i64", "scale": 4},
                    {"name": "depth_ask", "type": "i64", "scale": 4},
                    {"name": "trades", "type": "i64", "scale": 0},
                    {"name": "volume", "type": "i64", "scale": 4},
                    {"name": "vwap", "type": "i64", "scale": 8},
                    {"name": "realized_vol", "type": "i64", "scale": 6}]'::jsonb)
  ) AS v (version, features)
ON CONFLICT (feature_schema_version) DO NOTHING;

INSERT INTO fv.feature_vectors (window_key, market_id, epoch_id, tick_index, window_start_ms,
                                window_end_ms, feature_schema_version, features_blob,
                                features_hash, quality_flags, coverage_json, created_at_ms,
                                producer_instance, trace_id)
SELECT fv.window_key(w.market_id, w.epoch_id, w.tick_index, w.start_ms, w.end_ms,
                     w.version),
       w.market_id, w.epoch_id, w.tick_index, w.start_ms, w.end_ms, w.version, w.blob,
       sha256(w.blob),
       CASE WHEN abs(hashtext('quality:' || w.seed)) % 10 = 0 THEN 1 ELSE 0 END,
       jsonb_build_object('sources', 3, 'ticks', 15 - abs(hashtext('cov:' || w.seed)) % 3),
       w.end_ms + 2000 + abs(hashtext('lag:' || w.seed)) % 60000,
       'example-aggregator-' || (1 + abs(hashtext('producer:' || w.seed)) % 2),
       NULL
  FROM (
    SELECT m.market_id, s.version, t.i,
           t.i / 96 AS epoch_id, t.i % 96 AS tick_index,
           1768003200000 + (t.i - 1) * 900000 AS start_ms,
           1768003200000 + t.i * 900000 AS end_ms,
           m.market_id || '|' || s.version || '|' || t.i AS seed,
           -- header: magic T0FV, encoding 1, version, schema_hash, 8 features, no NULLs
           '\x5430465601'::bytea || int2send(s.version) || s.schema_hash
             || '\x000800'::bytea
             || (SELECT string_agg(int8send(abs(hashtext(format('f|%s|%s|%s|%s', m.market_id,
                                                                s.version, t.i, f)))::bigint),
                                   ''::bytea ORDER BY f)
                   FROM generate_series(1, 8) AS f) AS blob
      FROM (VALUES ('BTC-USD'), ('ETH-USD'), ('SOL-USD'), ('XAU-USD')) AS m (market_id)
     CROSS JOIN (SELECT feature_schema_version, schema_hash FROM fv.feature_schemas
                  WHERE domain = 'example.orderbook') AS s (version, schema_hash)
     CROSS JOIN generate_series(0, 7 * 96 - 1) AS t (i)
  ) AS w
 WHERE NOT EXISTS (SELECT 1 FROM fv.feature_vectors)
ORDER BY w.market_id, w.version, w.i;

-- The entrypoint: every stored column, plus the window end and creation time as timestamps
-- (UTC, exact integer arithmetic) and the partition day of window_end_ms. A vector's features
-- describe [window_start, window_end) and are known from created_at on: point-in-time readers
-- join on window_end_at and require created_at < t0 (`known_at`).
CREATE OR REPLACE VIEW fv.feature_vector_store_t0_v1_v AS
SELECT v.window_key, v.market_id, v.epoch_id, v.tick_index, v.window_start_ms,
       v.window_end_ms, v.feature_schema_version, v.features_blob, v.features_hash,
       v.quality_flags, v.coverage_json, v.created_at_ms, v.producer_instance, v.trace_id,
       date '1970-01-01' + (v.window_end_ms / 86400000)::integer AS window_end_day,
       (date '1970-01-01' + (v.window_end_ms / 86400000)::integer)
         + (v.window_end_ms % 86400000) * interval '1 millisecond' AS window_end_at,
       (date '1970-01-01' + (v.created_at_ms / 86400000)::integer)
         + (v.created_at_ms % 86400000) * interval '1 millisecond' AS created_at
  FROM fv.feature_vectors AS v;

CREATE OR REPLACE VIEW fv.feature_vectors_train_v AS
SELECT window_key, market_id, epoch_id, tick_index, window_start_ms, window_end_ms,
       feature_schema_version, features_blob, features_hash, quality_flags, coverage_json,
       created_at_ms, producer_instance, trace_id, window_end_day, window_end_at, created_at
  FROM fv.feature_vector_store_t0_v1_v
 WHERE audit.t0_guard('fv.feature_vector_store_t0_v1_v');

-- Key: (market_id, feature_schema_version, window_end_ms, window_key). window_key alone is
-- unique; the leading columns make the canonical (hash and file) order the order of latest
-- and range reads. Vectors are immutable, so any change of a certified day is drift: strict.
-- No T0 probe source: the rows are stored vectors, not features computed from other rows.
INSERT INTO audit.t0_entrypoint (entrypoint, key_cols, event_time_col, day_expr, drift_policy,
                                 forbid_timestamp_outputs, strict_t0, max_age, guarded_view,
                                 description)
VALUES ('fv.feature_vector_store_t0_v1_v',
        ARRAY['market_id', 'feature_schema_version', 'window_end_ms', 'window_key'],
        'window_end_at', 'window_end_day', 'strict', false, true, interval '24 hours',
        'fv.feature_vectors_train_v',
        'FeatureVector store (seed 003): stored vectors by UTC day of window_end_ms')
ON CONFLICT (entrypoint) DO NOTHING;
