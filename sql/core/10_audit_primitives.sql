-- t0lake: audit primitives (declarations, baselines, registry, dependency closure).
--
-- Re-runnable: CREATE ... IF NOT EXISTS and CREATE OR REPLACE only; a second run changes
-- nothing. docs/certification.md explains how the pieces make the three gates.
--
-- Errors (SQLSTATE):
--   T0L04  bad input (not an existing view, not a declared entrypoint, bad argument)

CREATE SCHEMA IF NOT EXISTS audit;

-- One row per certified entrypoint: everything t0lake needs to know about a store, so the
-- Python side has no store-specific code.
CREATE TABLE IF NOT EXISTS audit.t0_entrypoint (
  entrypoint text PRIMARY KEY,
  key_cols text[] NOT NULL CHECK (cardinality(key_cols) > 0),
  event_time_col text NOT NULL,
  day_expr text NOT NULL,
  drift_policy text NOT NULL DEFAULT 'strict' CHECK (drift_policy IN ('strict', 'tolerant')),
  forbid_timestamp_outputs boolean NOT NULL DEFAULT false,
  strict_t0 boolean NOT NULL DEFAULT true,
  max_age interval NOT NULL DEFAULT interval '24 hours',
  guarded_view text,
  description text
);

COMMENT ON COLUMN audit.t0_entrypoint.day_expr IS
  'SQL expression over the entrypoint''s columns that gives the partition day (a date)';
COMMENT ON COLUMN audit.t0_entrypoint.strict_t0 IS
  'true: features may use only rows strictly before t0; false: at-or-before t0';

-- Inputs of an entrypoint that the T0 probe of gate B may insert synthetic rows into (inside
-- a rolled-back subtransaction): a row at exactly t0 (strict stores) or after t0 must not
-- change any feature of the row it was made for. key_map: source column -> entrypoint column.
CREATE TABLE IF NOT EXISTS audit.t0_probe_source (
  entrypoint text NOT NULL REFERENCES audit.t0_entrypoint ON DELETE CASCADE,
  source_table text NOT NULL,
  time_col text NOT NULL,
  key_map jsonb NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (entrypoint, source_table, time_col)
);

CREATE TABLE IF NOT EXISTS audit.t0_viewdef_baseline (
  entrypoint text NOT NULL,
  object_name text NOT NULL,
  object_kind text NOT NULL,
  def_hash text NOT NULL,
  definition text NOT NULL,
  captured_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (entrypoint, object_name)
);

CREATE TABLE IF NOT EXISTS audit.t0_dataset_hash_baseline (
  entrypoint text NOT NULL,
  day date NOT NULL,
  dataset_hash text NOT NULL,
  row_count bigint NOT NULL,
  captured_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (entrypoint, day)
);

-- Append-only history: the latest row of an entrypoint is its certification state, so a
-- failed run revokes an earlier success.
CREATE TABLE IF NOT EXISTS audit.t0_cert_registry (
  cert_id bigserial PRIMARY KEY,
  entrypoint text NOT NULL,
  status text NOT NULL CHECK (status IN ('CERTIFIED', 'FAILED')),
  certified_at timestamptz NOT NULL DEFAULT now(),
  check_days integer NOT NULL,
  drift_policy text NOT NULL,
  gate_a text NOT NULL,
  gate_b text NOT NULL,
  gate_c text NOT NULL,
  failed_gate text,
  failed_object text,
  message text,
  notes text,
  checked_days date[] NOT NULL DEFAULT '{}',
  drifted_days date[] NOT NULL DEFAULT '{}',
  closure_hash text NOT NULL
);

CREATE INDEX IF NOT EXISTS t0_cert_registry_latest
  ON audit.t0_cert_registry (entrypoint, cert_id DESC);

