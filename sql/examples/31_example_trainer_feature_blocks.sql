-- t0lake example: feature-block normalization metadata of the trainer-derived store (seed 000,
-- file 05), for model feature importance reporting.
--
-- Applied only by `t0lake db init --examples`, after sql/examples/30_example_trainer_derived_store.sql.
-- Re-runnable: tables IF NOT EXISTS, rows upserted to the values below, functions replaced.
--
--   ml.trainer_feature_blocks          the blocks, in report order
--   ml.trainer_feature_block_members   every column of the entrypoint: block, order, kind,
--                                      and whether NULL ("unknown") is a legal value
--   ml.trainer_feature_canonical(name) a model's feature name -> the store column it encodes
--   ml.trainer_feature_importance_by_block(jsonb)
--                                      {"feature": importance, ...} summed per block
--
-- Models see features under other names (sklearn's "num__gen_7d_post_count", one-hot
-- "dow_6", missing indicators "batt_img_min_missing", "is_weekend=True"); the normalization
-- maps every such name back to one column and block, so importances are reported per block
-- and nothing is counted twice or lost (unknown names are reported as block 'unmapped').
-- sql/examples/32_example_trainer_validation.sql checks that the metadata covers the entrypoint exactly.

CREATE TABLE IF NOT EXISTS ml.trainer_feature_blocks (
  block text PRIMARY KEY,
  block_order integer NOT NULL UNIQUE,
  description text NOT NULL
);

CREATE TABLE IF NOT EXISTS ml.trainer_feature_block_members (
  feature_name text PRIMARY KEY,
  block text NOT NULL REFERENCES ml.trainer_feature_blocks,
  feature_order integer NOT NULL UNIQUE,
  value_kind text NOT NULL CHECK (value_kind IN ('key', 'count', 'integer', 'boolean')),
  nullable boolean NOT NULL
);

INSERT INTO ml.trainer_feature_blocks AS b (block, block_order, description)
VALUES ('key', 0, 'row identity: (generation, listing_id, t0); not a model input'),
       ('calendar', 1, 'day of week of t0'),
       ('activity', 2, 'strict-T0 trailing post counts and listing age'),
       ('battery', 3, 'battery health by modality and their cross-modal consistency'),
       ('rules', 4, 'deterministic rule / pattern features')
ON CONFLICT (block) DO UPDATE
  SET block_order = EXCLUDED.block_order, description = EXCLUDED.description
  WHERE (b.block_order, b.description) IS DISTINCT FROM (EXCLUDED.block_order,
                                                         EXCLUDED.description);

INSERT INTO ml.trainer_feature_block_members AS m (feature_name, block, feature_order,
                                                   value_kind, nullable)
VALUES ('generation', 'key', 1, 'key', false),
       ('listing_id', 'key', 2, 'key', false),
       ('t0', 'key', 3, 'key', false),
       ('dow', 'calendar', 4, 'integer', false),
       ('is_weekend', 'calendar', 5, 'boolean', false),
       ('gen_30d_post_count', 'activity', 6, 'count', false),
       ('allgen_30d_post_count', 'activity', 7, 'count', false),
       ('gen_7d_post_count', 'activity', 8, 'count', false),
       ('listing_age_hours', 'activity', 9, 'integer', true),
       ('batt_img_min', 'battery', 10, 'integer', true),
       ('batt_text_min', 'battery', 11, 'integer', true),
       ('batt_fused', 'battery', 12, 'integer', true),
       ('batt_cross_known', 'battery', 13, 'boolean', false),
       ('batt_cross_consistent', 'battery', 14, 'boolean', true),
       ('batt_text_overstates', 'battery', 15, 'boolean', true),
       ('batt_clean', 'battery', 16, 'boolean', true),
       ('fast_pattern_v2', 'rules', 17, 'boolean', false),
       ('rocket_clean', 'rules', 18, 'boolean', true)
ON CONFLICT (feature_name) DO UPDATE
  SET block = EXCLUDED.block, feature_order = EXCLUDED.feature_order,
      value_kind = EXCLUDED.value_kind, nullable = EXCLUDED.nullable
  WHERE (m.block, m.feature_order, m.value_kind, m.nullable)
        IS DISTINCT FROM (EXCLUDED.block, EXCLUDED.feature_order, EXCLUDED.value_kind,
                          EXCLUDED.nullable);

-- The store column a model's feature name encodes, or NULL. Tried in order: the name itself
-- (lower case, trimmed, without a transformer prefix such as "num__" or "feat_"), then the
-- name without an encoding suffix ("=value", "__missing", "_missing", "_is_null",
-- "_<digits>", "_true", "_false", "_nan", "_null").
CREATE OR REPLACE FUNCTION ml.trainer_feature_canonical(p_model_feature text)
RETURNS text
LANGUAGE sql STABLE
BEGIN ATOMIC
  WITH n AS (
    SELECT regexp_replace(lower(btrim(p_model_feature)),
                          '^(num__|cat__|bool__|remainder__|feat_|feature_)', '') AS name
  ), candidates AS (
    SELECT 1 AS pref, n.name FROM n
    UNION ALL
    SELECT 2, regexp_replace(n.name,
                             '(=.*|__missing|_missing|_is_null|_[0-9]+|_true|_false|_nan|_null)$',
                             '')
      FROM n
  )
  SELECT m.feature_name
    FROM candidates AS c
    JOIN ml.trainer_feature_block_members AS m ON m.feature_name = c.name
   ORDER BY c.pref
   LIMIT 1;
END;

-- Feature importances of a model ({"model feature name": importance, ...}) per block: the sum,
-- the share of the total (normalized to 1 over all blocks) and the mean per store column of
-- the block that the model used. Names that map to no column are the block 'unmapped'.
CREATE OR REPLACE FUNCTION ml.trainer_feature_importance_by_block(p_importances jsonb)
RETURNS TABLE (block text, block_order integer, model_features integer, store_features integer,
               importance double precision, share double precision,
               mean_per_store_feature double precision)
LANGUAGE sql STABLE
BEGIN ATOMIC
  WITH raw AS (
    SELECT kv.key AS model_feature, (kv.value #>> '{}')::double precision AS importance,
           ml.trainer_feature_canonical(kv.key) AS feature_name
      FROM jsonb_each(p_importances) AS kv
  ), mapped AS (
    SELECT r.model_feature, r.importance, r.feature_name,
           coalesce(m.block, 'unmapped') AS block,
           coalesce(b.block_order, 2147483647) AS block_order
      FROM raw AS r
      LEFT JOIN ml.trainer_feature_block_members AS m ON m.feature_name = r.feature_name
      LEFT JOIN ml.trainer_feature_blocks AS b ON b.block = m.block
  )
  SELECT x.block, x.block_order, count(*)::integer, count(DISTINCT x.feature_name)::integer,
         sum(x.importance), sum(x.importance) / nullif(sum(sum(x.importance)) OVER (), 0),
         sum(x.importance) / nullif(count(DISTINCT x.feature_name), 0)
    FROM mapped AS x
   GROUP BY x.block, x.block_order
   ORDER BY x.block_order, x.block;
END;
