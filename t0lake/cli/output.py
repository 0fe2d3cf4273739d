"""Where a command's result goes: one JSON object on stdout (``--json``), or rich tables for
a person. Commands build a JSON-ready dict and a renderer; they never print themselves, so
the two forms always carry the same facts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

__all__ = ["Output", "Renderer"]

Renderer = Callable[[Console, dict[str, Any]], None]


class Output:
    """Where a command's result goes: JSON on stdout, or tables for a person."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.console = Console(highlight=False, soft_wrap=True)

    def emit(self, result: dict[str, Any], render: Renderer) -> None:
        """Print ``result``: as JSON, or through ``render`` for a terminal."""
        if self.as_json:
            click.echo(json.dumps(result, indent=2, sort_keys=True, default=str))
        else:
            render(self.console, result)
