-- t0lake: the three-gate certification and the fail-closed guard.
--
-- Gate A  viewdef baselines over the whole dependency closure of the entrypoint.
-- Gate B  closure lint (time-of-query tokens, volatile functions), key uniqueness, forbidden
--         timestamp outputs, and the T0 probe of declared sources.
-- Gate C  per-day canonical dataset hashes of the last N days present, strict or tolerant.
--
-- Re-runnable: CREATE OR REPLACE only. docs/certification.md is the runbook.
--
-- Errors (SQLSTATE):
--   T0L01  not certified: never, last run failed gate A, expired, or a viewdef changed
--   T0L02  the last certification failed gate C (dataset drift under the strict policy)
--   T0L03  the last certification failed gate B (a T0 violation)
--   T0L04  bad input

-- Days as 'YYYY-MM-DD, ...', independent of the session's DateStyle.
CREATE OR REPLACE FUNCTION audit.t0_days_text(p_days date[])
RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
SELECT string_agg(to_char(d, 'YYYY-MM-DD'), ', ' ORDER BY d) FROM unnest(p_days) AS d
$fn$;

-- Gate B, text and catalog part: anything in the closure that can read the clock or a random
-- source. Text is checked as well as pg_depend because built-in functions (random(), now()),
-- SQL keywords (CURRENT_DATE) and calls inside string-bodied functions leave no dependency
-- rows. A name called in the text is refused when every function of that name is volatile.
CREATE OR REPLACE FUNCTION audit.t0_lint_closure(p_entrypoint text)
RETURNS TABLE (object_name text, problem text)
LANGUAGE sql STABLE
AS $fn$
WITH c AS (
  SELECT * FROM audit.t0_closure(audit.t0_relation(p_entrypoint))
), texts AS (
  SELECT c.object_name, c.definition FROM c
   WHERE c.definition IS NOT NULL
     AND c.object_kind IN ('view', 'materialized view', 'function', 'procedure')
), found AS (
  SELECT c.object_name, 'volatile function (provolatile = v)' AS problem
    FROM c WHERE c.volatile
  UNION
  SELECT t.object_name, format('time-of-query token %s', lower(m[1]))
    FROM texts t
   CROSS JOIN LATERAL regexp_matches(
     t.definition,
     '(\m(?:now|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday|random'
     '|random_normal|setseed|gen_random_uuid)\s*\(|\m(?:current_date|current_timestamp'
     '|current_time|localtimestamp|localtime)\M|''(?:now|today|tomorrow|yesterday)''\s*::)',
     'gi') AS m
  UNION
  SELECT t.object_name, format('calls volatile function %s()', lower(m[1]))
    FROM texts t
   CROSS JOIN LATERAL regexp_matches(t.definition, '\m([A-Za-z_][A-Za-z0-9_]*)\s*\(', 'g') AS m
   WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
                  WHERE p.proname = lower(m[1]) AND p.provolatile = 'v')
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
                      WHERE p.proname = lower(m[1]) AND p.provolatile <> 'v')
)
SELECT f.object_name, f.problem FROM found f ORDER BY 1, 2
$fn$;

