-- t0lake example: the validation queries of the trainer-derived store (seed 000, file 07):
-- coverage, keys, a point lookup whose plan must use the unique index, registry checks, and
-- the coverage of the feature-block metadata (sql/examples/31_example_trainer_feature_blocks.sql).
--
-- Applied only by `t0lake db init --examples`. Re-runnable: CREATE OR REPLACE only. These
-- are operator checks: they read the entrypoint itself (not the guarded view) and the audit
-- tables, and are not part of any certified closure. tests/stores/test_trainer_store.py runs each one
-- with asserted results.
--
--   ml.trainer_derived_coverage_v              per t0 day (and a NULL-day total): events vs
--                                              store rows, and how often each feature is known
--   ml.trainer_derived_key_check_v             rows, distinct keys, duplicate and NULL keys
--   ml.trainer_derived_point_lookup(g, l, t0)  one row through the guarded view
--   ml.trainer_derived_point_lookup_plan(...)  its EXPLAIN (FORMAT JSON)
--   ml.trainer_derived_point_lookup_uses_index(...)  true when that plan scans an index
--   ml.trainer_derived_registry_check_v        certification state, baselines, servable or why
--   ml.trainer_feature_block_coverage_v        metadata problems (expected: no rows)

-- Coverage: every event has exactly one store row (a stale materialized view shows as missing
-- or orphan rows), and per feature how many rows know it. GROUP BY ROLLUP adds the total as
-- the row whose day is NULL.
CREATE OR REPLACE VIEW ml.trainer_derived_coverage_v AS
WITH j AS (
  SELECT coalesce(f.t0, e.t0)::date AS day,
         f.generation IS NOT NULL AS in_store,
         e.generation IS NOT NULL AS in_events,
         f.gen_30d_post_count, f.batt_img_min, f.batt_text_min, f.batt_fused,
         f.batt_cross_known, f.batt_cross_consistent, f.batt_clean, f.listing_age_hours,
         f.fast_pattern_v2, f.rocket_clean
    FROM ml.trainer_derived_feature_store_t0_v1_v AS f
    FULL JOIN ml.listing_t0_events AS e
      ON e.generation = f.generation AND e.listing_id = f.listing_id AND e.t0 = f.t0
)
SELECT day,
       count(*) FILTER (WHERE in_events) AS events,
       count(*) FILTER (WHERE in_store) AS store_rows,
       count(*) FILTER (WHERE in_events AND NOT in_store) AS missing_rows,
       count(*) FILTER (WHERE in_store AND NOT in_events) AS orphan_rows,
       count(*) FILTER (WHERE gen_30d_post_count > 0) AS with_gen_posts,
       count(listing_age_hours) AS listing_age_known,
       count(batt_img_min) AS batt_img_known,
       count(batt_text_min) AS batt_text_known,
       count(batt_fused) AS batt_fused_known,
       count(*) FILTER (WHERE batt_cross_known) AS batt_cross_known,
       count(*) FILTER (WHERE batt_cross_consistent) AS batt_cross_consistent,
       count(batt_clean) AS batt_clean_known,
       count(*) FILTER (WHERE fast_pattern_v2) AS fast_pattern_v2,
       count(rocket_clean) AS rocket_clean_known,
       count(*) FILTER (WHERE rocket_clean) AS rocket_clean,
       round(100.0 * count(batt_fused) / nullif(count(*) FILTER (WHERE in_store), 0), 2)
         AS pct_batt_known
  FROM j
 GROUP BY ROLLUP (day);

-- Keys: the declared key (generation, listing_id, t0) is unique and never NULL.
CREATE OR REPLACE VIEW ml.trainer_derived_key_check_v AS
SELECT count(*) AS store_rows,
       count(DISTINCT (generation, listing_id, t0)) AS distinct_keys,
       (SELECT count(*) FROM (SELECT 1 FROM ml.trainer_derived_feature_store_t0_v1_v
                               GROUP BY generation, listing_id, t0 HAVING count(*) > 1) AS d)
         AS duplicate_keys,
       count(*) FILTER (WHERE generation IS NULL OR listing_id IS NULL OR t0 IS NULL)
         AS null_keys
  FROM ml.trainer_derived_feature_store_t0_v1_v;

-- The point lookup a consumer makes: through the guarded view (no rows unless certified), by
-- the full key, answered from the materialized view's unique index.
CREATE OR REPLACE FUNCTION ml.trainer_derived_point_lookup(p_generation integer,
                                                           p_listing_id bigint,
                                                           p_t0 timestamp)
RETURNS SETOF ml.trainer_derived_features_train_v
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT * FROM ml.trainer_derived_features_train_v AS f
   WHERE f.generation = p_generation AND f.listing_id = p_listing_id AND f.t0 = p_t0;
