"""Loops compiled by numba on first use, for the few hot paths numpy cannot express.

numba is imported lazily, so ``import t0lake`` (and the CLI) stays fast. Each kernel is
compiled for exactly one signature, so a machine compiles it once and ``cache=True`` keeps
the machine code on disk for later processes; ``nogil=True`` lets the reader's threads run
kernels side by side. The undecorated function stays reachable as ``__wrapped__``.

Importing numba and loading a kernel from that cache still costs about a second of CPU in
a fresh process, so a caller with a numpy alternative can ask :func:`loaded` whether the
kernel is already there and take the alternative for small inputs until it is.

A kernel copies bytes with :func:`t0lake._util.jit_copy.copy_bytes` (LLVM's memcpy, whose
compiled form is registered here with numba): a loop over a few bytes stored them one at a
time, three fifths of the string-view kernel's time.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from t0lake._util import jit_copy

__all__ = ["compiled", "loaded", "ready"]

_KERNEL = "_t0lake_kernel"  # the attribute of a decorated function holding its kernel
_STARTED: list[bool] = []  # not empty once a kernel was loaded in this process


def compiled(
    signature: Callable[[Any], Any],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a function to run compiled, for the signature ``signature(numba.types)``."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        kernel: list[Callable[..., Any]] = []
        lock = threading.Lock()

        @functools.wraps(function)
        def call(*args: Any) -> Any:
            if not kernel:
                with lock:  # two reader threads must not compile it twice
                    if not kernel:
                        import numba

                        jit_copy.register()
                        kernel.append(
                            numba.njit(signature(numba.types), cache=True, nogil=True)(function)
                        )
                        _STARTED.append(True)
            return kernel[0](*args)

        setattr(call, _KERNEL, kernel)
        return call

    return decorate


def loaded(function: Callable[..., Any]) -> bool:
    """Whether ``function`` (decorated by :func:`compiled`) has its kernel loaded in this
    process, so calling it costs no import or compilation."""
    return bool(getattr(function, _KERNEL, None))


def ready() -> bool:
    """Whether numba is started in this process (some kernel was loaded): then loading
    another kernel from its cache costs milliseconds, not the second or more of the first."""
    return bool(_STARTED)