-- The columns that differ between two equally ordered jsonb arrays of rows.
CREATE OR REPLACE FUNCTION audit.t0_jsonb_rows_diff(p_before jsonb, p_after jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
SELECT CASE
  WHEN jsonb_array_length(p_before) <> jsonb_array_length(p_after)
    THEN format('the number of rows (%s -> %s)', jsonb_array_length(p_before),
                jsonb_array_length(p_after))
  ELSE (SELECT string_agg(DISTINCT k.k, ', ' ORDER BY k.k)
          FROM jsonb_array_elements(p_before) WITH ORDINALITY AS b (x, i)
          JOIN jsonb_array_elements(p_after) WITH ORDINALITY AS a (y, i) USING (i)
         CROSS JOIN LATERAL jsonb_object_keys(b.x) AS k (k)
         WHERE b.x -> k.k IS DISTINCT FROM a.y -> k.k)
END
$fn$;

-- Gate B, data part: the T0 probe. Sample rows that share the latest t0 of the entrypoint
-- (one t0, so no probe row can be legitimately "before" another sampled row), insert one
-- synthetic row per sampled row into each declared source at exactly t0 (strict stores;
-- at-or-before stores 1 microsecond after), and again a day after t0, refresh the
-- materialized views of the closure, and compare the sampled feature rows. Any change means
-- a feature can see rows at or after its t0. All of it runs in a subtransaction that is
-- always rolled back.
CREATE OR REPLACE FUNCTION audit.t0_probe(p_entrypoint text, p_sample integer DEFAULT 10)
RETURNS TABLE (object_name text, problem text)
LANGUAGE plpgsql
AS $fn$
DECLARE
  v_rel regclass := audit.t0_relation(p_entrypoint);
  v_decl audit.t0_entrypoint := audit.t0_declaration(v_rel);
  v_keys text;
  v_ekeys text;
  v_sample jsonb;
  v_mvs text[];
  v_mv text;
  v_select text;
  v_insert text;
  v_cols text;
  v_vals text;
  v_src audit.t0_probe_source;
  v_src_rel regclass;
  v_offset interval;
  v_before jsonb;
  v_after jsonb;
  v_changed text;
  v_error text;
  v_problems jsonb := '[]';
BEGIN
  SELECT string_agg(format('%I', k), ', '), string_agg(format('e.%I', k), ', ')
    INTO v_keys, v_ekeys FROM unnest(v_decl.key_cols) AS k;
  EXECUTE format(
    'SELECT jsonb_agg(to_jsonb(s)) FROM (SELECT * FROM %1$s WHERE %2$I ='
    ' (SELECT max(%2$I) FROM %1$s) ORDER BY %3$s LIMIT %4$s) AS s',
    v_rel, v_decl.event_time_col, v_keys, p_sample) INTO v_sample;
  IF v_sample IS NULL THEN
    RETURN;
  END IF;
  SELECT array_agg(c.object_name ORDER BY c.depth DESC, c.object_name) INTO v_mvs
    FROM audit.t0_closure(v_rel) AS c WHERE c.object_kind = 'materialized view';
  v_select := format(
    'SELECT coalesce(jsonb_agg(to_jsonb(e) ORDER BY %s), ''[]'') FROM %s AS e'
    ' JOIN jsonb_populate_recordset(NULL::%s, $1) AS s USING (%s)',
    v_ekeys, v_rel, v_rel, v_keys);
  -- Outer subtransaction: refresh once for the "before" rows, then one inner subtransaction
  -- per (source, offset); both are always rolled back by raising T0L99, so neither the
  -- synthetic rows nor any refresh survive. Problems travel out in the exception message.
  BEGIN
    FOREACH v_mv IN ARRAY coalesce(v_mvs, '{}') LOOP
      EXECUTE format('REFRESH MATERIALIZED VIEW %s', v_mv);
    END LOOP;
    EXECUTE v_select INTO v_before USING v_sample;
    FOR v_src IN SELECT * FROM audit.t0_probe_source AS s
                  WHERE s.entrypoint = v_decl.entrypoint
                  ORDER BY s.source_table, s.time_col LOOP
      v_src_rel := to_regclass(v_src.source_table);
      IF v_src_rel IS NULL THEN
        v_problems := v_problems || jsonb_build_array(jsonb_build_array(
          v_src.source_table, 'T0 probe source does not exist'));
        CONTINUE;
      END IF;
      SELECT coalesce(string_agg(format('%I, ', m.key), '' ORDER BY m.key), ''),
             coalesce(string_agg(format('s.%I, ', m.value), '' ORDER BY m.key), '')
        INTO v_cols, v_vals FROM jsonb_each_text(v_src.key_map) AS m;
      v_insert := format(
        'INSERT INTO %s (%s%I) SELECT %ss.%I + $2'
        ' FROM jsonb_populate_recordset(NULL::%s, $1) AS s',
        v_src_rel, v_cols, v_src.time_col, v_vals, v_decl.event_time_col, v_rel);
      FOREACH v_offset IN ARRAY CASE WHEN v_decl.strict_t0
                                     THEN ARRAY[interval '0', interval '1 day']
                                     ELSE ARRAY[interval '1 microsecond', interval '1 day'] END
      LOOP
        v_changed := NULL;
        v_error := NULL;
        BEGIN
          EXECUTE v_insert USING v_sample, v_offset;
          FOREACH v_mv IN ARRAY coalesce(v_mvs, '{}') LOOP
            EXECUTE format('REFRESH MATERIALIZED VIEW %s', v_mv);
          END LOOP;
          EXECUTE v_select INTO v_after USING v_sample;
          RAISE EXCEPTION USING ERRCODE = 'T0L99',
            MESSAGE = coalesce(audit.t0_jsonb_rows_diff(v_before, v_after), '');
        EXCEPTION
          WHEN SQLSTATE 'T0L99' THEN
            v_changed := nullif(SQLERRM, '');
          WHEN OTHERS THEN
            v_error := SQLERRM;
        END;
        IF v_error IS NOT NULL THEN
          v_problems := v_problems || jsonb_build_array(jsonb_build_array(
            v_src.source_table, format('T0 probe could not run (fail closed): %s', v_error)));
        ELSIF v_changed IS NOT NULL THEN
          v_problems := v_problems || jsonb_build_array(jsonb_build_array(
            v_decl.entrypoint,
            format('T0 probe: a row of %s with %I %s t0 changed %s'
                   ' (features may use only rows %s t0)',
                   v_src.source_table, v_src.time_col,
                   CASE WHEN v_offset = interval '0' THEN 'at exactly'
                        ELSE format('%s after', v_offset) END,
                   v_changed,
                   CASE WHEN v_decl.strict_t0 THEN 'strictly before' ELSE 'at or before' END)));
        END IF;
      END LOOP;
    END LOOP;
    RAISE EXCEPTION USING ERRCODE = 'T0L99', MESSAGE = v_problems::text;
  EXCEPTION
    WHEN SQLSTATE 'T0L99' THEN
      v_problems := SQLERRM::jsonb;
  END;
  RETURN QUERY SELECT p ->> 0, p ->> 1 FROM jsonb_array_elements(v_problems) AS p;
END
$fn$;

-- Gate B: every problem, each naming the object at fault.
CREATE OR REPLACE FUNCTION audit.t0_gate_b(p_entrypoint text)
RETURNS TABLE (object_name text, problem text)
LANGUAGE plpgsql
AS $fn$
DECLARE
  v_rel regclass := audit.t0_relation(p_entrypoint);
  v_decl audit.t0_entrypoint := audit.t0_declaration(v_rel);
  v_missing text;
  v_keys text;
  v_count bigint;
BEGIN
  RETURN QUERY SELECT l.object_name, l.problem FROM audit.t0_lint_closure(p_entrypoint) AS l;
  IF v_decl.forbid_timestamp_outputs THEN
    RETURN QUERY
    SELECT v_decl.entrypoint,
           format('timestamp output column %I (%s) where the store forbids them', a.attname,
                  format_type(a.atttypid, a.atttypmod))
      FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = v_rel AND a.attnum > 0 AND NOT a.attisdropped
       AND a.atttypid IN ('timestamp'::regtype, 'timestamptz'::regtype, 'time'::regtype,
                          'timetz'::regtype)
     ORDER BY a.attnum;
  END IF;
  SELECT string_agg(format('%I', k), ', ') INTO v_missing
    FROM unnest(v_decl.key_cols || v_decl.event_time_col) AS k
   WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                      WHERE a.attrelid = v_rel AND a.attname = k AND a.attnum > 0
                        AND NOT a.attisdropped);
  IF v_missing IS NOT NULL THEN
    object_name := v_decl.entrypoint;
    problem := format('declared column(s) missing from the entrypoint: %s', v_missing);
    RETURN NEXT;
    RETURN;
  END IF;
  SELECT string_agg(format('%I', k), ', ') INTO v_keys FROM unnest(v_decl.key_cols) AS k;
  EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s GROUP BY %s HAVING count(*) > 1) AS d',
                 v_rel, v_keys) INTO v_count;
  IF v_count > 0 THEN
    object_name := v_decl.entrypoint;
    problem := format('key (%s) is not unique: %s key values occur more than once', v_keys,
                      v_count);
    RETURN NEXT;
  END IF;
  EXECUTE format('SELECT count(*) FROM %s WHERE %s', v_rel,
                 (SELECT string_agg(format('%I IS NULL', k), ' OR ')
                    FROM unnest(v_decl.key_cols) AS k)) INTO v_count;
  IF v_count > 0 THEN
    object_name := v_decl.entrypoint;
    problem := format('key (%s) is NULL in %s rows', v_keys, v_count);
    RETURN NEXT;
  END IF;
  RETURN QUERY SELECT p.object_name, p.problem FROM audit.t0_probe(p_entrypoint) AS p;
