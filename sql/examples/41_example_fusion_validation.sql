-- t0lake example: the validation queries of seed 004 (section 10) as views, so a runbook, a
-- dashboard and the tests (tests/stores/test_fusion_store.py) run the same SQL.
--
-- Applied only by `t0lake db init --examples`, after sql/examples/40_example_fusion_store.sql.
-- Re-runnable: CREATE OR REPLACE only.
--
--   ml.v_damage_fusion_validation_coverage        10.1 coverage / scoring rates (one row)
--   ml.v_damage_fusion_validation_reason_codes    10.2 reason code distribution
--   ml.v_damage_fusion_validation_duplicate_keys  10.3 duplicate key test (empty when sound)

-- 10.1: the share of rows with each kind of evidence (NULL when the store is empty).
CREATE OR REPLACE VIEW ml.v_damage_fusion_validation_coverage AS
SELECT count(*) AS n_rows,
       AVG((img_damage_scored)::int)::float8 AS pct_img_scored,
       AVG((text_damage_scored)::int)::float8 AS pct_text_scored,
       AVG((batt_scored)::int)::float8 AS pct_batt_scored,
       AVG((damage_any_scored)::int)::float8 AS pct_any_scored
  FROM ml.v_damage_fusion_features_v2_scored;

-- 10.2: how many rows carry each image-score reason code (0 scored from Q2, 7 Q1 fallback,
-- 1..6 why not scored).
CREATE OR REPLACE VIEW ml.v_damage_fusion_validation_reason_codes AS
SELECT img_score_reason_code, COUNT(*) AS n
  FROM ml.v_damage_fusion_features_v2
 GROUP BY 1
 ORDER BY 1;

-- 10.3: keys that occur more than once (the first 20); the store is sound when this is empty.
CREATE OR REPLACE VIEW ml.v_damage_fusion_validation_duplicate_keys AS
SELECT generation, listing_id, COUNT(*) AS n
  FROM ml.v_damage_fusion_features_v2_scored
 GROUP BY 1, 2
HAVING COUNT(*) > 1
 ORDER BY 1, 2
 LIMIT 20;