END;

CREATE OR REPLACE FUNCTION ml.trainer_derived_point_lookup_plan(p_generation integer,
                                                                p_listing_id bigint,
                                                                p_t0 timestamp)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE  -- EXPLAIN is not allowed in a STABLE function
AS $fn$
DECLARE
  v_plan json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) SELECT * FROM ml.trainer_derived_features_train_v AS f'
          ' WHERE f.generation = $1 AND f.listing_id = $2 AND f.t0 = $3'
    INTO v_plan USING p_generation, p_listing_id, p_t0;
  RETURN v_plan::jsonb;
END
$fn$;

CREATE OR REPLACE FUNCTION ml.trainer_derived_point_lookup_uses_index(p_generation integer,
                                                                      p_listing_id bigint,
                                                                      p_t0 timestamp)
RETURNS boolean
LANGUAGE sql VOLATILE
BEGIN ATOMIC
  SELECT jsonb_path_exists(
           ml.trainer_derived_point_lookup_plan(p_generation, p_listing_id, p_t0),
           '$.** ? (@."Node Type" == "Index Scan" || @."Node Type" == "Index Only Scan")'
           ' ? (@."Index Name" == "trainer_derived_features_v1_mv_key")');
END;

-- Registry: the latest certification of the store, whether it may be served now (and if not,
-- why), and the baselines it rests on.
CREATE OR REPLACE VIEW ml.trainer_derived_registry_check_v AS
SELECT e.entrypoint,
       r.cert_id,
       r.status,
       r.gate_a,
       r.gate_b,
       r.gate_c,
       r.checked_days,
       r.drifted_days,
       p.problem IS NULL AS servable,
       p.problem ->> 'condition' AS problem,
       (SELECT count(*) FROM audit.t0_viewdef_baseline AS b
         WHERE b.entrypoint = e.entrypoint) AS viewdef_baseline_objects,
       (SELECT count(*) FROM audit.t0_closure(audit.t0_relation(e.entrypoint)) AS c
         WHERE c.definition IS NOT NULL) AS closure_objects,
       (SELECT count(*) FROM audit.t0_dataset_hash_baseline AS h
         WHERE h.entrypoint = e.entrypoint) AS baselined_days,
       (SELECT max(h.day) FROM audit.t0_dataset_hash_baseline AS h
         WHERE h.entrypoint = e.entrypoint) AS latest_baselined_day,
       (SELECT max(f.t0)::date FROM ml.trainer_derived_feature_store_t0_v1_v AS f)
         AS latest_data_day
  FROM audit.t0_entrypoint AS e
  LEFT JOIN LATERAL (SELECT * FROM audit.t0_cert_registry AS x
                      WHERE x.entrypoint = e.entrypoint
                      ORDER BY x.cert_id DESC LIMIT 1) AS r ON true
 CROSS JOIN LATERAL (SELECT audit.t0_cert_problem(e.entrypoint, NULL) AS problem) AS p
 WHERE e.entrypoint = 'ml.trainer_derived_feature_store_t0_v1_v';

-- Feature-block metadata against the entrypoint: a column without metadata, metadata without
-- a column, or a NULL in a column whose metadata says it is never NULL. Expected: no rows.
CREATE OR REPLACE VIEW ml.trainer_feature_block_coverage_v AS
WITH cols AS (
  SELECT a.attname::text AS feature_name
    FROM pg_catalog.pg_attribute AS a
   WHERE a.attrelid = 'ml.trainer_derived_feature_store_t0_v1_v'::regclass
     AND a.attnum > 0 AND NOT a.attisdropped
), nulls AS (
  SELECT kv.key AS feature_name, count(*) AS null_rows
    FROM ml.trainer_derived_feature_store_t0_v1_v AS f
   CROSS JOIN LATERAL jsonb_each(to_jsonb(f)) AS kv
   WHERE kv.value = 'null'::jsonb
   GROUP BY kv.key
)
SELECT c.feature_name, 'column has no feature-block metadata' AS problem
  FROM cols AS c
 WHERE NOT EXISTS (SELECT 1 FROM ml.trainer_feature_block_members AS m
                    WHERE m.feature_name = c.feature_name)
UNION ALL
SELECT m.feature_name, 'metadata for a column the entrypoint does not have'
  FROM ml.trainer_feature_block_members AS m
 WHERE NOT EXISTS (SELECT 1 FROM cols AS c WHERE c.feature_name = m.feature_name)
UNION ALL
SELECT m.feature_name, format('NULL in %s rows of a column declared never NULL', n.null_rows)
  FROM ml.trainer_feature_block_members AS m
  JOIN nulls AS n ON n.feature_name = m.feature_name
 WHERE NOT m.nullable;