END
$fn$;

-- Run gates A, B and C and append the outcome to audit.t0_cert_registry (also when it fails:
-- the latest row is the state, so a failure revokes an earlier certification). Never raises
-- for a failed gate, so the FAILED row survives; require_certified_strict raises afterwards.
--   p_allow_drift     NULL: the declared policy; true: tolerant; false: strict
--   p_update_drifted  tolerant only: accept the drifted days' hashes as the new baselines
--   p_accept_changes  recapture viewdef baselines and the checked days' hashes first (after a
--                     reviewed change); gate B still runs in full
CREATE OR REPLACE FUNCTION audit.run_t0_cert(p_entrypoint text,
                                             p_check_days integer DEFAULT 3,
                                             p_allow_drift boolean DEFAULT NULL,
                                             p_update_drifted boolean DEFAULT false,
                                             p_accept_changes boolean DEFAULT false)
RETURNS audit.t0_cert_registry
LANGUAGE plpgsql
AS $fn$
DECLARE
  v_rel regclass := audit.t0_relation(p_entrypoint);
  v_decl audit.t0_entrypoint := audit.t0_declaration(v_rel);
  v_name text := v_decl.entrypoint;
  v_policy text;
  v_notes text[] := '{}';
  v_a text;
  v_a_obj text;
  v_b text;
  v_b_obj text;
  v_c text := 'pass';
  v_day date;
  v_hash record;
  v_base text;
  v_checked date[] := '{}';
  v_drifted date[] := '{}';
  v_new date[] := '{}';
  v_failed text;
  v_obj text;
  v_msg text;
  v_row audit.t0_cert_registry;
