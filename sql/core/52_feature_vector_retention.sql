-- t0lake: retention of fv.feature_vectors to the lake, with proof (issue 19).
--
-- Applied by every `t0lake db init` after 51_feature_vector_api.sql. Re-runnable: CREATE ...
-- IF NOT EXISTS / CREATE OR REPLACE only; a second run changes nothing.
--
--   fv.vector_retention        one row per retained (entrypoint, day): the lake snapshot and
--                              manifest that proved it, the hashes, the rows, when
--   fv.retain_day(...)         the one path that deletes vectors: re-hashes the entrypoint's
--                              day in SQL in the caller's snapshot, compares it with the lake
--                              manifest's dataset hash, records and deletes, or keeps the day
--   fv.downsampled_versions    schema versions that hold lake-only aggregates of another one
--   triggers                   DELETE of a day not recorded by this transaction's
--                              fv.retain_day is refused, so is TRUNCATE; an INSERT into a
--                              retained day is refused (the lake holds that day, closed)
--
-- The append-only guarantee: rows are never updated (50_feature_vectors.sql), and a row is
-- deleted only in a transaction that recorded its day in fv.vector_retention after proving
-- that the lake holds the day with the same content hash. Retention (t0lake/vectors/retain.py)
-- takes the session advisory lock (fv.retention_lock_key(), day number) of each day it will
-- prove before its REPEATABLE READ snapshot; a writer into a day takes the same lock shared, so
-- a late vector either committed before that snapshot (and is hashed and deleted with its day)
-- or waits and is refused once the day is recorded.

CREATE TABLE IF NOT EXISTS fv.vector_retention (
  entrypoint text NOT NULL,
  day date NOT NULL,
  dataset_hash text NOT NULL
    CONSTRAINT vector_retention_hash_hex CHECK (dataset_hash ~ '^[0-9a-f]{64}$'),
  rows bigint NOT NULL CONSTRAINT vector_retention_rows CHECK (rows >= 0),
  lake_url text NOT NULL,
  snapshot_id bigint NOT NULL,
  manifest_sha256 text NOT NULL
    CONSTRAINT vector_retention_manifest_hex CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
  retained_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  xact xid8 NOT NULL DEFAULT pg_current_xact_id(),
  PRIMARY KEY (day, entrypoint)
);

CREATE TABLE IF NOT EXISTS fv.downsampled_versions (
  feature_schema_version smallint PRIMARY KEY
    REFERENCES fv.feature_schemas (feature_schema_version),
  source_version smallint NOT NULL REFERENCES fv.feature_schemas (feature_schema_version),
  every_ms bigint NOT NULL CONSTRAINT downsampled_versions_every CHECK (every_ms > 0),
  aggregates jsonb NOT NULL
    CONSTRAINT downsampled_versions_aggregates CHECK (jsonb_typeof(aggregates) = 'object'),
  entrypoint text NOT NULL,
  CONSTRAINT downsampled_versions_other CHECK (feature_schema_version <> source_version)
);

CREATE OR REPLACE FUNCTION fv.retention_lock_key()
RETURNS integer
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
RETURN 1952806246;  -- 't0fv' as a big-endian int4: the advisory lock class of retention

CREATE OR REPLACE FUNCTION fv.vector_day(window_end_ms bigint)
RETURNS date
LANGUAGE sql
IMMUTABLE STRICT PARALLEL SAFE
RETURN date '1970-01-01' + (window_end_ms / 86400000)::integer;

-- One day, inside the caller's (REPEATABLE READ) transaction. Returns ('retained', hash, rows),
-- or ('differs', sql hash, rows) / ('incomplete', sql hash, rows in the table) with nothing
-- deleted. The day's rows are hashed from the entrypoint in SQL here, never taken from the
-- caller; what only the caller can know is the lake's side (its manifest's hash and rows).
CREATE OR REPLACE FUNCTION fv.retain_day(p_entrypoint text, p_day date, p_lake_hash text,
                                         p_lake_rows bigint, p_lake_url text,
                                         p_snapshot_id bigint, p_manifest_sha256 text)
