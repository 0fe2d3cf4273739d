-- t0lake example: the trainer-derived feature store of seed 000, with synthetic inputs.
--
-- Applied only by `t0lake db init --examples`. Re-runnable: the inputs are filled once,
-- deterministically (generate_series over fixed dates, hashtext for pseudo-randomness; no
-- now(), no random()), each only while it is empty, and every object is
-- CREATE ... IF NOT EXISTS / CREATE OR REPLACE.
--
--   ml.listing_t0_events                      synthetic scoring events: one t0 per row
--   ml.listing_posts                          synthetic activity the features count
--   ml.listing_battery_screenshots            battery health read from screenshots (image)
--   ml.listing_battery_text                   battery health stated in the listing text
--   ml.trainer_derived_features_v1            logical view of the features
--   ml.trainer_derived_features_v1_mv         its materialized view (unique key index)
--   ml.trainer_derived_feature_store_t0_v1_v  certification entrypoint
--   ml.trainer_derived_features_train_v       guarded consumer (fail closed)
--
-- One row per (generation, listing_id, t0). Every feature reads only input rows whose time is
-- strictly before t0; docs/feature_spec.md ("Trainer-derived store") defines each one.

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

CREATE INDEX IF NOT EXISTS listing_posts_listing
  ON ml.listing_posts (generation, listing_id, posted_at);

-- The two battery modalities of a listing, each a reading with the time it became known.
-- battery_pct defaults to 0 (no real reading is 0): the T0 probe of gate B inserts rows with
-- only the keys and the time, and a 0 is a value every battery feature would react to.
CREATE TABLE IF NOT EXISTS ml.listing_battery_screenshots (
  generation integer NOT NULL,
  listing_id bigint NOT NULL,
  observed_at timestamp NOT NULL,
  battery_pct smallint NOT NULL DEFAULT 0 CHECK (battery_pct BETWEEN 0 AND 100)
);

CREATE INDEX IF NOT EXISTS listing_battery_screenshots_listing
  ON ml.listing_battery_screenshots (generation, listing_id, observed_at);

CREATE TABLE IF NOT EXISTS ml.listing_battery_text (
  generation integer NOT NULL,
  listing_id bigint NOT NULL,
  observed_at timestamp NOT NULL,
  battery_pct smallint NOT NULL DEFAULT 0 CHECK (battery_pct BETWEEN 0 AND 100)
);

CREATE INDEX IF NOT EXISTS listing_battery_text_listing
  ON ml.listing_battery_text (generation, listing_id, observed_at);

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

-- Battery readings of listings 1 .. 900 (the events are listings 1 .. 600), over the same 51
-- days as the posts: screenshots for about half of them (some twice), text statements for
-- about 70%. A listing has one underlying health (72 .. 100%); a screenshot reads it up to 3
-- points low, a statement repeats it up to 2 points high or, for about one in four, overstates
-- it by 6 .. 13 points. Every 40th event's listing also gets a screenshot of 61% at exactly its
-- t0, which strict T0 must ignore.
INSERT INTO ml.listing_battery_screenshots (generation, listing_id, observed_at, battery_pct)
SELECT 11 + abs(hashtext('generation:' || i)) % 5,
       i,
       timestamp '2025-12-01' + (abs(hashtext(format('shot_at:%s:%s', i, k))) % (51 * 24 * 60))
                                * interval '1 minute',
       72 + abs(hashtext('health:' || i)) % 29 - abs(hashtext(format('shot:%s:%s', i, k))) % 4
  FROM generate_series(1, 900) AS i
 CROSS JOIN generate_series(1, 2) AS k
 WHERE abs(hashtext('has_shot:' || i)) % 10 < 5
   AND (k = 1 OR abs(hashtext('second_shot:' || i)) % 3 = 0)
   AND NOT EXISTS (SELECT 1 FROM ml.listing_battery_screenshots)
UNION ALL
SELECT e.generation, e.listing_id, e.t0, 61
  FROM ml.listing_t0_events AS e
 WHERE e.listing_id % 40 = 0
   AND NOT EXISTS (SELECT 1 FROM ml.listing_battery_screenshots);

