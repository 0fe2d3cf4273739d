"""Batches of tasks over any ``concurrent.futures.Executor``.

An export's per-day work is plain picklable data, so the same fan-out runs on a thread pool
or on a Dask cluster (``client.get_executor()``); the caller keeps the single commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, as_completed
from datetime import date
from typing import TypeVar

__all__ = ["run_batches"]

_T = TypeVar("_T")
_Task = TypeVar("_Task")


def run_batches(
    pool: Executor,
    fn: Callable[[Sequence[_Task]], dict[date, _T]],
    tasks: Sequence[_Task],
    batches: int,
    advance: Callable[[int], None],
) -> dict[date, _T]:
    """Run ``fn`` over about ``batches`` consecutive batches of ``tasks`` and merge what
    each returns; ``advance(n)`` hears of each finished batch of ``n`` tasks. The first
    failure cancels what has not started and re-raises."""
    size = max(1, -(-len(tasks) // max(1, batches)))
    chunks = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    futures = {pool.submit(fn, chunk): len(chunk) for chunk in chunks}
    results: dict[date, _T] = {}
    try:
        for future in as_completed(futures):
            results.update(future.result())
            advance(futures[future])
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return results
