"""``python -m t0lake`` runs the CLI."""

from t0lake.cli import run

run()