BEGIN
  IF p_check_days IS NULL OR p_check_days < 1 THEN
    RAISE EXCEPTION 't0lake: check days must be at least 1, got %', p_check_days
      USING ERRCODE = 'T0L04';
  END IF;
  v_policy := CASE WHEN p_allow_drift IS NULL THEN v_decl.drift_policy
                   WHEN p_allow_drift THEN 'tolerant' ELSE 'strict' END;
  PERFORM pg_advisory_xact_lock(hashtext('t0lake certify ' || v_name));

  IF p_accept_changes OR NOT EXISTS (SELECT 1 FROM audit.t0_viewdef_baseline AS b
                                      WHERE b.entrypoint = v_name) THEN
    PERFORM audit.capture_viewdef_baseline(v_name);
    v_notes := v_notes || 'viewdef baseline captured'::text;
  END IF;

  SELECT string_agg(format('%s %s: %s', c.object_kind, c.object_name, c.change), '; '
                    ORDER BY c.object_name), min(c.object_name)
    INTO v_a, v_a_obj FROM audit.t0_viewdef_changes(v_name) AS c;
  SELECT string_agg(format('%s: %s', g.object_name, g.problem), '; '
                    ORDER BY g.object_name, g.problem), min(g.object_name)
    INTO v_b, v_b_obj FROM audit.t0_gate_b(v_name) AS g;

  IF p_accept_changes AND v_a IS NULL AND v_b IS NULL THEN
    PERFORM audit.rebaseline_last_n_days(v_name, p_check_days);
    v_notes := v_notes || format('dataset baselines of the last %s days recaptured',
                                 p_check_days);
  END IF;

  -- Gate C only measures a definition that passed A and B: hashing rows of a changed or
  -- leaking definition (or a non-unique key) proves nothing.
  IF v_a IS NOT NULL OR v_b IS NOT NULL THEN
    v_c := 'skipped';
  END IF;
  FOR v_day IN SELECT d FROM audit.t0_last_days(v_name, p_check_days) AS d
                WHERE v_c <> 'skipped' ORDER BY d LOOP
    v_checked := v_checked || v_day;
    v_hash := audit.t0_day_hash(v_name, v_day);
    SELECT b.dataset_hash INTO v_base FROM audit.t0_dataset_hash_baseline AS b
     WHERE b.entrypoint = v_name AND b.day = v_day;
    IF NOT FOUND THEN
      IF v_a IS NULL AND v_b IS NULL THEN
        INSERT INTO audit.t0_dataset_hash_baseline (entrypoint, day, dataset_hash, row_count)
        VALUES (v_name, v_day, v_hash.dataset_hash, v_hash.row_count);
        v_new := v_new || v_day;
      END IF;
    ELSIF v_base <> v_hash.dataset_hash THEN
      v_drifted := v_drifted || v_day;
      IF v_policy = 'tolerant' AND p_update_drifted AND v_a IS NULL AND v_b IS NULL THEN
        UPDATE audit.t0_dataset_hash_baseline AS b
           SET dataset_hash = v_hash.dataset_hash, row_count = v_hash.row_count,
               captured_at = now()
         WHERE b.entrypoint = v_name AND b.day = v_day;
      END IF;
    END IF;
  END LOOP;

  IF cardinality(v_new) > 0 THEN
    v_notes := v_notes || format('baselines captured for new days %s', audit.t0_days_text(v_new));
  END IF;
  IF cardinality(v_drifted) > 0 THEN
    IF v_policy = 'strict' THEN
      v_c := 'fail';
    ELSE
      v_c := 'drift tolerated';
      v_notes := v_notes || format('drift tolerated on %s%s', audit.t0_days_text(v_drifted),
                                   CASE WHEN p_update_drifted THEN ' (baselines updated)'
                                        ELSE '' END);
    END IF;
  END IF;

  IF v_a IS NOT NULL THEN
    v_failed := 'A';
    v_obj := v_a_obj;
    v_msg := 'gate A (viewdef baselines): ' || v_a;
  ELSIF v_b IS NOT NULL THEN
    v_failed := 'B';
    v_obj := v_b_obj;
    v_msg := 'gate B (closure lint): ' || v_b;
  ELSIF v_c = 'fail' THEN
    v_failed := 'C';
    v_obj := to_char(v_drifted[1], 'YYYY-MM-DD');
    v_msg := format('gate C (dataset hashes): drift on %s under the strict policy',
                    audit.t0_days_text(v_drifted));
  END IF;

  INSERT INTO audit.t0_cert_registry (entrypoint, status, check_days, drift_policy, gate_a,
                                      gate_b, gate_c, failed_gate, failed_object, message,
                                      notes, checked_days, drifted_days, closure_hash)
  VALUES (v_name, CASE WHEN v_failed IS NULL THEN 'CERTIFIED' ELSE 'FAILED' END, p_check_days,
          v_policy, CASE WHEN v_a IS NULL THEN 'pass' ELSE 'fail' END,
          CASE WHEN v_b IS NULL THEN 'pass' ELSE 'fail' END, v_c, v_failed, v_obj, v_msg,
          nullif(array_to_string(v_notes, '; '), ''), v_checked, v_drifted,
          audit.t0_closure_hash(v_rel))
  RETURNING * INTO v_row;
  IF v_failed IS NOT NULL THEN
    RAISE WARNING 't0lake: % failed certification: %', v_name, v_msg;
  END IF;
  RETURN v_row;