-- The view (or materialized view) a name denotes, or T0L04. Never trusts the spelling: the
-- name is resolved by the catalog, so quoting and search_path cannot smuggle anything in.
CREATE OR REPLACE FUNCTION audit.t0_relation(p_name text)
RETURNS regclass
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  v_rel regclass;
BEGIN
  BEGIN
    v_rel := to_regclass(p_name);
  EXCEPTION WHEN OTHERS THEN
    v_rel := NULL;
  END;
  IF v_rel IS NULL OR NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_class WHERE oid = v_rel AND relkind IN ('v', 'm')) THEN
    RAISE EXCEPTION 't0lake: % is not an existing view', coalesce(quote_literal(p_name), 'NULL')
      USING ERRCODE = 'T0L04';
  END IF;
  RETURN v_rel;
END
$fn$;

-- The declaration of an entrypoint, found by relation (any spelling of its name), or T0L04.
CREATE OR REPLACE FUNCTION audit.t0_declaration(p_rel regclass)
RETURNS audit.t0_entrypoint
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  v_decl audit.t0_entrypoint;
BEGIN
  SELECT e.* INTO v_decl FROM audit.t0_entrypoint e
   WHERE to_regclass(e.entrypoint) = p_rel
   ORDER BY e.entrypoint LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 't0lake: % is not a declared entrypoint (see audit.t0_entrypoint)', p_rel
      USING ERRCODE = 'T0L04';
  END IF;
  RETURN v_decl;
END
$fn$;

