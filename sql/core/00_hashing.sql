-- t0lake: the canonical content hash, SQL side.
--
-- audit.t0_dataset_hash(p_query, p_key) returns the same hex string as the Python
-- t0lake.dataset_hash(table, key) for the same rows. docs/hashing.md is the specification;
-- t0lake.hashing (t0lake/hashing/) is the Python twin. Re-runnable: CREATE OR REPLACE only.
--
-- Errors (SQLSTATE):
--   T0L04  bad input (no key, missing or duplicate column, non-unique key, unsupported type)

CREATE SCHEMA IF NOT EXISTS audit;

-- The canonical type tag of a Postgres type (domains resolved to their base type), or NULL
-- when the type has no canonical encoding.
CREATE OR REPLACE FUNCTION audit.t0_hash_type_tag(p_type oid)
RETURNS text
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  v_name text;
  v_kind "char";
  v_base oid;
  v_elem oid;
  v_category "char";
  v_elem_tag text;
BEGIN
  SELECT typname, typtype, typbasetype, typelem, typcategory
    INTO v_name, v_kind, v_base, v_elem, v_category
    FROM pg_catalog.pg_type WHERE oid = p_type;
  IF v_kind = 'd' THEN
    RETURN audit.t0_hash_type_tag(v_base);
  END IF;
  IF v_category = 'A' AND v_elem <> 0 THEN
    v_elem_tag := audit.t0_hash_type_tag(v_elem);
    IF v_elem_tag IS NULL OR v_elem_tag LIKE '%[]' OR v_elem_tag = 'jsonb' THEN
      RETURN NULL;
    END IF;
    RETURN v_elem_tag || '[]';
  END IF;
  RETURN CASE
    WHEN v_name = 'varchar' THEN 'text'
    WHEN v_name IN ('bool', 'int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'text',
                    'bytea', 'date', 'timestamp', 'timestamptz', 'jsonb') THEN v_name
  END;
END
$fn$;

-- Which implementation computes column digests: 'native' (the C aggregate
-- audit.t0_column_digests of the t0lake_hash extension, ext/t0lake_hash) when it is installed,
-- else 'sql' (the string_agg expressions below). Both give the same bytes; a session can ask
-- for the pure-SQL reference with SET t0lake.hash_impl = 'sql'.
CREATE OR REPLACE FUNCTION audit.t0_hash_impl()
RETURNS text
LANGUAGE sql STABLE
AS $fn$
  SELECT CASE
    WHEN coalesce(current_setting('t0lake.hash_impl', true), '') = 'sql' THEN 'sql'
    WHEN to_regproc('audit.t0_column_digests') IS NOT NULL THEN 'native'
    ELSE 'sql'
  END
$fn$;

-- The scalar type tags, each the name of its base type.
CREATE OR REPLACE FUNCTION audit.t0_hash_scalar_tags()
RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $fn$
  SELECT ARRAY['bool', 'int2', 'int4', 'int8', 'float4', 'float8', 'date', 'timestamp',
               'timestamptz', 'text', 'bytea', 'numeric', 'jsonb']
$fn$;

