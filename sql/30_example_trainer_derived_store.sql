-- t0lake example: the trainer-derived feature store of seed 000, with synthetic inputs.
--
-- Applied only by `t0lake db init --examples`. Re-runnable: the inputs are filled once,
-- deterministically (generate_series over fixed dates, hashtext for pseudo-randomness; no
-- now(), no random()), and every object is CREATE ... IF NOT EXISTS / CREATE OR REPLACE.
--
--   ml.listing_t0_events                      synthetic scoring events: one t0 per row
--   ml.listing_posts                          synthetic activity the features count
--   ml.trainer_derived_features_v1            logical view of the features
--   ml.trainer_derived_features_v1_mv         its materialized view (unique key index)
--   ml.trainer_derived_feature_store_t0_v1_v  certification entrypoint
--   ml.trainer_derived_features_train_v       guarded consumer (fail closed)

CREATE SCHEMA IF NOT EXISTS ml;

CREATE TABLE IF NOT EXISTS ml.listing_t0_events (
  generation integer NOT NULL,
  listing_id bigint NOT NULL,
  t0 timestamp NOT NULL,
  PRIMARY KEY (generation, listing_id, t0)
);

CREATE TABLE IF NOT EXISTS ml.listing_posts (
  generation integer NOT NULL,
  listing_id bigint NOT NULL,
  posted_at timestamp NOT NULL
);

CREATE INDEX IF NOT EXISTS listing_posts_generation_posted_at
  ON ml.listing_posts (generation, posted_at);

CREATE INDEX IF NOT EXISTS listing_posts_posted_at ON ml.listing_posts (posted_at);

-- 3000 posts over 2025-12-01 .. 2026-01-20, five generations (11 .. 15).
INSERT INTO ml.listing_posts (generation, listing_id, posted_at)
SELECT 11 + abs(hashtext('generation:' || i)) % 5,
       i,
       timestamp '2025-12-01' + (abs(hashtext('posted_at:' || i)) % (51 * 24 * 60))
                                * interval '1 minute'
  FROM generate_series(1, 3000) AS i
 WHERE NOT EXISTS (SELECT 1 FROM ml.listing_posts);

-- 600 scoring events over 2026-01-01 .. 2026-01-20, on the hour; some coincide with posts.
INSERT INTO ml.listing_t0_events (generation, listing_id, t0)
SELECT 11 + abs(hashtext('generation:' || i)) % 5,
       i,
       timestamp '2026-01-01' + (abs(hashtext('t0:' || i)) % (20 * 24)) * interval '1 hour'
  FROM generate_series(1, 600) AS i
 WHERE NOT EXISTS (SELECT 1 FROM ml.listing_t0_events);

-- Strict T0: trailing windows are [t0 - 30 days, t0), so a post at exactly t0 never counts.
CREATE OR REPLACE VIEW ml.trainer_derived_features_v1 AS
SELECT e.generation,
       e.listing_id,
       e.t0,
       extract(dow FROM e.t0)::integer AS dow,
       extract(dow FROM e.t0) IN (0, 6) AS is_weekend,
       (SELECT count(*) FROM ml.listing_posts AS p
         WHERE p.generation = e.generation
           AND p.posted_at >= e.t0 - interval '30 days'
           AND p.posted_at < e.t0) AS gen_30d_post_count,
       (SELECT count(*) FROM ml.listing_posts AS p
         WHERE p.posted_at >= e.t0 - interval '30 days'
           AND p.posted_at < e.t0) AS allgen_30d_post_count
  FROM ml.listing_t0_events AS e;

CREATE MATERIALIZED VIEW IF NOT EXISTS ml.trainer_derived_features_v1_mv AS
SELECT generation, listing_id, t0, dow, is_weekend, gen_30d_post_count, allgen_30d_post_count
  FROM ml.trainer_derived_features_v1
WITH DATA;

CREATE UNIQUE INDEX IF NOT EXISTS trainer_derived_features_v1_mv_key
  ON ml.trainer_derived_features_v1_mv (generation, listing_id, t0);

CREATE OR REPLACE VIEW ml.trainer_derived_feature_store_t0_v1_v AS
SELECT generation, listing_id, t0, dow, is_weekend, gen_30d_post_count, allgen_30d_post_count
  FROM ml.trainer_derived_features_v1_mv;

CREATE OR REPLACE VIEW ml.trainer_derived_features_train_v AS
SELECT generation, listing_id, t0, dow, is_weekend, gen_30d_post_count, allgen_30d_post_count
  FROM ml.trainer_derived_feature_store_t0_v1_v
 WHERE audit.t0_guard('ml.trainer_derived_feature_store_t0_v1_v');

INSERT INTO audit.t0_entrypoint (entrypoint, key_cols, event_time_col, day_expr, drift_policy,
                                 forbid_timestamp_outputs, strict_t0, max_age, guarded_view,
                                 description)
VALUES ('ml.trainer_derived_feature_store_t0_v1_v', ARRAY['generation', 'listing_id', 't0'],
        't0', 't0::date', 'strict', false, true, interval '24 hours',
        'ml.trainer_derived_features_train_v',
        'trainer-derived store (seed 000): calendar flags and strict-T0 30-day post counts')
ON CONFLICT (entrypoint) DO NOTHING;

INSERT INTO audit.t0_probe_source (entrypoint, source_table, time_col, key_map)
VALUES ('ml.trainer_derived_feature_store_t0_v1_v', 'ml.listing_posts', 'posted_at',
        '{"generation": "generation", "listing_id": "listing_id"}'::jsonb)
ON CONFLICT (entrypoint, source_table, time_col) DO NOTHING;

-- The per-store procedure of the seeds' runbook: CALL it, then require_certified_strict.
CREATE OR REPLACE PROCEDURE audit.run_t0_cert_trainer_derived_store_v1(
  p_check_days integer DEFAULT 3, p_allow_drift boolean DEFAULT NULL)
LANGUAGE plpgsql
AS $fn$
DECLARE
  v_row audit.t0_cert_registry;
BEGIN
  v_row := audit.run_t0_cert('ml.trainer_derived_feature_store_t0_v1_v', p_check_days,
                             p_allow_drift);
  RAISE NOTICE 't0lake: certification #% of %: %', v_row.cert_id, v_row.entrypoint,
    coalesce(v_row.message, v_row.status);
END
$fn$;
