-- t0lake: what was published to which lake, recorded in the source of truth.
--
-- t0lake export appends one row per lake commit (and re-registers the current head on a
-- run that commits nothing, so a registration lost to a crash is repaired by re-running).
-- Re-runnable: IF NOT EXISTS only.

CREATE TABLE IF NOT EXISTS audit.t0_export_registry (
  export_id bigserial PRIMARY KEY,
  entrypoint text NOT NULL,
  lake_url text NOT NULL,
  snapshot_id bigint NOT NULL,
  manifest_sha256 text NOT NULL,
  parent_snapshot_id bigint,
  cert_id bigint NOT NULL,
  days date[] NOT NULL,
  day_hashes jsonb NOT NULL,
  exported_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (lake_url, entrypoint, snapshot_id)
);

COMMENT ON TABLE audit.t0_export_registry IS
  'One row per lake snapshot t0lake export committed: days published and their dataset hashes';