RETURNS TABLE (status text, sql_hash text, rows bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  decl audit.t0_entrypoint%ROWTYPE;
  day_query text;
  hashed text;
  view_rows bigint;
  table_rows bigint;
  deleted bigint;
BEGIN
  IF current_setting('transaction_isolation') <> 'repeatable read' THEN
    RAISE EXCEPTION 't0lake: fv.retain_day needs a REPEATABLE READ transaction'
      USING ERRCODE = 'T0L04';
  END IF;
  SELECT * INTO decl FROM audit.t0_entrypoint AS e WHERE e.entrypoint = p_entrypoint;
  IF NOT FOUND THEN
    RAISE EXCEPTION 't0lake: % is not a declared entrypoint', p_entrypoint
      USING ERRCODE = 'T0L04';
  END IF;
  -- the text of t0lake.pg.days.day_queries: the query the export hashed for this day
  day_query := format('SELECT * FROM %s WHERE (%s)::date = %L',
                      p_entrypoint::regclass, decl.day_expr, p_day);
  hashed := audit.t0_dataset_hash(day_query, decl.key_cols);
  EXECUTE format('SELECT count(*) FROM (%s) AS d', day_query) INTO view_rows;
  SELECT count(*) INTO table_rows FROM fv.feature_vectors AS v
   WHERE fv.vector_day(v.window_end_ms) = p_day;
  IF hashed IS DISTINCT FROM p_lake_hash OR view_rows <> p_lake_rows THEN
    RETURN QUERY SELECT 'differs'::text, hashed, view_rows;
    RETURN;
  END IF;
  IF table_rows <> view_rows THEN  -- the entrypoint does not hold every row of the day
    RETURN QUERY SELECT 'incomplete'::text, hashed, table_rows;
    RETURN;
  END IF;
  INSERT INTO fv.vector_retention (entrypoint, day, dataset_hash, rows, lake_url, snapshot_id,
                                   manifest_sha256)
  VALUES (p_entrypoint, p_day, hashed, view_rows, p_lake_url, p_snapshot_id,
          p_manifest_sha256);
  DELETE FROM fv.feature_vectors AS v WHERE fv.vector_day(v.window_end_ms) = p_day;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  IF deleted <> view_rows THEN  -- cannot happen in one snapshot; refuse rather than guess
    RAISE EXCEPTION 't0lake: retention of % deleted % rows, proved %', p_day, deleted,
      view_rows USING ERRCODE = 'T0L04';
  END IF;
  RETURN QUERY SELECT 'retained'::text, hashed, deleted;
END
$fn$;

REVOKE ALL ON FUNCTION fv.retain_day(text, date, text, bigint, text, bigint, text) FROM PUBLIC;

-- DELETE: every removed row's day must have been recorded by this very transaction.
CREATE OR REPLACE FUNCTION fv.guard_vector_delete()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
  unrecorded date;
BEGIN
  SELECT fv.vector_day(o.window_end_ms) INTO unrecorded
    FROM removed_rows AS o
   WHERE NOT EXISTS (SELECT 1 FROM fv.vector_retention AS r
                      WHERE r.day = fv.vector_day(o.window_end_ms)
                        AND r.xact = pg_current_xact_id())
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 't0lake: fv.feature_vectors is append-only: rows of % may only be deleted '
      'by retention (t0lake retain vectors), after the lake proved the day', unrecorded
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER feature_vectors_append_only
  AFTER DELETE ON fv.feature_vectors
  REFERENCING OLD TABLE AS removed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION fv.guard_vector_delete();

CREATE OR REPLACE FUNCTION fv.refuse_truncate()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
  RAISE EXCEPTION 't0lake: fv.feature_vectors is append-only: TRUNCATE is refused'
    USING ERRCODE = 'restrict_violation';
END
$fn$;

CREATE OR REPLACE TRIGGER feature_vectors_no_truncate
  BEFORE TRUNCATE ON fv.feature_vectors
  FOR EACH STATEMENT EXECUTE FUNCTION fv.refuse_truncate();

-- INSERT: a day the lake holds instead of Postgres is closed. The shared advisory lock waits
-- for a retention of that day under way; the check after it runs in a new snapshot (READ
-- COMMITTED), so it sees a retention that committed while this statement waited.
CREATE OR REPLACE FUNCTION fv.guard_retained_insert()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
  closed date;
BEGIN
  PERFORM pg_advisory_xact_lock_shared(fv.retention_lock_key(),
                                       d.day - date '1970-01-01')
     FROM (SELECT DISTINCT fv.vector_day(n.window_end_ms) AS day FROM added_rows AS n
            ORDER BY 1) AS d;
  SELECT r.day INTO closed
    FROM fv.vector_retention AS r
   WHERE r.day IN (SELECT fv.vector_day(n.window_end_ms) FROM added_rows AS n)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 't0lake: day % of fv.feature_vectors was retained to the lake; it takes '
      'no new vectors', closed
      USING ERRCODE = 'T0L04',
            DETAIL = json_build_object('day', closed::text, 'condition', 'retained day')::text;
  END IF;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER feature_vectors_retained_closed
  AFTER INSERT ON fv.feature_vectors
  REFERENCING NEW TABLE AS added_rows
  FOR EACH STATEMENT EXECUTE FUNCTION fv.guard_retained_insert();
