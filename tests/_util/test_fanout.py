"""Batches over an executor: every task runs once, results merge, the first failure stops
what has not started."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from t0lake._util.fanout import collect, run_batches, submit_batches

_DAY = date(2026, 1, 1)


def _double(batch: Sequence[int]) -> dict[date, int]:
    return {_DAY + timedelta(days=n): 2 * n for n in batch}


@settings(max_examples=50, deadline=None)
@given(count=st.integers(0, 40), batches=st.integers(0, 12))
def test_every_task_runs_once_in_about_the_batches_asked(count: int, batches: int) -> None:
    tasks = list(range(count))
    seen: list[int] = []
    with ThreadPoolExecutor(2) as pool:
        futures = submit_batches(pool, _double, tasks, batches)
        assert sum(futures.values()) == count
        assert len(futures) <= max(1, batches) or count == 0
        result = collect(futures, seen.append)
    assert result == {_DAY + timedelta(days=n): 2 * n for n in tasks}
    assert sorted(seen) == sorted(futures.values())


def test_the_first_failure_cancels_what_has_not_started() -> None:
    release = threading.Event()
    ran: list[int] = []

    def work(batch: Sequence[int]) -> dict[date, int]:
        if batch[0] == 0:
            raise ValueError("bad day")
        release.wait(timeout=5)
        ran.extend(batch)
        return _double(batch)

    with ThreadPoolExecutor(1) as pool:  # one worker: the later batches wait in the queue
        with pytest.raises(ValueError, match="bad day"):
            run_batches(pool, work, list(range(6)), 6, lambda n: None)
        release.set()
    # the worker may have taken the next batch before the failure was seen; the rest never ran
    assert set(ran) <= {1}