END
$fn$;

-- Why an entrypoint may not be served right now, as a jsonb object (sqlstate, condition, gate,
-- object, message), or NULL when it may. One place decides, so require_certified_strict, the
-- guarded views and `t0lake status` can never disagree.
CREATE OR REPLACE FUNCTION audit.t0_cert_problem(p_entrypoint text,
                                                 p_max_age interval DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  v_rel regclass;
  v_decl audit.t0_entrypoint;
  v_max interval;
  v_reg audit.t0_cert_registry;
  v_changes text;
  v_first text;
BEGIN
  BEGIN
    v_rel := audit.t0_relation(p_entrypoint);
    v_decl := audit.t0_declaration(v_rel);
  EXCEPTION WHEN SQLSTATE 'T0L04' THEN
    RETURN jsonb_build_object('sqlstate', 'T0L04', 'condition', 'bad input',
                              'entrypoint', p_entrypoint,
                              'message', regexp_replace(SQLERRM, '^t0lake: ', ''));
  END;
  v_max := coalesce(p_max_age, v_decl.max_age);
  SELECT r.* INTO v_reg FROM audit.t0_cert_registry AS r
   WHERE r.entrypoint = v_decl.entrypoint ORDER BY r.cert_id DESC LIMIT 1;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('sqlstate', 'T0L01', 'condition', 'never certified',
                              'entrypoint', v_decl.entrypoint,
                              'message', format('%s is not certified: it was never certified',
                                                v_decl.entrypoint));
  END IF;
  IF v_reg.status <> 'CERTIFIED' THEN
    RETURN jsonb_build_object(
      'sqlstate', CASE v_reg.failed_gate WHEN 'B' THEN 'T0L03' WHEN 'C' THEN 'T0L02'
                                         ELSE 'T0L01' END,
      'condition', 'last certification failed', 'entrypoint', v_decl.entrypoint,
      'gate', v_reg.failed_gate, 'object', v_reg.failed_object, 'cert_id', v_reg.cert_id,
      'message', format('%s is not certified: its last certification (#%s) failed %s',
                        v_decl.entrypoint, v_reg.cert_id, v_reg.message));
  END IF;
  IF now() - v_reg.certified_at > v_max THEN
    RETURN jsonb_build_object(
      'sqlstate', 'T0L01', 'condition', 'expired', 'entrypoint', v_decl.entrypoint,
      'cert_id', v_reg.cert_id, 'certified_at', v_reg.certified_at, 'max_age', v_max::text,
      'message', format('%s is not certified: certification #%s expired (older than max age %s)',
                        v_decl.entrypoint, v_reg.cert_id, v_max));
  END IF;
  IF audit.t0_closure_hash(v_rel) <> v_reg.closure_hash THEN
    SELECT string_agg(format('%s %s: %s', c.object_kind, c.object_name, c.change), '; '
                      ORDER BY c.object_name), min(c.object_name)
      INTO v_changes, v_first FROM audit.t0_viewdef_changes(v_decl.entrypoint) AS c;
    RETURN jsonb_build_object(
      'sqlstate', 'T0L01', 'condition', 'viewdef changed', 'entrypoint', v_decl.entrypoint,
      'gate', 'A', 'object', v_first, 'cert_id', v_reg.cert_id,
      'message', format('%s is not certified: gate A, view definitions changed since'
                        ' certification #%s: %s', v_decl.entrypoint, v_reg.cert_id,
                        coalesce(v_changes, 'the viewdef baseline was recaptured without'
                                            ' re-certifying')));
  END IF;
  RETURN NULL;
END
$fn$;

-- The strict guard of the seeds: true, or an exception whose SQLSTATE and message name the
-- failed condition (DETAIL carries the same facts as JSON for programs).
-- p_max_age NULL means the max age declared in audit.t0_entrypoint.
CREATE OR REPLACE FUNCTION audit.require_certified_strict(p_entrypoint text,
                                                          p_max_age interval DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  v_problem jsonb := audit.t0_cert_problem(p_entrypoint, p_max_age);
BEGIN
  IF v_problem IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = v_problem ->> 'sqlstate',
      MESSAGE = 't0lake: ' || (v_problem ->> 'message'), DETAIL = v_problem::text;
  END IF;
  RETURN true;
END
$fn$;

-- The filter of guarded consumer views: false (and a WARNING naming the reason) instead of an
-- exception, so a guarded view returns no rows when the entrypoint may not be served. STABLE
-- and free of column references, so the planner evaluates it once per query (a one-time
-- filter), not once per row.
CREATE OR REPLACE FUNCTION audit.t0_guard(p_entrypoint text)
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  v_problem jsonb := audit.t0_cert_problem(p_entrypoint, NULL);
BEGIN
  IF v_problem IS NOT NULL THEN
    RAISE WARNING 't0lake: guarded view returns no rows: %', v_problem ->> 'message';
    RETURN false;
  END IF;
  RETURN true;
END
$fn$;

-- Every declared entrypoint with its latest certification and whether it may be served now.
CREATE OR REPLACE FUNCTION audit.t0_cert_status()
RETURNS TABLE (entrypoint text, drift_policy text, max_age interval, guarded_view text,
               cert_id bigint, status text, certified_at timestamptz, age interval,
               gate_a text, gate_b text, gate_c text, failed_gate text, message text,
               notes text, checked_days date[], drifted_days date[], problem jsonb)
LANGUAGE sql STABLE
AS $fn$
SELECT e.entrypoint, e.drift_policy, e.max_age, e.guarded_view, r.cert_id, r.status,
       r.certified_at, now() - r.certified_at, r.gate_a, r.gate_b, r.gate_c, r.failed_gate,
       r.message, r.notes, r.checked_days, r.drifted_days,
       audit.t0_cert_problem(e.entrypoint, NULL)
  FROM audit.t0_entrypoint AS e
  LEFT JOIN LATERAL (SELECT * FROM audit.t0_cert_registry AS x
                      WHERE x.entrypoint = e.entrypoint
                      ORDER BY x.cert_id DESC LIMIT 1) AS r ON true
 ORDER BY e.entrypoint
$fn$;
