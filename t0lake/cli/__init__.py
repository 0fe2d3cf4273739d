"""The ``t0lake`` command: ``t0lake.cli.app`` builds it from the command modules."""

from t0lake.cli.app import cli, main, run

__all__ = ["cli", "main", "run"]
