"""Certified export Postgres → lake: the one place where ``pg`` and ``lake`` meet.

plan      certification, catalog, days and baselines, inside one snapshot; the judgement
tasks     per-day SQL hash and fetch-prove-write, plain data for any Executor
registry  the committed head recorded in audit.t0_export_registry
export    the orchestration and its result
"""

from t0lake.exporter.export import ExportResult, export

__all__ = ["ExportResult", "export"]
