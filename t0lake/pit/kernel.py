"""The numeric core of the join: dense entity ids and the as-of merge, in two forms.

Everything here works on int64 numpy arrays, not on columns or names: entities become dense
ids, and each event gets the position of its feature row. Two implementations of that one
rule: a compiled pass (numba; the loop of pandas' ``merge_asof``: features in availability
order, events in ``t0`` order, sorting only what is not already in order), the fastest
once loaded, and a numpy one (one sort of the features by (entity, availability) and a
binary search per event), which needs no compiler: importing numba and loading the
compiled pass cost about 1.3 s of CPU, so a process's first joins below
``VECTORIZED_MAX_ROWS`` feature rows take numpy (``as_of_rows`` chooses). Kept apart so the
hot paths can be read, benchmarked and changed without the checks and the loading around
them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from t0lake._util.jit import compiled, loaded
from t0lake.pit.spec import key_kind

__all__ = [
    "VECTORIZED_MAX_ROWS",
    "Array",
    "as_of_rows",
    "created_ints",
    "group_ids",
    "merged",
    "vectorized",
]

_INT_KEYS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)
_DENSE_SLACK = 4  # an integer key is its own entity id while its range is this dense

Array = np.ndarray[Any, np.dtype[np.int64]]

VECTORIZED_MAX_ROWS = 2_000_000
"""Up to this many feature rows, a process that has not loaded the compiled merge yet
joins with numpy sorts and binary searches instead: importing numba and loading the
compiled loop costs about 1.3 s of CPU, more than the numpy path spends below this size
(``docs/benchmarks.md``, "Point-in-time join"). Above it, or once the compiled loop is
loaded anyway, the one-pass merge is the faster."""


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


def as_of_rows(
    avail: Array,
    gid_f: Array,
    ts: Array,
    created: Array,
    c_valid: np.ndarray[Any, Any],
    use_created: bool,
    shift: int | None,
    t0: Array,
    gid_e: Array,
    groups: int,
) -> Array:
    """Per event, the position of its feature row among the features, or -1.

    Arguments as for :func:`merged` and its ``run``. Two implementations of one rule, held
    to each other and to the brute-force reference by the property tests: the compiled
    merge once it is loaded, or for more than ``VECTORIZED_MAX_ROWS`` feature rows; below
    that, a process that has not loaded it sorts and searches with numpy
    (:func:`vectorized`) rather than spend a second importing numba."""
    if avail.shape[0] > VECTORIZED_MAX_ROWS or loaded(_merge):
        run = merged(avail, gid_f, ts, created, c_valid, use_created, shift)
        rows: Array = run(t0, gid_e, groups)
        return rows
    return vectorized(avail, gid_f, ts, created, c_valid, use_created, shift, t0, gid_e, groups)


def vectorized(
    avail: Array,
    gid_f: Array,
    ts: Array,
    created: Array,
    c_valid: np.ndarray[Any, Any],
    use_created: bool,
    shift: int | None,
    t0: Array,
    gid_e: Array,
    groups: int,
) -> Array:
    """The merge as a sort and a binary search (no compiled code): the features ordered by
    one int64 key, entity id major and availability minor, so an event's eligible rows
    are a run of its entity ending just before ``searchsorted`` finds its own key.

    Without ``known_at`` (``shift`` given: ``ts == avail + shift``), rows of equal key are
    also ordered by (created valid, created, input position), so the run's last row is the
    best. With ``known_at``, availability order is not ``ts`` order: each row gets its rank
    by (ts, created valid, created, position), and a running maximum of the ranks, started
    afresh at every entity, gives the best row of every run."""
    n = avail.shape[0]
    lo, hi = int(avail.min()), int(avail.max())
    span = hi - lo + 2  # t0 is clipped into [lo, hi + 1]: the same rows are before it
    if groups * span < 2**62 and hi < 2**62:
        key = gid_f * span
        key += avail
        key -= lo
        probe = np.clip(t0, lo, hi + 1)
        probe -= lo
        probe += gid_e * span
    else:  # times too far apart to share an int64 with the entity id: number them
        distinct = np.unique(avail)
        span = distinct.shape[0] + 1
        key = gid_f * span + np.searchsorted(distinct, avail)
        probe = gid_e * span + np.searchsorted(distinct, t0)  # distinct times before t0
    ties = (c_valid, created) if use_created else None
    # with known_at, rows of equal key are all in a run or all out of it: any order will do
    order = _stable_order(key, avail, gid_f, groups, ties if shift is not None else None)
    sorted_key = key if order is None else key[order]
    probes = np.argsort(probe)  # probes in order: each search starts where the last ended
    last = np.empty_like(probe)
    last[probes] = np.searchsorted(sorted_key, probe[probes], side="left") - 1
    at = np.maximum(last, 0)  # the last row before the event's key
    hit = (last >= 0) & (gid_e >= 0) & (sorted_key[at] >= gid_e * span)  # of the entity
    if shift is None:
        by_rank = _stable_order(ts, None, gid_f, 0, ties)  # position of the k-th best row
        rank = np.arange(n, dtype=np.int64)
        if by_rank is not None:
            rank[by_rank] = np.arange(n, dtype=np.int64)
        gid_sorted = gid_f if order is None else gid_f[order]
        base = gid_sorted * n  # ranks of a later entity all exceed an earlier one's
        best = np.maximum.accumulate(base + (rank if order is None else rank[order])) - base
        rows = best[at] if by_rank is None else by_rank[best[at]]
    else:
        rows = at if order is None else order[at]
    return np.where(hit, rows, -1)


def _in_order(primary: Array, ties: tuple[np.ndarray[Any, Any], Array] | None) -> bool:
    """Whether rows are already in ascending (primary, created valid, created) order."""
    if primary.shape[0] < 2:
        return True
    if not bool((primary[1:] >= primary[:-1]).all()):
        return False
    if ties is None:
        return True
    tied = np.flatnonzero(primary[1:] == primary[:-1])
    valid, created = ties
    a, b = valid[tied], valid[tied + 1]
    return bool(((a < b) | ((a == b) & (created[tied] <= created[tied + 1]))).all())


def _stable_order(
    key: Array,
    time: Array | None,
    gid: Array,
    groups: int,
    ties: tuple[np.ndarray[Any, Any], Array] | None,
) -> Array | None:
    """The permutation putting rows in (key, created valid, created, position) order, or
    None when they already are. Rows already in ``time`` order (a lake read, a time-sorted
    frame) need only a stable sort by entity id, a radix sort of small integers."""
    if _in_order(key, ties):
        return None
    if time is not None and _in_order(time, ties) and groups <= 2**32:
        low = np.argsort(gid.astype(np.uint16), kind="stable")  # 16-bit keys: radix sort
        if groups <= 2**16:
            return low
        high = (gid[low] >> 16).astype(np.uint16)
        return low[np.argsort(high, kind="stable")]
    return _sorted_rows(key, ties)


def _sorted_rows(key: Array, ties: tuple[np.ndarray[Any, Any], Array] | None) -> Array:
    """A full sort: an unstable argsort of the key, then only the rows of equal keys (few,
    in a join's data) sorted again by (created valid, created, position): several times
    faster than a stable multi-key sort of every row."""
    order = np.argsort(key)
    sorted_key = key[order]
    tied = np.flatnonzero(sorted_key[1:] == sorted_key[:-1])
    if tied.size:
        in_run = np.zeros(key.shape[0], dtype=np.bool_)
        in_run[tied] = in_run[tied + 1] = True  # every row of a run of equal keys
        rows = np.flatnonzero(in_run)
        sub = order[rows]
        extra = () if ties is None else (ties[1][sub], ties[0][sub])
        order[rows] = sub[np.lexsort((sub, *extra, key[sub]))]
    return order


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
