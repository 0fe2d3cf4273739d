"""Progress of long work: a rich bar on a terminal's stderr, silence everywhere else.

Library calls take ``progress=None`` (draw only on a terminal), ``True`` or ``False``; the
work calls ``advance(n)`` and never knows whether anything is drawn. This is the only
module outside the CLI that imports rich.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Advance", "progress_bar", "want_progress"]

Advance = Callable[[int], None]


def want_progress(progress: bool | None) -> bool:
    """The caller's choice, or by default: whether stderr is a terminal."""
    if progress is not None:
        return progress
    return sys.stderr.isatty()


@contextmanager
def progress_bar(show: bool, label: str, total: int) -> Iterator[Advance]:
    """A bar of ``total`` steps labelled ``label`` while the block runs (when ``show``)."""
    if not show:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as p:
        task = p.add_task(label, total=total)
        yield lambda n: p.advance(task, n)