-- The dependency closure of a relation: every view, materialized view, table, function and
-- operator it reaches through pg_rewrite/pg_depend, recursively. search_path is pinned so the
-- deparsed definitions (and their hashes) do not depend on the caller's session.
-- definition is NULL for built-in objects (they cannot change under us).
CREATE OR REPLACE FUNCTION audit.t0_closure(p_rel regclass)
RETURNS TABLE (object_kind text, object_name text, depth integer, definition text,
               volatile boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
WITH RECURSIVE edges AS (
  SELECT 'pg_class'::regclass::oid AS classid, r.ev_class AS objid, d.refclassid, d.refobjid
    FROM pg_rewrite r
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
   WHERE d.deptype = 'n'
     AND d.refclassid IN ('pg_class'::regclass, 'pg_proc'::regclass, 'pg_operator'::regclass)
     AND NOT (d.refclassid = 'pg_class'::regclass AND d.refobjid = r.ev_class)
  UNION
  SELECT d.classid, d.objid, d.refclassid, d.refobjid
    FROM pg_depend d
   WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'n'
     AND d.refclassid IN ('pg_class'::regclass, 'pg_proc'::regclass, 'pg_operator'::regclass)
  UNION
  SELECT 'pg_operator'::regclass::oid, o.oid, 'pg_proc'::regclass::oid, o.oprcode::oid
    FROM pg_operator o
   WHERE o.oprcode <> 0 AND o.oid >= 16384
),
walk (classid, objid, depth, path) AS (
  SELECT 'pg_class'::regclass::oid, p_rel::oid, 0, ARRAY[p_rel::oid]
  UNION ALL
  SELECT e.refclassid, e.refobjid, w.depth + 1, w.path || e.refobjid
    FROM walk w
    JOIN edges e ON e.classid = w.classid AND e.objid = w.objid
   WHERE NOT e.refobjid = ANY (w.path) AND w.depth < 64
),
nodes AS (
  SELECT classid, objid, max(depth) AS depth FROM walk GROUP BY classid, objid
)
SELECT x.kind, x.name, n.depth, x.definition, x.volatile
  FROM nodes n
  CROSS JOIN LATERAL (
    SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                          WHEN 'r' THEN 'table' WHEN 'p' THEN 'table'
                          WHEN 'f' THEN 'foreign table' ELSE 'relation' END,
           format('%I.%I', ns.nspname, c.relname),
           CASE WHEN ns.nspname IN ('pg_catalog', 'information_schema') THEN NULL
                WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true)
                ELSE (SELECT coalesce(string_agg(format('%I %s', a.attname,
                                                        format_type(a.atttypid, a.atttypmod)),
                                                 ', ' ORDER BY a.attnum), '')
                        FROM pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
           END,
           false
      FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
     WHERE n.classid = 'pg_class'::regclass AND c.oid = n.objid
    UNION ALL
    SELECT CASE p.prokind WHEN 'a' THEN 'aggregate' WHEN 'p' THEN 'procedure'
                          WHEN 'w' THEN 'window function' ELSE 'function' END,
           format('%I.%I(%s)', ns.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
           CASE WHEN p.prokind IN ('a', 'w') OR ns.nspname = 'pg_catalog' THEN NULL
                ELSE pg_get_functiondef(p.oid) END,
           p.provolatile = 'v'
      FROM pg_proc p JOIN pg_namespace ns ON ns.oid = p.pronamespace
     WHERE n.classid = 'pg_proc'::regclass AND p.oid = n.objid
    UNION ALL
    SELECT 'operator', o.oid::regoperator::text, NULL, false
      FROM pg_operator o
     WHERE n.classid = 'pg_operator'::regclass AND o.oid = n.objid
  ) AS x (kind, name, definition, volatile)
$fn$;

-- One hash over every definition of the closure: what require_certified_strict compares with
-- the hash recorded at certification time.
CREATE OR REPLACE FUNCTION audit.t0_closure_hash(p_rel regclass)
RETURNS text
LANGUAGE sql STABLE
AS $fn$
SELECT encode(sha256(convert_to(coalesce(string_agg(
         c.object_name || E'\t' || encode(sha256(convert_to(c.definition, 'UTF8')), 'hex'),
         E'\n' ORDER BY c.object_name COLLATE "C"), ''), 'UTF8')), 'hex')
  FROM audit.t0_closure(p_rel) c
 WHERE c.definition IS NOT NULL
$fn$;

-- Gate A baseline: (re)capture the definitions of the whole closure. Returns how many objects
-- were captured. Calling this accepts the current definitions as the reviewed truth.
CREATE OR REPLACE FUNCTION audit.capture_viewdef_baseline(p_entrypoint text)
RETURNS integer
LANGUAGE plpgsql
AS $fn$
DECLARE
  v_rel regclass := audit.t0_relation(p_entrypoint);
  v_name text := (audit.t0_declaration(v_rel)).entrypoint;
  v_count integer;
BEGIN
  DELETE FROM audit.t0_viewdef_baseline WHERE entrypoint = v_name;
  INSERT INTO audit.t0_viewdef_baseline (entrypoint, object_name, object_kind, def_hash,
                                         definition)
  SELECT v_name, c.object_name, c.object_kind,
         encode(sha256(convert_to(c.definition, 'UTF8')), 'hex'), c.definition
    FROM audit.t0_closure(v_rel) c
   WHERE c.definition IS NOT NULL;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$fn$;

-- Gate A comparison: every difference between the closure now and its baseline.
CREATE OR REPLACE FUNCTION audit.t0_viewdef_changes(p_entrypoint text)
RETURNS TABLE (object_name text, object_kind text, change text)
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  v_rel regclass := audit.t0_relation(p_entrypoint);
  v_name text := (audit.t0_declaration(v_rel)).entrypoint;
BEGIN
  RETURN QUERY
  WITH now_ AS (
    SELECT c.object_name, c.object_kind,
           encode(sha256(convert_to(c.definition, 'UTF8')), 'hex') AS def_hash
      FROM audit.t0_closure(v_rel) c
     WHERE c.definition IS NOT NULL
  ), base AS (
    SELECT b.object_name, b.object_kind, b.def_hash
      FROM audit.t0_viewdef_baseline b WHERE b.entrypoint = v_name
  )
  SELECT coalesce(n.object_name, b.object_name), coalesce(n.object_kind, b.object_kind),
         CASE WHEN b.object_name IS NULL THEN 'new in closure'
              WHEN n.object_name IS NULL THEN 'gone from closure'
              ELSE 'definition changed' END
    FROM now_ n FULL JOIN base b ON b.object_name = n.object_name
   WHERE n.def_hash IS DISTINCT FROM b.def_hash
   ORDER BY 1;
END
$fn$;

-- The last p_n days present in the data (never relative to the wall clock), newest first.
CREATE OR REPLACE FUNCTION audit.t0_last_days(p_entrypoint text, p_n integer)
RETURNS SETOF date
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  v_rel regclass := audit.t0_relation(p_entrypoint);
  v_decl audit.t0_entrypoint := audit.t0_declaration(v_rel);
BEGIN
  IF p_n IS NULL OR p_n < 1 THEN
    RAISE EXCEPTION 't0lake: the number of days must be at least 1, got %', p_n
      USING ERRCODE = 'T0L04';
  END IF;
  RETURN QUERY EXECUTE format(
    'SELECT DISTINCT (%s)::date AS day FROM %s ORDER BY 1 DESC LIMIT %s',
    v_decl.day_expr, v_rel, p_n);
END
$fn$;

-- Gate C measurement: the canonical dataset hash and row count of one day of an entrypoint.
CREATE OR REPLACE FUNCTION audit.t0_day_hash(p_entrypoint text, p_day date,
                                             OUT dataset_hash text, OUT row_count bigint)
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  v_rel regclass := audit.t0_relation(p_entrypoint);
  v_decl audit.t0_entrypoint := audit.t0_declaration(v_rel);
  v_query text := format('SELECT * FROM %s WHERE (%s)::date = %L', v_rel, v_decl.day_expr,
                         p_day);
BEGIN
  dataset_hash := audit.t0_dataset_hash(v_query, v_decl.key_cols);
  EXECUTE format('SELECT count(*) FROM (%s) AS d', v_query) INTO row_count;
END
$fn$;

-- Gate C baseline: (re)capture the hashes of the last p_n days present. p_sample_limit caps
-- how many of the rebaselined days are returned for logging (NULL: all of them); every day is
-- always hashed in full, because a sampled hash would prove nothing.
CREATE OR REPLACE FUNCTION audit.rebaseline_last_n_days(p_entrypoint text, p_n integer,
                                                        p_sample_limit integer DEFAULT NULL)
RETURNS TABLE (day date, dataset_hash text, row_count bigint, previous_hash text)
LANGUAGE plpgsql
AS $fn$
DECLARE
  v_name text := (audit.t0_declaration(audit.t0_relation(p_entrypoint))).entrypoint;
  v_day date;
  v_hash record;
  v_prev text;
  v_returned integer := 0;
BEGIN
  FOR v_day IN SELECT * FROM audit.t0_last_days(p_entrypoint, p_n) LOOP
    v_hash := audit.t0_day_hash(p_entrypoint, v_day);
    SELECT b.dataset_hash INTO v_prev FROM audit.t0_dataset_hash_baseline b
     WHERE b.entrypoint = v_name AND b.day = v_day;
    INSERT INTO audit.t0_dataset_hash_baseline AS b (entrypoint, day, dataset_hash, row_count)
    VALUES (v_name, v_day, v_hash.dataset_hash, v_hash.row_count)
    ON CONFLICT ON CONSTRAINT t0_dataset_hash_baseline_pkey DO UPDATE
      SET dataset_hash = EXCLUDED.dataset_hash, row_count = EXCLUDED.row_count,
          captured_at = now();
    IF p_sample_limit IS NULL OR v_returned < p_sample_limit THEN
      day := v_day;
      dataset_hash := v_hash.dataset_hash;
      row_count := v_hash.row_count;
      previous_hash := v_prev;
      v_returned := v_returned + 1;
      RETURN NEXT;
    END IF;
  END LOOP;
END
$fn$;
