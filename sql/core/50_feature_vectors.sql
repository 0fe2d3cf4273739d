-- t0lake: the FeatureVector store of seed 003 (M0-CORE), sections 4 and 13.
--
-- Applied by every `t0lake db init` (not an example): the FeatureVector API writes here.
-- Re-runnable: CREATE ... IF NOT EXISTS / CREATE OR REPLACE only; a second run changes nothing.
--
--   fv.feature_schemas   one row per feature_schema_version (immutable once registered)
--   fv.feature_vectors   one row per window_key (append-only: rows are never updated)
--
-- The seed's unsigned integers are stored in the signed Postgres type of the seed's reference
-- SQL (section 13) with CHECKs that keep them in the unsigned range; quality_flags (u32) is a
-- bigint so that every bit pattern of a u32 fits. Hashes and keys are 32 raw bytes (bytea).
-- Times are milliseconds since the Unix epoch (UTC).

CREATE SCHEMA IF NOT EXISTS fv;

-- Section 4.3. `features` holds the ordered feature definitions as a JSON array; schema_hash is
-- the sha256 of the schema's canonical JSON (computed by the writer, seed section 4.3).
CREATE TABLE IF NOT EXISTS fv.feature_schemas (
  feature_schema_version smallint PRIMARY KEY
    CONSTRAINT feature_schemas_version_u16 CHECK (feature_schema_version >= 0),
  domain text NOT NULL
    CONSTRAINT feature_schemas_domain_nonempty CHECK (domain ~ '^[^[:space:][:cntrl:]]+$'),
  schema_hash bytea NOT NULL
    CONSTRAINT feature_schemas_schema_hash_32 CHECK (octet_length(schema_hash) = 32),
  created_at_ms bigint NOT NULL
    CONSTRAINT feature_schemas_created_nonnegative CHECK (created_at_ms >= 0),
  features jsonb NOT NULL
    CONSTRAINT feature_schemas_features_array CHECK (jsonb_typeof(features) = 'array')
);

CREATE INDEX IF NOT EXISTS feature_schemas_domain
  ON fv.feature_schemas (domain, feature_schema_version);

-- Sections 4.1 and 13. window_key is the primary key: writes are idempotent by window_key
-- (section 5.2), so a second insert of the same key is refused (or skipped with
-- ON CONFLICT DO NOTHING by the writer). Section 5.4's checks that Postgres can make itself are
-- constraints: window bounds consistent, the schema version known (foreign key), features_hash
-- = sha256(features_blob). A vector is committed after its window closed
-- (created_at_ms >= window_end_ms): its creation time is the earliest moment a consumer may
-- know it (the `known_at` of point-in-time joins).
CREATE TABLE IF NOT EXISTS fv.feature_vectors (
  window_key bytea PRIMARY KEY
    CONSTRAINT feature_vectors_window_key_32 CHECK (octet_length(window_key) = 32),
  market_id text NOT NULL
    CONSTRAINT feature_vectors_market_id_canonical
      CHECK (market_id ~ '^[^[:space:][:cntrl:]]+$' AND char_length(market_id) <= 256),
  epoch_id bigint NOT NULL
    CONSTRAINT feature_vectors_epoch_u64 CHECK (epoch_id >= 0),
  tick_index integer NOT NULL
    CONSTRAINT feature_vectors_tick_u32 CHECK (tick_index >= 0),
  window_start_ms bigint NOT NULL
    CONSTRAINT feature_vectors_window_start_nonnegative CHECK (window_start_ms >= 0),
  window_end_ms bigint NOT NULL,
  feature_schema_version smallint NOT NULL
    REFERENCES fv.feature_schemas (feature_schema_version),
  features_blob bytea NOT NULL,
  features_hash bytea NOT NULL
    CONSTRAINT feature_vectors_features_hash_32 CHECK (octet_length(features_hash) = 32),
  quality_flags bigint NOT NULL DEFAULT 0
    CONSTRAINT feature_vectors_quality_flags_u32
      CHECK (quality_flags BETWEEN 0 AND 4294967295),
  coverage_json jsonb NOT NULL DEFAULT '{}'::jsonb
    CONSTRAINT feature_vectors_coverage_object CHECK (jsonb_typeof(coverage_json) = 'object'),
  created_at_ms bigint NOT NULL,
  producer_instance text,
  trace_id text,
  CONSTRAINT feature_vectors_window_bounds CHECK (window_end_ms > window_start_ms),
  CONSTRAINT feature_vectors_created_after_window
    CHECK (created_at_ms >= window_end_ms),
  CONSTRAINT feature_vectors_features_hash_matches
    CHECK (features_hash = sha256(features_blob))
);

-- Section 4.4: latest reads per market, and per (market, schema version) for stable model
-- inputs: `ORDER BY window_end_ms DESC LIMIT 1` is the first entry of these indexes.
CREATE INDEX IF NOT EXISTS feature_vectors_market_end
  ON fv.feature_vectors (market_id, window_end_ms DESC);

CREATE INDEX IF NOT EXISTS feature_vectors_market_schema_end
  ON fv.feature_vectors (market_id, feature_schema_version, window_end_ms DESC);

-- Section 4.4: correlation with oracle publishing (get_features_by_epoch).
CREATE INDEX IF NOT EXISTS feature_vectors_market_epoch_tick
  ON fv.feature_vectors (market_id, epoch_id, tick_index);

-- The UTC day of window_end_ms (integer arithmetic only, so immutable): the partition day of
-- entrypoints over this table, and what their per-day certification and export filter on.
CREATE INDEX IF NOT EXISTS feature_vectors_window_end_day
  ON fv.feature_vectors ((date '1970-01-01' + (window_end_ms / 86400000)::integer));

-- Section 2 / 7.3: committed records are immutable. UPDATE is refused (a correction is a new
-- record under a new window_key); DELETE stays possible for retention (section 8.1).
CREATE OR REPLACE FUNCTION fv.refuse_update()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
  RAISE EXCEPTION 't0lake: % rows are immutable once written (write a new record instead)',
    TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation';
END
$fn$;

CREATE OR REPLACE TRIGGER feature_vectors_immutable
  BEFORE UPDATE ON fv.feature_vectors
  FOR EACH ROW EXECUTE FUNCTION fv.refuse_update();

CREATE OR REPLACE TRIGGER feature_schemas_immutable
  BEFORE UPDATE ON fv.feature_schemas
  FOR EACH ROW EXECUTE FUNCTION fv.refuse_update();
