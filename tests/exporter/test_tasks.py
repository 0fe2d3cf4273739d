"""The write gate of export tasks: writes wait for the verdict, and a refusal reaches them."""

from __future__ import annotations

import threading
import time

import pytest

from t0lake.exporter.tasks import WriteGate


def test_a_write_waits_until_the_gate_opens() -> None:
    gate = WriteGate()
    passed = threading.Event()

    def write() -> None:
        gate.wait()
        passed.set()

    worker = threading.Thread(target=write)
    worker.start()
    time.sleep(0.05)
    assert not passed.is_set()  # no verdict yet: the write is held
    gate.open()
    worker.join(timeout=5)
    assert passed.is_set()
    gate.wait()  # an open gate lets every later write through at once


def test_a_refused_gate_raises_in_every_waiting_write() -> None:
    gate = WriteGate()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            gate.wait()
        except Exception as exc:  # the test collects what reaches the task
            errors.append(exc)

    workers = [threading.Thread(target=write) for _ in range(3)]
    for worker in workers:
        worker.start()
    gate.refuse()
    for worker in workers:
        worker.join(timeout=5)
    assert len(errors) == 3 and all("refused" in str(e) for e in errors)
    with pytest.raises(Exception, match="refused"):
        gate.wait()
