"""The numeric core of the join: dense entity ids and the compiled as-of merge loop.

Everything here works on int64 numpy arrays, not on columns or names: entities become dense
ids, the features are put in availability order and the events in ``t0`` order (sorting
only what is not already in order), and one numba pass (the loop of pandas' ``merge_asof``)
picks each event's row. Kept apart so the hot path and its one compiled signature can be
read, benchmarked and changed without the checks and the loading around it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from t0lake._util.jit import compiled
from t0lake.pit.spec import key_kind

__all__ = ["Array", "created_ints", "group_ids", "merged"]

_INT_KEYS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)
_DENSE_SLACK = 4  # an integer key is its own entity id while its range is this dense

Array = np.ndarray[Any, np.dtype[np.int64]]


def group_ids(ev: pl.DataFrame, fv: pl.DataFrame, by: list[str]) -> tuple[Array, Array, int]:
    """Dense entity ids shared by both sides; -1 for an event key no feature row has (or a
    NULL key: NULL never equals NULL). Returns (feature ids, event ids, number of ids)."""
    if len(by) == 1 and ev.schema[by[0]] in _INT_KEYS and fv.schema[by[0]] in _INT_KEYS:
        fk = fv.get_column(by[0]).cast(pl.Int64).to_numpy()
        lo, hi = int(fk.min()), int(fk.max())
        span = hi - lo + 1
        if span <= _DENSE_SLACK * (fv.height + ev.height) + 1024:  # the kernel's table: span
            ek = ev.get_column(by[0]).cast(pl.Int64)
            ok = (ek.is_not_null() & (ek >= lo) & (ek <= hi)).to_numpy()
            e = ek.fill_null(lo).to_numpy() - lo
            return (fk if lo == 0 else fk - lo), np.where(ok, e, -1).astype(np.int64), span
    keys = [
        pl.col(k).cast(pl.String) if key_kind(fv.schema[k]) == "string" else pl.col(k) for k in by
    ]
    left = fv.select(keys)
    right = ev.select(keys)
    if any(left.schema[k] != right.schema[k] for k in by):  # integers of different widths
        left = left.with_columns(
            pl.col(k).cast(pl.Int64) for k in by if left.schema[k].is_integer()
        )
        right = right.with_columns(
            pl.col(k).cast(pl.Int64) for k in by if right.schema[k].is_integer()
        )
    table = left.unique().with_row_index("__gid")
    gid_f = left.join(table, on=by, how="left", maintain_order="left").get_column("__gid")
    gid_e = right.join(table, on=by, how="left", maintain_order="left").get_column("__gid")
    return (
        gid_f.cast(pl.Int64).to_numpy(),
        gid_e.cast(pl.Int64).fill_null(-1).to_numpy(),
        table.height,
    )


def created_ints(fv: pl.DataFrame, created: str | None) -> tuple[Array, np.ndarray[Any, Any]]:
    """The tie-breaker as int64 plus a validity mask (NULL loses every tie)."""
    if created is None:
        return np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.bool_)
    column = fv.get_column(created)
    values = column.to_physical().cast(pl.Int64).fill_null(0).to_numpy()
    return values.astype(np.int64, copy=False), column.is_not_null().to_numpy()


def _sorted_by_first(
    columns: dict[str, np.ndarray[Any, Any]],
) -> tuple[dict[str, np.ndarray[Any, Any]], Array]:
    """The columns in ascending order of the first, and the input position of each row
    (empty, and the columns untouched, when they already are in order). One Polars sort of
    the whole frame: faster on 2 cores than an argsort and a gather per column, and the
    kernel then reads memory in order. Ties may come in any order: rows with equal
    availability become eligible together, events with equal t0 see the same rows."""
    first = next(iter(columns.values()))
    if len(first) < 2 or bool((first[1:] >= first[:-1]).all()):
        return columns, np.empty(0, dtype=np.int64)
    frame = pl.DataFrame(columns).with_row_index("__pos").sort(next(iter(columns)))
    out = {name: frame.get_column(name).to_numpy() for name in columns}
    return out, frame.get_column("__pos").cast(pl.Int64).to_numpy()


def merged(
    avail: Array,
    gid_f: Array,
    ts: Array,
    created: Array,
    c_valid: np.ndarray[Any, Any],
    use_created: bool,
    shift: int | None,
) -> Any:
    """The features put in availability order once (sorting only when they are not), as a
    function of the events that returns, per event, the position of its row or -1.

    ``shift``: ``ts == avail + shift`` (no known_at), so ts is not carried through the
    sort but rebuilt from the sorted avail; None when ts says more than avail."""
    columns = {"avail": avail, "gid": gid_f}
    if shift is None:
        columns["ts"] = ts  # sorted along only when it says more than avail
    if use_created:
        columns |= {"created": created, "valid": c_valid}
    columns, f_order = _sorted_by_first(columns)
    avail, gid_f = columns["avail"], columns["gid"]
    ts = columns["ts"] if shift is None else avail if shift == 0 else avail + shift
    if use_created:
        created, c_valid = columns["created"], columns["valid"]
    features = [
        _ro(a) for a in (f_order, avail, gid_f, ts, created, c_valid.astype(np.bool_, copy=False))
    ]

    def run(t0: Array, gid_e: Array, groups: int) -> Array:
        ordered, e_order = _sorted_by_first({"t0": t0, "gid": gid_e})
        t0, gid_e = ordered["t0"], ordered["gid"]
        out = np.empty(len(t0), dtype=np.int64)
        _merge(*features, use_created, _ro(t0), _ro(gid_e), groups, out)
        if not e_order.size:
            return out
        winner = np.empty_like(out)
        winner[e_order] = out
        return winner

    return run


def _merge_signature(t: Any) -> Any:
    """Exactly one signature, read-only C arrays in and a writable one out."""
    ro_i8 = t.Array(t.int64, 1, "C", readonly=True)
    ro_b1 = t.Array(t.boolean, 1, "C", readonly=True)
    out = t.Array(t.int64, 1, "C")
    return t.void(ro_i8, ro_i8, ro_i8, ro_i8, ro_i8, ro_b1, t.boolean, ro_i8, ro_i8, t.int64, out)


@compiled(_merge_signature)
def _merge(
    f_pos: Array,
    avail: Array,
    gid_f: Array,
    ts: Array,
    created: Array,
    c_valid: np.ndarray[Any, Any],
    use_created: bool,
    t0: Array,
    gid_e: Array,
    groups: int,
    out: Array,
) -> None:
    """One pass over features (in ``avail`` order) and events (in ``t0`` order), the loop
    of a sort-merge as-of join as pandas' merge_asof runs it: before answering an event,
    every feature row available before its t0 updates its entity's best row so far; the
    event reads its entity's best. "Best" compares (ts, created valid, created, input
    position ``f_pos``; empty = already in input order), so ties need no sort and, with
    known_at, a row available late but older in ts cannot displace a newer one.
    O(features + events) time, O(entities) memory. Compiled by numba on first use."""
    best = np.full(groups, -1, dtype=np.int64)
    n = avail.shape[0]
    identity = f_pos.shape[0] == 0
    j = 0
    for k in range(t0.shape[0]):
        t = t0[k]
        while j < n and avail[j] < t:
            g = gid_f[j]
            b = best[g]
            if b < 0:
                best[g] = j
            elif ts[j] != ts[b]:
                if ts[j] > ts[b]:
                    best[g] = j
            elif use_created and c_valid[j] != c_valid[b]:
                if c_valid[j]:
                    best[g] = j
            elif use_created and c_valid[j] and created[j] != created[b]:
                if created[j] > created[b]:
                    best[g] = j
            elif identity or f_pos[j] > f_pos[b]:
                best[g] = j
            j += 1
        g = gid_e[k]
        b = best[g] if g >= 0 else -1
        out[k] = b if b < 0 or identity else f_pos[b]


def _ro(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A C-contiguous read-only view (no copy when already contiguous): the one array type
    the kernel is compiled for."""
    view = np.ascontiguousarray(values).view()
    view.flags.writeable = False
    return view