INSERT INTO ml.listing_battery_text (generation, listing_id, observed_at, battery_pct)
SELECT 11 + abs(hashtext('generation:' || i)) % 5,
       i,
       timestamp '2025-12-01' + (abs(hashtext('text_at:' || i)) % (51 * 24 * 60))
                                * interval '1 minute',
       least(100, 72 + abs(hashtext('health:' || i)) % 29
                  + CASE WHEN abs(hashtext('overstates:' || i)) % 4 = 0
                         THEN 6 + abs(hashtext('by:' || i)) % 8
                         ELSE abs(hashtext('by:' || i)) % 3 END)
  FROM generate_series(1, 900) AS i
 WHERE abs(hashtext('has_text:' || i)) % 10 < 7
   AND NOT EXISTS (SELECT 1 FROM ml.listing_battery_text);

-- Strict T0: every input is read with its time strictly before t0; the trailing windows are
-- [t0 - N days, t0), so a post at exactly t0 never counts and one at exactly t0 - 30 days does.
-- Layers: `inputs` aggregates what was known before t0, `battery` and `activity` derive the
-- cross-modal flags and the fast pattern, the final SELECT the rule feature. docs/feature_spec.md
-- defines every column.
CREATE OR REPLACE VIEW ml.trainer_derived_features_v1 AS
WITH inputs AS (
  SELECT e.generation,
         e.listing_id,
         e.t0,
         (SELECT count(*) FROM ml.listing_posts AS p
           WHERE p.generation = e.generation
             AND p.posted_at >= e.t0 - interval '30 days'
             AND p.posted_at < e.t0) AS gen_30d_post_count,
         (SELECT count(*) FROM ml.listing_posts AS p
           WHERE p.posted_at >= e.t0 - interval '30 days'
             AND p.posted_at < e.t0) AS allgen_30d_post_count,
         (SELECT count(*) FROM ml.listing_posts AS p
           WHERE p.generation = e.generation
             AND p.posted_at >= e.t0 - interval '7 days'
             AND p.posted_at < e.t0) AS gen_7d_post_count,
         (SELECT min(p.posted_at) FROM ml.listing_posts AS p
           WHERE p.generation = e.generation AND p.listing_id = e.listing_id
             AND p.posted_at < e.t0) AS first_posted_at,
         (SELECT min(s.battery_pct)::integer FROM ml.listing_battery_screenshots AS s
           WHERE s.generation = e.generation AND s.listing_id = e.listing_id
             AND s.observed_at < e.t0) AS batt_img_min,
         (SELECT min(x.battery_pct)::integer FROM ml.listing_battery_text AS x
           WHERE x.generation = e.generation AND x.listing_id = e.listing_id
             AND x.observed_at < e.t0) AS batt_text_min
    FROM ml.listing_t0_events AS e
),
battery AS (
  SELECT i.*,
         coalesce(i.batt_img_min, i.batt_text_min) AS batt_fused,
         i.batt_img_min IS NOT NULL AND i.batt_text_min IS NOT NULL AS batt_cross_known,
         -- NULL unless both modalities are known: unknown is never "consistent" or not.
         abs(i.batt_img_min - i.batt_text_min) <= 5 AS batt_cross_consistent,
         i.batt_text_min - i.batt_img_min > 5 AS batt_text_overstates
    FROM inputs AS i
),
activity AS (
  SELECT b.*,
         floor(extract(epoch FROM b.t0 - b.first_posted_at) / 3600)::integer
           AS listing_age_hours,
         -- NULL when battery is unknown; false when the modalities disagree.
         b.batt_fused >= 90 AND b.batt_cross_consistent IS NOT FALSE AS batt_clean,
         -- First post less than 72 hours before t0, in a generation whose last 7 days ran
         -- hotter than its 30-day weekly average (30 * n7 > 7 * n30, integers only).
         coalesce(b.t0 - b.first_posted_at < interval '72 hours', false)
           AND 30 * b.gen_7d_post_count > 7 * b.gen_30d_post_count AS fast_pattern_v2
    FROM battery AS b
)
SELECT a.generation,
       a.listing_id,
       a.t0,
       extract(dow FROM a.t0)::integer AS dow,
       extract(dow FROM a.t0) IN (0, 6) AS is_weekend,
       a.gen_30d_post_count,
       a.allgen_30d_post_count,
       a.gen_7d_post_count,
       a.listing_age_hours,
       a.batt_img_min,
       a.batt_text_min,
       a.batt_fused,
       a.batt_cross_known,
       a.batt_cross_consistent,
       a.batt_text_overstates,
       a.batt_clean,
       a.fast_pattern_v2,
       -- SQL's three-valued AND: false when not fast; NULL when fast but battery unknown.
       a.fast_pattern_v2 AND a.batt_clean AS rocket_clean
  FROM activity AS a;

