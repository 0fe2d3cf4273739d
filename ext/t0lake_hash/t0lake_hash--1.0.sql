-- t0lake_hash 1.0: audit.t0_column_digests(c1, c2, ...) over rows in canonical order = the
-- column digest D of docs/hashing.md of each argument column, as bytea[] in argument order.
-- Rows must arrive in canonical order (an ordered subquery feeding a plain aggregate, as
-- audit.t0_column_hashes does); there is no combine function, so Postgres never splits it
-- over parallel workers. At most 100 arguments (FUNC_MAX_ARGS): callers chunk wider rows.
\echo Use "CREATE EXTENSION t0lake_hash" to load this file. \quit

CREATE FUNCTION audit.t0_column_digests_step(internal, VARIADIC "any")
RETURNS internal
AS 'MODULE_PATHNAME', 't0_column_digests_step'
LANGUAGE C CALLED ON NULL INPUT;

CREATE FUNCTION audit.t0_column_digests_final(internal, VARIADIC "any")
RETURNS bytea[]
AS 'MODULE_PATHNAME', 't0_column_digests_final'
LANGUAGE C CALLED ON NULL INPUT;

CREATE AGGREGATE audit.t0_column_digests(VARIADIC "any") (
  SFUNC = audit.t0_column_digests_step,
  STYPE = internal,
  FINALFUNC = audit.t0_column_digests_final,
  FINALFUNC_EXTRA
);

-- audit.t0_adjacent_duplicates(k1, k2, ...) over rows sorted by the key: true when two
-- adjacent rows have equal keys (by each type's "=", text in the C collation; NULLs equal).
CREATE FUNCTION audit.t0_adjacent_duplicates_step(internal, VARIADIC "any")
RETURNS internal
AS 'MODULE_PATHNAME', 't0_adjacent_duplicates_step'
LANGUAGE C CALLED ON NULL INPUT;

CREATE FUNCTION audit.t0_adjacent_duplicates_final(internal, VARIADIC "any")
RETURNS boolean
AS 'MODULE_PATHNAME', 't0_adjacent_duplicates_final'
LANGUAGE C CALLED ON NULL INPUT;

CREATE AGGREGATE audit.t0_adjacent_duplicates(VARIADIC "any") (
  SFUNC = audit.t0_adjacent_duplicates_step,
  STYPE = internal,
  FINALFUNC = audit.t0_adjacent_duplicates_final,
  FINALFUNC_EXTRA
);
