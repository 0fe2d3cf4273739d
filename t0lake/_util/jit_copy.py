"""``copy_bytes`` for kernels, compiled to LLVM's memcpy.

A kernel that copies a few bytes by a loop over them stores them one at a time; a memcpy of
a constant size (the 16 bytes of a short string) becomes one or two unaligned moves, and of
any other size a call of the C library's. :func:`register` teaches numba that compiled form
(an overload of :func:`copy_bytes`); :func:`t0lake._util.jit.compiled` calls it when it
first loads numba, so nothing imports numba at import time.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["copy_bytes", "register"]

_REGISTERED: list[bool] = []
_LOCK = threading.Lock()


def copy_bytes(dst: Any, dst_at: Any, src: Any, src_at: Any, count: Any) -> None:
    """Copy ``count`` bytes of the uint8 array ``src`` from ``src_at`` into ``dst`` at
    ``dst_at``. In a kernel this is LLVM's memcpy, which checks no bound (the caller has);
    in Python (a kernel's ``__wrapped__``) a slice assignment, which cannot overrun."""
    dst[dst_at : dst_at + count] = src[src_at : src_at + count]


def register() -> None:
    """Give :func:`copy_bytes` its compiled form, once per process (numba is imported here)."""
    with _LOCK:
        if _REGISTERED:
            return
        from numba import types
        from numba.core import cgutils
        from numba.extending import intrinsic, overload

        def byte_array(t: Any) -> bool:
            return (
                isinstance(t, types.Array)
                and t.dtype == types.uint8
                and t.ndim == 1
                and t.layout == "C"
            )

        @intrinsic
        def memcpy(
            typingctx: Any, dst: Any, dst_at: Any, src: Any, src_at: Any, count: Any
        ) -> tuple[Any, Any] | None:
            if not (byte_array(dst) and byte_array(src)):
                return None
            if not all(isinstance(t, types.Integer) for t in (dst_at, src_at, count)):
                return None

            def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                target, target_at, source, source_at, size = (
                    context.cast(builder, value, kind, types.intp) if i in (1, 3, 4) else value
                    for i, (value, kind) in enumerate(zip(args, signature.args, strict=True))
                )
                into = context.make_array(signature.args[0])(context, builder, target)
                source_array = context.make_array(signature.args[2])(context, builder, source)
                cgutils.raw_memcpy(  # type: ignore[no-untyped-call]
                    builder,
                    builder.gep(into.data, [target_at]),
                    builder.gep(source_array.data, [source_at]),
                    size,
                    1,
                )
                return context.get_dummy_value()

            return types.void(dst, dst_at, src, src_at, count), codegen

        @overload(copy_bytes)
        def compiled_copy_bytes(dst: Any, dst_at: Any, src: Any, src_at: Any, count: Any) -> Any:
            def compiled_copy(dst: Any, dst_at: Any, src: Any, src_at: Any, count: Any) -> None:
                memcpy(dst, dst_at, src, src_at, count)  # type: ignore[call-arg]

            return compiled_copy

        _REGISTERED.append(True)
