-- t0lake: the Postgres side of the FeatureVector API (t0lake/vectors/store.py, issue 6).
--
-- Applied by every `t0lake db init` after 50_feature_vectors.sql. Re-runnable: CREATE OR
-- REPLACE only; a second run changes nothing.
--
--   fv.window_key(...)          the window key of docs/feature_vectors.md, identical to
--                               t0lake.vectors.codec.window_key (tests compare them)
--   fv.schema_hash(...)         sha256 of a schema's canonical JSON, identical to
--                               t0lake.FeatureSchema.schema_hash (tests compare them)
--   fv.notify_vectors_changed() statement triggers on fv.feature_vectors: NOTIFY t0lake_fv
--                               once per (market_id, schema version) a statement inserted or
--                               deleted, so in-process caches of latest reads drop exactly
--                               those entries (seed section 9, "invalidate on new writes")

CREATE OR REPLACE FUNCTION fv.window_key(market_id text, epoch_id bigint, tick_index integer,
                                         window_start_ms bigint, window_end_ms bigint,
                                         feature_schema_version smallint)
RETURNS bytea
LANGUAGE sql
IMMUTABLE STRICT PARALLEL SAFE
RETURN sha256('\x74306c616b652f66762f77696e646f775f6b65792f763100'::bytea  -- t0lake/fv/window_key/v1\0
              || int4send(octet_length(convert_to(market_id, 'UTF8')))
              || convert_to(market_id, 'UTF8')
              || int8send(epoch_id) || int4send(tick_index)
              || int8send(window_start_ms) || int8send(window_end_ms)
              || int2send(feature_schema_version));

-- The canonical JSON of docs/feature_vectors.md: keys sorted, no whitespace, every key of a
-- feature present (scale 0 and nullable false by default), features in array order. Names and
-- domains are ASCII (t0lake refuses others), so to_json writes them as Python's json.dumps.
CREATE OR REPLACE FUNCTION fv.schema_hash(feature_schema_version smallint, domain text,
                                          features jsonb)
RETURNS bytea
LANGUAGE sql
IMMUTABLE STRICT PARALLEL SAFE
RETURN sha256(convert_to(
  '{"domain":' || to_json(domain)::text
  || ',"feature_schema_version":' || feature_schema_version
  || ',"features":['
  || (SELECT coalesce(string_agg(
              '{"name":' || to_json(f.doc ->> 'name')::text
              || ',"nullable":' || coalesce((f.doc ->> 'nullable')::boolean, false)::text
              || ',"scale":' || coalesce((f.doc ->> 'scale')::integer, 0)
              || ',"type":' || to_json(f.doc ->> 'type')::text || '}',
              ',' ORDER BY f.ord), '')
        FROM jsonb_array_elements(features) WITH ORDINALITY AS f (doc, ord))
  || ']}', 'UTF8'));

-- The payload is a JSON object {"m": market_id, "v": version} (at most ~300 bytes: market ids
-- are <= 256 characters), or {"all": true} after TRUNCATE. NOTIFY is transactional: listeners
-- hear it only once the writing transaction has committed, in commit order, and Postgres
-- folds identical payloads of one transaction into one.
CREATE OR REPLACE FUNCTION fv.notify_vectors_changed()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('t0lake_fv', '{"all": true}');
  ELSIF TG_OP = 'INSERT' THEN
    PERFORM pg_notify('t0lake_fv', json_build_object('m', c.market_id,
                                                     'v', c.feature_schema_version)::text)
       FROM (SELECT DISTINCT market_id, feature_schema_version FROM changed_rows) AS c;
  ELSE
    PERFORM pg_notify('t0lake_fv', json_build_object('m', c.market_id,
                                                     'v', c.feature_schema_version)::text)
       FROM (SELECT DISTINCT market_id, feature_schema_version FROM removed_rows) AS c;
  END IF;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER feature_vectors_notify_insert
  AFTER INSERT ON fv.feature_vectors
  REFERENCING NEW TABLE AS changed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION fv.notify_vectors_changed();

CREATE OR REPLACE TRIGGER feature_vectors_notify_delete
  AFTER DELETE ON fv.feature_vectors
  REFERENCING OLD TABLE AS removed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION fv.notify_vectors_changed();

CREATE OR REPLACE TRIGGER feature_vectors_notify_truncate
  AFTER TRUNCATE ON fv.feature_vectors
  FOR EACH STATEMENT EXECUTE FUNCTION fv.notify_vectors_changed();
