"""Batches of tasks over any ``concurrent.futures.Executor``.

An export's per-day work is plain picklable data, so the same fan-out runs on a thread pool
or on a Dask cluster (``client.get_executor()``); the caller keeps the single commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, as_completed
from datetime import date
from typing import TypeVar

__all__ = ["collect", "run_batches", "submit_batches"]

_T = TypeVar("_T")
_Task = TypeVar("_Task")


def submit_batches(
    pool: Executor,
    fn: Callable[[Sequence[_Task]], dict[date, _T]],
    tasks: Sequence[_Task],
    batches: int,
) -> dict[Future[dict[date, _T]], int]:
    """Submit ``fn`` over about ``batches`` consecutive batches of ``tasks``; each future
    maps to the number of tasks in its batch."""
    size = max(1, -(-len(tasks) // max(1, batches)))
    chunks = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    return {pool.submit(fn, chunk): len(chunk) for chunk in chunks}


def collect(
    futures: dict[Future[dict[date, _T]], int], advance: Callable[[int], None]
) -> dict[date, _T]:
    """Merge what each future returns as it finishes; ``advance(n)`` hears of each finished
    batch of ``n`` tasks. The first failure cancels what has not started and re-raises."""
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


def run_batches(
    pool: Executor,
    fn: Callable[[Sequence[_Task]], dict[date, _T]],
    tasks: Sequence[_Task],
    batches: int,
    advance: Callable[[int], None],
) -> dict[date, _T]:
    """:func:`submit_batches`, then :func:`collect`."""
    return collect(submit_batches(pool, fn, tasks, batches), advance)