CREATE MATERIALIZED VIEW IF NOT EXISTS ml.trainer_derived_features_v1_mv AS
SELECT generation, listing_id, t0, dow, is_weekend, gen_30d_post_count, allgen_30d_post_count,
       gen_7d_post_count, listing_age_hours, batt_img_min, batt_text_min, batt_fused,
       batt_cross_known, batt_cross_consistent, batt_text_overstates, batt_clean,
       fast_pattern_v2, rocket_clean
  FROM ml.trainer_derived_features_v1
WITH DATA;

-- The unique key index: what REFRESH MATERIALIZED VIEW CONCURRENTLY needs, and the index of
-- point lookups by (generation, listing_id, t0).
CREATE UNIQUE INDEX IF NOT EXISTS trainer_derived_features_v1_mv_key
  ON ml.trainer_derived_features_v1_mv (generation, listing_id, t0);

CREATE OR REPLACE VIEW ml.trainer_derived_feature_store_t0_v1_v AS
SELECT generation, listing_id, t0, dow, is_weekend, gen_30d_post_count, allgen_30d_post_count,
       gen_7d_post_count, listing_age_hours, batt_img_min, batt_text_min, batt_fused,
       batt_cross_known, batt_cross_consistent, batt_text_overstates, batt_clean,
       fast_pattern_v2, rocket_clean
  FROM ml.trainer_derived_features_v1_mv;

CREATE OR REPLACE VIEW ml.trainer_derived_features_train_v AS
SELECT generation, listing_id, t0, dow, is_weekend, gen_30d_post_count, allgen_30d_post_count,
       gen_7d_post_count, listing_age_hours, batt_img_min, batt_text_min, batt_fused,
       batt_cross_known, batt_cross_consistent, batt_text_overstates, batt_clean,
       fast_pattern_v2, rocket_clean
  FROM ml.trainer_derived_feature_store_t0_v1_v
 WHERE audit.t0_guard('ml.trainer_derived_feature_store_t0_v1_v');

INSERT INTO audit.t0_entrypoint (entrypoint, key_cols, event_time_col, day_expr, drift_policy,
                                 forbid_timestamp_outputs, strict_t0, max_age, guarded_view,
                                 description)
VALUES ('ml.trainer_derived_feature_store_t0_v1_v', ARRAY['generation', 'listing_id', 't0'],
        't0', 't0::date', 'strict', false, true, interval '24 hours',
        'ml.trainer_derived_features_train_v',
        'trainer-derived store (seed 000): calendar flags, strict-T0 trailing post counts,'
        ' battery cross-modal flags, rule features')
ON CONFLICT (entrypoint) DO NOTHING;

INSERT INTO audit.t0_probe_source (entrypoint, source_table, time_col, key_map)
VALUES ('ml.trainer_derived_feature_store_t0_v1_v', 'ml.listing_posts', 'posted_at',
        '{"generation": "generation", "listing_id": "listing_id"}'::jsonb),
       ('ml.trainer_derived_feature_store_t0_v1_v', 'ml.listing_battery_screenshots',
        'observed_at', '{"generation": "generation", "listing_id": "listing_id"}'::jsonb),
       ('ml.trainer_derived_feature_store_t0_v1_v', 'ml.listing_battery_text', 'observed_at',
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
