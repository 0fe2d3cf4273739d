"""Leaf helpers every layer of t0lake may use; they import nothing of t0lake but the errors.

days            calendar-day bounds (inclusive start..end)
durations       the one duration grammar ("90s", "24h", "7d", "1h30m")
canonical_json  one JSON text per value, for every hash taken over JSON
frames          Arrow / Polars coercion of whatever frame a caller passes
fanout          batches of tasks over any concurrent.futures.Executor
progress        a rich progress bar on a terminal, silence elsewhere
jit             numba kernels compiled on first use
"""

__all__: list[str] = []