-- The SQL expression (bytea) of the hashes of a column's streams other than validity, for an
-- aggregate over rows already in canonical order: H(values) for a fixed-width tag, H(lengths)
-- || H(bytes) for a variable-width one. p_text, when given, is an expression of the column's
-- canonical text computed once per row by the caller (numeric and jsonb: their output
-- function is the costly part, and the two streams would otherwise call it twice).
-- string_agg's delimiter is NULL, not '': a NULL delimiter is skipped, an empty one is still
-- detoasted and appended on every row (7 % of a day's pure-SQL hash, bench_export's day).
CREATE OR REPLACE FUNCTION audit.t0_hash_streams_sql(p_ref text, p_tag text, p_text text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $fn$
DECLARE
  v_send text;
  v_text text;
BEGIN
  v_send := CASE p_tag
    -- constants, not boolsend: no per-row allocation (a NULL matches neither branch)
    WHEN 'bool' THEN format($$CASE WHEN %1$s THEN '\x01'::bytea WHEN NOT %1$s THEN '\x00'::bytea END$$, p_ref)
    WHEN 'int2' THEN format('int2send(%s)', p_ref)
    WHEN 'int4' THEN format('int4send(%s)', p_ref)
    WHEN 'int8' THEN format('int8send(%s)', p_ref)
    WHEN 'float4' THEN format($$CASE WHEN %1$s = 'NaN'::float4 THEN '\x7fc00000'::bytea ELSE float4send(%1$s) END$$, p_ref)
    WHEN 'float8' THEN format($$CASE WHEN %1$s = 'NaN'::float8 THEN '\x7ff8000000000000'::bytea ELSE float8send(%1$s) END$$, p_ref)
    WHEN 'date' THEN format('date_send(%s)', p_ref)
    WHEN 'timestamp' THEN format('timestamp_send(%s)', p_ref)
    WHEN 'timestamptz' THEN format('timestamptz_send(%s)', p_ref)
  END;
  IF v_send IS NOT NULL THEN
    RETURN format($$sha256(coalesce(string_agg(%s, NULL::bytea), ''::bytea))$$, v_send);
  END IF;
  IF p_tag = 'bytea' THEN
    RETURN format($$sha256(coalesce(string_agg(int4send(octet_length(%1$s)), NULL::bytea), ''::bytea)) || sha256(coalesce(string_agg(%1$s, NULL::bytea), ''::bytea))$$,
                  p_ref);
  END IF;
  v_text := coalesce(p_text, audit.t0_hash_text_sql(p_ref, p_tag));
  IF v_text IS NULL THEN
    RAISE EXCEPTION 't0lake: no canonical hash encoding for type %', p_tag USING ERRCODE = 'T0L04';
  END IF;
  -- Text is aggregated as text and converted to UTF-8 bytes once (the server encoding is
  -- checked to be UTF8, so octet_length is the UTF-8 length).
  RETURN format($$sha256(coalesce(string_agg(int4send(octet_length(%1$s)), NULL::bytea), ''::bytea)) || sha256(convert_to(coalesce(string_agg(%1$s, NULL::text), ''), 'UTF8'))$$,
                v_text);
END
$fn$;

-- The canonical text of p_ref for the text-encoded tags (text, numeric, jsonb), else NULL.
CREATE OR REPLACE FUNCTION audit.t0_hash_text_sql(p_ref text, p_tag text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
  SELECT CASE p_tag
    WHEN 'text' THEN format('(%s)::text', p_ref)
    WHEN 'numeric' THEN format('trim_scale(%s)::text', p_ref)
    WHEN 'jsonb' THEN format('(%s)::text', p_ref)
  END
$fn$;

-- The SQL expression (bytea) of the column digest of p_ref, a column of tag p_tag, for an
-- aggregate over rows already in canonical order, validity included (array elements use it;
-- audit.t0_column_hashes builds its columns' digests itself).
CREATE OR REPLACE FUNCTION audit.t0_hash_digest_sql(p_ref text, p_tag text)
RETURNS text
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
  IF audit.t0_hash_impl() = 'native' AND p_tag = ANY (audit.t0_hash_scalar_tags()) THEN
    -- the tag is the base type's name: the cast only strips a domain or varchar
    RETURN format('(audit.t0_column_digests((%s)::%s))[1]', p_ref, p_tag);
  END IF;
  RETURN format(
    $$sha256(sha256(coalesce(string_agg(CASE WHEN %1$s IS NULL THEN '\x00'::bytea ELSE '\x01'::bytea END, NULL::bytea), ''::bytea)) || %2$s)$$,
    p_ref, audit.t0_hash_streams_sql(p_ref, p_tag));
END
$fn$;

-- H(validity) of a column of p_rows rows from the positions (1-based, ascending) of its
-- NULLs, or p_all_valid (H of p_rows 0x01 bytes, computed once per query) when it has none.
-- The pure-SQL path collects only those positions while it aggregates (array_agg ... FILTER
-- (WHERE c IS NULL): a test per row, an append per NULL) instead of appending a byte per row
-- and column; the bytes hashed are the same n bytes of docs/hashing.md.
CREATE OR REPLACE FUNCTION audit.t0_hash_validity(p_rows bigint, p_nulls bigint[], p_all_valid bytea)
RETURNS bytea
LANGUAGE plpgsql IMMUTABLE
AS $fn$
DECLARE
  v_parts text[] := '{}';
  v_pos bigint;
  v_prev bigint := 0;
  v_k int := 0;
BEGIN
  IF p_nulls IS NULL OR cardinality(p_nulls) = 0 THEN
    RETURN p_all_valid;
  END IF;
  IF cardinality(p_nulls) * 4 < p_rows THEN
    -- few NULLs: the runs of values between them, joined by the NULLs' 00 (hex)
    FOREACH v_pos IN ARRAY p_nulls LOOP
      v_k := v_k + 1;
      v_parts[v_k] := repeat('01', (v_pos - v_prev - 1)::int);
      v_prev := v_pos;
    END LOOP;
    RETURN sha256(decode(array_to_string(v_parts, '00') || '00' || repeat('01', (p_rows - v_prev)::int), 'hex'));
  END IF;
  -- many NULLs: a byte per row, then the NULLs' positions set (in-place array assignment)
  v_parts := array_fill('01'::text, ARRAY[p_rows::int]);
  FOREACH v_pos IN ARRAY p_nulls LOOP
    v_parts[v_pos] := '00';
  END LOOP;
  RETURN sha256(decode(array_to_string(v_parts, ''), 'hex'));
END
$fn$;

-- Per-column digests of the rows of p_query in canonical order (p_key ascending, byte
-- order, NULLs last). One row per column, with the row count repeated on each.
CREATE OR REPLACE FUNCTION audit.t0_column_hashes(p_query text, p_key text[])
RETURNS TABLE (column_name text, type_tag text, column_hash text, row_count bigint)
LANGUAGE plpgsql
SECURITY INVOKER
-- The ordered subquery feeds plain aggregates in order; parallel partial aggregation could
-- interleave it, so it is switched off for the hash. A day's sort fits in memory up to 64 MB
-- (the default 4 MB spills a 40,000-row day of 28 columns to disk, a quarter of the cost).
SET max_parallel_workers_per_gather = 0
SET work_mem = '64MB'
SET standard_conforming_strings = on
AS $fn$
DECLARE
  v_query text := rtrim(p_query, E' \t\r\n;');
  v_probe text;
  v_names text[];
  v_types oid[];
  v_tags text[] := '{}';
  v_order text[] := '{}';
  v_dup text[] := '{}';
  v_aggs text[] := '{}';
  v_outs text[] := '{}';
  v_native boolean;
  v_chunk text[] := '{}';
  v_chunks int := 0;
  v_rows_sql text;
  v_dup_agg text;
  v_valid text;
  v_text text;
  v_extra text[] := '{}';
  v_sql text;
  v_rows bigint;
  v_has_dup boolean;
  v_multidim boolean;
  v_parts text[];
  v_child text;
  v_tag text;
  v_key text;
  v_i int;
BEGIN
  IF current_setting('server_encoding') <> 'UTF8' THEN
    RAISE EXCEPTION 't0lake: the canonical hash needs a UTF8 database, this one is %',
      current_setting('server_encoding') USING ERRCODE = 'T0L04';
  END IF;
  IF p_key IS NULL OR cardinality(p_key) = 0 THEN
    RAISE EXCEPTION 't0lake: the key must name at least one column' USING ERRCODE = 'T0L04';
  END IF;

  -- Column names and types, without temporary objects (so this runs in read-only
  -- transactions) and without running the query: LIMIT 0 stops before its first row (an
  -- ORDER BY inside would otherwise sort every row, twice), and the LEFT JOIN still yields
  -- one row, all NULL, whose fields carry the declared types.
  v_probe := format('(SELECT q.* FROM (VALUES (1)) AS t0lake_one(x) LEFT JOIN (SELECT * FROM (%s) AS t0lake_q LIMIT 0) AS q ON true)', v_query);
  EXECUTE format('SELECT array_agg(k ORDER BY n) FROM json_object_keys((SELECT to_json(p) FROM %s AS p)) WITH ORDINALITY AS j(k, n)', v_probe)
    INTO v_names;
  IF v_names IS NULL THEN
    RAISE EXCEPTION 't0lake: the query returns no columns' USING ERRCODE = 'T0L04';
  END IF;
  IF cardinality(v_names) <> (SELECT count(DISTINCT n) FROM unnest(v_names) AS n) THEN
    RAISE EXCEPTION 't0lake: column names must be unique to hash rows: %', v_names USING ERRCODE = 'T0L04';
  END IF;
  EXECUTE format('SELECT ARRAY[%s]::oid[] FROM %s AS p',
                 (SELECT string_agg(format('pg_typeof(p.%I)::oid', n), ', ' ORDER BY i)
                    FROM unnest(v_names) WITH ORDINALITY AS u(n, i)),
                 v_probe)
    INTO v_types;
  FOR v_i IN 1 .. cardinality(v_names) LOOP
    v_tag := audit.t0_hash_type_tag(v_types[v_i]);
    IF v_tag IS NULL THEN
      RAISE EXCEPTION 't0lake: column % has type %, which has no canonical hash encoding',
        quote_ident(v_names[v_i]), format_type(v_types[v_i], NULL) USING ERRCODE = 'T0L04';
    END IF;
    v_tags := v_tags || v_tag;
  END LOOP;

  -- Canonical order and the uniqueness check of the key.
  FOREACH v_key IN ARRAY p_key LOOP
    v_i := array_position(v_names, v_key);
    IF v_i IS NULL THEN
      RAISE EXCEPTION 't0lake: key column % is not in the query', quote_ident(v_key) USING ERRCODE = 'T0L04';
    END IF;
    IF v_tags[v_i] LIKE '%[]' OR v_tags[v_i] = 'jsonb' THEN
      RAISE EXCEPTION 't0lake: key column % has type %, which cannot order rows',
        quote_ident(v_key), v_tags[v_i] USING ERRCODE = 'T0L04';
    END IF;
    v_order := v_order || (format('q.%I', v_key)
      || CASE WHEN v_tags[v_i] = 'text' THEN ' COLLATE "C"' ELSE '' END);
    v_dup := v_dup || format('q.%1$I IS NOT DISTINCT FROM lag(q.%1$I) OVER w', v_key);
  END LOOP;

  -- v_aggs: the aggregates (inner query); v_outs: each column's hex digest from them (outer
  -- query). The native aggregate takes up to 99 scalar columns per call (FUNC_MAX_ARGS).
  -- The pure-SQL path spends one aggregate transition per row on a column's values (two
  -- for variable width) and none on its validity: it collects the row numbers of its NULLs
  -- (audit.t0_hash_validity turns them into H(validity)); numeric and jsonb text is made
  -- once per row, in the ordered subquery (v_extra), for both of their streams.
  v_native := audit.t0_hash_impl() = 'native';
  FOR v_i IN 1 .. cardinality(v_names) LOOP
    IF NOT v_native THEN
      v_aggs := v_aggs || format('array_agg(s."t0lake#rn") FILTER (WHERE s.%I IS NULL) AS "t0lake#v%s"',
                                 v_names[v_i], v_i);
      v_valid := format('audit.t0_hash_validity(a."t0lake#n", a."t0lake#v%s", a."t0lake#allv")', v_i);
    END IF;
    IF v_tags[v_i] LIKE '%[]' THEN
      -- validity and element counts here; the elements' digest in a second query below
      IF v_native THEN
        v_aggs := v_aggs || format(
          $$encode(sha256(coalesce(string_agg(CASE WHEN s.%1$I IS NULL THEN '\x00'::bytea ELSE '\x01'::bytea END, NULL::bytea), ''::bytea)) || sha256(coalesce(string_agg(int4send(cardinality(s.%1$I)), NULL::bytea), ''::bytea)), 'hex') AS "t0lake#p%2$s"$$,
          v_names[v_i], v_i);
        v_outs := v_outs || format('a."t0lake#p%s"', v_i);
      ELSE
        v_aggs := v_aggs || format(
          $$sha256(coalesce(string_agg(int4send(cardinality(s.%1$I)), NULL::bytea), ''::bytea)) AS "t0lake#d%2$s"$$,
          v_names[v_i], v_i);
        v_outs := v_outs || format('encode(%s || a."t0lake#d%s", ''hex'')', v_valid, v_i);
      END IF;
    ELSIF v_native THEN
      IF cardinality(v_chunk) = 99 THEN
        v_aggs := v_aggs || format('audit.t0_column_digests(%s) AS "t0lake#c%s"',
                                   array_to_string(v_chunk, ', '), v_chunks);
        v_chunk := '{}';
      END IF;
      IF cardinality(v_chunk) = 0 THEN
        v_chunks := v_chunks + 1;
      END IF;
      -- the tag is the base type's name: the cast only strips a domain or varchar
      v_chunk := v_chunk || format('(s.%I)::%s', v_names[v_i], v_tags[v_i]);
      v_outs := v_outs || format('encode(a."t0lake#c%s"[%s], ''hex'')', v_chunks, cardinality(v_chunk));
    ELSE
      v_text := NULL;
      IF v_tags[v_i] IN ('numeric', 'jsonb') THEN
        v_extra := v_extra || format('%s AS "t0lake#t%s"',
                                     audit.t0_hash_text_sql(format('q.%I', v_names[v_i]), v_tags[v_i]), v_i);
        v_text := format('s."t0lake#t%s"', v_i);
      END IF;
      v_aggs := v_aggs || format('%s AS "t0lake#d%s"',
                                 audit.t0_hash_streams_sql(format('s.%I', v_names[v_i]), v_tags[v_i], v_text), v_i);
      v_outs := v_outs || format('encode(sha256(%s || a."t0lake#d%s"), ''hex'')', v_valid, v_i);
    END IF;
  END LOOP;
  IF cardinality(v_chunk) > 0 THEN
    v_aggs := v_aggs || format('audit.t0_column_digests(%s) AS "t0lake#c%s"',
                               array_to_string(v_chunk, ', '), v_chunks);
  END IF;

  -- The rows in canonical order, and whether two of them share a key: a window looking one
  -- row back on the SQL path (which numbers the rows for the NULL positions too); on the
  -- native path an aggregate that does the same without copying every row into the
  -- window's tuple store. Both sort once, shared by every aggregate.
  IF v_native THEN
    v_rows_sql := format('SELECT q.* FROM (%s) AS q ORDER BY %s',
                         v_query, array_to_string(v_order, ', '));
    v_dup_agg := format('audit.t0_adjacent_duplicates(%s)',
                        (SELECT string_agg(format('s.%I', k), ', ' ORDER BY i)
                           FROM unnest(p_key) WITH ORDINALITY AS u(k, i)));
  ELSE
    v_rows_sql := format(
      'SELECT q.*, %s row_number() OVER w AS "t0lake#rn", (%s) AS "t0lake#dup" '
      'FROM (%s) AS q WINDOW w AS (ORDER BY %s) ORDER BY %s',
      CASE WHEN cardinality(v_extra) > 0 THEN array_to_string(v_extra, ', ') || ', ' ELSE '' END,
      array_to_string(v_dup, ' AND '), v_query,
      array_to_string(v_order, ', '), array_to_string(v_order, ', '));
    v_dup_agg := 'coalesce(bool_or(s."t0lake#rn" > 1 AND s."t0lake#dup"), false)';
  END IF;

  -- OFFSET 0 keeps the all-valid hash a column computed once, not once per use
  v_sql := format(
    'SELECT a."t0lake#n", a."t0lake#dup", a."t0lake#multidim", ARRAY[%s]::text[] FROM ('
    'SELECT i.*, %s AS "t0lake#allv" FROM ('
    'SELECT count(*) AS "t0lake#n", %s AS "t0lake#dup", %s AS "t0lake#multidim", %s '
    'FROM (%s) AS s) AS i OFFSET 0) AS a',
    array_to_string(v_outs, ', '),
    CASE WHEN v_native THEN 'NULL::bytea'
         ELSE $$sha256(decode(repeat('01', i."t0lake#n"::int), 'hex'))$$ END,
    v_dup_agg,
    coalesce((SELECT 'coalesce(' || string_agg(format('bool_or(array_ndims(s.%I) > 1)', v_names[i]), ' OR ') || ', false)'
                FROM generate_subscripts(v_names, 1) AS i WHERE v_tags[i] LIKE '%[]'), 'false'),
    array_to_string(v_aggs, ', '),
    v_rows_sql);
  EXECUTE v_sql INTO v_rows, v_has_dup, v_multidim, v_parts;

  IF v_has_dup THEN
    RAISE EXCEPTION 't0lake: key (%) is not unique, so row order and the hash would be arbitrary',
      array_to_string(p_key, ', ') USING ERRCODE = 'T0L04';
  END IF;
  IF v_multidim THEN
    RAISE EXCEPTION 't0lake: multi-dimensional arrays have no canonical hash' USING ERRCODE = 'T0L04';
  END IF;

  FOR v_i IN 1 .. cardinality(v_names) LOOP
    IF v_tags[v_i] LIKE '%[]' THEN
      EXECUTE format(
        'SELECT encode(%s, ''hex'') FROM (SELECT u.e FROM (SELECT q.%I AS a, row_number() OVER (ORDER BY %s) AS rn FROM (%s) AS q) AS s '
        'CROSS JOIN LATERAL unnest(s.a) WITH ORDINALITY AS u(e, i) ORDER BY s.rn, u.i) AS z',
        audit.t0_hash_digest_sql('z.e', left(v_tags[v_i], -2)), v_names[v_i],
        array_to_string(v_order, ', '), v_query)
        INTO v_child;
      v_parts[v_i] := encode(sha256(decode(v_parts[v_i] || v_child, 'hex')), 'hex');
    END IF;
    column_name := v_names[v_i];
    type_tag := v_tags[v_i];
    column_hash := v_parts[v_i];
    row_count := v_rows;
    RETURN NEXT;
  END LOOP;
END
$fn$;

-- The canonical dataset hash of the rows of p_query, keyed by p_key. Other tools call this
-- exact signature: keep it.
CREATE OR REPLACE FUNCTION audit.t0_dataset_hash(p_query text, p_key text[])
RETURNS text
LANGUAGE plpgsql
SECURITY INVOKER
AS $fn$
DECLARE
  v_rows bigint;
  v_cols text;
BEGIN
  SELECT max(h.row_count),
         string_agg(format('col=%s:%s:%s:%s', octet_length(h.column_name), h.column_name,
                           h.type_tag, h.column_hash) || E'\n', '' ORDER BY h.column_name COLLATE "C")
    INTO v_rows, v_cols
    FROM audit.t0_column_hashes(p_query, p_key) AS h;
  RETURN encode(sha256(convert_to(
    't0lake-dataset-hash-v1' || E'\n'
    || 'rows=' || v_rows || E'\n'
    || 'key=' || (SELECT string_agg(octet_length(k) || ':' || k, ',' ORDER BY i)
                    FROM unnest(p_key) WITH ORDINALITY AS u(k, i)) || E'\n'
    || v_cols, 'UTF8')), 'hex');
END
$fn$;
